"""Weight rows stored as a span of explicit entries plus one floor value: the calibration kernel's helpers.

After a few rounds an agent's weights are one or a few entries above the eps
floor; storing ``[span_lo, span_hi)`` explicitly and one value for every
other entry makes the EM step, drawing a component, the argmax and distances
between agents cost O(span) instead of O(K). See ``batched.py`` for the
kernel that uses them.
"""
from __future__ import annotations

import math

import numpy as np

from gmmproxy._kernels.cache import kernel
from gmmproxy._kernels.gmm import (
    LOG_2PI,
    LOG_UNDERFLOW,
    banded_densities_1d,
    log_density_1d,
    log_density_nd,
    scale_densities,
    underflow_log_scale,
    underflows,
)
from gmmproxy._kernels.rng import randint, uniform

#: scale of the uniform jitter added to weight-space distances to break ties at random
TIE_JITTER = 1e-9


@kernel(inline="always")
def _densities(x, mu, chol, mu1, inv_sd, log_sd, half_logdet, banded, inv_spacing, cutoff, logd, work, DD, row):
    """Scaled densities of x -> DD[row]; returns (lo, hi, underflow log-scale) as in ``gmm.py``."""
    if banded:
        return banded_densities_1d(x[0], mu1, inv_sd, log_sd[0], inv_spacing, cutoff, DD[row])
    if mu.shape[1] == 1:
        best = log_density_1d(x[0], mu1, inv_sd, log_sd, logd)
    else:
        best = log_density_nd(x, mu, chol, half_logdet, logd, work)
    scale_densities(logd, best, cutoff, DD[row])
    return 0, mu.shape[0], underflow_log_scale(logd, half_logdet, best, mu.shape[1])


@kernel(inline="always")
def _span_of_row(W, i, span_lo, span_hi, floor):
    """Record the smallest interval [lo, hi) outside which the dense row i of W equals its minimum."""
    K = W.shape[1]
    f = W[i, 0]
    for c in range(1, K):
        if W[i, c] < f:
            f = W[i, c]
    lo = K
    hi = 0
    for c in range(K):
        if W[i, c] != f:
            if c < lo:
                lo = c
            hi = c + 1
    if lo > hi:
        lo = 0
        hi = 0
    span_lo[i] = lo
    span_hi[i] = hi
    floor[i] = f


@kernel(inline="always")
def _row_features(W, i, span_lo, span_hi, floor, norm2, excess):
    """Squared norm and excess mass ``sum_span (W[i, c] - floor)`` of sparse row i (for the distances)."""
    K = W.shape[1]
    lo = span_lo[i]
    hi = span_hi[i]
    f = floor[i]
    s2 = 0.0
    ex = 0.0
    for c in range(lo, hi):
        v = W[i, c]
        s2 += v * v
        ex += v - f
    norm2[i] = s2 + (K - (hi - lo)) * f * f
    excess[i] = ex


@kernel(inline="always")
def _excess_column(W, i, old_lo, old_hi, span_lo, span_hi, floor, ET):
    """Column i of the excess table: ``ET[c, i] = W[i, c] - floor[i]`` on i's span, exactly 0 elsewhere.

    ``[old_lo, old_hi)`` is the span the column held before (cleared first).
    The table is stored component-major (K, n) so that the distance row of
    one agent to all others is a loop over agents with unit stride (see
    :func:`_jittered_distances`).
    """
    for c in range(old_lo, old_hi):
        ET[c, i] = 0.0
    f = floor[i]
    for c in range(span_lo[i], span_hi[i]):
        ET[c, i] = W[i, c] - f


@kernel(inline="always")
def _jitter_ramp(n, out):
    """out[t] = ``TIE_JITTER / n * (t mod n)`` for t < 2n: the tie jitter of every rotation, precomputed."""
    scale = TIE_JITTER / n
    for t in range(2 * n):
        out[t] = scale * (t % n)


@kernel(inline="always")
def _plain_distances(W, i, span_lo, span_hi, floor, norm2, excess, ET, out):
    """out[b] = squared weight-space distance of agents i and b, for every b (out[i] about 0).

    The distance of the sparse rows is ``|w_i|^2 + |w_b|^2 - 2 <w_i, w_b>``
    with the inner product from the floors, the excess masses and the overlap
    of the two spans only: ``<w_i, w_b> = K f_i f_b + e_i f_b + e_b f_i +
    sum_{overlap} (w_ic - f_i)(w_bc - f_b)``. Its rounding error is about 1e-16.

    The overlap sum runs over i's span for every b at once, reading the
    excess table ``ET`` (:func:`_excess_column`), which is exactly 0 outside
    b's span: the added terms there are exact zeros, so every distance is the
    same float as the per-pair sum over the overlap, but the loops have the
    same trip count for every b and vectorise over b.
    """
    n, K = W.shape
    la = span_lo[i]
    ha = span_hi[i]
    fa = floor[i]
    na = norm2[i]
    ea = excess[i]
    for b in range(n):
        fb = floor[b]
        out[b] = K * fa * fb + ea * fb + excess[b] * fa
    for c in range(la, ha):
        e = W[i, c] - fa
        for b in range(n):
            out[b] += e * ET[c, b]
    for b in range(n):
        out[b] = na + norm2[b] - 2.0 * out[b]


@kernel(inline="always")
def _jittered_distances(W, i, span_lo, span_hi, floor, norm2, excess, ET, ramp, offset, out):
    """out[b] = squared weight-space distance of agents i and b plus the tie jitter; out[i] = inf.

    Distances from :func:`_plain_distances`; the jitter ``TIE_JITTER * ((b -
    offset) mod n) / n``, far above their rounding error, orders distances
    closer than that at random (``offset`` uniform). The jitter of b is
    ``ramp[b - offset + n]`` (:func:`_jitter_ramp`), a contiguous slice.
    """
    n = W.shape[0]
    _plain_distances(W, i, span_lo, span_hi, floor, norm2, excess, ET, out)
    shift = n - offset
    for b in range(n):
        out[b] += ramp[b + shift]
    out[i] = np.inf


@kernel(inline="always")
def _rank(drow, b):
    """Number of entries of drow below drow[b] (branch-free, so LLVM vectorises it)."""
    v = drow[b]
    cnt = 0
    for q in range(drow.shape[0]):
        cnt += drow[q] < v
    return cnt


@kernel(inline="always")
def _first_argmin(v):
    """Index of the smallest entry of v, the first one on ties.

    The minimum is found with four independent running minima (branch-free
    selects, no loop-carried chain through one register), then its first
    position by a scan.
    """
    n = v.shape[0]
    m0 = np.inf
    m1 = np.inf
    m2 = np.inf
    m3 = np.inf
    b = 0
    while b + 4 <= n:
        x0 = v[b]
        x1 = v[b + 1]
        x2 = v[b + 2]
        x3 = v[b + 3]
        m0 = x0 if x0 < m0 else m0
        m1 = x1 if x1 < m1 else m1
        m2 = x2 if x2 < m2 else m2
        m3 = x3 if x3 < m3 else m3
        b += 4
    while b < n:
        x0 = v[b]
        m0 = x0 if x0 < m0 else m0
        b += 1
    m0 = m1 if m1 < m0 else m0
    m2 = m3 if m3 < m2 else m2
    m0 = m2 if m2 < m0 else m0
    for b in range(n):
        if v[b] == m0:
            return b
    return 0


@kernel(inline="always")
def _copy_partner(state, i, n, k, W, span_lo, span_hi, floor, norm2, excess, ET, ramp, drow, DC, dc_epoch, epoch):
    """A partner of agent i other than itself: uniform among its k nearest in weight space.

    Distances are :func:`_jittered_distances` (ties broken by a randomly
    rotated agent index), so the k nearest are one well-defined set. For
    ``4 k >= n - 1`` a candidate is drawn uniformly from the other n - 1
    agents and accepted when fewer than k are nearer (rejection sampling:
    exactly uniform on the k nearest, at least one in four accepted); for
    smaller k a position u is drawn uniformly in 0..k-1 and the agent at
    position u of the distance order (ties to the smaller index) is found by
    taking the nearest u + 1 times, each time removing it from ``drow`` (a
    scratch row, rebuilt at every call). That is the agent a sorted buffer of
    the k nearest holds at position u, and u is the same draw (no other draw
    comes between), so the random stream is that of the buffer.

    Distance cache: ``DC[i]`` holds i's plain distances (before the jitter)
    as of weight-row version ``dc_epoch[i]``; ``epoch`` counts the rounds'
    changes of any weight row, so the row is reused while no row has changed
    since -- frequent once silos have formed, because an EM step then often
    gives an agent exactly the row it had (see ``batched._rounds``). The
    jitter is added to the cached values, the same floats as computing them
    afresh (:func:`_jittered_distances`). ``DC`` of one row turns the cache off
    (large n).
    """
    if k >= n - 1:
        j = randint(state, n - 1)
        return j + 1 if j >= i else j
    offset = randint(state, n)
    # one row of DC: no cache, a scratch row recomputed at every call
    row = i if DC.shape[0] > 1 else 0
    if DC.shape[0] == 1 or dc_epoch[i] != epoch:
        _plain_distances(W, i, span_lo, span_hi, floor, norm2, excess, ET, DC[row])
        dc_epoch[i] = epoch
    shift = n - offset
    for b in range(n):
        drow[b] = DC[row, b] + ramp[b + shift]
    drow[i] = np.inf
    if 4 * k >= n - 1:
        while True:
            j = randint(state, n - 1)
            if j >= i:
                j += 1
            if _rank(drow, j) < k:
                return j
    u = randint(state, k)
    for _ in range(u):
        drow[_first_argmin(drow)] = np.inf
    return _first_argmin(drow)


@kernel(inline="always")
def _sparse_categorical(state, W, i, lo, hi, f):
    """A component drawn with the probabilities of sparse row i (span [lo, hi), floor f elsewhere).

    The uniform variate maps to the component the dense cumulative scan
    would pick: ``lo`` floor components, then the span, then the rest.
    """
    K = W.shape[1]
    u = uniform(state)
    before = lo * f
    if u < before:
        return min(int(u / f), lo - 1)
    acc = before
    last = lo - 1
    for c in range(lo, hi):
        p = W[i, c]
        if p > 0.0:
            acc += p
            last = c
            if u < acc:
                return c
    if hi < K and f > 0.0:
        return min(hi + int((u - acc) / f), K - 1)
    return last if last >= 0 else K - 1


@kernel(inline="always")
def _normalise_and_trim(OUT, orow, lo, hi, total, eps):
    """Finish an EM step: divide row ``orow`` of OUT on [lo, hi) by the total with the K - (hi - lo)
    components outside it at eps, and trim clipped ends (they equal the new floor exactly).

    ``total`` is the sum of the clipped values on [lo, hi). Returns ``(lo, hi, floor)``.
    """
    K = OUT.shape[1]
    total += (K - (hi - lo)) * eps
    inv_total = 1.0 / total
    for c in range(lo, hi):
        OUT[orow, c] *= inv_total
    f = eps * inv_total
    while lo < hi and OUT[orow, lo] == f:
        lo += 1
    while hi > lo and OUT[orow, hi - 1] == f:
        hi -= 1
    return lo, hi, f


@kernel(inline="always")
def one_hot_limits(K, eps):
    """``(v_max, wf_max)`` for :func:`_one_hot_em_1d` in a job with K components and clip level eps.

    The shortcut holds when the row's floor is at most ``wf_max`` (just above
    eps: a one-hot row's floor is eps over a total near 1) and every other
    band component's log-density relative to the nearest mean is below
    ``v_max``. Then their prior-weighted densities add up to at most
    ``delta = K wf_max exp(v_max)``, and

    * (b) each of their EM values, at most ``wf * density / weight`` with the
      topic's weight above 1/2, is below eps: it clips to eps;
    * and either (a) ``delta < 2^-54``, half an ulp of a weight above 1/2, so
      the density sum is the topic's weight exactly and so is every later
      float; or (c) ``delta <= eps / 2`` less the rounding of three operations,
      so the topic's EM value ``weight / sum`` is at least ``1 - eps`` however
      the sum rounds, and clips to exactly ``1 - eps`` as in the general step
      ((c) needs eps well above 1e-16, where ``1 - eps`` is below 1).

    Margins cover the rounding of ``exp``; ``v_max`` is the larger of the
    bounds (a) and (c), capped by (b).
    """
    wf_max = eps * (1.0 + 1e-6)
    a = math.log(2.0 ** -54 / (K * wf_max))
    b = math.log(eps / (2.0 * wf_max))
    slack = 0.5 * eps * (1.0 - 1e-6) - 1e-15
    c = math.log(slack / (K * wf_max)) if slack > 0.0 else -np.inf
    return min(b, max(a, c)) - 1e-3, wf_max


@kernel(inline="always")
def _one_hot_em_1d(x, mu1, inv_sd, log_sd0, inv_spacing, cutoff, W, i, T, wf, eps, v_max, wf_max, OUT, orow):
    """The EM step of a one-point RAG at x for a row that is one entry ``W[i, T]`` above its floor wf.

    The common case once silos have formed: the agent holds topic T and x
    was drawn near mean T. If the nearest mean of x is T, ``W[i, T] > 1/2``,
    the floor ``wf <= wf_max`` and every other component of x's density band
    has a log-density (relative to T's) below ``v_max`` (both from
    :func:`one_hot_limits`), then in :func:`_sparse_em` (one RAG point) the other
    components clip to ``eps`` and T's value is either computed from a density
    sum that is exactly ``W[i, T]`` or clipped to ``1 - eps`` whatever the
    sum -- so the result follows without the band's
    ``exp`` calls, with the same floating-point operations on the values that
    matter. The band's extent (kept in the result's span before trimming) is
    found as in ``gmm.banded_densities_1d``. Needs evenly spaced means
    (``inv_spacing > 0``). Returns ``(lo, hi, floor)`` of the result in row
    ``orow`` of OUT, or ``lo = -1`` where the conditions do not hold (the
    caller then takes the general path). The densities of x are not stored:
    with one RAG point they are never read after this step.
    """
    K = mu1.shape[0]
    f = (x - mu1[0]) * inv_spacing + 0.5
    if f <= 0.0:
        c0 = 0
    elif f >= K:
        c0 = K - 1
    else:
        c0 = int(f)
    wT = W[i, T]
    if c0 != T or not wT > 0.5 or not wf <= wf_max:
        return -1, -1, 0.0
    inv = 1.0 / wT
    s = inv_sd[0]
    z0 = (x - mu1[c0]) * s
    base = 0.5 * z0 * z0
    ulog = -np.inf if -base < LOG_UNDERFLOW else -base - log_sd0 - 0.5 * LOG_2PI
    # far from the underflow guard, whose test then does not depend on the density sum's rounding
    if not ulog >= LOG_UNDERFLOW + 60.0:
        return -1, -1, 0.0
    lo = c0
    while lo > 0:
        z = (x - mu1[lo - 1]) * s
        v = base - 0.5 * z * z
        if v <= cutoff:
            break
        if v >= v_max:
            return -1, -1, 0.0
        lo -= 1
    hi = c0 + 1
    while hi < K:
        z = (x - mu1[hi]) * s
        v = base - 0.5 * z * z
        if v <= cutoff:
            break
        if v >= v_max:
            return -1, -1, 0.0
        hi += 1
    # as _sparse_em with one point: T's density is exactly 1 (the nearest mean), the rest clip to eps
    total = 0.0
    hi_clip = 1.0 - eps
    for c in range(lo, hi):
        if c == T:
            v = (1.0 * inv) * wT
            v = v if v > eps else eps
            v = v if v < hi_clip else hi_clip
        else:
            v = eps
        OUT[orow, c] = v
        total += v
    return _normalise_and_trim(OUT, orow, lo, hi, total, eps)


@kernel(inline="always")
def _sparse_em(W, i, wlo, whi, wf, DD, BL, BH, BS, slot_row, a, slot, new_row, eps, acc, OUT, orow):
    """One EM weight step of agent ``a``'s RAG with prior row i of W; result into sparse row ``orow`` of OUT.

    The prior is the sparse row ``(W[i], [wlo, whi), wf)``; RAG point h of
    agent ``a`` has densities ``DD[slot_row[a, h]]`` on its band ``[BL, BH)``
    of that row, except point ``slot`` whose densities are row ``new_row``.
    Returns the result's ``(lo, hi, floor)``. Same terms as
    ``em.em_weights``: ``(1/r) sum_h prior dens_h / <prior, dens_h>``, a point
    whose mixture density underflows contributing nothing, then clipped to
    ``[eps, 1-eps]`` and renormalised; components outside every band get
    ``eps`` before the renormalisation, so only the hull of the bands is
    computed.
    """
    K = W.shape[1]
    r = slot_row.shape[1]
    ulo = K
    uhi = 0
    for h in range(r):
        q = new_row if h == slot else slot_row[a, h]
        if BL[q] < ulo:
            ulo = BL[q]
        if BH[q] > uhi:
            uhi = BH[q]
    if ulo > uhi:
        ulo = 0
        uhi = 0
    for c in range(ulo, uhi):
        acc[c] = 0.0
    for h in range(r):
        q = new_row if h == slot else slot_row[a, h]
        lo = BL[q]
        hi = BH[q]
        tot = 0.0
        for c in range(lo, hi):
            w = W[i, c] if wlo <= c < whi else wf
            tot += w * DD[q, c]
        if underflows(BS[q], tot):
            continue
        inv = 1.0 / (tot * r)
        for c in range(lo, hi):
            acc[c] += DD[q, c] * inv
    total = 0.0
    hi_clip = 1.0 - eps
    for c in range(ulo, uhi):
        w = W[i, c] if wlo <= c < whi else wf
        v = acc[c] * w
        v = v if v > eps else eps
        v = v if v < hi_clip else hi_clip
        OUT[orow, c] = v
        total += v
    return _normalise_and_trim(OUT, orow, ulo, uhi, total, eps)


@kernel(inline="always")
def _sparse_argmax(W, i, lo, hi, f):
    """Argmax of sparse row i, ties to the smaller index (as ``np.argmax`` of the dense row)."""
    if lo >= hi:
        return 0
    best = W[i, lo]
    arg = lo
    for c in range(lo + 1, hi):
        if W[i, c] > best:
            best = W[i, c]
            arg = c
    if lo > 0 and f >= best:
        return 0
    if hi < W.shape[1] and f > best:
        return hi
    return arg


@kernel(inline="always")
def _write_dense(W, span_lo, span_hi, floor, out, t):
    """out[t, i] = the dense weight row of every agent i (floor outside its span)."""
    n, K = W.shape
    for i in range(n):
        for c in range(K):
            out[t, i, c] = W[i, c] if span_lo[i] <= c < span_hi[i] else floor[i]

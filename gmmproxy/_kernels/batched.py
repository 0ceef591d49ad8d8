"""A batched kernel for calibration: many parameter sets x replicates of Algorithm 1 in one call.

Every *job* (one replicate of one parameter set) carries its own mirroring
probability ``p``, neighbourhood size ``k``, spread scale ``sigma``, RAG size
``r``, rounds per recorded step ``M``, activation probability ``a`` and
``eps``; the component means and the shape of the covariances are shared.
Jobs run in parallel (one ``prange`` over jobs); each owns its xoshiro
state, so results do not depend on the thread count or the job order.

The model is Algorithm 1 (synchronous rounds, farthest-point RAG
replacement) with three documented extensions, all of which reduce to the
paper's model at their defaults (``M = 1``, ``a = 1``, ``answer_current =
False``):

* *random activation*: in each round every agent acts with probability
  ``a`` (an agent that does not act keeps its weights and RAG); ``M``
  rounds are run between two recorded steps, so the expected number of
  actions per agent per recorded step is ``M * a`` (the calibration's time
  scale);
* *answer from the current weights* (``answer_current``): the partner
  answers from its current weights instead of its pseudo-updated ones;
* *random tie-breaking among the k nearest*: distances that agree to within
  ``TIE_JITTER`` are ordered by a randomly rotated agent index rather than
  by agent index (with the paper's one-hot start all initial distances tie
  exactly, and ordering them by index would make agent 0 everyone's
  nearest neighbour).

Sparse weight rows. After an EM step every component outside the density
bands of an agent's RAG points gets the clipped weight ``eps`` before the
renormalisation, so a weight row equals one *floor* value everywhere but on
a short *span* (a few components in the paper's 1-d set-up). Each row is
stored as its span ``[lo, hi)`` (values in ``W``; entries outside are stale
and never read) and its floor, and every per-update operation -- the EM step,
drawing a component, weight-space distances, the argmax -- touches the span
and the bands only, never all K components. This is the same arithmetic as
the dense step up to the order of summation: the dense renormaliser adds
the ``K - m`` equal floor terms one by one, here they are one product.
Component draws map the uniform variate to the same component as the dense
cumulative scan (floor components before, in and after the span in
order).

Densities of the RAG points live in one table ``DD`` of rows; ``slot_row[i, h]``
names the row of agent i's point h. A replacement computed in a round is
written into the agent's spare row and swapped in after the round, so that
every read in a round sees the previous round's state (synchronous updates).

Output: the silo (argmax weight) of every agent at every recorded step, and
whether the agent copied (acted at least once with a partner other than
itself) during the step that led there.

Only the public helpers of ``gmm.py`` and ``rng.py`` are used, so speed-ups
there carry over.
"""
import math

import numpy as np
from numba import prange

from gmmproxy._kernels.cache import kernel

from gmmproxy._kernels.gmm import (
    banded_densities_1d,
    clip_normalise,
    density_cutoff,
    draw_from_component,
    farthest_index,
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
def _jittered_distances(W, i, span_lo, span_hi, floor, norm2, excess, offset, out):
    """out[b] = squared weight-space distance of agents i and b plus the tie jitter; out[i] = inf.

    The distance of the sparse rows is ``|w_i|^2 + |w_b|^2 - 2 <w_i, w_b>``
    with the inner product from the floors, the excess masses and the overlap
    of the two spans only: ``<w_i, w_b> = K f_i f_b + e_i f_b + e_b f_i +
    sum_{overlap} (w_ic - f_i)(w_bc - f_b)``. Its rounding error (about
    1e-16) is far below the tie jitter ``TIE_JITTER * ((b - offset) mod n) / n``,
    which orders distances closer than that at random (``offset`` uniform).
    """
    n, K = W.shape
    la = span_lo[i]
    ha = span_hi[i]
    fa = floor[i]
    na = norm2[i]
    ea = excess[i]
    scale = TIE_JITTER / n
    for b in range(n):
        fb = floor[b]
        dot = K * fa * fb + ea * fb + excess[b] * fa
        lo = max(la, span_lo[b])
        hi = min(ha, span_hi[b])
        for c in range(lo, hi):
            dot += (W[i, c] - fa) * (W[b, c] - fb)
        rot = b - offset
        if rot < 0:
            rot += n
        out[b] = na + norm2[b] - 2.0 * dot + scale * rot
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
def _copy_partner(state, i, n, k, W, span_lo, span_hi, floor, norm2, excess, drow, best):
    """A partner of agent i other than itself: uniform among its k nearest in weight space.

    Distances come from :func:`_jittered_distances` (ties broken by a
    randomly rotated agent index), so the k nearest are one well-defined
    set. For ``4 k >= n - 1`` a candidate is drawn uniformly from the other
    n - 1 agents and accepted when fewer than k are nearer (rejection
    sampling: exactly uniform on the k nearest, at least one in four
    accepted); for smaller k the k nearest are kept in a sorted buffer
    ``best`` and one of them is drawn.
    """
    if k >= n - 1:
        j = randint(state, n - 1)
        return j + 1 if j >= i else j
    offset = randint(state, n)
    _jittered_distances(W, i, span_lo, span_hi, floor, norm2, excess, offset, drow)
    if 4 * k >= n - 1:
        while True:
            j = randint(state, n - 1)
            if j >= i:
                j += 1
            if _rank(drow, j) < k:
                return j
    filled = 0
    for b in range(n):
        if b == i:
            continue
        v = drow[b]
        if filled < k:
            pos = filled
            filled += 1
        elif v < drow[best[k - 1]]:
            pos = k - 1
        else:
            continue
        # insertion into the sorted buffer best[:filled]
        while pos > 0 and drow[best[pos - 1]] > v:
            best[pos] = best[pos - 1]
            pos -= 1
        best[pos] = b
    return best[randint(state, k)]


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
def _sparse_em(W, i, wlo, whi, wf, DD, BL, BH, BS, slot_row, a, slot, new_row, eps, acc, OUT, orow):
    """One EM weight step of agent ``a``'s RAG with prior row i of W; result into sparse row ``orow`` of OUT.

    The prior is the sparse row ``(W[i], [wlo, whi), wf)``; RAG point h of
    agent ``a`` has densities ``DD[slot_row[a, h]]`` on its band ``[BL, BH)``
    of that row, except point ``slot`` whose densities are row ``new_row``.
    Returns the result's ``(lo, hi, floor)``. Same terms as
    ``gmm.em_weights``: ``(1/r) sum_h prior dens_h / <prior, dens_h>``, a point
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
    total += (K - (uhi - ulo)) * eps
    inv_total = 1.0 / total
    for c in range(ulo, uhi):
        OUT[orow, c] *= inv_total
    f = eps * inv_total
    # trim clipped ends: they equal the floor exactly
    while ulo < uhi and OUT[orow, ulo] == f:
        ulo += 1
    while uhi > ulo and OUT[orow, uhi - 1] == f:
        uhi -= 1
    return ulo, uhi, f


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


@kernel(_nrt=False)
def _rounds(state, W, Wn, R, DD, BL, BH, BS, slot_row, spare_row, mu, chol, mu1, inv_sd, log_sd, half_logdet,
            banded, inv_spacing, cutoff, logd, work, acted, copied, slot_new, y_new, span_lo, span_hi, floor,
            norm2, excess, new_lo, new_hi, new_floor, drow, best, acc, x, y, WB, p, k, rounds_per_step, activation,
            eps, answer_current, steps, out_silos, out_copied, out_weights):
    """The rounds of one job on preallocated buffers (no allocation, no reference counting)."""
    n = W.shape[0]
    d = mu.shape[1]
    x_row = DD.shape[0] - 1  # scratch row for the densities of a query x
    for t in range(steps):
        for i in range(n):
            copied[i] = False
        for _m in range(rounds_per_step):
            for i in range(n):
                acted[i] = False
                if activation < 1.0 and uniform(state) >= activation:
                    continue
                acted[i] = True
                if uniform(state) < p:
                    j = i
                else:
                    j = _copy_partner(state, i, n, k, W, span_lo, span_hi, floor, norm2, excess, drow, best)
                    copied[i] = True
                if answer_current:
                    c = _sparse_categorical(state, W, j, span_lo[j], span_hi[j], floor[j])
                    draw_from_component(state, c, mu, chol, y)
                else:
                    # the paper: i's query x enters j's RAG in a pseudo-update, j answers from it
                    c = _sparse_categorical(state, W, i, span_lo[i], span_hi[i], floor[i])
                    draw_from_component(state, c, mu, chol, x)
                    lx, hx, bx = _densities(x, mu, chol, mu1, inv_sd, log_sd, half_logdet, banded,
                                            inv_spacing, cutoff, logd, work, DD, x_row)
                    BL[x_row] = lx
                    BH[x_row] = hx
                    BS[x_row] = bx
                    slot_j = farthest_index(R, j, x)
                    blo, bhi, bf = _sparse_em(W, j, span_lo[j], span_hi[j], floor[j], DD, BL, BH, BS, slot_row,
                                              j, slot_j, x_row, eps, acc, WB, 0)
                    c = _sparse_categorical(state, WB, 0, blo, bhi, bf)
                    draw_from_component(state, c, mu, chol, y)
                q = spare_row[i]
                ly, hy, by = _densities(y, mu, chol, mu1, inv_sd, log_sd, half_logdet, banded,
                                        inv_spacing, cutoff, logd, work, DD, q)
                BL[q] = ly
                BH[q] = hy
                BS[q] = by
                slot_i = farthest_index(R, i, y)
                lo, hi, f = _sparse_em(W, i, span_lo[i], span_hi[i], floor[i], DD, BL, BH, BS, slot_row,
                                       i, slot_i, q, eps, acc, Wn, i)
                new_lo[i] = lo
                new_hi[i] = hi
                new_floor[i] = f
                slot_new[i] = slot_i
                for a in range(d):
                    y_new[i, a] = y[a]
            for i in range(n):
                if not acted[i]:
                    continue
                h = slot_new[i]
                for a in range(d):
                    R[i, h, a] = y_new[i, a]
                # swap the new densities in; the replaced row becomes the spare
                q = spare_row[i]
                spare_row[i] = slot_row[i, h]
                slot_row[i, h] = q
                lo = new_lo[i]
                hi = new_hi[i]
                for c in range(lo, hi):
                    W[i, c] = Wn[i, c]
                span_lo[i] = lo
                span_hi[i] = hi
                floor[i] = new_floor[i]
                _row_features(W, i, span_lo, span_hi, floor, norm2, excess)
        for i in range(n):
            out_silos[t + 1, i] = _sparse_argmax(W, i, span_lo[i], span_hi[i], floor[i])
            out_copied[t + 1, i] = copied[i]
        if out_weights.shape[0] > 0:
            _write_dense(W, span_lo, span_hi, floor, out_weights, t + 1)


@kernel()
def run_job(state, W0, mu, chol_base, p, k, sigma_scale, r, rounds_per_step, activation, eps,
            answer_current, steps, out_silos, out_copied, out_weights):
    """One replicate: ``steps`` recorded steps of ``rounds_per_step`` rounds each.

    ``out_silos`` (steps + 1, n) receives the silo (argmax weight, ties to
    the smaller index) of every agent at every recorded step; row 0 is the
    initial state. ``out_copied`` (steps + 1, n) is True where the agent
    acted with a partner other than itself at least once during the step
    that ended there (row 0 False). ``out_weights`` (steps + 1, n, K)
    receives the dense weights at every recorded step, or is skipped when it
    has length 0. Covariances are ``sigma_scale**2 * chol_base chol_base^T``.
    """
    n, K = W0.shape
    d = mu.shape[1]
    chol = chol_base * sigma_scale
    half_logdet = np.empty(K)
    for c in range(K):
        s = 0.0
        for a in range(d):
            s += math.log(chol[c, a, a])
        half_logdet[c] = s
    mu1 = mu[:, 0].copy()
    inv_sd = np.empty(K)
    log_sd = np.empty(K)
    for c in range(K):
        inv_sd[c] = 1.0 / chol[c, 0, 0]
        log_sd[c] = math.log(chol[c, 0, 0])
    # fast path: 1-d, one common sd, ascending means (the paper's set-up)
    banded = d == 1
    if banded:
        for c in range(K):
            if chol[c, 0, 0] != chol[0, 0, 0] or (c > 0 and mu1[c] < mu1[c - 1]):
                banded = False
    inv_spacing = 0.0
    if banded and K > 1 and mu1[K - 1] > mu1[0]:
        step = (mu1[K - 1] - mu1[0]) / (K - 1)
        even = True
        for c in range(K):
            if abs(mu1[c] - (mu1[0] + c * step)) > 1e-9 * step:
                even = False
        if even:
            inv_spacing = 1.0 / step
    cutoff = density_cutoff(eps)

    W = np.empty((n, K))
    for i in range(n):
        clip_normalise(W0[i], eps, W[i])
    Wn = np.empty((n, K))
    R = np.empty((n, r, d))
    # density rows: n*r RAG points, n spares, one scratch row for queries
    nrows = n * r + n + 1
    DD = np.zeros((nrows, K))
    BL = np.zeros(nrows, dtype=np.int64)
    BH = np.zeros(nrows, dtype=np.int64)
    BS = np.zeros(nrows)
    slot_row = np.empty((n, r), dtype=np.int64)
    spare_row = np.empty(n, dtype=np.int64)
    logd = np.empty(K)
    work = np.empty(d)
    span_lo = np.zeros(n, dtype=np.int64)
    span_hi = np.zeros(n, dtype=np.int64)
    floor = np.zeros(n)
    norm2 = np.zeros(n)
    excess = np.zeros(n)
    for i in range(n):
        _span_of_row(W, i, span_lo, span_hi, floor)
        _row_features(W, i, span_lo, span_hi, floor, norm2, excess)
        spare_row[i] = n * r + i
        for h in range(r):
            q = i * r + h
            slot_row[i, h] = q
            c = _sparse_categorical(state, W, i, span_lo[i], span_hi[i], floor[i])
            draw_from_component(state, c, mu, chol, R[i, h])
            lo, hi, bs = _densities(R[i, h], mu, chol, mu1, inv_sd, log_sd, half_logdet, banded, inv_spacing,
                                    cutoff, logd, work, DD, q)
            BL[q] = lo
            BH[q] = hi
            BS[q] = bs
    acted = np.zeros(n, dtype=np.bool_)
    copied = np.zeros(n, dtype=np.bool_)
    slot_new = np.zeros(n, dtype=np.int64)
    y_new = np.empty((n, d))
    new_lo = np.zeros(n, dtype=np.int64)
    new_hi = np.zeros(n, dtype=np.int64)
    new_floor = np.zeros(n)
    drow = np.zeros(n)
    best = np.empty(n, dtype=np.int64)
    acc = np.zeros(K)
    x = np.empty(d)
    y = np.empty(d)
    WB = np.empty((1, K))
    for i in range(n):
        out_silos[0, i] = _sparse_argmax(W, i, span_lo[i], span_hi[i], floor[i])
        out_copied[0, i] = False
    if out_weights.shape[0] > 0:
        _write_dense(W, span_lo, span_hi, floor, out_weights, 0)
    _rounds(state, W, Wn, R, DD, BL, BH, BS, slot_row, spare_row, mu, chol, mu1, inv_sd, log_sd, half_logdet,
            banded, inv_spacing, cutoff, logd, work, acted, copied, slot_new, y_new, span_lo, span_hi, floor,
            norm2, excess, new_lo, new_hi, new_floor, drow, best, acc, x, y, WB, p, k, rounds_per_step, activation,
            eps, answer_current, steps, out_silos, out_copied, out_weights)


@kernel(parallel=True)
def run_jobs(states, W0, mu, chol_base, p, k, sigma_scale, r, rounds_per_step, activation, eps,
             answer_current, steps, out_silos, out_copied, out_weights):
    """Jobs in parallel: job b uses ``states[b]`` and its own entries of the parameter arrays.

    ``p, sigma_scale, activation, eps`` are float64 (J,); ``k, r,
    rounds_per_step`` int64 (J,); ``answer_current`` bool (J,);
    ``out_silos`` int16 (J, steps + 1, n); ``out_copied`` bool (J, steps + 1, n);
    ``out_weights`` float64 (J, steps + 1, n, K), or (J, 0, n, K) to record no weights.
    """
    for b in prange(states.shape[0]):
        run_job(states[b], W0, mu, chol_base, p[b], k[b], sigma_scale[b], r[b], rounds_per_step[b],
                activation[b], eps[b], answer_current[b], steps, out_silos[b], out_copied[b],
                out_weights[b])

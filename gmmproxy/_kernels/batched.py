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

Only the public helpers of ``gmm.py``, ``neighbors.py`` and ``rng.py`` are
used, so speed-ups there carry over.
"""
import math

import numpy as np
from numba import prange

from gmmproxy._kernels.cache import kernel

from gmmproxy._kernels.gmm import (
    banded_densities_1d,
    clip_normalise,
    density_cutoff,
    em_weights,
    farthest_index,
    log_density_1d,
    log_density_nd,
    sample_point,
    scale_densities,
    underflow_log_scale,
)
from gmmproxy._kernels.rng import randint, uniform

#: scale of the uniform jitter added to weight-space distances to break ties at random
TIE_JITTER = 1e-9


@kernel(inline="always")
def _densities(x, mu, chol, mu1, inv_sd, log_sd, half_logdet, banded, inv_spacing, cutoff, logd, work, out):
    """Scaled densities of x -> out; returns (lo, hi, underflow log-scale) as in ``gmm.py``."""
    if banded:
        return banded_densities_1d(x[0], mu1, inv_sd, log_sd[0], inv_spacing, cutoff, out)
    if mu.shape[1] == 1:
        best = log_density_1d(x[0], mu1, inv_sd, log_sd, logd)
    else:
        best = log_density_nd(x, mu, chol, half_logdet, logd, work)
    scale_densities(logd, best, cutoff, out)
    return 0, mu.shape[0], underflow_log_scale(logd, half_logdet, best, mu.shape[1])


@kernel(inline="always")
def _span_of_row(W, i, span_lo, span_hi, floor):
    """Record the smallest interval [lo, hi) outside which row i of W equals its minimum.

    After an EM step every component outside the bands of an agent's RAG
    points is clipped to the same floor value, so a weight row is its
    minimum everywhere but on a short interval (in the paper's 1-d set-up).
    """
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
def _sq_distance_row_sparse(W, i, span_lo, span_hi, floor, out):
    """out[b] = squared Euclidean distance of weight rows i and b, from their spans (see _span_of_row).

    Exact up to summation order: outside both spans the difference is the
    constant ``floor[i] - floor[b]``.
    """
    n, K = W.shape
    la = span_lo[i]
    ha = span_hi[i]
    fa = floor[i]
    for b in range(n):
        lb = span_lo[b]
        hb = span_hi[b]
        s = 0.0
        for c in range(la, ha):
            diff = W[i, c] - W[b, c]
            s += diff * diff
        covered = ha - la
        for c in range(lb, hb):
            if c < la or c >= ha:
                diff = W[i, c] - W[b, c]
                s += diff * diff
                covered += 1
        g = fa - floor[b]
        s += (K - covered) * g * g
        out[b] = s
    out[i] = 0.0


@kernel(inline="always")
def _copy_partner(state, i, n, k, W, span_lo, span_hi, floor, drow, cand, best):
    """A partner of agent i other than itself: uniform among its k nearest in weight space.

    Ties are broken by a random rotation of the agent indices: squared
    distance ``+ TIE_JITTER * ((b - offset) mod n) / n`` with ``offset``
    uniform, so that among candidates tied at the boundary of the k nearest
    each has the same chance of being the partner (one random draw instead
    of one per agent). Instead of a full selection, the ``m = min(k, n-1-k)``
    extreme candidates are kept in a small sorted buffer ``best``: the
    nearest k when k is small, else the farthest n-1-k, which are excluded.
    """
    if k >= n - 1:
        j = randint(state, n - 1)
        return j + 1 if j >= i else j
    _sq_distance_row_sparse(W, i, span_lo, span_hi, floor, drow)
    offset = randint(state, n)
    scale = TIE_JITTER / n
    cnt = n - 1
    near = k <= cnt - k
    m = k if near else cnt - k
    sign = 1.0 if near else -1.0
    filled = 0
    for b in range(n):
        if b == i:
            continue
        rot = b - offset
        if rot < 0:
            rot += n
        v = sign * (drow[b] + scale * rot)
        drow[b] = v
        if filled < m:
            pos = filled
            filled += 1
        elif v < drow[best[m - 1]]:
            pos = m - 1
        else:
            continue
        # insertion into the sorted buffer best[:filled]
        while pos > 0 and drow[best[pos - 1]] > v:
            best[pos] = best[pos - 1]
            pos -= 1
        best[pos] = b
    if near:
        return best[randint(state, k)]
    # uniform among the candidates not in the farthest buffer
    for b in range(n):
        cand[b] = 0
    cand[i] = 1
    for q in range(m):
        cand[best[q]] = 1
    u = randint(state, k)
    for b in range(n):
        if cand[b] == 0:
            if u == 0:
                return b
            u -= 1
    return i  # not reached


@kernel(inline="always")
def _argmax_row(W, i):
    best = W[i, 0]
    arg = 0
    for c in range(1, W.shape[1]):
        if W[i, c] > best:
            best = W[i, c]
            arg = c
    return arg


@kernel(_nrt=False)
def _rounds(state, W, Wn, R, DN, BL, BH, BS, mu, chol, mu1, inv_sd, log_sd, half_logdet, banded, inv_spacing,
            cutoff, logd, work, acted, slot_new, y_new, dy_new, lo_new, hi_new, bs_new, span_lo, span_hi, floor, drow,
            cand, best, x, y, dx, dy, WB, p, k, rounds_per_step, activation, eps, answer_current, steps, out_silos):
    """The rounds of one job on preallocated buffers (no allocation, no reference counting).

    A replacement of agent i's RAG point in a round is kept pending (``slot_new``,
    ``y_new``, ``dy_new``, bands) and applied after the round, so that every read in
    a round sees the previous round's state (synchronous updates, as Algorithm 1).
    """
    n, K = W.shape
    d = mu.shape[1]
    for t in range(steps):
        for _m in range(rounds_per_step):
            for i in range(n):
                acted[i] = False
                if activation < 1.0 and uniform(state) >= activation:
                    continue
                acted[i] = True
                if uniform(state) < p:
                    j = i
                else:
                    j = _copy_partner(state, i, n, k, W, span_lo, span_hi, floor, drow, cand, best)
                if answer_current:
                    sample_point(state, W, j, mu, chol, y)
                else:
                    # the paper: i's query x enters j's RAG in a pseudo-update, j answers from it
                    sample_point(state, W, i, mu, chol, x)
                    lx, hx, bx = _densities(x, mu, chol, mu1, inv_sd, log_sd, half_logdet, banded,
                                            inv_spacing, cutoff, logd, work, dx)
                    slot_j = farthest_index(R, j, x)
                    em_weights(W, j, DN, j, BL, BH, BS, slot_j, dx, lx, hx, bx, eps, WB, 0)
                    sample_point(state, WB, 0, mu, chol, y)
                ly, hy, by = _densities(y, mu, chol, mu1, inv_sd, log_sd, half_logdet, banded,
                                        inv_spacing, cutoff, logd, work, dy)
                slot_i = farthest_index(R, i, y)
                em_weights(W, i, DN, i, BL, BH, BS, slot_i, dy, ly, hy, by, eps, Wn, i)
                slot_new[i] = slot_i
                lo_new[i] = ly
                hi_new[i] = hy
                bs_new[i] = by
                for a in range(d):
                    y_new[i, a] = y[a]
                for c in range(ly, hy):
                    dy_new[i, c] = dy[c]
            for i in range(n):
                if not acted[i]:
                    continue
                h = slot_new[i]
                for a in range(d):
                    R[i, h, a] = y_new[i, a]
                for c in range(lo_new[i], hi_new[i]):
                    DN[i, h, c] = dy_new[i, c]
                BL[i, h] = lo_new[i]
                BH[i, h] = hi_new[i]
                BS[i, h] = bs_new[i]
                for c in range(K):
                    W[i, c] = Wn[i, c]
                _span_of_row(W, i, span_lo, span_hi, floor)
        for i in range(n):
            out_silos[t + 1, i] = _argmax_row(W, i)


@kernel()
def run_job(state, W0, mu, chol_base, p, k, sigma_scale, r, rounds_per_step, activation, eps,
            answer_current, steps, out_silos):
    """One replicate: ``steps`` recorded steps of ``rounds_per_step`` rounds each.

    ``out_silos`` (steps + 1, n) receives the silo (argmax weight, ties to
    the smaller index) of every agent at every recorded step; row 0 is the
    initial state. Covariances are ``sigma_scale**2 * chol_base chol_base^T``.
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
    Wn = W.copy()
    R = np.empty((n, r, d))
    DN = np.zeros((n, r, K))
    BL = np.empty((n, r), dtype=np.int64)
    BH = np.empty((n, r), dtype=np.int64)
    BS = np.empty((n, r))
    logd = np.empty(K)
    work = np.empty(d)
    for i in range(n):
        for h in range(r):
            sample_point(state, W, i, mu, chol, R[i, h])
            lo, hi, bs = _densities(R[i, h], mu, chol, mu1, inv_sd, log_sd, half_logdet, banded, inv_spacing,
                                    cutoff, logd, work, DN[i, h])
            BL[i, h] = lo
            BH[i, h] = hi
            BS[i, h] = bs
    acted = np.zeros(n, dtype=np.bool_)
    slot_new = np.zeros(n, dtype=np.int64)
    y_new = np.empty((n, d))
    dy_new = np.zeros((n, K))
    lo_new = np.zeros(n, dtype=np.int64)
    hi_new = np.zeros(n, dtype=np.int64)
    bs_new = np.zeros(n)
    drow = np.zeros(n)
    cand = np.empty(n, dtype=np.int64)
    best = np.empty(n, dtype=np.int64)
    x = np.empty(d)
    y = np.empty(d)
    dx = np.empty(K)
    dy = np.empty(K)
    WB = np.empty((1, K))
    span_lo = np.zeros(n, dtype=np.int64)
    span_hi = np.zeros(n, dtype=np.int64)
    floor = np.zeros(n)
    for i in range(n):
        out_silos[0, i] = _argmax_row(W0, i)
        _span_of_row(W, i, span_lo, span_hi, floor)
    _rounds(state, W, Wn, R, DN, BL, BH, BS, mu, chol, mu1, inv_sd, log_sd, half_logdet, banded, inv_spacing,
            cutoff, logd, work, acted, slot_new, y_new, dy_new, lo_new, hi_new, bs_new, span_lo, span_hi, floor, drow,
            cand, best, x, y, dx, dy, WB, p, k, rounds_per_step, activation, eps, answer_current, steps, out_silos)


@kernel(parallel=True)
def run_jobs(states, W0, mu, chol_base, p, k, sigma_scale, r, rounds_per_step, activation, eps,
             answer_current, steps, out_silos):
    """Jobs in parallel: job b uses ``states[b]`` and its own entries of the parameter arrays.

    ``p, sigma_scale, activation, eps`` are float64 (J,); ``k, r,
    rounds_per_step`` int64 (J,); ``answer_current`` bool (J,);
    ``out_silos`` int16 (J, steps + 1, n).
    """
    for b in prange(states.shape[0]):
        run_job(states[b], W0, mu, chol_base, p[b], k[b], sigma_scale[b], r[b], rounds_per_step[b],
                activation[b], eps[b], answer_current[b], steps, out_silos[b])

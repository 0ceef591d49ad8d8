"""The EM weight step of Algorithm 1 on cached scaled densities: the plain step and the one for many components.

:func:`em_weights` is the step of the paper's model (one E and one M step of
the mixing weights over an agent's RAG, clipped to ``[eps, 1 - eps]``);
:func:`em_weights_wide` gives the same numbers, bit for bit, with fewer
operations when K >= ``EM_HULL_MIN_K``: almost every weight sits at the clip
floor, and a run of equal terms is summed exactly by :func:`add_repeated`.
The densities are the scaled, banded vectors of ``gmm.py``.
"""
import numpy as np
from numba import uint64

from gmmproxy._kernels.cache import kernel
from gmmproxy._kernels.gmm import underflows


# from this many components on, em_weights_wide pays (below it the plain loop is as fast)
EM_HULL_MIN_K = 96
# unit roundoff of float64 and Rump's factor for the unit in the first place (ufp)
UFP_U = 2.0 ** -53
UFP_PHI = 2.0 ** 52 + 1.0
# fewer terms than this are added one by one: a jump costs about as much as a few
# dozen dependent additions (a division, the ufp formula, three additions)
ADD_REPEATED_MIN = 48


@kernel(inline="always")
def add_repeated(x, e, m):
    """``for _ in range(m): x = x + e`` in float64, bit for bit, in O(log m) additions for ``e > 0``.

    Summing K equal terms one after the other is a chain of K dependent
    additions (latency-bound: the EM step's normaliser over K = 300 clipped
    weights cost a quarter of an update). Within one binade ``[2^E,
    2^(E+1))`` of the running sum, whose spacing is ``u``, ``x + e`` rounds to
    ``x + s`` with the same step ``s`` every time: the sum is a multiple of
    ``u``, so only ``e mod u`` decides the rounding -- except for an exact
    tie (``e mod u = u / 2``), which rounds to even; the first step makes
    the sum even and from then on the step is constant again. So three plain
    additions inside one binade with two equal steps fix the step, and the
    sum jumps ``t`` steps at once (``x + t * s`` is exact: a multiple of
    ``u`` below ``2^(E+1)``) as long as every result stays in the binade;
    the crossing into the next binade is done by plain additions.
    """
    if m < ADD_REPEATED_MIN or not (e > 0.0 and x >= 0.0 and e < np.inf and x < np.inf):
        for _ in range(m):
            x = x + e
        return x
    while m >= 3:
        y = x + e
        z = y + e
        w = z + e
        m -= 3
        x = w
        # y's binade ends at top = 2 ufp(y), ufp(y) the largest power of 2 <= y, by Rump's
        # three-operation formula (exact for y in about [2^-960, 2^800]; checked here)
        q = UFP_PHI * y
        top = 2.0 * abs((1.0 - UFP_U) * q - q)
        step = w - z
        if 1e-280 < y < 1e200 and top * 0.5 <= y < top and w < top and z - y == step:
            # results w + step, ..., w + t * step all below top (exact: top - w by Sterbenz)
            t = np.int64((top - w) / step) - 1
            if t > m:
                t = m
            if t > 0:
                x = w + t * step
                m -= t
    for _ in range(m):
        x = x + e
    return x


@kernel(inline="always")
def em_weights(W, wrow, DN, arow, BL, BH, BS, slot, dens_new, lo_new, hi_new, ulog_new, eps, OUT, orow):
    """One EM weight step for agent ``arow``'s RAG, its point ``slot`` replaced by a new one.

    ``OUT[orow, c] = (1/r) sum_h prior[c] dens[h, c] / sum_c' prior[c'] dens[h, c']``
    with ``prior = W[wrow]`` (already clipped to [eps, 1-eps] and normalised;
    every EM step leaves weights so and the kernels clip the initial weights
    once) and ``dens[h] = DN[arow, h]`` -- the cached scaled densities of the
    agent's RAG points -- except ``dens[slot] = dens_new`` (``slot < 0``: no
    replacement). Row h is non-zero only on components ``BL[arow, h] <= c <
    BH[arow, h]`` (``lo_new, hi_new`` for the new row). ``BS[arow, h]``
    (``ulog_new``) is the underflow log-scale of row h
    (:func:`underflow_log_scale`): a point whose mixture density underflows
    float64 contributes nothing (but still counts in the 1/r), as in the
    authors' code -- it matters when Algorithm 2 shrinks variances.
    ``OUT[orow]`` must not be ``W[wrow]``. The result is clipped and
    normalised. Arrays are indexed in place, never sliced (see
    :func:`sample_point`).
    """
    K = W.shape[1]
    for c in range(K):
        OUT[orow, c] = 0.0
    _em_accumulate(W, wrow, DN, arow, BL, BH, BS, slot, dens_new, lo_new, hi_new, ulog_new, OUT, orow)
    _clip_normalise_plain(W, wrow, eps, OUT, orow)


@kernel(inline="always")
def em_weights_wide(W, wrow, DN, arow, BL, BH, BS, slot, dens_new, lo_new, hi_new, ulog_new, eps, OUT, orow):
    """:func:`em_weights` for many components (K >= ``EM_HULL_MIN_K``, e.g. 300): the same result, bit for bit.

    The plain step ends with a sequential sum over all K clipped weights, a
    chain of K dependent additions that took a third of an update at K =
    300; here the run of equal weights outside the points' bands is summed
    by :func:`add_repeated` (:func:`_clip_normalise_hull`). A separate entry
    point, not a run-time switch inside :func:`em_weights`: a kernel that
    never calls it does not compile it (the switch cost the default kernel
    about 1.4 s of its first compile). The caller picks it by K.
    """
    # only the hull of the points' bands is accumulated into and read back; everything outside it
    # is written by the last step, so zeroing the hull alone suffices (a K-wide memset was 8%)
    lo_all, hi_all = _band_hull(BL, BH, arow, slot, lo_new, hi_new, W.shape[1])
    for c in range(uint64(lo_all), uint64(hi_all)):
        OUT[orow, c] = 0.0
    _em_accumulate(W, wrow, DN, arow, BL, BH, BS, slot, dens_new, lo_new, hi_new, ulog_new, OUT, orow)
    _clip_normalise_hull(W, wrow, eps, OUT, orow, lo_all, hi_all)


@kernel(_nrt=False)
def _band_hull(BL, BH, arow, slot, lo_new, hi_new, K):
    """The hull [lo_all, hi_all) of the density bands of agent ``arow``'s points, point ``slot``'s replaced by
    ``[lo_new, hi_new)``; (0, 0) when every band is empty."""
    lo_all = K
    hi_all = 0
    for h in range(BL.shape[1]):
        lo = lo_new if h == slot else BL[arow, h]
        hi = hi_new if h == slot else BH[arow, h]
        if lo < hi:
            lo_all = min(lo_all, lo)
            hi_all = max(hi_all, hi)
    if hi_all < lo_all:
        lo_all = 0
        hi_all = 0
    return lo_all, hi_all


@kernel(inline="always")
def _em_accumulate(W, wrow, DN, arow, BL, BH, BS, slot, dens_new, lo_new, hi_new, ulog_new, OUT, orow):
    # OUT[orow] += (1/r) prior dens_h / <prior, dens_h> on each point's band. Two passes per
    # point (normaliser, then accumulate) keep the inner loops branch-free so LLVM vectorises them
    r = DN.shape[1]
    # The band loops run over unsigned indices (band bounds are never negative): with a signed
    # index Numba adds the negative-index wraparound to every access, which kept the loops
    # scalar (LLVM could not prove the bounds non-negative, not even after a max(., 0))
    for h in range(r):
        tot = 0.0
        if h == slot:
            for c in range(uint64(lo_new), uint64(hi_new)):
                tot += W[wrow, c] * dens_new[c]
            if underflows(ulog_new, tot):
                continue
            inv = 1.0 / (tot * r)
            for c in range(uint64(lo_new), uint64(hi_new)):
                OUT[orow, c] += dens_new[c] * inv
        else:
            lo = uint64(BL[arow, h])
            hi = uint64(BH[arow, h])
            for c in range(lo, hi):
                tot += W[wrow, c] * DN[arow, h, c]
            if underflows(BS[arow, h], tot):
                continue
            inv = 1.0 / (tot * r)
            for c in range(lo, hi):
                OUT[orow, c] += DN[arow, h, c] * inv


@kernel(inline="always")
def _clip_normalise_plain(W, wrow, eps, OUT, orow):
    # em_weights' last step for few components: multiply by the prior, clip to [eps, 1-eps] and
    # renormalise in two passes
    K = W.shape[1]
    total = 0.0
    hi_clip = 1.0 - eps
    for c in range(K):
        v = OUT[orow, c] * W[wrow, c]
        v = v if v > eps else eps
        v = v if v < hi_clip else hi_clip
        OUT[orow, c] = v
        total += v
    inv_total = 1.0 / total
    for c in range(K):
        OUT[orow, c] *= inv_total


# compiled once as its own function, not inlined into every Algorithm-1 variant: it runs only
# with K >= EM_HULL_MIN_K, where a call costs nothing next to the work (one small function also
# keeps the first compile of the default kernel short)
@kernel(_nrt=False)
def _clip_normalise_hull(W, wrow, eps, OUT, orow, lo_all, hi_all):
    """em_weights' last step (multiply by the prior, clip, normalise) for many components.

    ``[lo_all, hi_all)`` is the hull of the bands of the agent's points
    (:func:`_band_hull`): only there does ``OUT[orow]`` hold accumulated
    responsibilities (and only there is it read); outside it they are zero,
    so every component gets the same clipped value v0 (eps): that run is
    summed by :func:`add_repeated` exactly as the sequential sum over all K
    components adds it, and written once, already scaled (``v0 *
    inv_total``, the product the scaling pass forms). The same arithmetic as
    the plain loops, bit for bit.
    """
    K = W.shape[1]
    hi_clip = 1.0 - eps
    v0 = 0.0 if 0.0 > eps else eps
    v0 = v0 if v0 < hi_clip else hi_clip
    total = add_repeated(0.0, v0, lo_all)
    # unsigned indices below: no negative-index wraparound, so the fills vectorise (see _em_accumulate)
    for c in range(uint64(lo_all), uint64(hi_all)):
        v = OUT[orow, c] * W[wrow, c]
        v = v if v > eps else eps
        v = v if v < hi_clip else hi_clip
        OUT[orow, c] = v
        total += v
    total = add_repeated(total, v0, K - hi_all)
    inv_total = 1.0 / total
    w0 = v0 * inv_total
    for c in range(uint64(lo_all)):
        OUT[orow, c] = w0
    for c in range(uint64(lo_all), uint64(hi_all)):
        OUT[orow, c] *= inv_total
    for c in range(uint64(hi_all), uint64(K)):
        OUT[orow, c] = w0

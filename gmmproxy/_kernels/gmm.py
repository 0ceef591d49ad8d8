"""Gaussian-mixture primitives for the kernels: densities, sampling, the covariance EM step (Algorithm 2).

The EM *weight* step of Algorithm 1 is in ``em.py``.

Densities are stored *scaled*: for a point x, ``dens[c] = exp(logN(x; mu_c,
Sigma_c) - max_c' logN(x; mu_c', Sigma_c'))``. Rescaling one point's density
vector by a constant leaves its responsibilities unchanged, the largest entry
is exactly 1 (so the normaliser can never underflow to 0).

Components whose relative log-density is below ``cutoff`` are stored as exact
zeros and their ``exp`` is skipped. The EM step clips weights to ``[eps,
1-eps]``, so the normaliser of a point is at least ``eps`` (its densest
component has scaled density 1 and weight >= eps); a term below ``eps**2 *
2**-53`` therefore changes neither the normaliser nor any clipped weight by
as much as half an ulp. ``cutoff = 2 log(eps) - 40`` (about -95 for the
default eps) is safely below that, and with the paper's sigma = 0.2 it leaves
about 6 of 30 exponentials per point.

With shared covariances a point's vector does not depend on the agent holding
it, so it is computed once when the point is drawn and cached beside the
point in the RAG.

Normal draws use the ziggurat method (``ziggurat.py``): a third of the cost of
Box-Muller's ``log``, ``sqrt`` and ``cos``, about a tenth of an update.
"""
import math

import numpy as np

from gmmproxy._kernels.cache import kernel
from gmmproxy._kernels.rng import categorical_row
from gmmproxy._kernels.ziggurat import standard_normal_ziggurat



# log of half the smallest subnormal double: a product below it rounds to 0
LOG_UNDERFLOW = -745.1332191019412
LOG_2PI = math.log(2.0 * math.pi)


@kernel(inline="always")
def density_cutoff(eps):
    """Relative log-density below which a component's scaled density is stored as 0."""
    return 2.0 * math.log(eps) - 40.0


@kernel(inline="always")
def log_density_1d(x, mu, inv_sd, log_sd, out):
    """Unnormalised log-densities of scalar x under K 1-d components -> out; returns the max."""
    best = -np.inf
    for c in range(mu.shape[0]):
        z = (x - mu[c]) * inv_sd[c]
        v = -0.5 * z * z - log_sd[c]
        out[c] = v
        if v > best:
            best = v
    return best


@kernel(inline="always")
def log_density_nd(x, mu, chol, half_logdet, out, work):
    """Unnormalised log-densities of x (d,) under K components with Cholesky factors chol (K, d, d)."""
    K = mu.shape[0]
    d = mu.shape[1]
    best = -np.inf
    if d == 1:
        # the same arithmetic as the general loop below (q = 0 + z*z = z*z),
        # with the maximum taken in a second pass so that LLVM vectorises the
        # divisions (Algorithm 2 runs this for every RAG point of every update)
        x0 = x[0]
        for c in range(K):
            z = (x0 - mu[c, 0]) / chol[c, 0, 0]
            out[c] = -0.5 * (z * z) - half_logdet[c]
        for c in range(K):
            if out[c] > best:
                best = out[c]
        return best
    for c in range(K):
        # forward substitution L z = x - mu_c; Mahalanobis distance = |z|^2
        q = 0.0
        for a in range(d):
            s = x[a] - mu[c, a]
            for b in range(a):
                s -= chol[c, a, b] * work[b]
            za = s / chol[c, a, a]
            work[a] = za
            q += za * za
        v = -0.5 * q - half_logdet[c]
        out[c] = v
        if v > best:
            best = v
    return best


@kernel(inline="always")
def scale_densities(logd, best, cutoff, out):
    """out[c] = exp(logd[c] - best), or 0 where that is below exp(cutoff)."""
    prev = 0.0
    for c in range(logd.shape[0]):
        v = logd[c] - best
        if v > cutoff:
            # "+ 0.0 * prev" adds exactly +0.0 (prev is a density in [0, 1])
            # but chains each exp to the previous one, which keeps LLVM from
            # vectorising the loop: vectorised, it evaluated exp on *every*
            # component (then selected), 30 exps per point instead of the ~5
            # above the cutoff, most of them underflowing into glibc's slow
            # error-reporting path -- a third of Algorithm 2's update time
            prev = math.exp(v + 0.0 * prev)
            out[c] = prev
        else:
            out[c] = 0.0


# The per-update helpers with loops over K (1-d sampling, the EM weight step,
# the density band) are inlined into the rounds at Numba-IR level: compiled
# all as separate functions they cost 15-30% of the Figure-2 update time
# (measured alternately against the previous engine). Small ones
# (``underflows``, ``farthest_index``, the generator in ``rng.py``) are
# compiled once as separate functions: LLVM inlines them where it pays, and
# they are not re-typed at every call site, which keeps the compile time down.
@kernel(inline="always")
def sample_point_1d(state, W, row, mu, chol, out):
    """:func:`sample_point` for one-dimensional components (compiles without the d-dimensional code)."""
    c = categorical_row(state, W, row)
    out[0] = mu[c, 0] + chol[c, 0, 0] * standard_normal_ziggurat(state)
    return c


@kernel(_nrt=False)
def sample_point(state, W, row, mu, chol, out):
    """One draw from sum_c W[row, c] N(mu_c, chol_c chol_c^T) into out (d,); returns the component.

    The weights ``W[row]`` must sum to 1 up to rounding (every EM step
    renormalises). Rows are indexed in place, never sliced: in Numba a view
    costs two atomic reference-count updates, which dominated the hot loop.
    """
    c = categorical_row(state, W, row)
    draw_from_component(state, c, mu, chol, out)
    return c


@kernel(inline="always")
def draw_from_component(state, c, mu, chol, out):
    """One draw from component c, N(mu_c, chol_c chol_c^T), into out (d,).

    The normals come from the ziggurat (``ziggurat.py``), as everywhere in the
    simulation and calibration kernels; only the theory's chain kernel keeps
    Box-Muller (``rng.standard_normal``).
    """
    d = mu.shape[1]
    if d == 1:
        out[0] = mu[c, 0] + chol[c, 0, 0] * standard_normal_ziggurat(state)
        return
    # out = mu_c + L_c z with z standard normal (z drawn first, then the product)
    for a in range(d):
        out[a] = standard_normal_ziggurat(state)
    for a in range(d - 1, -1, -1):
        s = 0.0
        for b in range(a + 1):
            s += chol[c, a, b] * out[b]
        out[a] = mu[c, a] + s


@kernel(inline="always")
def clip_normalise(w, eps, out):
    """out = clip(w, eps, 1-eps) / sum, NaN -> eps (the authors' guards); out may be w."""
    total = 0.0
    hi = 1.0 - eps
    for c in range(w.shape[0]):
        v = w[c]
        # branch-free clip; a NaN fails "v > eps" and becomes eps
        v = v if v > eps else eps
        v = v if v < hi else hi
        out[c] = v
        total += v
    inv = 1.0 / total
    for c in range(w.shape[0]):
        out[c] *= inv


@kernel(inline="always")
def underflow_log_scale(logd, half_logdet, best, d):
    """Log-scale ``s`` of a point for the authors' underflow guard.

    The point's mixture density as the authors compute it is
    ``exp(s) * sum_c w_c dens[c]`` with ``dens`` scaled by ``best`` (see
    :func:`scale_densities`), so :func:`underflows` can test it without
    leaving the log domain. In one dimension SciPy's ``norm.pdf`` evaluates
    ``exp(-z**2/2)`` before dividing by the sd, so a point whose every kernel
    ``exp(-z**2/2)`` underflows has density 0 whatever its weights: ``s`` is
    then ``-inf``. ``logd[c] + half_logdet[c]`` is ``-z_c**2/2``.
    """
    if d == 1:
        kmax = -np.inf
        for c in range(logd.shape[0]):
            v = logd[c] + half_logdet[c]
            if v > kmax:
                kmax = v
        if kmax < LOG_UNDERFLOW:
            return -np.inf
    return best - 0.5 * d * LOG_2PI


@kernel(_nrt=False)
def underflows(ulog, tot):
    """True when a point's mixture density exp(ulog) * tot rounds to 0 in float64.

    ``ulog`` from :func:`underflow_log_scale` (or the banded density path).
    """
    # the log is only taken for points far out in the tails
    return ulog < LOG_UNDERFLOW + 60.0 and ulog + math.log(tot) < LOG_UNDERFLOW


@kernel(inline="always")
def banded_densities_1d(x, mu1, inv_sd, log_sd0, inv_spacing, cutoff, out):
    """Scaled densities of scalar x for 1-d components of *equal* sd and *ascending* means.

    The density then falls monotonically away from the nearest mean, so only
    the band of components around it whose relative log-density exceeds
    ``cutoff`` is computed. ``inv_spacing > 0`` declares the means an evenly
    spaced grid (nearest mean by rounding, instead of a binary search).
    Returns ``(lo, hi, ulog)``: ``out[lo:hi]`` holds the band (entries
    outside it are stale and must be read as 0) and ``ulog`` is the point's
    log-scale for the underflow guard (:func:`underflow_log_scale`).
    """
    K = mu1.shape[0]
    if inv_spacing > 0.0:
        f = (x - mu1[0]) * inv_spacing + 0.5
        if f <= 0.0:
            c0 = 0
        elif f >= K:
            c0 = K - 1
        else:
            c0 = int(f)
    else:
        a = 0
        b = K
        while a < b:  # first mean >= x
            mid = (a + b) // 2
            if mu1[mid] < x:
                a = mid + 1
            else:
                b = mid
        if a == K:
            c0 = K - 1
        elif a == 0:
            c0 = 0
        elif mu1[a] - x < x - mu1[a - 1]:
            c0 = a
        else:
            c0 = a - 1
    s = inv_sd[0]
    z0 = (x - mu1[c0]) * s
    base = 0.5 * z0 * z0
    # underflow log-scale (see underflow_log_scale): -inf when even the nearest
    # kernel exp(-z**2/2) underflows
    ulog = -np.inf if -base < LOG_UNDERFLOW else -base - log_sd0 - 0.5 * LOG_2PI
    out[c0] = 1.0
    lo = c0
    while lo > 0:
        z = (x - mu1[lo - 1]) * s
        v = base - 0.5 * z * z
        if v <= cutoff:
            break
        lo -= 1
        out[lo] = math.exp(v)
    hi = c0 + 1
    while hi < K:
        z = (x - mu1[hi]) * s
        v = base - 0.5 * z * z
        if v <= cutoff:
            break
        out[hi] = math.exp(v)
        hi += 1
    return lo, hi, ulog


@kernel(_nrt=False)
def farthest_index(R, row, x):
    """Index of agent ``row``'s RAG point (``R[row]`` of shape (r, d)) farthest from x; first on ties."""
    best = -1.0
    arg = 0
    d = R.shape[2]
    for h in range(R.shape[1]):
        s = 0.0
        for a in range(d):
            diff = R[row, h, a] - x[a]
            s += diff * diff
        if s > best:
            best = s
            arg = h
    return arg


@kernel(inline="always")
def cholesky_into(S, L):
    """Lower Cholesky factor of the SPD matrix S into L; returns the sum of log diagonal."""
    d = S.shape[0]
    half_logdet = 0.0
    for a in range(d):
        for b in range(a + 1):
            s = S[a, b]
            for m in range(b):
                s -= L[a, m] * L[b, m]
            if a == b:
                if s <= 0.0:
                    s = 1e-300  # only reachable through rounding on an already-floored matrix
                v = np.sqrt(s)
                L[a, a] = v
                half_logdet += np.log(v)
            else:
                L[a, b] = s / L[b, b]
        for b in range(a + 1, d):
            L[a, b] = 0.0
    return half_logdet


@kernel(_nrt=False)
def em_cov(W, wrow, R, rrow, slot, xnew, mu, CH, HL, crow, mix, rules, scr, cs, w_out, orow, chol_out, hld_out):
    """Algorithm 2: one EM step for weights and covariances of agent ``rrow`` (means fixed).

    Prior ``W[wrow]``; the agent's RAG ``R[rrow]`` with point ``slot``
    replaced by ``xnew``; its current factors ``CH[crow]``, ``HL[crow]``.
    Results into ``w_out[orow]``, ``chol_out`` (K, d, d), ``hld_out`` (K,).

    Why this is not ``em.em_weights``: Algorithm 1's step reuses densities
    cached beside the RAG points (valid because covariances are shared and
    fixed); here every agent's covariances change at every step, so the
    densities are recomputed from the agent's own factors, and the same
    responsibilities feed the covariance M-step.
    """
    K = mu.shape[0]
    d = mu.shape[1]
    r = R.shape[1]
    eps = mix.eps
    prior = cs.prior
    gam = cs.gam
    dens = cs.dens
    S = cs.S
    clip_normalise(W[wrow], eps, prior)
    for h in range(r):
        pt = xnew if h == slot else R[rrow, h]
        best = log_density_nd(pt, mu, CH[crow], HL[crow], scr.logd, scr.work)
        scale_densities(scr.logd, best, mix.cutoff, dens)
        tot = 0.0
        for c in range(K):
            tot += prior[c] * dens[c]
        if underflows(underflow_log_scale(scr.logd, HL[crow], best, d), tot):
            # as the authors' code: a point no component can explain is ignored
            for c in range(K):
                gam[h, c] = 0.0
            continue
        for c in range(K):
            gam[h, c] = prior[c] * dens[c] / tot
    for c in range(K):
        s = 0.0
        for h in range(r):
            s += gam[h, c]
        w_out[orow, c] = s / r
        for a in range(d):
            for b in range(d):
                S[a, b] = 0.0
        for h in range(r):
            pt = xnew if h == slot else R[rrow, h]
            g = gam[h, c]
            for a in range(d):
                da = pt[a] - mu[c, a]
                for b in range(d):
                    S[a, b] += g * da * (pt[b] - mu[c, b])
        denom = s + eps
        for a in range(d):
            for b in range(d):
                S[a, b] /= denom
        if d == 1:
            if not S[0, 0] >= rules.min_var:  # also catches NaN
                S[0, 0] = rules.min_var
        else:
            for a in range(d):
                S[a, a] += rules.min_var
        hld = cholesky_into(S, chol_out[c])
        if rules.volume_preserving:
            # scale so that log det = the reference log det (Remark 2)
            f = np.exp((rules.logdet_ref[c] - 2.0 * hld) / (2.0 * d))
            for a in range(d):
                for b in range(d):
                    chol_out[c, a, b] *= f
            hld = 0.5 * rules.logdet_ref[c]
        hld_out[c] = hld
    clip_normalise(w_out[orow], eps, w_out[orow])

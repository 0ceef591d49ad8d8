"""Algorithm 1 and Algorithm 2 rounds for one replicate, and the parallel batch driver.

Layout of one replicate's state: weights ``W`` (n, K), RAG points ``R``
(n, r, d), and for Algorithm 1 the cached scaled densities ``DN`` (n, r, K) of
every RAG point (see ``gmm.py``). Synchronous rounds read the previous round's
state and write fresh buffers that are swapped in after the round; sequential
rounds write in place.
"""
import numpy as np
from numba import njit, prange

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
    underflows,
)
from gmmproxy._kernels.neighbors import partner_of, round_setup

REC_WEIGHTS = 0
REC_SILOS = 1
REC_METRICS = 2


@njit(cache=True, inline="always")
def _point_densities(x, mu, chol, mu1, inv_sd, log_sd, half_logdet, banded, inv_spacing, cutoff, logd, work,
                     out):
    """Scaled densities of x -> out; returns the band (lo, hi) of possibly non-zero entries and the scale."""
    if banded:
        return banded_densities_1d(x[0], mu1, inv_sd, log_sd[0], inv_spacing, cutoff, out)
    if mu.shape[1] == 1:
        best = log_density_1d(x[0], mu1, inv_sd, log_sd, logd)
    else:
        best = log_density_nd(x, mu, chol, half_logdet, logd, work)
    scale_densities(logd, best, cutoff, out)
    return 0, mu.shape[0], underflow_log_scale(logd, half_logdet, best, mu.shape[1])


@njit(cache=True)
def _record(t, W, rec_mode, rec_w, rec_s, nsil, nswitch, prev, cur, seen):
    """Silos of step t (argmax, ties to the smaller index) and the per-step metrics."""
    n, K = W.shape
    count = 0
    switched = 0
    for i in range(n):
        best = W[i, 0]
        arg = 0
        for c in range(1, K):
            if W[i, c] > best:
                best = W[i, c]
                arg = c
        cur[i] = arg
        if seen[arg] != t + 1:
            seen[arg] = t + 1
            count += 1
        if t > 0 and arg != prev[i]:
            switched += 1
    nsil[t] = count
    nswitch[t] = switched
    if rec_mode == REC_WEIGHTS:
        for i in range(n):
            for c in range(K):
                rec_w[t, i, c] = W[i, c]
    if rec_mode <= REC_SILOS:
        for i in range(n):
            rec_s[t, i] = cur[i]
    for i in range(n):
        prev[i] = cur[i]


@njit(cache=True, _nrt=False)
def _alg1_rounds(state, W, Wn, R, Rn, DN, DNn, BL, BLn, BH, BHn, BS, BSn, ptr, ptr_n, mu, chol, mu1, inv_sd,
                 log_sd, half_logdet, banded, inv_spacing, cutoff, logd, work, D, drow, cand, x, y, dx, dy, WB,
                 prev, cur, seen, p, kvec, eps, sequential, fifo, use_graph, graph, steps, rec_mode, rec_w, rec_s,
                 nsil, nswitch, final_rag):
    """The rounds of Algorithm 1 on preallocated buffers; the final RAG -> final_rag.

    Compiled without Numba's reference counting (``_nrt=False``): it allocates
    nothing, and the atomic increments and decrements Numba otherwise emits
    for every array passed to an inlined helper took about half the time of
    an agent update.
    """
    n, K = W.shape
    r = R.shape[1]
    d = R.shape[2]
    for t in range(steps):
        gidx, k, need_dist = round_setup(t, W, kvec, graph, use_graph, sequential, D)
        for i in range(n):
            j = partner_of(state, i, W, D, drow, cand, need_dist, sequential, p, k, use_graph, graph, gidx)
            # query from agent i, drawn with its current weights
            sample_point(state, W, i, mu, chol, x)
            lx, hx, bx = _point_densities(x, mu, chol, mu1, inv_sd, log_sd, half_logdet, banded,
                                      inv_spacing, cutoff, logd, work, dx)
            # partner's pseudo-update: j's RAG with x in place of its farthest (or oldest) point
            slot_j = ptr[j] if fifo else farthest_index(R, j, x)
            em_weights(W, j, DN, j, BL, BH, BS, slot_j, dx, lx, hx, bx, eps, WB, 0)
            # answer drawn from the pseudo-updated weights (row 0 of WB)
            sample_point(state, WB, 0, mu, chol, y)
            ly, hy, by = _point_densities(y, mu, chol, mu1, inv_sd, log_sd, half_logdet, banded,
                                      inv_spacing, cutoff, logd, work, dy)
            slot_i = ptr[i] if fifo else farthest_index(R, i, y)
            em_weights(W, i, DN, i, BL, BH, BS, slot_i, dy, ly, hy, by, eps, WB, 1)
            if not sequential:
                # carry agent i's unchanged RAG rows into the new buffers
                # (explicit loops: slice assignment is slow in Numba)
                for h in range(r):
                    if h != slot_i:
                        for a in range(d):
                            Rn[i, h, a] = R[i, h, a]
                        BLn[i, h] = BL[i, h]
                        BHn[i, h] = BH[i, h]
                        BSn[i, h] = BS[i, h]
                        # only the band of each cached row is ever read
                        for c in range(BL[i, h], BH[i, h]):
                            DNn[i, h, c] = DN[i, h, c]
            for c in range(K):
                Wn[i, c] = WB[1, c]
            for c in range(ly, hy):
                DNn[i, slot_i, c] = dy[c]
            BLn[i, slot_i] = ly
            BHn[i, slot_i] = hy
            BSn[i, slot_i] = by
            for a in range(d):
                Rn[i, slot_i, a] = y[a]
            if fifo:
                ptr_n[i] = (ptr[i] + 1) % r
        if not sequential:
            W, Wn = Wn, W
            R, Rn = Rn, R
            DN, DNn = DNn, DN
            BL, BLn = BLn, BL
            BH, BHn = BHn, BH
            BS, BSn = BSn, BS
            ptr, ptr_n = ptr_n, ptr
        _record(t + 1, W, rec_mode, rec_w, rec_s, nsil, nswitch, prev, cur, seen)
    for i in range(n):
        for h in range(r):
            for a in range(d):
                final_rag[i, h, a] = R[i, h, a]


@njit(cache=True)
def run_alg1(state, W0, R0, sample_rag, mu, chol, half_logdet, p, kvec, eps, sequential, fifo,
             use_graph, graph, steps, rec_mode, rec_w, rec_s, nsil, nswitch, final_silos, final_rag):
    """Algorithm 1 (weights only) for ``steps`` rounds from (W0, R0); results into the rec_* arrays."""
    n, K = W0.shape
    r = R0.shape[1]
    d = mu.shape[1]

    mu1 = mu[:, 0].copy()
    inv_sd = np.empty(K)
    log_sd = np.empty(K)
    for c in range(K):
        inv_sd[c] = 1.0 / chol[c, 0, 0]
        log_sd[c] = np.log(chol[c, 0, 0])
    # fast path: 1-d, one common sd, ascending means (the paper's set-up)
    banded = d == 1
    if banded:
        for c in range(K):
            if chol[c, 0, 0] != chol[0, 0, 0] or (c > 0 and mu1[c] < mu1[c - 1]):
                banded = False
    # evenly spaced grid (to rounding): nearest mean by a division, not a search
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
    W = W0.copy()
    # the EM step expects clipped, normalised weights (as it leaves them);
    # the initial RAG is drawn from these clipped weights too
    for i in range(n):
        clip_normalise(W0[i], eps, W[i])
    R = R0.copy()
    logd = np.empty(K)
    work = np.empty(d)
    DN = np.empty((n, r, K))
    BL = np.empty((n, r), dtype=np.int64)
    BH = np.empty((n, r), dtype=np.int64)
    BS = np.empty((n, r))
    if sample_rag:
        for i in range(n):
            for h in range(r):
                sample_point(state, W, i, mu, chol, R[i, h])
    for i in range(n):
        for h in range(r):
            lo, hi, bs = _point_densities(R[i, h], mu, chol, mu1, inv_sd, log_sd, half_logdet, banded,
                                          inv_spacing, cutoff, logd, work, DN[i, h])
            BL[i, h] = lo
            BH[i, h] = hi
            BS[i, h] = bs

    if sequential:
        Wn = W
        Rn = R
        DNn = DN
        BLn = BL
        BHn = BH
        BSn = BS
    else:
        Wn = W.copy()
        Rn = R.copy()
        DNn = DN.copy()
        BLn = BL.copy()
        BHn = BH.copy()
        BSn = BS.copy()
    ptr = np.zeros(n, dtype=np.int64)
    ptr_n = ptr.copy() if not sequential else ptr

    D = np.zeros((n, n))
    drow = np.zeros(n)
    cand = np.empty(n, dtype=np.int64)
    x = np.empty(d)
    y = np.empty(d)
    dx = np.empty(K)
    dy = np.empty(K)
    WB = np.empty((2, K))  # row 0: partner's pseudo-update, row 1: agent's update
    prev = np.zeros(n, dtype=np.int64)
    cur = np.zeros(n, dtype=np.int64)
    seen = np.zeros(K, dtype=np.int64)

    _record(0, W0, rec_mode, rec_w, rec_s, nsil, nswitch, prev, cur, seen)
    _alg1_rounds(state, W, Wn, R, Rn, DN, DNn, BL, BLn, BH, BHn, BS, BSn, ptr, ptr_n, mu, chol, mu1, inv_sd,
                 log_sd, half_logdet, banded, inv_spacing, cutoff, logd, work, D, drow, cand, x, y, dx, dy, WB,
                 prev, cur, seen, p, kvec, eps, sequential, fifo, use_graph, graph, steps, rec_mode, rec_w, rec_s,
                 nsil, nswitch, final_rag)
    final_silos[:] = cur


@njit(cache=True)
def _cholesky_into(S, L):
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


@njit(cache=True)
def _em_cov(w_old, Rrows, slot, xnew, mu, chol, half_logdet, logdet_ref, eps, cutoff, min_var,
            volume_preserving, prior, gam, logd, work, dens, S, w_out, chol_out, hld_out):
    """Algorithm 2: one EM step for weights and covariances of one agent (means fixed)."""
    K = mu.shape[0]
    d = mu.shape[1]
    r = Rrows.shape[0]
    clip_normalise(w_old, eps, prior)
    for h in range(r):
        pt = xnew if h == slot else Rrows[h]
        best = log_density_nd(pt, mu, chol, half_logdet, logd, work)
        scale_densities(logd, best, cutoff, dens)
        tot = 0.0
        for c in range(K):
            tot += prior[c] * dens[c]
        if underflows(underflow_log_scale(logd, half_logdet, best, d), tot):
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
        w_out[c] = s / r
        for a in range(d):
            for b in range(d):
                S[a, b] = 0.0
        for h in range(r):
            pt = xnew if h == slot else Rrows[h]
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
            if not S[0, 0] >= min_var:  # also catches NaN
                S[0, 0] = min_var
        else:
            for a in range(d):
                S[a, a] += min_var
        hld = _cholesky_into(S, chol_out[c])
        if volume_preserving:
            # scale so that log det = the reference log det (Remark 2)
            f = np.exp((logdet_ref[c] - 2.0 * hld) / (2.0 * d))
            for a in range(d):
                for b in range(d):
                    chol_out[c, a, b] *= f
            hld = 0.5 * logdet_ref[c]
        hld_out[c] = hld
    clip_normalise(w_out, eps, w_out)


@njit(cache=True)
def run_alg2(state, W0, R0, sample_rag, mu, chol0, half_logdet0, p, kvec, eps, sequential, fifo,
             use_graph, graph, steps, min_var, volume_preserving, rec_mode, rec_w, rec_s, rec_sd,
             nsil, nswitch, final_silos, final_rag):
    """Algorithm 2: every agent carries and updates its own covariances."""
    n, K = W0.shape
    r = R0.shape[1]
    d = mu.shape[1]
    W = W0.copy()
    R = R0.copy()
    CH = np.empty((n, K, d, d))
    HL = np.empty((n, K))
    for i in range(n):
        CH[i] = chol0
        HL[i] = half_logdet0
    logdet_ref = 2.0 * half_logdet0
    cutoff = density_cutoff(eps)
    if sample_rag:
        for i in range(n):
            for h in range(r):
                sample_point(state, W, i, mu, CH[i], R[i, h])
    if sequential:
        Wn = W
        Rn = R
        CHn = CH
        HLn = HL
    else:
        Wn = W.copy()
        Rn = R.copy()
        CHn = CH.copy()
        HLn = HL.copy()
    ptr = np.zeros(n, dtype=np.int64)
    ptr_n = ptr.copy() if not sequential else ptr
    D = np.zeros((n, n))
    drow = np.zeros(n)
    cand = np.empty(n, dtype=np.int64)
    x = np.empty(d)
    y = np.empty(d)
    wj2 = np.empty((1, K))
    wi = np.empty(K)
    chj = np.empty((K, d, d))
    hlj = np.empty(K)
    chi = np.empty((K, d, d))
    hli = np.empty(K)
    prior = np.empty(K)
    gam = np.empty((r, K))
    logd = np.empty(K)
    work = np.empty(d)
    dens = np.empty(K)
    S = np.empty((d, d))
    prev = np.zeros(n, dtype=np.int64)
    cur = np.zeros(n, dtype=np.int64)
    seen = np.zeros(K, dtype=np.int64)

    _record(0, W0, rec_mode, rec_w, rec_s, nsil, nswitch, prev, cur, seen)
    if rec_mode == REC_WEIGHTS:
        rec_sd[0] = CH
    for t in range(steps):
        gidx, k, need_dist = round_setup(t, W, kvec, graph, use_graph, sequential, D)
        for i in range(n):
            j = partner_of(state, i, W, D, drow, cand, need_dist, sequential, p, k, use_graph, graph, gidx)
            sample_point(state, W, i, mu, CH[i], x)
            slot_j = ptr[j] if fifo else farthest_index(R, j, x)
            _em_cov(W[j], R[j], slot_j, x, mu, CH[j], HL[j], logdet_ref, eps, cutoff, min_var,
                    volume_preserving, prior, gam, logd, work, dens, S, wj2[0], chj, hlj)
            sample_point(state, wj2, 0, mu, chj, y)
            slot_i = ptr[i] if fifo else farthest_index(R, i, y)
            _em_cov(W[i], R[i], slot_i, y, mu, CH[i], HL[i], logdet_ref, eps, cutoff, min_var,
                    volume_preserving, prior, gam, logd, work, dens, S, wi, chi, hli)
            if not sequential:
                Rn[i] = R[i]
            Wn[i] = wi
            CHn[i] = chi
            HLn[i] = hli
            for a in range(d):
                Rn[i, slot_i, a] = y[a]
            if fifo:
                ptr_n[i] = (ptr[i] + 1) % r
        if not sequential:
            W, Wn = Wn, W
            R, Rn = Rn, R
            CH, CHn = CHn, CH
            HL, HLn = HLn, HL
            ptr, ptr_n = ptr_n, ptr
        _record(t + 1, W, rec_mode, rec_w, rec_s, nsil, nswitch, prev, cur, seen)
        if rec_mode == REC_WEIGHTS:
            rec_sd[t + 1] = CH
    final_silos[:] = cur
    final_rag[:] = R


@njit(cache=True, parallel=True)
def run_batch_alg1(states, W0, R0, sample_rag, mu, chol, half_logdet, p, k, eps, sequential, fifo,
                   use_graph, graph, steps, rec_mode, rec_w, rec_s, nsil, nswitch, final_silos, final_rag):
    """Replicates in parallel; replicate b uses only states[b] and writes only its own rows."""
    for b in prange(states.shape[0]):
        wb = rec_w[b] if rec_mode == REC_WEIGHTS else rec_w[0]
        sb = rec_s[b] if rec_mode <= REC_SILOS else rec_s[0]
        run_alg1(states[b], W0, R0, sample_rag, mu, chol, half_logdet, p, k, eps, sequential, fifo,
                 use_graph, graph, steps, rec_mode, wb, sb, nsil[b], nswitch[b], final_silos[b], final_rag[b])


@njit(cache=True, parallel=True)
def run_batch_alg2(states, W0, R0, sample_rag, mu, chol, half_logdet, p, k, eps, sequential, fifo,
                   use_graph, graph, steps, min_var, volume_preserving, rec_mode, rec_w, rec_s, rec_sd,
                   nsil, nswitch, final_silos, final_rag):
    for b in prange(states.shape[0]):
        wb = rec_w[b] if rec_mode == REC_WEIGHTS else rec_w[0]
        sb = rec_s[b] if rec_mode <= REC_SILOS else rec_s[0]
        cb = rec_sd[b] if rec_mode == REC_WEIGHTS else rec_sd[0]
        run_alg2(states[b], W0, R0, sample_rag, mu, chol, half_logdet, p, k, eps, sequential, fifo,
                 use_graph, graph, steps, min_var, volume_preserving, rec_mode, wb, sb, cb,
                 nsil[b], nswitch[b], final_silos[b], final_rag[b])

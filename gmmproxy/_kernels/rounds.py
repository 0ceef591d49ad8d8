"""The rounds of Algorithms 1 and 2 for a block of replicates, one compiled entry point per model variant.

A run compiles only the variant it needs. :func:`alg1_kernel` and
:func:`alg2_kernel` are factories: the variant (how densities are evaluated,
how partners are restricted) is a closure constant, so Numba prunes the other
branches before typing them, and caches each variant on disk separately
(Numba keys a closure's cache entry on the closure values). The default run
(the paper's 1-d set-up without neighbourhood restriction) compiles neither
the d-dimensional densities nor the kNN selection nor the graph code.

The block functions are compiled without Numba's reference counting
(``_nrt=False``: they allocate nothing -- every buffer comes in a named
structure from ``state.py``; the atomic reference-count updates Numba
otherwise emits for each array handed to an inlined helper once took half
the time of an update) and release the GIL, so ``runner.py`` runs blocks of
replicates on Python threads; replicate ``b`` uses only ``states[b]`` and
writes only row ``b`` of the outputs, so results do not depend on the
number of threads.

Synchronous rounds read the population ``pop`` and write ``nxt``, then swap
them; sequential rounds read and write ``pop`` in place.
"""
import numpy as np
from numba import uint64

from gmmproxy._kernels.cache import kernel
from gmmproxy._kernels.gmm import (
    banded_densities_1d,
    clip_normalise,
    em_cov,
    farthest_index,
    log_density_1d,
    log_density_nd,
    sample_point,
    sample_point_1d,
    scale_densities,
    underflow_log_scale,
)
from gmmproxy._kernels.em import em_weights, em_weights_wide
from gmmproxy._kernels.knn_groups import ROUND_MATRIX, knn_round_prepare, own_group_partner, pick_k_nearest_grouped
from gmmproxy._kernels.neighbors import HEAP_MAX_K, pick_k_nearest, weight_distances_sparse
from gmmproxy._kernels.prefetch import prefetch_agent, prefetch_row
from gmmproxy._kernels.rng import randint, uniform

REC_WEIGHTS = 0
REC_SILOS = 1
REC_METRICS = 2

# how densities are evaluated (Algorithm 1)
DENS_BANDED = 0  # 1-d, one common sd, ascending means: only the band around the nearest mean
DENS_1D = 1  # 1-d, any variances
DENS_ND = 2  # d dimensions, full covariances

# who may be a partner
PARTNER_ALL = 0  # anyone: k = n - 1 in every round, no graph
PARTNER_KNN = 1  # the k nearest in weight space (k may vary by round)
PARTNER_GRAPH = 2  # the k nearest among a dense graph's allowed agents
PARTNER_SPARSE = 3  # the k nearest among a sparse (CSR) graph's allowed agents

DENSITY_NAMES = {DENS_BANDED: "1-d banded", DENS_1D: "1-d", DENS_ND: "d-dimensional"}
PARTNER_NAMES = {PARTNER_ALL: "unrestricted", PARTNER_KNN: "kNN", PARTNER_GRAPH: "dense graph",
                 PARTNER_SPARSE: "sparse graph"}


@kernel(inline="always")
def row_argmax(W, i):
    """Index of the largest entry of ``W[i]``, the first one on ties: what a scan keeping the first strict
    maximum finds (an entry ``W[i, 0]`` that is NaN gives 0, other NaNs are passed over).

    Two passes instead of that scan: the maximum over four running maxima (independent chains of
    ``maxsd``, no branch per entry), then the first entry equal to it. The plain scan, a compare
    and branch per entry, was a fifth of an update at K = 300 (``record_step`` runs it for every
    agent every round).
    """
    K = W.shape[1]
    m0 = W[i, 0]
    m1 = m0
    m2 = m0
    m3 = m0
    c = 1
    while c + 4 <= K:
        v0 = W[i, c]
        v1 = W[i, c + 1]
        v2 = W[i, c + 2]
        v3 = W[i, c + 3]
        m0 = v0 if v0 > m0 else m0
        m1 = v1 if v1 > m1 else m1
        m2 = v2 if v2 > m2 else m2
        m3 = v3 if v3 > m3 else m3
        c += 4
    while c < K:
        v0 = W[i, c]
        m0 = v0 if v0 > m0 else m0
        c += 1
    m0 = m1 if m1 > m0 else m0
    m0 = m3 if m3 > m2 and m3 > m0 else (m2 if m2 > m0 else m0)
    for c in range(K):
        if W[i, c] == m0:
            return c
    return 0  # only when W[i, 0] is NaN (then every running maximum is NaN too)


@kernel(_nrt=False, internal=True)
def record_step(t, b, W, rec):
    """Silos at step t of replicate b (argmax, ties to the smaller index) and the per-step metrics."""
    n, K = W.shape
    count = 0
    switched = 0
    for i in range(n):
        arg = row_argmax(W, i)
        rec.cur[i] = arg
        if rec.seen[arg] != t + 1:
            rec.seen[arg] = t + 1
            count += 1
        if t > 0 and arg != rec.prev[i]:
            switched += 1
    rec.n_silos[b, t] = count
    rec.n_switched[b, t] = switched
    if rec.mode == REC_WEIGHTS:
        for i in range(n):
            for c in range(K):
                rec.weights[b, t, i, c] = W[i, c]
    if rec.mode <= REC_SILOS:
        for i in range(n):
            rec.silos[b, t, i] = rec.cur[i]
    for i in range(n):
        rec.prev[i] = rec.cur[i]


@kernel(_nrt=False, internal=True)
def finish_replicate(b, R, rec):
    n, r, d = R.shape
    for i in range(n):
        rec.final_silos[b, i] = rec.cur[i]
        for h in range(r):
            for a in range(d):
                rec.final_rag[b, i, h, a] = R[i, h, a]


@kernel(inline="always")
def round_k(t, rules):
    return rules.kvec[t] if rules.kvec.shape[0] > 1 else rules.kvec[0]


@kernel(inline="always")
def round_graph(t, rules):
    return t if rules.graph.shape[0] > 1 or rules.indptr.shape[0] > 1 else 0


@kernel(inline="always")
def weight_distance(W, a, b):
    """Euclidean distance between weight rows a and b (same arithmetic as ``weight_distances``)."""
    s = 0.0
    for c in range(W.shape[1]):
        diff = W[a, c] - W[b, c]
        s += diff * diff
    return np.sqrt(s)


@kernel(inline="always")
def other_uniform(state, i, n):
    """An agent other than i, uniformly."""
    j = randint(state, n - 1)
    return j + 1 if j >= i else j


@kernel(inline="always")
def choose_restricted(state, i, W, scr, rules, k, g, from_matrix, kind):
    """Uniform among agent i's k nearest allowed agents (the mirroring draw is made by the caller).

    ``kind``: PARTNER_KNN (everyone allowed), PARTNER_GRAPH or
    PARTNER_SPARSE. ``from_matrix``: read distances from the round's matrix
    ``scr.D`` (synchronous rounds: previous round's weights), else compute
    them from ``W`` (sequential rounds see the freshest weights; sparse
    graphs never build the matrix). An agent with no allowed partner talks
    to itself. The rounds call it with ``kind`` a constant, through
    :func:`choose_knn` and :func:`choose_dense_graph` or inlined (sparse
    graphs).
    """
    n = W.shape[0]
    if kind == PARTNER_KNN and from_matrix and k <= HEAP_MAX_K and scr.nsupp[0] != ROUND_MATRIX:
        # synchronous kNN with a heap-sized k: no matrix, the round's groups (round_distances)
        return pick_k_nearest_grouped(state, i, W, scr.D, scr.cand, scr.supp, scr.nsupp, scr.floor, scr.drow, k,
                                     rules.random_ties, scr.heap)
    cand = scr.cand
    cnt = np.int64(0)  # not the literal 0: the helpers would compile twice (literal and int64)
    if kind == PARTNER_SPARSE:
        for s in range(rules.indptr[g, i], rules.indptr[g, i + 1]):
            j = rules.indices[g, s]
            if j != i:
                cand[cnt] = j
                cnt += 1
    elif kind == PARTNER_GRAPH:
        for j in range(n):
            if j != i and rules.graph[g, i, j]:
                cand[cnt] = j
                cnt += 1
    else:
        for j in range(n):
            if j != i:
                cand[cnt] = j
                cnt += 1
    if cnt == 0:
        return i
    drow = scr.drow
    if k < cnt:
        if kind == PARTNER_SPARSE:
            # the candidates' weight rows are cache misses in a large population: request them all
            # at once rather than one distance at a time
            for s in range(cnt):
                prefetch_row(W, cand[s])
        if from_matrix:
            for s in range(cnt):
                drow[cand[s]] = scr.D[i, cand[s]]
        else:
            for s in range(cnt):
                drow[cand[s]] = weight_distance(W, i, cand[s])
    return pick_k_nearest(state, cand, cnt, drow, k, rules.random_ties, scr.heap)


# One compiled function per partner kind, each with its kind a constant: the branches of the other
# kinds are pruned before typing (a sparse-graph run compiles no grouped kNN selection), and every
# block function of that kind (Algorithm 1 with each density kind, Algorithm 2) shares it from the
# cache. Inlining the kNN selection into the block function instead cost more IR inlining than it
# saved (first --neighbors run 15.3 against 12.7 s CPU); the sparse graph's small one is inlined.
@kernel(_nrt=False, internal=True)
def choose_knn(state, i, W, scr, rules, k, g, from_matrix):
    """:func:`choose_restricted` for kNN partners."""
    return choose_restricted(state, i, W, scr, rules, k, g, from_matrix, PARTNER_KNN)


@kernel(_nrt=False, internal=True)
def choose_dense_graph(state, i, W, scr, rules, k, g, from_matrix):
    """:func:`choose_restricted` for a dense graph's allowed agents."""
    return choose_restricted(state, i, W, scr, rules, k, g, from_matrix, PARTNER_GRAPH)


@kernel(inline="always")
def round_distances(W, scr, rules, k, sequential, PARTNER):
    """The round's weight-distance matrix ``scr.D``, when the variant reads it (synchronous kNN, dense graphs).

    Synchronous kNN rounds with ``k <= HEAP_MAX_K`` build no matrix (unless
    most rows are distinct): ``scr.D`` then holds the groups of identical
    rows and a cache of group distances (:func:`knn_groups.knn_round_prepare`),
    and each agent's heap pass looks its distances up by group.

    ``PARTNER`` is the variant's closure constant: the branch is pruned
    before typing in the variants that never need the matrix.
    """
    if PARTNER == PARTNER_KNN or PARTNER == PARTNER_GRAPH:
        if not sequential and (PARTNER == PARTNER_GRAPH or k < W.shape[0] - 1):
            if PARTNER == PARTNER_KNN and k <= HEAP_MAX_K:
                # distances per pair of distinct rows, not per pair of agents
                # (knn_groups.pick_k_nearest_grouped); grouping the rows costs O(n K); and the
                # members of each group, for the agents whose k nearest are all in their own
                # group (knn_groups.own_group_partner)
                knn_round_prepare(W, scr.D, scr.supp, scr.nsupp, scr.floor, scr.cand, scr.grp, k,
                                  rules.random_ties)
            else:
                weight_distances_sparse(W, scr.D, scr.supp, scr.nsupp, scr.floor)


@kernel(inline="always")
def choose_partner(state, i, W, scr, rules, k, g, sequential, PARTNER):
    """Agent i's partner this round: itself with probability ``rules.p`` (mirroring), else per the variant.

    Shared by Algorithms 1 and 2. ``PARTNER`` is the variant's closure
    constant (pruned before typing, so the unrestricted variant compiles no
    selection code); synchronous rounds read distances from the round's
    matrix (:func:`round_distances`), sequential rounds and sparse graphs
    compute them from ``W``.
    """
    n = W.shape[0]
    if uniform(state) < rules.p:
        return i
    if PARTNER == PARTNER_ALL or (PARTNER == PARTNER_KNN and k >= n - 1):
        return other_uniform(state, i, n)
    if PARTNER == PARTNER_KNN:
        if not sequential and k <= HEAP_MAX_K and scr.grp[2 * n + i] >= 0:
            # this round's table (round_distances): i's k nearest are all in its own group
            return own_group_partner(state, i, k, scr.grp, n)
        return choose_knn(state, i, W, scr, rules, k, g, not sequential)
    if PARTNER == PARTNER_GRAPH:
        return choose_dense_graph(state, i, W, scr, rules, k, g, not sequential)
    # a sparse graph's selection is small (candidates from the CSR rows, no distance matrix): inlined
    return choose_restricted(state, i, W, scr, rules, k, g, not sequential and PARTNER != PARTNER_SPARSE,
                             PARTNER_SPARSE)


@kernel(_nrt=False, internal=True)
def densities_1d(x, mix, scr, out):
    """Scaled densities of scalar x[0] under 1-d components -> out (all K); returns (0, K, log-scale)."""
    best = log_density_1d(x[0], mix.mu1, mix.inv_sd, mix.log_sd, scr.logd)
    scale_densities(scr.logd, best, mix.cutoff, out)
    return 0, mix.mu.shape[0], underflow_log_scale(scr.logd, mix.half_logdet, best, 1)


@kernel(_nrt=False, internal=True)
def densities_nd(x, mix, scr, out):
    """Scaled densities of x (d,) -> out (all K); returns (0, K, underflow log-scale)."""
    best = log_density_nd(x, mix.mu, mix.chol, mix.half_logdet, scr.logd, scr.work)
    scale_densities(scr.logd, best, mix.cutoff, out)
    return 0, mix.mu.shape[0], underflow_log_scale(scr.logd, mix.half_logdet, best, mix.mu.shape[1])


@kernel(inline="always")
def densities_banded(x, mix, out):
    """Scaled densities of x[0] on the band around its nearest mean (``gmm.banded_densities_1d``)."""
    return banded_densities_1d(x[0], mix.mu1, mix.inv_sd, mix.log_sd[0], mix.inv_spacing, mix.cutoff, out)


@kernel(inline="always")
def reset_records(rec):
    for c in range(rec.seen.shape[0]):
        rec.seen[c] = 0
    for i in range(rec.prev.shape[0]):
        rec.prev[i] = 0
        rec.cur[i] = 0


_ALG1 = {}


def alg1_kernel(DENSITY, PARTNER, WIDE=False):
    """The block function of Algorithm 1 (weights only) for one variant; built once per process.

    ``run(states, lo, hi, start, mix, rules, steps, rec, pop, nxt, scr)``
    runs replicates ``lo .. hi-1`` for ``steps`` rounds each; ``pop`` and
    ``nxt`` are the (reused) population buffers, ``scr`` the scratch.
    ``WIDE``: many components (K >= ``em.EM_HULL_MIN_K``); the EM step is
    then ``em.em_weights_wide`` (the same numbers, fewer operations at large
    K), a separate variant so that the default kernel does not compile it.
    """
    WIDE = bool(WIDE)
    key = (DENSITY, PARTNER, WIDE)
    if key in _ALG1:
        return _ALG1[key]
    # Every closure constant must be a plain int or bool: Numba keys a closure's cache entry
    # on the pickled closure values, and a pickled dispatcher carries a per-process id, so a
    # dispatcher here (the EM step chosen in Python) made every process miss the cache and
    # compile again (tests/kernels/test_kernel_cache_keys.py)

    @kernel(_nrt=False, nogil=True)
    def run(states, lo, hi, start, mix, rules, steps, rec, pop, nxt, scr):
        # row indices as plain int64: a literal 0 or 1 would make Numba compile
        # a second copy of each helper specialised on the literal
        ROW0 = np.int64(0)
        n, K = pop.W.shape
        r = pop.R.shape[1]
        d = pop.R.shape[2]
        sequential = rules.sequential
        fifo = rules.fifo
        for b in range(lo, hi):
            state = states[b]
            reset_records(rec)
            # the EM step expects clipped, normalised weights (as it leaves
            # them); the initial RAG is drawn from these clipped weights too
            for i in range(n):
                clip_normalise(start.W0[i], mix.eps, pop.W[i])
                pop.ptr[i] = 0
                for h in range(r):
                    for a in range(d):
                        pop.R[i, h, a] = start.R0[i, h, a]
            if start.sample_rag:
                for i in range(n):
                    for h in range(r):
                        if DENSITY == DENS_ND:
                            sample_point(state, pop.W, i, mix.mu, mix.chol, pop.R[i, h])
                        else:
                            sample_point_1d(state, pop.W, i, mix.mu, mix.chol, pop.R[i, h])
            for i in range(n):
                for h in range(r):
                    if DENSITY == DENS_BANDED:
                        lo_, hi_, bs = densities_banded(pop.R[i, h], mix, pop.DN[i, h])
                    elif DENSITY == DENS_1D:
                        lo_, hi_, bs = densities_1d(pop.R[i, h], mix, scr, pop.DN[i, h])
                    else:
                        lo_, hi_, bs = densities_nd(pop.R[i, h], mix, scr, pop.DN[i, h])
                    pop.BL[i, h] = lo_
                    pop.BH[i, h] = hi_
                    pop.BS[i, h] = bs
            record_step(ROW0, b, start.W0, rec)
            cur = pop
            new = nxt if not sequential else pop
            for t in range(steps):
                k = round_k(t, rules)
                g = round_graph(t, rules)
                round_distances(cur.W, scr, rules, k, sequential, PARTNER)
                for i in range(n):
                    j = choose_partner(state, i, cur.W, scr, rules, k, g, sequential, PARTNER)
                    if PARTNER == PARTNER_SPARSE:
                        # large sparse populations: the partner's rows are cache misses; start
                        # loading them now, to overlap the sampling of the query below
                        prefetch_agent(cur, j)
                    # Two phases with the same steps, written once (each inlined helper
                    # is typed and compiled once, not twice):
                    # 0: query x from agent i's current weights; partner j's
                    #    pseudo-update (j's RAG with x in place of its farthest
                    #    or oldest point) -> row 0 of WB;
                    # 1: answer y from that pseudo-update; agent i's update with
                    #    y in its RAG -> row 1 of WB.
                    src = cur.W
                    src_row = i
                    who = j
                    pt = scr.x
                    dens = scr.dx
                    ly, hy, by = ROW0, ROW0, 0.0
                    slot_i = ROW0
                    for phase in range(2):
                        if DENSITY == DENS_ND:
                            sample_point(state, src, src_row, mix.mu, mix.chol, pt)
                        else:
                            sample_point_1d(state, src, src_row, mix.mu, mix.chol, pt)
                        if DENSITY == DENS_BANDED:
                            ly, hy, by = densities_banded(pt, mix, dens)
                        elif DENSITY == DENS_1D:
                            ly, hy, by = densities_1d(pt, mix, scr, dens)
                        else:
                            ly, hy, by = densities_nd(pt, mix, scr, dens)
                        slot_i = cur.ptr[who] if fifo else farthest_index(cur.R, who, pt)
                        if WIDE:
                            em_weights_wide(cur.W, who, cur.DN, who, cur.BL, cur.BH, cur.BS, slot_i, dens, ly,
                                            hy, by, mix.eps, scr.WB, phase)
                        else:
                            em_weights(cur.W, who, cur.DN, who, cur.BL, cur.BH, cur.BS, slot_i, dens, ly, hy,
                                       by, mix.eps, scr.WB, phase)
                        src = scr.WB
                        src_row = ROW0
                        who = i
                        pt = scr.y
                        dens = scr.dy
                    # from here on (ly, hy, by, slot_i) describe the answer y, agent i's new RAG point
                    if not sequential:
                        # carry agent i's unchanged RAG rows into the new buffers
                        # (explicit loops: slice assignment is slow in Numba)
                        for h in range(r):
                            if h != slot_i:
                                for a in range(d):
                                    new.R[i, h, a] = cur.R[i, h, a]
                                new.BL[i, h] = cur.BL[i, h]
                                new.BH[i, h] = cur.BH[i, h]
                                new.BS[i, h] = cur.BS[i, h]
                                # only the band of each cached row is ever read
                                for c in range(uint64(cur.BL[i, h]), uint64(cur.BH[i, h])):
                                    new.DN[i, h, c] = cur.DN[i, h, c]
                    for c in range(K):
                        new.W[i, c] = scr.WB[1, c]
                    # (unsigned: no negative-index wraparound, see em._em_accumulate)
                    for c in range(uint64(ly), uint64(hy)):
                        new.DN[i, slot_i, c] = scr.dy[c]
                    new.BL[i, slot_i] = ly
                    new.BH[i, slot_i] = hy
                    new.BS[i, slot_i] = by
                    for a in range(d):
                        new.R[i, slot_i, a] = scr.y[a]
                    if fifo:
                        new.ptr[i] = (cur.ptr[i] + 1) % r
                if not sequential:
                    cur, new = new, cur
                record_step(t + 1, b, cur.W, rec)
            finish_replicate(b, cur.R, rec)

    _ALG1[key] = run
    return run


_ALG2 = {}


def alg2_kernel(PARTNER):
    """The block function of Algorithm 2 (every agent carries its own covariances) for one variant.

    ``run(states, lo, hi, start, mix, rules, steps, rec, pop, nxt, scr, cs)``.
    """
    if PARTNER in _ALG2:
        return _ALG2[PARTNER]

    @kernel(_nrt=False, nogil=True)
    def run(states, lo, hi, start, mix, rules, steps, rec, pop, nxt, scr, cs):
        ROW0 = np.int64(0)  # not literals (see alg1_kernel)
        ROW1 = np.int64(1)
        n, K = pop.W.shape
        r = pop.R.shape[1]
        d = pop.R.shape[2]
        sequential = rules.sequential
        fifo = rules.fifo
        mu = mix.mu
        for b in range(lo, hi):
            state = states[b]
            reset_records(rec)
            for i in range(n):
                pop.ptr[i] = 0
                for c in range(K):
                    pop.W[i, c] = start.W0[i, c]
                    pop.HL[i, c] = mix.half_logdet[c]
                    for a in range(d):
                        for a2 in range(d):
                            pop.CH[i, c, a, a2] = mix.chol[c, a, a2]
                for h in range(r):
                    for a in range(d):
                        pop.R[i, h, a] = start.R0[i, h, a]
            if start.sample_rag:
                for i in range(n):
                    for h in range(r):
                        sample_point(state, pop.W, i, mu, pop.CH[i], pop.R[i, h])
            record_step(ROW0, b, start.W0, rec)
            if rec.mode == REC_WEIGHTS:
                _record_chol(0, b, pop.CH, rec)
            cur = pop
            new = nxt if not sequential else pop
            for t in range(steps):
                k = round_k(t, rules)
                g = round_graph(t, rules)
                round_distances(cur.W, scr, rules, k, sequential, PARTNER)
                for i in range(n):
                    j = choose_partner(state, i, cur.W, scr, rules, k, g, sequential, PARTNER)
                    sample_point(state, cur.W, i, mu, cur.CH[i], scr.x)
                    slot_j = cur.ptr[j] if fifo else farthest_index(cur.R, j, scr.x)
                    em_cov(cur.W, j, cur.R, j, slot_j, scr.x, mu, cur.CH, cur.HL, j, mix, rules, scr, cs,
                           cs.wj, ROW0, cs.chj, cs.hlj)
                    sample_point(state, cs.wj, ROW0, mu, cs.chj, scr.y)
                    slot_i = cur.ptr[i] if fifo else farthest_index(cur.R, i, scr.y)
                    em_cov(cur.W, i, cur.R, i, slot_i, scr.y, mu, cur.CH, cur.HL, i, mix, rules, scr, cs,
                           scr.WB, ROW1, cs.chi, cs.hli)
                    if not sequential:
                        for h in range(r):
                            for a in range(d):
                                new.R[i, h, a] = cur.R[i, h, a]
                    for c in range(K):
                        new.W[i, c] = scr.WB[1, c]
                        new.HL[i, c] = cs.hli[c]
                        for a in range(d):
                            for a2 in range(d):
                                new.CH[i, c, a, a2] = cs.chi[c, a, a2]
                    for a in range(d):
                        new.R[i, slot_i, a] = scr.y[a]
                    if fifo:
                        new.ptr[i] = (cur.ptr[i] + 1) % r
                if not sequential:
                    cur, new = new, cur
                record_step(t + 1, b, cur.W, rec)
                if rec.mode == REC_WEIGHTS:
                    _record_chol(t + 1, b, cur.CH, rec)
            finish_replicate(b, cur.R, rec)

    _ALG2[PARTNER] = run
    return run


@kernel(inline="always")
def _record_chol(t, b, CH, rec):
    n, K, d, _ = CH.shape
    for i in range(n):
        for c in range(K):
            for a in range(d):
                for a2 in range(d):
                    rec.covs[b, t, i, c, a, a2] = CH[i, c, a, a2]

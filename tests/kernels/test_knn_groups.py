"""Grouped synchronous kNN rounds (``_kernels/knn_groups.py``) against the full matrix pass of ``neighbors.py``."""
import numpy as np
import pytest

from gmmproxy._kernels import knn_groups, neighbors, rng
from gmmproxy._seeding import xoshiro_state
from weight_rows import clipped_rows


def _state(seed):
    return xoshiro_state(np.random.SeedSequence(seed)).copy()



def _population(kind, seed, n=60, K=30, eps=1e-12):
    """Weight rows of the shapes the grouped pass must handle, clipped and normalised by the kernels' routine."""
    from gmmproxy._kernels import gmm

    rs = np.random.default_rng(seed)
    if kind == "few groups":  # silos: a handful of distinct rows, many agents each (the prefilled group rows)
        base = clipped_rows(rs, 5, K, eps, 2)
        W0 = base[rs.integers(0, 5, n)]
    elif kind == "one-hot start":  # the default start: rows that are permutations, every distance tied
        W0 = np.full((n, K), eps / K)
        W0[np.arange(n), np.arange(n) % K] = 1 - eps
    elif kind == "many groups":  # groups up to n / sqrt(2): most distances computed, in both orders
        base = clipped_rows(rs, n // 2, K, eps, 2)
        W0 = base[rs.integers(0, n // 2, n)]
    elif kind == "dense":  # wide supports: the round's distances are the dense sum
        base = rs.dirichlet(np.ones(K), size=8)
        W0 = base[rs.integers(0, 8, n)]
    else:  # near-identical rows: distances differ in the last bits
        base = clipped_rows(rs, 3, K, eps, 1)
        W0 = base[rs.integers(0, 3, n)] * (1 + 1e-15 * rs.integers(0, 3, (n, 1)))
    W = np.empty_like(W0)
    for a in range(n):
        gmm.clip_normalise(W0[a], eps, W[a])
    return W


def _scratch(n, K):
    return (np.zeros((n, n)), np.zeros((n, K), np.int64), np.zeros(n, np.int64), np.zeros(n), np.zeros(n, np.int64))


def _prepare(W, D, supp, nsupp, floor, gid, k=1, random_ties=False):
    """A round's preparation (the own-group table goes to a buffer of its own); returns (G, table)."""
    grp = np.full(knn_groups.own_group_size(W.shape[0]), -7, np.int64)
    return knn_groups.knn_round_prepare(W, D, supp, nsupp, floor, gid, grp, k, random_ties), grp


@pytest.mark.parametrize("kind", ["few groups", "one-hot start", "many groups", "dense", "last bits"])
@pytest.mark.parametrize("random_ties", [False, True])
def test_grouped_pass_is_the_full_pass_bit_for_bit(kind, random_ties):
    # reference: the round's full distance matrix and pick_k_nearest over every other agent, as the
    # engine did before; the grouped pass must return the same agent and leave the generator in the
    # same state, for every agent and k (the partner, not only its distribution, is unchanged)
    W = _population(kind, 3)
    n, K = W.shape
    Dm, supp, nsupp, floor, _ = _scratch(n, K)
    neighbors.weight_distances_sparse(W, Dm, supp, nsupp, floor)
    D, supp, nsupp, floor, gid = _scratch(n, K)
    G, _ = _prepare(W, D, supp, nsupp, floor, gid)
    assert nsupp[0] != knn_groups.ROUND_MATRIX
    assert (nsupp[0] == knn_groups.ROUND_DENSE) == (kind == "dense")
    assert 2 * G * G <= n * n
    heap = np.zeros(n, np.int64)
    drow = np.zeros(n)
    for k in (1, 2, 7, 10, 40):
        # a fresh round: its distance cache is filled by this k's order of agents
        D, supp, nsupp, floor, gid = _scratch(n, K)
        _prepare(W, D, supp, nsupp, floor, gid, k, random_ties)
        st_ref = _state(k)
        st_new = _state(k)
        # some k in decreasing agent order: a group's first distances then come from an agent that
        # is not its representative (in a round, agents with an own-group pick skip the pass)
        for i in (range(n) if k % 2 else range(n - 1, -1, -1)):
            cand = np.array([j for j in range(n) if j != i], np.int64)
            want = neighbors.pick_k_nearest(st_ref, cand, n - 1, Dm[i].copy(), k, random_ties, heap)
            got = knn_groups.pick_k_nearest_grouped(st_new, i, W, D, gid, supp, nsupp, floor, drow, k, random_ties,
                                                  heap)
            assert got == want, (kind, k, i)
            assert np.array_equal(st_ref, st_new)


def test_round_groups_are_the_distinct_rows():
    W = _population("many groups", 4)
    n, K = W.shape
    D, supp, nsupp, floor, gid = _scratch(n, K)
    G, _ = _prepare(W, D, supp, nsupp, floor, gid)
    uniq, inverse = np.unique(W, axis=0, return_inverse=True)
    assert G == len(uniq)
    inverse = inverse.ravel()
    for a in range(n):
        for b in range(n):
            assert (gid[a] == gid[b]) == (inverse[a] == inverse[b])
    for g in range(G):  # the representative is the group's first agent
        assert D[knn_groups.KEY_REP, g] == np.flatnonzero(gid == g)[0]


@pytest.mark.parametrize("n", [12, 40])
def test_too_many_groups_fall_back_to_the_matrix(n):
    # all rows distinct (or a population too small for the layout): the round fills the whole
    # matrix, equal to weight_distances_sparse, and flags it
    rs = np.random.default_rng(n)
    K = 30
    W = clipped_rows(rs, n, K, 1e-12, 3)
    D, supp, nsupp, floor, gid = _scratch(n, K)
    _, grp = _prepare(W, D, supp, nsupp, floor, gid)
    assert nsupp[0] == knn_groups.ROUND_MATRIX
    assert np.all(grp[2 * n:3 * n] == -1)  # no own-group picks in a matrix round
    ref, supp2, nsupp2, floor2, _ = _scratch(n, K)
    neighbors.weight_distances_sparse(W, ref, supp2, nsupp2, floor2)
    np.testing.assert_array_equal(D, ref)


def _own_group_round(W, k, random_ties=False):
    n, K = W.shape
    D, supp, nsupp, floor, gid = _scratch(n, K)
    G, grp = _prepare(W, D, supp, nsupp, floor, gid, k, random_ties)
    return G, grp, (D, supp, nsupp, floor, gid)


def _nearest_by_matrix(W, i, k):
    # independent reference: every distance of the round's matrix, sorted by (distance, index)
    n, K = W.shape
    Dm, supp, nsupp, floor, _ = _scratch(n, K)
    neighbors.weight_distances_sparse(W, Dm, supp, nsupp, floor)
    return sorted((j for j in range(n) if j != i), key=lambda j: (Dm[i, j], j))[:k]


@pytest.mark.parametrize("kind", ["few groups", "many groups", "dense", "last bits"])
@pytest.mark.parametrize("k", [1, 3, 7, 10])
def test_own_group_pick_is_rank_q_of_the_k_nearest(kind, k):
    # an agent with an own-group pick gets the member of rank q (by distance, then index) of its k
    # nearest, q the generator's next randint(k): uniform over exactly the k-nearest set; the
    # others (groups of at most k agents) have none and keep the heap pass
    W = _population(kind, 5)
    n = W.shape[0]
    G, grp, _ = _own_group_round(W, k)
    uniq, inverse = np.unique(W, axis=0, return_inverse=True)
    size = np.bincount(inverse.ravel())
    seen_pick = False
    for i in range(n):
        has = grp[2 * n + i] >= 0
        assert has == (size[inverse.ravel()[i]] - 1 >= k), (kind, k, i)
        if not has:
            continue
        seen_pick = True
        want = _nearest_by_matrix(W, i, k)
        for seed in range(6):
            st = _state(seed)
            q = rng.randint(_state(seed), k)
            got = knn_groups.own_group_partner(st, i, k, grp, n)
            assert got == want[q], (kind, k, i, q)
            # exactly one draw, as the heap pass makes before its look-ups
            ref = _state(seed)
            rng.randint(ref, k)
            assert np.array_equal(st, ref)
    assert seen_pick or size.max() - 1 < k
    if kind == "few groups":  # not vacuous: five silos of about 12 agents each
        assert seen_pick


def test_own_group_pick_covers_every_rank():
    # every rank 0..k-1 is reached, and only those: the partner is uniform over the k nearest
    W = _population("few groups", 8)
    n = W.shape[0]
    k = 4
    _, grp, _ = _own_group_round(W, k)
    i = int(np.flatnonzero(grp[2 * n:3 * n] >= 0)[-1])  # the last agent: its own-group rank skips nobody below
    st = _state(11)
    got = np.array([knn_groups.own_group_partner(st, i, k, grp, n) for _ in range(4000)])
    want = _nearest_by_matrix(W, i, k)
    assert set(got) == set(want)
    counts = np.array([np.sum(got == j) for j in want])
    assert counts.min() > 850 and counts.max() < 1150


@pytest.mark.parametrize("case", ["random ties", "matrix round", "tiny floor"])
def test_no_own_group_pick_where_it_would_not_be_exact(case):
    k = 3
    if case == "matrix round":  # all rows distinct: the matrix is filled, groups are singletons
        rs = np.random.default_rng(2)
        W = clipped_rows(rs, 40, 30, 1e-12, 3)
    elif case == "tiny floor":  # weights near 1e-300: distinct rows could be at a computed distance 0
        W = _population("few groups", 3, eps=1e-300)
    else:  # random ties draw from a band of near-equal distances: heap pass
        W = _population("few groups", 3)
    n = W.shape[0]
    _, grp, _ = _own_group_round(W, k, random_ties=case == "random ties")
    assert np.all(grp[2 * n:3 * n] == -1)
    if case == "tiny floor":  # the same rows with the default eps do get it
        W2 = _population("few groups", 3)
        _, grp2, _ = _own_group_round(W2, k)
        assert np.any(grp2[2 * n:3 * n] >= 0)


def test_round_table_does_not_depend_on_k_or_the_tie_rule():
    # the heap pass of the agents without an own-group pick reads the same table whatever k
    W = _population("few groups", 9)
    n, K = W.shape
    G1, _, (D1, supp1, nsupp1, floor1, gid1) = _own_group_round(W, 1, random_ties=True)
    G2, _, (D2, supp2, nsupp2, floor2, gid2) = _own_group_round(W, 10)
    assert G1 == G2
    np.testing.assert_array_equal(gid1, gid2)
    np.testing.assert_array_equal(D1, D2)
    np.testing.assert_array_equal(nsupp1, nsupp2)

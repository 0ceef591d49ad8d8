"""Partner-choice kernels (``gmmproxy._kernels.neighbors``) against NumPy re-derivations."""
import numpy as np
import pytest
from scipy import stats

from gmmproxy._kernels import knn_groups, neighbors
from gmmproxy._seeding import xoshiro_state

ALPHA = 1e-3


def _state(seed):
    return xoshiro_state(np.random.SeedSequence(seed)).copy()


def _k_nearest(drow, cand, k):
    return sorted(cand, key=lambda j: (drow[j], j))[:k]


@pytest.mark.parametrize("seed", range(6))
def test_heap_finds_the_k_nearest_set_with_index_ties(seed):
    rs = np.random.default_rng(seed)
    n = 60
    drow = rs.integers(0, 8, n).astype(float)  # many ties
    cand = np.sort(rs.choice(n, 45, replace=False)).astype(np.int64)
    heap = np.zeros(n, np.int64)
    for k in (1, 2, 5, 17, 44):
        neighbors.k_nearest_heap(cand, len(cand), drow, k, heap)
        assert sorted(heap[:k].tolist()) == sorted(_k_nearest(drow, cand.tolist(), k))


def _draws(seed, drow, cand, k, random_ties, N):
    st = _state(seed)
    heap = np.zeros(len(drow), np.int64)
    c = np.array(cand, np.int64)
    return np.array([neighbors.pick_k_nearest(st, c.copy(), len(c), drow, k, random_ties, heap)
                     for _ in range(N)])


def test_pick_k_nearest_index_ties_uniform_over_the_set():
    drow = np.array([0.9, 0.5, 0.8, 0.2, 0.0, 1.5, 0.5, 0.5, 0.3])
    cand = [0, 1, 2, 3, 5, 6, 7, 8]
    draws = _draws(1, drow, cand, 3, False, 30000)
    expected = [3, 8, 1]  # 0.2, 0.3, then the lowest index among the three at 0.5
    assert set(np.unique(draws)) == set(expected)
    assert stats.chisquare([np.sum(draws == j) for j in expected]).pvalue > ALPHA


def test_pick_k_nearest_random_ties_marginal():
    # strictly nearer than the k-th distance: 3 and 8 (1/3 each); tied at 0.5: 1, 6, 7 (1/9 each)
    drow = np.array([0.9, 0.5, 0.8, 0.2, 0.0, 1.5, 0.5, 0.5, 0.3])
    cand = [0, 1, 2, 3, 5, 6, 7, 8]
    N = 45000
    draws = _draws(2, drow, cand, 3, True, N)
    support = [3, 8, 1, 6, 7]
    assert set(np.unique(draws)) == set(support)
    counts = np.array([np.sum(draws == j) for j in support])
    probs = np.array([1 / 3, 1 / 3, 1 / 9, 1 / 9, 1 / 9])
    assert stats.chisquare(counts, probs * N).pvalue > ALPHA


@pytest.mark.parametrize("random_ties", [False, True])
def test_large_k_path_agrees_in_distribution(random_ties):
    # k above HEAP_MAX_K goes through quickselect: same set, same marginal
    rs = np.random.default_rng(5)
    n = 200
    drow = rs.integers(0, 40, n).astype(float)
    cand = list(range(1, n))
    k = neighbors.HEAP_MAX_K + 10
    N = 40000
    draws = _draws(3, drow, cand, k, random_ties, N)
    dk = sorted(drow[cand])[k - 1]
    less = [j for j in cand if drow[j] < dk]
    tied = [j for j in cand if drow[j] == dk]
    if random_ties:
        p = {j: 1 / k for j in less} | {j: (1 - len(less) / k) / len(tied) for j in tied}
    else:
        p = {j: 1 / k for j in _k_nearest(drow, cand, k)}
    assert set(np.unique(draws)) <= set(p)
    keys = sorted(p)
    counts = np.array([np.sum(draws == j) for j in keys])
    assert stats.chisquare(counts, np.array([p[j] for j in keys]) * N).pvalue > ALPHA


def _clipped_rows(rs, n, K, eps, support):
    """Rows as the EM step leaves them: a few components above the floor, the rest clipped to eps."""
    W = np.full((n, K), eps)
    for a in range(n):
        idx = rs.choice(K, support, replace=False)
        W[a, idx] = rs.dirichlet(np.ones(support))
    return W / W.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("support", [1, 3, 25])
def test_sparse_distances_match_dense(support):
    rs = np.random.default_rng(10 + support)
    n, K, eps = 40, 30, 1e-12
    W = _clipped_rows(rs, n, K, eps, support)
    W[7] = W[3]  # identical rows: distance exactly 0
    ref = np.sqrt(((W[:, None, :] - W[None, :, :]) ** 2).sum(axis=2))
    D = np.zeros((n, n))
    supp = np.zeros((n, K), np.int64)
    nsupp = np.zeros(n, np.int64)
    floor = np.zeros(n)
    neighbors.weight_distances_sparse(W, D, supp, nsupp, floor)
    np.testing.assert_allclose(D, ref, rtol=1e-13, atol=1e-30)
    assert D[3, 7] == 0.0 and D[7, 3] == 0.0
    # the sparse form itself
    for a in range(n):
        assert floor[a] == W[a].min()
        assert sorted(supp[a, :nsupp[a]].tolist()) == np.flatnonzero(W[a] != W[a].min()).tolist()


def test_sparse_distances_keep_the_default_start_ties():
    # the default start, (1-eps) e_i + eps/K, clipped and normalised by the kernels' own routine: the
    # rows are permutations of each other up to the last bit of their normaliser, and the sparse
    # distances equal the dense sum bit for bit, so exactly the same pairs tie
    from gmmproxy._kernels import gmm

    n, K, eps = 30, 30, 1e-12
    W0 = np.full((n, K), eps / K)
    W0[np.arange(n), np.arange(n)] = 1 - eps
    W = np.empty_like(W0)
    for a in range(n):
        gmm.clip_normalise(W0[a], eps, W[a])
    D = np.zeros((n, n))
    neighbors.weight_distances_sparse(W, D, np.zeros((n, K), np.int64), np.zeros(n, np.int64), np.zeros(n))
    dense = np.zeros((n, n))
    neighbors.weight_distances(W, dense)
    np.testing.assert_array_equal(D, dense)


# --- synchronous kNN rounds without the matrix (pick_k_nearest_grouped) ------


def _population(kind, seed, n=60, K=30, eps=1e-12):
    """Weight rows of the shapes the grouped pass must handle, clipped and normalised by the kernels' routine."""
    from gmmproxy._kernels import gmm

    rs = np.random.default_rng(seed)
    if kind == "few groups":  # silos: a handful of distinct rows, many agents each (the prefilled group rows)
        base = _clipped_rows(rs, 5, K, eps, 2)
        W0 = base[rs.integers(0, 5, n)]
    elif kind == "one-hot start":  # the default start: rows that are permutations, every distance tied
        W0 = np.full((n, K), eps / K)
        W0[np.arange(n), np.arange(n) % K] = 1 - eps
    elif kind == "many groups":  # groups up to n / sqrt(2): most distances computed, in both orders
        base = _clipped_rows(rs, n // 2, K, eps, 2)
        W0 = base[rs.integers(0, n // 2, n)]
    elif kind == "dense":  # wide supports: the round's distances are the dense sum
        base = rs.dirichlet(np.ones(K), size=8)
        W0 = base[rs.integers(0, 8, n)]
    else:  # near-identical rows: distances differ in the last bits
        base = _clipped_rows(rs, 3, K, eps, 1)
        W0 = base[rs.integers(0, 3, n)] * (1 + 1e-15 * rs.integers(0, 3, (n, 1)))
    W = np.empty_like(W0)
    for a in range(n):
        gmm.clip_normalise(W0[a], eps, W[a])
    return W


def _scratch(n, K):
    return (np.zeros((n, n)), np.zeros((n, K), np.int64), np.zeros(n, np.int64), np.zeros(n), np.zeros(n, np.int64))


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
    G = knn_groups.knn_round_prepare(W, D, supp, nsupp, floor, gid)
    assert nsupp[0] != knn_groups.ROUND_MATRIX
    assert (nsupp[0] == knn_groups.ROUND_DENSE) == (kind == "dense")
    assert 2 * G * G <= n * n
    heap = np.zeros(n, np.int64)
    drow = np.zeros(n)
    for k in (1, 2, 7, 10, 40):
        st_ref = _state(k)
        st_new = _state(k)
        for i in range(n):
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
    G = knn_groups.knn_round_prepare(W, D, supp, nsupp, floor, gid)
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
    W = _clipped_rows(rs, n, K, 1e-12, 3)
    D, supp, nsupp, floor, gid = _scratch(n, K)
    knn_groups.knn_round_prepare(W, D, supp, nsupp, floor, gid)
    assert nsupp[0] == knn_groups.ROUND_MATRIX
    ref, supp2, nsupp2, floor2, _ = _scratch(n, K)
    neighbors.weight_distances_sparse(W, ref, supp2, nsupp2, floor2)
    np.testing.assert_array_equal(D, ref)


@pytest.mark.parametrize("every_agent", [False, True])
def test_random_ties_rank_below_the_band_is_deterministic_and_the_band_is_uniform(every_agent):
    # k = 4 nearest of agents with distances 0.1 and 0.2 strictly nearer and five agents tied at 0.3:
    # ranks 0, 1 go to the strictly nearer agents in heap order, ranks 2, 3 to a uniform draw from
    # the tied band (without the skipped agent)
    drow = np.array([0.3, 0.1, 0.3, 0.9, 0.3, 0.2, 0.3, 0.3])
    k = 4
    skip = 2 if every_agent else -1
    cand = np.array([j for j in range(8) if j != skip], dtype=np.int64)
    heap = np.zeros(8, dtype=np.int64)
    neighbors.k_nearest_heap(cand, len(cand), drow, k, heap)
    nearer = [int(j) for j in heap[:k] if drow[j] < 0.3]
    assert sorted(nearer) == [1, 5]
    band = [j for j in cand if drow[j] == 0.3]
    state = _state(11)
    for q in (0, 1):
        assert neighbors.pick_with_random_ties(state, q, heap, k, drow, cand, len(cand), every_agent, skip) == nearer[q]
    draws = [neighbors.pick_with_random_ties(state, 2 + t % 2, heap, k, drow, cand, len(cand), every_agent, skip)
             for t in range(4000)]
    assert set(draws) == set(band)
    counts = np.array([draws.count(j) for j in band])
    assert stats.chisquare(counts).pvalue > 1e-4

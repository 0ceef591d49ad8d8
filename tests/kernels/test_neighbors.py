"""Partner-choice kernels (``gmmproxy._kernels.neighbors``) against NumPy re-derivations."""
import numpy as np
import pytest
from scipy import stats

from gmmproxy._kernels import neighbors
from gmmproxy._seeding import xoshiro_state
from weight_rows import clipped_rows

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


@pytest.mark.parametrize("support", [1, 3, 25])
def test_sparse_distances_match_dense(support):
    rs = np.random.default_rng(10 + support)
    n, K, eps = 40, 30, 1e-12
    W = clipped_rows(rs, n, K, eps, support)
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

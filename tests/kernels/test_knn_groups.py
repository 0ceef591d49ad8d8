"""Grouped synchronous kNN rounds (``_kernels/knn_groups.py``) against the full matrix pass of ``neighbors.py``."""
import numpy as np
import pytest

from gmmproxy._kernels import knn_groups, neighbors
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
    W = clipped_rows(rs, n, K, 1e-12, 3)
    D, supp, nsupp, floor, gid = _scratch(n, K)
    knn_groups.knn_round_prepare(W, D, supp, nsupp, floor, gid)
    assert nsupp[0] == knn_groups.ROUND_MATRIX
    ref, supp2, nsupp2, floor2, _ = _scratch(n, K)
    neighbors.weight_distances_sparse(W, ref, supp2, nsupp2, floor2)
    np.testing.assert_array_equal(D, ref)

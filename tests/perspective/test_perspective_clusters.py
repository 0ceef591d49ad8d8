"""Tests of per-step GMM clustering and ARI (gmmproxy.perspective.clusters)."""
import numpy as np
import pytest

from gmmproxy.perspective import cluster_steps


def test_cluster_steps_finds_groups_and_ari():
    rng = np.random.default_rng(9)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    T, n = 4, 30
    groups = np.repeat(np.arange(3), 10)
    pos = np.stack([centres[groups] + rng.normal(scale=0.3, size=(n, 2)) for _ in range(T)])
    # at the last step everyone has merged into one group
    pos[-1] = rng.normal(scale=0.3, size=(n, 2))
    res = cluster_steps(pos, max_clusters=5, seed=1)
    assert res.n_clusters.tolist() == [3, 3, 3, 1]
    assert np.isnan(res.ari[0])
    np.testing.assert_allclose(res.ari[1:3], 1.0)
    assert res.ari[3] == pytest.approx(0.0)
    from sklearn.metrics import adjusted_rand_score
    assert adjusted_rand_score(res.labels[0], groups) == 1.0
    # reproducible
    again = cluster_steps(pos, max_clusters=5, seed=1)
    np.testing.assert_array_equal(again.labels, res.labels)
    with pytest.raises(ValueError, match="max_clusters"):
        cluster_steps(pos, max_clusters=0)

"""Tests of classical MDS and its elbow rule (gmmproxy.perspective.cmds)."""
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from gmmproxy.perspective import (
    ClassicalMDS,
    classical_mds,
    profile_likelihood_elbows,
    select_dimension,
)


def _config(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * np.array([5.0, 2.0, 1.0][:d])


def test_cmds_matches_direct_eigendecomposition():
    X = _config()
    D = cdist(X, X)
    # reference: eigendecomposition of the double-centred squared distances
    n = len(D)
    J = np.eye(n) - np.ones((n, n)) / n
    B = -0.5 * J @ (D**2) @ J
    w, V = np.linalg.eigh(B)
    w, V = w[::-1], V[:, ::-1]
    Y_ref = V[:, :3] * np.sqrt(w[:3])
    Y, eig = classical_mds(D, n_components=3)
    np.testing.assert_allclose(eig[:5], w[:5], atol=1e-8 * w[0])
    # columns agree up to sign
    for j in range(3):
        s = np.sign(Y[:, j] @ Y_ref[:, j])
        np.testing.assert_allclose(Y[:, j], s * Y_ref[:, j], atol=1e-8)
    # and the configuration is recovered: same distances
    np.testing.assert_allclose(cdist(Y, Y), D, atol=1e-8)
    # deterministic orientation: largest-magnitude entry of each axis positive
    assert all(Y[np.argmax(np.abs(Y[:, j])), j] > 0 for j in range(3))


def test_cmds_auto_dimension_finds_the_true_rank():
    # three strong directions plus weak noise in ten more
    rng = np.random.default_rng(1)
    X = np.hstack([rng.normal(scale=[3.0, 2.5, 2.0], size=(50, 3)),
                   rng.normal(scale=0.1, size=(50, 10))])
    m = ClassicalMDS("auto").fit(cdist(X, X))
    assert m.n_components_ == 3
    assert m.embedding_.shape == (50, 3)


def test_large_history_path_matches_dense_solver():
    # N > 600 uses the Lanczos path; compare with a dense solve
    X = _config(n=700, d=3, seed=2)
    D = cdist(X, X)
    m = ClassicalMDS(3).fit(D)
    n = len(D)
    J = np.eye(n) - np.ones((n, n)) / n
    w = np.linalg.eigvalsh(-0.5 * J @ (D**2) @ J)[::-1]
    np.testing.assert_allclose(m.eigenvalues_[:4], w[:4], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(cdist(m.embedding_, m.embedding_), D, atol=1e-6)


def test_profile_likelihood_elbow_on_constructed_spectra():
    # a clear gap after 4 values
    vals = np.array([10.0, 9.5, 9.2, 9.0, 1.1, 1.0, 0.9, 0.95, 1.05, 0.8])
    assert profile_likelihood_elbows(vals, n_elbows=1).tolist() == [4]
    assert select_dimension(vals) == 4
    # two levels of gaps: elbow 2, then elbow 5 on the remaining values
    vals = np.array([100.0, 99.0, 20.0, 19.5, 19.0, 1.0, 1.1, 0.9, 1.0, 1.2, 0.95, 1.0])
    assert profile_likelihood_elbows(vals, n_elbows=2).tolist() == [2, 5]
    assert select_dimension(vals, elbow=2) == 5
    # order of the input does not matter
    assert profile_likelihood_elbows(vals[::-1], n_elbows=2).tolist() == [2, 5]


def test_profile_likelihood_matches_a_direct_formula():
    rng = np.random.default_rng(3)
    vals = np.sort(np.r_[rng.normal(20, 1, 3), rng.normal(2, 1, 12)])[::-1]
    p = vals.size

    def loglik(q):  # Zhu & Ghodsi with pooled MLE variance, written out directly
        a, b = vals[:q], vals[q:]
        s2 = (np.sum((a - a.mean()) ** 2) + (np.sum((b - b.mean()) ** 2) if b.size else 0)) / p
        dens = [np.log(1 / np.sqrt(2 * np.pi * s2)) - (x - a.mean()) ** 2 / (2 * s2) for x in a]
        dens += [np.log(1 / np.sqrt(2 * np.pi * s2)) - (x - b.mean()) ** 2 / (2 * s2) for x in b]
        return np.sum(dens)

    want = int(np.argmax([loglik(q) for q in range(1, p + 1)])) + 1
    assert profile_likelihood_elbows(vals, 1)[0] == want == 3


def test_out_of_sample_recovers_held_out_points():
    X = _config(n=60, d=3, seed=4)
    fit, held = X[:45], X[45:]
    m = ClassicalMDS(3).fit(cdist(fit, fit))
    Y_new = m.transform(cdist(held, fit))
    # the fitted embedding is a rigid motion of the centred configuration: find it by
    # least squares on the fitted points and check the held-out points land on it
    c = fit.mean(axis=0)
    R, *_ = np.linalg.lstsq(fit - c, m.embedding_, rcond=None)
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-8)  # orthogonal
    np.testing.assert_allclose(Y_new, (held - c) @ R, atol=1e-8)
    # distances among held-out points and to fitted points are preserved
    np.testing.assert_allclose(cdist(Y_new, m.embedding_), cdist(held, fit), atol=1e-8)
    # a fitted point placed out of sample lands on itself
    np.testing.assert_allclose(m.transform(cdist(fit[:3], fit)), m.embedding_[:3], atol=1e-8)


def test_out_of_sample_is_a_projection_in_lower_dimension():
    # a 3-d configuration embedded in 2-d: new points go to their projection
    X = _config(n=50, d=3, seed=5)
    m = ClassicalMDS(2).fit(cdist(X[:40], X[:40]))
    Y_full = ClassicalMDS(3).fit(cdist(X[:40], X[:40]))
    y2 = m.transform(cdist(X[40:], X[:40]))
    y3 = Y_full.transform(cdist(X[40:], X[:40]))
    np.testing.assert_allclose(np.abs(y2), np.abs(y3[:, :2]), atol=1e-8)


def test_cmds_validation():
    with pytest.raises(ValueError, match="square"):
        classical_mds(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="symmetric"):
        classical_mds(np.array([[0, 1.0], [2.0, 0]]))
    with pytest.raises(ValueError, match="finite"):
        classical_mds(np.array([[0, np.nan], [np.nan, 0]]))
    with pytest.raises(ValueError, match="identical points"):
        classical_mds(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="n_components must be <= the number of positive"):
        X = _config(n=10, d=2)
        classical_mds(cdist(X, X), n_components=4)
    with pytest.raises(ValueError, match="fitted"):
        ClassicalMDS().transform(np.zeros((1, 3)))

"""The ziggurat normal generator of the simulation and calibration kernels against SciPy's normal distribution."""
import math

import numpy as np
import pytest
from numba import njit
from scipy import stats

from gmmproxy._kernels import ziggurat as zg
from gmmproxy._kernels.gmm import draw_from_component
from gmmproxy._kernels.ziggurat import standard_normal_ziggurat


@njit(cache=False)
def _draws(state, n):
    out = np.empty(n)
    for t in range(n):
        out[t] = standard_normal_ziggurat(state)
    return out


@njit(cache=False)
def _component_draws(state, n, mu, chol, c):
    out = np.empty((n, mu.shape[1]))
    for t in range(n):
        draw_from_component(state, c, mu, chol, out[t])
    return out


def _state(seed):
    return np.random.default_rng(seed).integers(1, 2**63, size=4, dtype=np.uint64)


@pytest.fixture(scope="module")
def sample():
    return _draws(_state(2024), 2_000_000)


def test_tables_have_equal_layer_areas_and_close_at_the_top():
    """Every layer (the base with its tail) has the same area, and the top layer ends at f(0) = 1."""
    X, F, r = zg.ZIGGURAT_X, zg.ZIGGURAT_F, zg.ZIGGURAT_R
    n = zg.LAYERS
    f = lambda x: np.exp(-0.5 * np.asarray(x) ** 2)  # noqa: E731
    tail = math.sqrt(2 * math.pi) * stats.norm.sf(r)  # integral of f beyond r, independently of the module
    v = r * f(r) + tail
    areas = X[1:n] * (F[2:n + 1] - F[1:n])
    assert np.allclose(areas, v, rtol=1e-9, atol=0)
    assert X[0] * f(r) == pytest.approx(v, rel=1e-12)
    assert X[n] == 0.0 and F[n] == 1.0 and np.all(np.diff(X) < 0)
    assert np.allclose(F[:n], f(X[:n]), rtol=1e-14)
    # Marsaglia and Tsang's published base edge for 256 layers
    assert r == pytest.approx(3.6541528853610088, rel=1e-12)


def test_draws_are_standard_normal(sample):
    assert stats.kstest(sample, "norm").pvalue > 1e-3
    n = sample.size
    assert abs(sample.mean()) < 5 / math.sqrt(n)
    assert abs(sample.var() - 1.0) < 5 * math.sqrt(2.0 / n)
    # symmetric: the sign bit is independent of the magnitude
    assert abs((sample > 0).mean() - 0.5) < 5 * 0.5 / math.sqrt(n)


@pytest.mark.parametrize("edge", [0.5, 1.5, 2.5, 3.0, 3.6541528853610088, 4.0])
def test_tail_and_wedge_probabilities(sample, edge):
    """P(|Z| > edge) exactly as the normal's, on both sides of the base edge r (the tail branch) and inside."""
    n = sample.size
    p = 2 * stats.norm.sf(edge)
    observed = (np.abs(sample) > edge).mean()
    assert abs(observed - p) < 5 * math.sqrt(p * (1 - p) / n) + 1e-7


def test_wedges_of_the_layers_have_normal_mass(sample):
    """Mass of |Z| between consecutive layer edges (where the wedge test decides) against the exact normal."""
    X = zg.ZIGGURAT_X
    edges = np.sort(np.r_[X[1:zg.LAYERS:16], 0.0])
    counts, _ = np.histogram(np.abs(sample), bins=np.r_[edges, np.inf])
    probs = np.diff(2 * stats.norm.cdf(np.r_[edges, np.inf]) - 1)
    chi2 = stats.chisquare(counts, probs * sample.size)
    assert chi2.pvalue > 1e-3


def test_the_same_state_gives_the_same_draws():
    assert np.array_equal(_draws(_state(7), 1000), _draws(_state(7), 1000))
    assert not np.array_equal(_draws(_state(7), 1000), _draws(_state(8), 1000))


def test_component_draws_have_the_component_mean_and_covariance():
    mu = np.array([[0.0, 0.0], [2.0, -1.0]])
    cov = np.array([np.eye(2), [[2.0, 0.6], [0.6, 0.5]]])
    chol = np.linalg.cholesky(cov)
    x = _component_draws(_state(3), 400_000, mu, chol, 1)
    assert np.allclose(x.mean(axis=0), mu[1], atol=5 * math.sqrt(2.0 / x.shape[0]))
    assert np.allclose(np.cov(x.T), cov[1], atol=0.02)
    x1 = _component_draws(_state(3), 200_000, mu[:, :1].copy(), chol[:, :1, :1].copy(), 1)
    assert stats.kstest(x1[:, 0], "norm", args=(2.0, math.sqrt(2.0))).pvalue > 1e-3


@njit(cache=False)
def _tail_draws(state, n):
    out = np.empty(n)
    for t in range(n):
        out[t] = zg._normal_slow(state, 0, 0.0)
    return out


def test_tail_branch_samples_the_normal_beyond_the_base_edge():
    """Layer 0's slow branch: exactly the normal conditioned on Z > r (too rare to check through all draws)."""
    r = zg.ZIGGURAT_R
    x = _tail_draws(_state(11), 200_000)
    assert np.all(x > r)
    assert stats.kstest(x, stats.truncnorm(r, np.inf).cdf).pvalue > 1e-3

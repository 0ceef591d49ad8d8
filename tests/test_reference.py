"""The plain-NumPy reference engine: the authors' Figure-2 run bit for bit, and its EM steps."""
import numpy as np
import pytest
from scipy import stats

import gmmproxy
from gmmproxy import SimulationConfig, metrics
from gmmproxy.reference import _Model, _farthest, simulate_reference

FIG2 = dict(n_agents=30, n_components=30, sigma=0.2, rag_size=5, p_mirror=0.4, n_neighbors=29)
FIG2_SEED = 618327487


@pytest.fixture(scope="module")
def fig2():
    return gmmproxy.simulate(SimulationConfig(**FIG2), steps=100, seed=FIG2_SEED, engine="reference")


def test_figure2_number_of_silos(fig2):
    """Spec Section 9: N(t) at t = 0, 10, ..., 100 of the authors' published run."""
    assert fig2.n_silos[::10].tolist() == [30, 16, 12, 8, 7, 6, 4, 3, 2, 2, 2]
    assert np.all(fig2.n_silos[75:] == 2)
    assert fig2.n_silos[74] > 2
    assert fig2.time_to_single_silo == metrics.NEVER and fig2.summary()["time_to_single_silo"] is None


def test_figure2_final_silos(fig2):
    sizes = np.bincount(fig2.silos[-1], minlength=30)
    assert sizes[16] == 29 and sizes[17] == 1
    assert sizes.sum() == 30 and np.count_nonzero(sizes) == 2


def test_figure2_records_are_consistent(fig2):
    assert fig2.engine == "reference"
    assert fig2.seed["reference_seed"] == FIG2_SEED
    np.testing.assert_array_equal(fig2.silos, np.argmax(fig2.weights, axis=-1))
    np.testing.assert_array_equal(fig2.n_switched[1:], (fig2.silos[1:] != fig2.silos[:-1]).sum(axis=1))
    np.testing.assert_allclose(fig2.weights[1:].sum(axis=-1), 1.0, atol=1e-12)


def test_reference_run_is_deterministic_in_seed():
    cfg = SimulationConfig(n_agents=5, n_components=5, sigma=0.3, rag_size=3, p_mirror=0.3, n_neighbors=2)
    a = simulate_reference(cfg, 5, 11)
    b = simulate_reference(cfg, 5, 11)
    c = simulate_reference(cfg, 5, 12)
    np.testing.assert_array_equal(a["weights"], b["weights"])
    assert not np.array_equal(a["weights"], c["weights"])


# ---------------------------------------------------------------- EM steps re-derived
def _em_1d(rag, w, mu, sd, eps):
    w = np.clip(w, eps, 1 - eps)
    w = w / w.sum()
    dens = stats.norm.pdf(rag[:, None], mu[None, :], sd[None, :])
    g = w * dens
    g = g / g.sum(axis=1, keepdims=True)
    new = np.clip(g.mean(axis=0), eps, 1 - eps)
    return new / new.sum()


def test_reference_em_weights_1d_matches_rederivation():
    rs = np.random.default_rng(0)
    K = 8
    sd = rs.uniform(0.3, 1.0, K)
    cfg = SimulationConfig(n_agents=3, means=np.arange(K, dtype=float), covariances=sd**2, eps=1e-6)
    model = _Model(cfg)
    for _ in range(20):
        rag = rs.uniform(-1, K, (5, 1))
        w = rs.dirichlet(np.ones(K) * 0.3)  # many tiny weights: the clipping matters
        got = model.em_weights(rag, w, cfg.covariances)
        np.testing.assert_allclose(got, _em_1d(rag[:, 0], w, np.arange(K, dtype=float), sd, 1e-6), rtol=1e-12)


def test_reference_em_weights_2d_matches_rederivation():
    rs = np.random.default_rng(1)
    K = 4
    mu = rs.normal(0, 2, (K, 2))
    covs = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.4, 0.0], [0.0, 0.4]], [[2.0, -0.5], [-0.5, 1.0]],
                     [[0.7, 0.2], [0.2, 0.9]]])
    cfg = SimulationConfig(n_agents=3, means=mu, covariances=covs)
    model = _Model(cfg)
    rag = rs.normal(0, 2, (6, 2))
    w = rs.dirichlet(np.ones(K))
    dens = np.array([[stats.multivariate_normal.pdf(x, mu[c], covs[c]) for c in range(K)] for x in rag])
    g = w * dens
    g /= g.sum(axis=1, keepdims=True)
    ref = np.clip(g.mean(axis=0), cfg.eps, 1 - cfg.eps)
    np.testing.assert_allclose(model.em_weights(rag, w, covs), ref / ref.sum(), rtol=1e-12)


@pytest.mark.parametrize("d,vp", [(1, False), (2, False), (2, True)])
def test_reference_em_cov_matches_rederivation(d, vp):
    rs = np.random.default_rng(2 + d + vp)
    K, r, eps, min_sd = 3, 6, 1e-12, 0.01
    mu = rs.normal(0, 1.5, (K, d))
    A = rs.normal(size=(K, d, d))
    cov = A @ np.swapaxes(A, 1, 2) + 0.3 * np.eye(d)
    cov_ref = cov * 1.7  # reference volumes differ from the current ones
    cfg = SimulationConfig(n_agents=3, means=mu, covariances=cov, update_covariances=True,
                           volume_preserving=vp, min_sd=min_sd)
    rag = rs.normal(0, 1.5, (r, d))
    w = rs.dirichlet(np.ones(K))
    new_w, new_cov = _Model(cfg).em_weights_cov(rag, w, cov, cov_ref)
    dens = np.array([[stats.multivariate_normal.pdf(x, mu[c], cov[c]) for c in range(K)] for x in rag])
    g = w * dens
    g /= g.sum(axis=1, keepdims=True)  # (r, K)
    ref_w = np.clip(g.mean(axis=0), eps, 1 - eps)
    np.testing.assert_allclose(new_w, ref_w / ref_w.sum(), rtol=1e-10)
    for c in range(K):
        diff = rag - mu[c]
        S = sum(g[h, c] * np.outer(diff[h], diff[h]) for h in range(r)) / (g[:, c].sum() + eps)
        S = np.maximum(S, min_sd**2) if d == 1 else S + min_sd**2 * np.eye(d)
        if vp:
            S = S * (np.linalg.det(cov_ref[c]) / np.linalg.det(S)) ** (1 / d)
            assert np.linalg.det(new_cov[c]) == pytest.approx(np.linalg.det(cov_ref[c]), rel=1e-10)
        np.testing.assert_allclose(new_cov[c], S, rtol=1e-10)


def test_reference_farthest_first_on_ties():
    assert _farthest(np.array([[0.0], [2.0], [-2.0]]), np.array([0.0])) == 1


def test_figure10_authors_algorithm2_run():
    """Spec Section 9: the authors' code, Algorithm 2 on the Figure-2 set-up with seed 618327487,
    ends with 3 silos and a largest (agent, component) sd of about 3 at t = 100. Needs the
    authors' guard that drops points whose total density underflows (spec 2.2)."""
    cfg = SimulationConfig(**FIG2, update_covariances=True, min_sd=0.01)
    tr = gmmproxy.simulate(cfg, steps=100, seed=FIG2_SEED, engine="reference")
    assert tr.n_silos[-1] == 3
    max_sd = np.sqrt(tr.covariances[..., 0, 0]).reshape(101, -1).max(axis=1)
    assert max_sd[0] == pytest.approx(0.2)
    assert max_sd[-1] == pytest.approx(3.0, abs=0.01)
    assert np.sqrt(tr.covariances[..., 0, 0]).min() >= 0.01 * (1 - 1e-12)  # the sd floor

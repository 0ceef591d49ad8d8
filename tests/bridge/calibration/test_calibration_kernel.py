"""The batched kernel: the paper's model at default settings, copying at the label level, seeding."""
import numpy as np
import pytest

import gmmproxy
from gmmproxy.bridge.calibration.batch import Geometry, simulate_batch
from gmmproxy.bridge.calibration.model import BASELINE, Condition, ProxyModel
from gmmproxy.metrics import n_silos


def test_paper_settings_agree_with_the_core_simulator():
    # k = n - 1 (no neighbour ties), one round per step, pseudo-updated answers: Algorithm 1 exactly,
    # with other random streams -> compare mean N(t) over replicates (distributional test)
    n, T, R = 12, 25, 300
    cfg = gmmproxy.SimulationConfig(n_agents=n, p_mirror=0.3, sigma=0.3, rag_size=3)
    core = gmmproxy.simulate_many(cfg, steps=T, replicates=R, seed=1, record="metrics").n_silos
    ours = n_silos(simulate_batch(Geometry(n), T, p_mirror=0.3, n_neighbors=n - 1, sigma=0.3, rag_size=3,
                                  seed=2, answer_current=np.zeros(R, bool)))
    for t in (5, 15, 25):
        a, b = core[:, t].astype(float), ours[:, t].astype(float)
        se = np.sqrt(a.var(ddof=1) / R + b.var(ddof=1) / R)
        assert abs(a.mean() - b.mean()) < 4 * se + 1e-9, (t, a.mean(), b.mean())


def test_answers_from_current_weights_copy_labels():
    # r = 1, small sigma: an agent's new silo is its own (mirroring) or its partner's at the
    # previous step -- the LLM's label-copying property; and all-mirroring freezes every label
    R, n, T = 20, 15, 20
    silos = simulate_batch(Geometry(n), T, p_mirror=np.full(R, 0.4), n_neighbors=4, sigma=0.05, rag_size=1,
                           answer_current=True, seed=3)
    for b in range(R):
        for t in range(1, T + 1):
            assert set(silos[b, t]) <= set(silos[b, t - 1])
    assert n_silos(silos)[:, -1].mean() < n / 2
    # the paper's pseudo-updated answer with r = 1: the partner's RAG is the querier's own point,
    # so it echoes the querier back and nobody ever changes silo
    echo = simulate_batch(Geometry(n), T, p_mirror=np.full(R, 0.4), n_neighbors=4, sigma=0.05, rag_size=1,
                          answer_current=False, seed=3)
    assert np.all(echo == echo[:, :1])
    frozen = simulate_batch(Geometry(n), T, p_mirror=1.0, n_neighbors=4, sigma=0.05, rag_size=1,
                            answer_current=np.ones(4, bool), seed=3)
    assert np.all(frozen == frozen[:, :1])


def test_jobs_are_seeded_independently_of_the_batch():
    g = Geometry(10)
    one = simulate_batch(g, 15, p_mirror=[0.2, 0.7], n_neighbors=3, sigma=0.2, rag_size=[1, 2], seed=9)
    two = simulate_batch(g, 15, p_mirror=[0.2, 0.7, 0.5], n_neighbors=3, sigma=0.2, rag_size=[1, 2, 1], seed=9)
    np.testing.assert_array_equal(one, two[:2])
    again = simulate_batch(g, 15, p_mirror=[0.2, 0.7], n_neighbors=3, sigma=0.2, rag_size=[1, 2], seed=9)
    np.testing.assert_array_equal(one, again)


def test_activation_slows_the_dynamics():
    # half the agents act per round: after 10 rounds each agent acted about 5 times, so N(10)
    # lies between the full model's N(5) and N(10) (not exactly N(5): inactive agents still get
    # copied, so 10 half-rounds mix more than 5 full ones)
    g = Geometry(20)
    full = n_silos(simulate_batch(g, 10, p_mirror=np.zeros(200), n_neighbors=19, sigma=0.05, rag_size=1,
                                  answer_current=True, seed=5)).mean(0)
    half = n_silos(simulate_batch(g, 20, p_mirror=np.zeros(200), n_neighbors=19, sigma=0.05, rag_size=1,
                                  activation=0.5, answer_current=True, seed=6)).mean(0)
    assert full[10] + 0.4 < half[10] < full[5] - 0.4


def test_model_map():
    m = ProxyModel()
    s = m.proxy_settings({"sigma": 0.3, "rag_size": 1.6, "time_scale": 1.5, "p_exponent": 2.0},
                         Condition(0.5, 15, 30, 80))
    assert s["rounds_per_step"] == 2 and s["activation"] == pytest.approx(0.75)
    assert s["p_mirror"] == pytest.approx(0.25) and s["rag_size"] == 2 and s["n_neighbors"] == 15
    assert s["answer_current"] is True
    b = BASELINE.proxy_settings({}, Condition(0.7, 25, 30, 80))
    assert (b["sigma"], b["rag_size"], b["p_mirror"], b["n_neighbors"], b["rounds_per_step"],
            b["activation"], b["answer_current"]) == (0.2, 5, 0.7, 25, 1, 1.0, False)
    with pytest.raises(ValueError, match="free parameters must be among"):
        ProxyModel(free=("sigma", "temperature"))
    with pytest.raises(ValueError, match="prior of sigma is log-uniform and needs low > 0"):
        ProxyModel(priors={"sigma": (0.0, 1.0)})


def test_bad_kernel_inputs_are_rejected():
    with pytest.raises(ValueError, match=r"n_neighbors must be in \[1, 9\]"):
        simulate_batch(Geometry(10), 5, p_mirror=0.2, n_neighbors=10, sigma=0.2, rag_size=1)
    with pytest.raises(ValueError, match=r"p_mirror must be in \[0.0, 1.0\]"):
        simulate_batch(Geometry(10), 5, p_mirror=1.2, n_neighbors=3, sigma=0.2, rag_size=1)


def test_components_geometry_from_npz(tmp_path):
    # perspective-space geometry: 2-d means, full covariances, given initial weights
    rng = np.random.default_rng(0)
    n, K = 8, 4
    means = rng.normal(size=(K, 2)) * 3
    A = rng.normal(size=(K, 2, 2)) * 0.3
    cov = A @ np.swapaxes(A, 1, 2) + 0.05 * np.eye(2)
    w0 = np.full((n, K), 0.01)
    w0[np.arange(n), np.arange(n) % K] = 1 - 0.01 * (K - 1)
    np.savez(tmp_path / "comps.npz", means=means, covariances=cov, initial_weights=w0)
    g = Geometry.from_npz(tmp_path / "comps.npz")
    assert (g.n_agents, g.n_components) == (n, K) and not g.default
    silos = simulate_batch(g, 10, p_mirror=np.full(6, 0.3), n_neighbors=3, sigma=1.0, rag_size=2,
                           answer_current=True, seed=1)
    assert silos.shape == (6, 11, n) and silos.min() >= 0 and silos.max() < K
    np.testing.assert_array_equal(silos[:, 0], np.broadcast_to(np.arange(n) % K, (6, n)))
    np.savez(tmp_path / "bad.npz", means=means)
    with pytest.raises(ValueError, match="lacks the arrays"):
        Geometry.from_npz(tmp_path / "bad.npz")

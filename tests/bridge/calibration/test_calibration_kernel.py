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


# --------------------------------------------------------------------------- dense float64 reference
def _reference_runs(R, n, T, *, p, k, sigma, r, rounds, activation, answer_current, seed, eps=1e-12):
    """Silo trajectories (R, T+1, n) of the batched kernel's model, re-derived densely in NumPy.

    Paper topics (means 0..n-1, sd sigma), one-hot start clipped to [eps, 1-eps]; each round every
    agent acts with probability ``activation``, mirrors with probability p, else picks uniformly
    among its k nearest in weight space (ties, at the 1e-9 level, broken at random); the answer is
    drawn from the partner's current weights or from its pseudo-updated weights; the EM weight step
    uses the whole mixture (no bands, no sparse rows); updates apply after the round.
    """
    rng = np.random.default_rng(seed)
    mu = np.arange(n, dtype=float)

    def clip(w):
        w = np.clip(w, eps, 1 - eps)
        return w / w.sum()

    def dens(x):
        ld = -0.5 * ((x - mu) / sigma) ** 2
        return np.exp(ld - ld.max())

    def draw(w):
        c = rng.choice(n, p=w / w.sum())
        return mu[c] + sigma * rng.standard_normal()

    def em(w, rag):
        acc = np.zeros(n)
        for x in rag:
            d = dens(x)
            acc += d / (w @ d)
        return clip(w * acc / len(rag))

    def replaced(rag, x):
        out = rag.copy()
        out[np.argmax(np.abs(rag - x))] = x
        return out

    out = np.zeros((R, T + 1, n), dtype=int)
    for b in range(R):
        W = np.array([clip(row) for row in np.eye(n)])
        rags = np.array([[draw(W[i]) for _ in range(r)] for i in range(n)])
        out[b, 0] = W.argmax(1)
        for t in range(T):
            for _ in range(rounds):
                new_w, new_rag = W.copy(), rags.copy()
                for i in range(n):
                    if rng.random() >= activation:
                        continue
                    if rng.random() < p:
                        j = i
                    else:
                        d2 = np.round(((W - W[i]) ** 2).sum(1), 9)
                        others = np.array([a for a in range(n) if a != i])
                        order = others[np.lexsort((rng.random(n - 1), d2[others]))]
                        j = order[rng.integers(k)]
                    if answer_current:
                        y = draw(W[j])
                    else:
                        x = draw(W[i])
                        y = draw(em(W[j], replaced(rags[j], x)))
                    new_rag[i] = replaced(rags[i], y)
                    new_w[i] = em(W[i], new_rag[i])
                W, rags = new_w, new_rag
            out[b, t + 1] = W.argmax(1)
    return out


@pytest.mark.parametrize("k, answer_current, r", [(2, True, 2), (6, True, 1), (6, False, 3)])
def test_sparse_kernel_agrees_with_a_dense_reference(k, answer_current, r):
    # the kernel's sparse rows, selection of the k nearest (sorted buffer for small k, rejection
    # sampling for large k) and activation against a dense float64 re-derivation: same distribution
    # of N(t) and of the switch rate (different random streams -> z-tests)
    n, T = 12, 16
    kw = dict(p=0.3, k=k, sigma=0.3, r=r, rounds=2, activation=0.75, answer_current=answer_current)
    ref = _reference_runs(100, n, T, seed=11, **kw)
    R = 600
    ours = simulate_batch(Geometry(n), T, p_mirror=np.full(R, kw["p"]), n_neighbors=k, sigma=kw["sigma"],
                          rag_size=r, rounds_per_step=2, activation=0.75, answer_current=answer_current, seed=12)

    def stats(s):
        ns = n_silos(s).astype(float)
        sw = (s[:, 1:] != s[:, :-1]).mean(axis=(1, 2))
        return [ns[:, 4], ns[:, 8], ns[:, 16], sw]

    for name, a, b in zip(("N(4)", "N(8)", "N(16)", "switch rate"), stats(ref), stats(ours)):
        se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        assert abs(a.mean() - b.mean()) < 4 * se + 1e-9, (name, a.mean(), b.mean(), se)


def test_recorded_weights_are_the_rows_behind_the_silos():
    # dense weights rebuilt from the kernel's sparse rows: on the simplex, >= eps / (1 + K eps),
    # their argmax the recorded silo, and recording them changes no random draw
    g = Geometry(10)
    kw = dict(p_mirror=[0.3, 0.6, 0.0], n_neighbors=3, sigma=0.25, rag_size=[2, 1, 3], answer_current=[1, 1, 0],
              rounds_per_step=2, activation=0.8, seed=3)
    silos, copied, w = simulate_batch(g, 12, return_weights=True, **kw)
    assert w.shape == (3, 13, 10, 10)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=0, atol=1e-12)
    assert w.min() >= 1e-12 / (1 + 10 * 1e-12) * (1 - 1e-12)
    np.testing.assert_array_equal(w.argmax(-1), silos)
    alone, cp = simulate_batch(g, 12, return_copied=True, **kw)
    np.testing.assert_array_equal(alone, silos)
    np.testing.assert_array_equal(cp, copied)
    # the job that never mirrors copies at every activation; the others copy less
    assert copied[2, 1:].mean() > 0.9 > copied[1, 1:].mean()
    assert not copied[:, 0].any()

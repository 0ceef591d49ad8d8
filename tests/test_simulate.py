"""Invariants of simulated runs (Numba engine) across every model variant and record mode."""
import importlib
import itertools
import warnings

import numpy as np
import pytest

import gmmproxy
from gmmproxy import SimulationConfig

sim_module = importlib.import_module("gmmproxy._simulate")

N_AGENTS, K, R_SIZE, STEPS = 6, 6, 3, 15


def _cfg(d, update, replacement, alg, **extra):
    kw = dict(n_agents=N_AGENTS, rag_size=R_SIZE, p_mirror=0.3, n_neighbors=3, update=update,
              rag_replacement=replacement, eps=1e-9, **extra)
    if d == 1:
        kw.update(n_components=K, sigma=0.4)
    else:
        ang = 2 * np.pi * np.arange(K) / K
        kw.update(means=np.c_[np.cos(ang), np.sin(ang)] * 1.5,
                  covariances=np.array([[[0.3, 0.1], [0.1, 0.2]]] * K))
    if alg == "alg2":
        kw.update(update_covariances=True)
    elif alg == "alg2vp":
        kw.update(update_covariances=True, volume_preserving=True)
    return SimulationConfig(**kw)


VARIANTS = [
    v for v in itertools.product((1, 2), ("synchronous", "sequential"), ("farthest", "fifo"),
                                  ("alg1", "alg2", "alg2vp"))
    # volume preservation freezes the variance in d = 1: only meaningful for d = 2
    if not (v[0] == 1 and v[3] == "alg2vp")
]


def _check_weights(w, eps):
    # t = 0 holds the raw initial weights (eps/K off the diagonal); every EM step clips and renormalises
    wt = w[1:]
    assert np.all(np.isfinite(w))
    np.testing.assert_allclose(wt.sum(axis=-1), 1.0, atol=1e-12)
    K_ = w.shape[-1]
    # clipping to [eps, 1-eps] then renormalising moves the bounds by a relative K*eps at most
    assert wt.min() >= eps * (1 - 2 * K_ * eps)
    assert wt.max() <= 1 - eps * (1 - 2 * K_ * eps)


def _check_silo_records(tr):
    s = tr.silos
    assert s.shape == (tr.steps + 1, tr.config.n_agents)
    n_ref = np.array([len(np.unique(row)) for row in s])
    np.testing.assert_array_equal(tr.n_silos, n_ref)
    sw = np.r_[0, (s[1:] != s[:-1]).sum(axis=1)]
    np.testing.assert_array_equal(tr.n_switched, sw)
    np.testing.assert_array_equal(tr.final_silos, s[-1])


@pytest.mark.parametrize("d,update,replacement,alg", VARIANTS, ids=["-".join(map(str, v)) for v in VARIANTS])
def test_invariants_all_variants_and_record_modes(d, update, replacement, alg):
    cfg = _cfg(d, update, replacement, alg)
    tw = gmmproxy.simulate(cfg, STEPS, seed=123, record="weights")
    assert tw.weights.shape == (STEPS + 1, N_AGENTS, cfg.n_components)
    _check_weights(tw.weights, cfg.eps)
    # silos = argmax of the weights (ties to the smaller index, as numpy.argmax)
    np.testing.assert_array_equal(tw.silos, np.argmax(tw.weights, axis=-1))
    _check_silo_records(tw)
    # RAG keeps its size and holds finite points
    assert tw.final_rag.shape == (N_AGENTS, R_SIZE, d)
    assert np.all(np.isfinite(tw.final_rag))
    # the record mode changes only what is stored, never the random stream
    ts = gmmproxy.simulate(cfg, STEPS, seed=123, record="silos")
    tm = gmmproxy.simulate(cfg, STEPS, seed=123, record="metrics")
    assert ts.weights is None and tm.weights is None and tm.silos is None
    np.testing.assert_array_equal(ts.silos, tw.silos)
    _check_silo_records(ts)
    for t in (ts, tm):
        np.testing.assert_array_equal(t.n_silos, tw.n_silos)
        np.testing.assert_array_equal(t.n_switched, tw.n_switched)
        np.testing.assert_array_equal(t.final_silos, tw.final_silos)
        np.testing.assert_array_equal(t.final_rag, tw.final_rag)
    if alg == "alg1":
        assert tw.covariances is None
    else:
        C = tw.covariances
        assert C.shape == (STEPS + 1, N_AGENTS, cfg.n_components, d, d)
        np.testing.assert_allclose(C, np.swapaxes(C, -1, -2), atol=1e-14)
        eig = np.linalg.eigvalsh(C)
        assert eig.min() > 0
        if d == 1:
            assert C.min() >= cfg.min_sd**2 * (1 - 1e-12)  # the sd floor
        det = np.linalg.det(C)
        det0 = np.linalg.det(cfg.covariances)
        if alg == "alg2vp":
            # Remark 2: every agent's every component keeps its initial volume
            np.testing.assert_allclose(det, np.broadcast_to(det0, det.shape), rtol=1e-9)
            assert not np.allclose(C[-1], C[0])  # shape/orientation did change
        else:
            assert not np.allclose(det[-1], det0, rtol=1e-3)  # volumes do move without the constraint


def test_trajectory_metrics_agree_with_metrics_module():
    from gmmproxy import metrics

    tr = gmmproxy.simulate(_cfg(1, "synchronous", "farthest", "alg1"), 25, seed=77)
    np.testing.assert_allclose(tr.switch_rate, metrics.switch_rate(tr.silos), equal_nan=True)
    t = metrics.time_to_single_silo(tr.silos)
    assert tr.time_to_single_silo == (None if t == metrics.NEVER else int(t))
    ref = metrics.summarize(tr.silos)
    got = tr.summary()
    for key in ref:
        assert got[key] == pytest.approx(ref[key]), key


@pytest.mark.parametrize("alg", ["alg1", "alg2"])
@pytest.mark.parametrize("k", [5, 2])
def test_synchronous_equals_sequential_when_everyone_mirrors(alg, k):
    """With p = 1 an agent reads only its own state, which nobody changes before it acts.

    Both update orders must then give the same run bit for bit; this exercises the
    synchronous double-buffering (RAG rows, cached densities, weights, fifo pointers).
    """
    for replacement in ("farthest", "fifo"):
        cfg = _cfg(1, "synchronous", replacement, alg).replace(p_mirror=1.0, n_neighbors=k, sigma=0.7)
        a = gmmproxy.simulate(cfg, 12, seed=5)
        b = gmmproxy.simulate(cfg.replace(update="sequential"), 12, seed=5)
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.final_rag, b.final_rag)
        assert not np.array_equal(a.weights[1], a.weights[-1])  # the run did move
    # with conversations the two orders differ
    cfg = _cfg(1, "synchronous", "farthest", alg).replace(p_mirror=0.0, n_neighbors=k)
    a = gmmproxy.simulate(cfg, 12, seed=5)
    b = gmmproxy.simulate(cfg.replace(update="sequential"), 12, seed=5)
    assert not np.array_equal(a.weights, b.weights)


@pytest.mark.parametrize("even", [True, False])
def test_banded_density_path_equals_generic_path(even):
    """1-d, equal sds, ascending means take the banded fast path (evenly spaced: nearest mean by
    rounding; uneven: binary search). Making one sd differ by one ulp forces the generic
    log-density path; the runs must agree to rounding."""
    means = np.arange(K, dtype=float) * 0.8 if even else np.array([0.0, 0.5, 1.7, 2.0, 3.1, 4.5])
    var = np.full(K, 0.45**2)
    var_ulp = var.copy()
    var_ulp[3] = np.nextafter(var[3], 1.0)
    base = dict(n_agents=N_AGENTS, means=means, rag_size=R_SIZE, p_mirror=0.2, n_neighbors=3)
    a = gmmproxy.simulate(SimulationConfig(covariances=var, **base), 15, seed=8)
    b = gmmproxy.simulate(SimulationConfig(covariances=var_ulp, **base), 15, seed=8)
    np.testing.assert_array_equal(a.silos, b.silos)
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-9, atol=1e-13)


def test_float32_weights_storage_same_run():
    cfg = _cfg(1, "synchronous", "farthest", "alg1")
    a = gmmproxy.simulate(cfg, 10, seed=5)
    b = gmmproxy.simulate(cfg, 10, seed=5, weights_dtype=np.float32)
    assert b.weights.dtype == np.float32
    np.testing.assert_array_equal(b.weights, a.weights.astype(np.float32))
    np.testing.assert_array_equal(a.silos, b.silos)


def test_zero_steps_records_initial_state():
    cfg = _cfg(1, "synchronous", "farthest", "alg1")
    tr = gmmproxy.simulate(cfg, 0, seed=1)
    assert tr.weights.shape == (1, N_AGENTS, K)
    np.testing.assert_array_equal(tr.weights[0], cfg.initial_weights())
    assert tr.n_silos.tolist() == [N_AGENTS]


def _init_rag(n, r, seed):
    rs = np.random.default_rng(seed)
    return rs.normal(np.arange(n)[:, None, None] % K, 0.3, (n, r, 1))


@pytest.mark.parametrize("update", ["synchronous", "sequential"])
def test_fifo_replaces_oldest_slot_in_order(update):
    n, r = 5, 3
    rag0 = _init_rag(n, r, 1)
    cfg = SimulationConfig(n_agents=n, n_components=K, sigma=0.4, rag_size=r, p_mirror=0.5, n_neighbors=2,
                           rag_replacement="fifo", init_rag=rag0, update=update)
    for steps in range(0, r + 2):
        fr = gmmproxy.simulate(cfg, steps, seed=9, record="metrics").final_rag
        s = min(steps, r)
        # slots 0..s-1 were overwritten (in that order), the others are the initial points
        np.testing.assert_array_equal(fr[:, s:], rag0[:, s:])
        assert np.all(fr[:, :s] != rag0[:, :s])
        if steps == r + 1:
            prev = gmmproxy.simulate(cfg, r, seed=9, record="metrics").final_rag
            # round r+1 wraps around to slot 0 and leaves slots 1.. as after round r
            np.testing.assert_array_equal(fr[:, 1:], prev[:, 1:])
            assert np.all(fr[:, 0] != prev[:, 0])


@pytest.mark.parametrize("update", ["synchronous", "sequential"])
def test_farthest_replacement_drops_the_farthest_point(update):
    n, r = 6, 4
    rag0 = _init_rag(n, r, 2)
    cfg = SimulationConfig(n_agents=n, n_components=K, sigma=0.4, rag_size=r, p_mirror=0.3, n_neighbors=3,
                           init_rag=rag0, update=update)
    for seed in range(5):
        fr = gmmproxy.simulate(cfg, 1, seed=seed, record="metrics").final_rag
        for i in range(n):
            changed = np.flatnonzero(fr[i, :, 0] != rag0[i, :, 0])
            assert changed.size == 1  # exactly one new point per agent and round
            y = fr[i, changed[0]]
            dist = np.abs(rag0[i, :, 0] - y[0])
            assert changed[0] == int(np.argmax(dist))  # the farthest from the new point (first on ties)


def test_p_mirror_one_agents_never_leave_their_own_component():
    """With p = 1 every agent only talks to itself; with well separated components nobody moves."""
    cfg = SimulationConfig(n_agents=5, n_components=5, sigma=0.1, rag_size=3, p_mirror=1.0, n_neighbors=4)
    tr = gmmproxy.simulate(cfg, 30, seed=3, record="silos")
    assert np.all(tr.silos == np.arange(5))


def test_graph_isolated_agents_keep_their_silo_and_others_mix():
    """A graph with no edges into agent 0: it can only mirror and stays where it is."""
    n = 6
    g = np.ones((n, n), bool)
    g[0, :] = False
    cfg = SimulationConfig(n_agents=n, n_components=n, sigma=0.6, rag_size=3, p_mirror=0.0, graph=g)
    tr = gmmproxy.simulate(cfg, 40, seed=4, record="silos")
    assert np.all(tr.silos[:, 0] == 0)
    # the others do interact (and so lose their initial silo at some point)
    assert np.any(tr.silos[:, 1:] != np.arange(1, n))


def test_simulate_many_shapes_and_summary():
    cfg = _cfg(1, "synchronous", "farthest", "alg1")
    ens = gmmproxy.simulate_many(cfg, 8, 5, seed=2, record="metrics")
    assert ens.replicates == 5 and ens.n_silos.shape == (5, 9) and ens.silos is None
    assert not ens.interrupted and ens.replicates_requested == 5
    s = ens.summary()
    assert s["replicates"] == 5
    assert s["n_silos_final"]["mean"] == pytest.approx(ens.n_silos[:, -1].mean())


def test_ctrl_c_keeps_finished_chunks(monkeypatch):
    cfg = _cfg(1, "synchronous", "farthest", "alg1")
    original = sim_module._run_kernel
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(sim_module, "_run_kernel", flaky)
    with pytest.warns(RuntimeWarning, match="4 of 10"):
        ens = gmmproxy.simulate_many(cfg, 6, 10, seed=8, chunk_size=2, record="silos", progress=False)
    assert calls["n"] == 3
    assert ens.interrupted and ens.replicates == 4 and ens.replicates_requested == 10
    assert ens.silos.shape == (4, 7, N_AGENTS)
    # the kept replicates are exactly replicates 0..3 of the full batch
    monkeypatch.setattr(sim_module, "_run_kernel", original)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = gmmproxy.simulate_many(cfg, 6, 10, seed=8, chunk_size=2, record="silos", progress=False)
    assert not full.interrupted
    np.testing.assert_array_equal(ens.silos, full.silos[:4])
    np.testing.assert_array_equal(ens.n_silos, full.n_silos[:4])


def test_ctrl_c_before_the_first_chunk_returns_empty_ensemble(monkeypatch):
    cfg = _cfg(1, "synchronous", "farthest", "alg1")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sim_module, "_run_kernel", interrupted)
    with pytest.warns(RuntimeWarning, match="0 of 3"):
        ens = gmmproxy.simulate_many(cfg, 5, 3, seed=1, progress=False)
    assert ens.interrupted and ens.replicates == 0 and ens.replicates_requested == 3
    assert ens.n_silos.shape == (0, 6) and ens.final_silos.shape == (0, N_AGENTS)
    assert ens.summary() == {"replicates": 0}

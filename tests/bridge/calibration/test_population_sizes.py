"""One calibration, several population sizes: the paper's geometry for every n, job streams independent of the split."""
import json

import numpy as np
import pytest

from gmmproxy.bridge.calibration import simulator
from gmmproxy.bridge.calibration.batch import Geometry, simulate_batch
from gmmproxy.bridge.calibration.model import Condition, ProxyModel

MODEL = ProxyModel(free=("time_scale", "p_exponent"), fixed={"rag_size": 1, "sigma": 0.1})
THETA = {"time_scale": 1.3, "p_exponent": 1.0}


def test_paper_geometry_for_another_population_size():
    g = Geometry(30).for_agents(12)
    assert g.n_agents == 12 and g.n_components == 12 and g.default
    np.testing.assert_array_equal(g.means[:, 0], np.arange(12.0))
    np.testing.assert_array_equal(g.chol, np.ones((12, 1, 1)))
    assert np.all(np.argmax(g.initial_weights, axis=1) == np.arange(12))
    np.testing.assert_allclose(g.initial_weights.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    same = Geometry(30)
    assert same.for_agents(30) is same


def test_default_geometry_is_recognised_from_its_arrays():
    # a calibration read back from disk passes the arrays; it must still generalise to other n
    ref = Geometry(8)
    again = Geometry(8, ref.means, ref.chol @ np.swapaxes(ref.chol, 1, 2), ref.initial_weights)
    assert again.default
    assert again.for_agents(5).n_agents == 5
    shifted = Geometry(8, ref.means + 0.5, None, ref.initial_weights)
    assert not shifted.default
    with pytest.raises(ValueError, match=r"n_agents must be 8.*got runs of 5"):
        shifted.for_agents(5)


def test_mixed_population_sizes_keep_each_jobs_stream():
    """Job b's stream depends on b only: splitting the jobs by population size changes no run."""
    a = Condition(0.3, 4, 10, 25)
    b = Condition(0.6, 3, 7, 20)
    R = 3
    mixed = simulator.simulate_silos(MODEL, [THETA], [a, b], R, Geometry(10), 11, return_copied=True)[0]
    alone = simulator.simulate_silos(MODEL, [THETA], [a], R, Geometry(10), 11, return_copied=True)[0]
    np.testing.assert_array_equal(mixed[0][0], alone[0][0])
    np.testing.assert_array_equal(mixed[0][1], alone[0][1])
    assert mixed[1][0].shape == (R, 20, 7)
    # condition b's jobs are R .. 2R-1 of the call: the same runs as a direct call with those job numbers
    s = MODEL.proxy_settings(THETA, b)
    direct = simulate_batch(Geometry(7), 24, seed=11, job_index=np.arange(R, 2 * R),
                            **{key: np.full(R, v) for key, v in s.items()})
    np.testing.assert_array_equal(mixed[1][0], direct[:, :20])
    # and not the runs of jobs 0 .. R-1 (the split must not restart the numbering)
    first = simulate_batch(Geometry(7), 24, seed=11, **{key: np.full(R, v) for key, v in s.items()})
    assert not np.array_equal(mixed[1][0], first[:, :20])
    stats = simulator.simulate_statistics(MODEL, [THETA], [a, b], R, Geometry(10), 11, times=(5, 10))
    assert stats.shape[:3] == (1, 2, R) and np.all(np.isfinite(stats[..., 0]))


def test_population_size_of_a_run_shapes_its_statistics():
    """Each population size runs with its own n: with p = 0, k = n - 1, r = 1 and a small sigma every
    agent takes the label of a uniform other agent in the first step, so the number of distinct labels
    after it has the occupancy mean n (1 - (1 - 1/(n-1))^(n-1)) (label j survives when some agent
    i != j copies j). Two sizes in one call, each against its own mean."""
    cond = [Condition(0.0, n - 1, n, 2) for n in (6, 15)]
    model = ProxyModel(free=("time_scale",), fixed={"rag_size": 1, "sigma": 0.02, "p_exponent": 1.0})
    R = 4000
    runs = simulator.simulate_silos(model, [{"time_scale": 1.0}], cond, R, Geometry(6), 3)[0]
    for c, s in zip(cond, runs):
        n = c.n_agents
        assert s.shape == (R, 2, n)
        distinct = np.array([len(np.unique(row)) for row in s[:, 1]])
        expected = n * (1.0 - (1.0 - 1.0 / (n - 1)) ** (n - 1))
        se = distinct.std() / np.sqrt(R)
        assert abs(distinct.mean() - expected) < 5 * se + 1e-9, (n, distinct.mean(), expected)


def test_components_geometry_rejects_another_population_size_before_work():
    g = Geometry(6, np.linspace(0, 1, 6)[:, None] * 3, None, None)
    assert not g.default
    calls = []
    real = simulate_batch

    def spy(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(simulator, "simulate_batch", spy)
        with pytest.raises(ValueError, match="n_agents must be 6"):
            simulator.simulate_silos(MODEL, [THETA], [Condition(0.3, 2, 6, 10), Condition(0.3, 2, 8, 10)], 2,
                                     g, 0)
    assert calls == []


def _logs(out, cells, T=25):
    """Proxy runs (2 per cell) written as logs; cells: (n, p, k)."""
    out.mkdir()
    logs = []
    for n, p, k in cells:
        s, copied = simulator.simulate_silos(MODEL, [{"time_scale": 1.0, "p_exponent": 1.0}], [Condition(p, k, n, T)],
                                             2, Geometry(n), n, return_copied=True)[0][0]
        logs += simulator.write_proxy_logs(s, out, p_mirror=p, n_neighbors=k, copied=copied, prefix=f"n{n}")
    return logs


def test_predict_and_validate_for_another_population_size(tmp_path):
    pytest.importorskip("pyabc")
    pytest.importorskip("pandas")
    from gmmproxy.bridge.calibration.fit import fit, load_result
    from gmmproxy.bridge.calibration.predict import predict
    from gmmproxy.bridge.calibration.report import validation_markdown
    from gmmproxy.bridge.calibration.validate import validate

    logs = _logs(tmp_path / "logs", [(10, 0.2, 3), (8, 0.7, 2)])
    # logs of two population sizes in one fit
    res = fit(logs, tmp_path / "c", model=MODEL, seed=0, max_generations=1, population_size=12, replicates=2,
              loco=False, times=(5, 10, 20), progress=False)
    assert sorted(c.n_agents for c in res.conditions) == [8, 10]
    loaded = load_result(tmp_path / "c")
    ens = predict(loaded, 0.5, 4, steps=15, replicates=5, n_agents=13)
    assert ens.silos.shape == (5, 15, 13) and ens.config.n_agents == 13
    with pytest.raises(ValueError, match="n_agents must be an integer >= 2"):
        predict(loaded, 0.5, 4, n_agents=1)
    with pytest.raises(ValueError, match=r"n_neighbors must be in \[1, 12\]"):
        predict(loaded, 0.5, 13, n_agents=13)
    table = validate(loaded, draws=10, baseline_replicates=10)
    assert sorted(c["n_agents"] for c in table["conditions"]) == [8, 10]
    json.dumps(table)
    # the table names n where the conditions differ in it, and only then
    md = validation_markdown(table).splitlines()
    assert md[0].startswith("| p | k | n | runs |")
    assert {row.split("|")[3].strip() for row in md[2:4]} == {"8", "10"}
    one = dict(table, conditions=[c for c in table["conditions"] if c["n_agents"] == 8])
    assert validation_markdown(one).startswith("| p | k | runs |")


def test_nt_grid_gives_each_condition_its_own_panel(tmp_path, monkeypatch):
    """Two conditions of the same (p, k) and different n: two panels titled with n, one legend entry each."""
    pytest.importorskip("pyabc")
    pytest.importorskip("pandas")
    from gmmproxy.bridge.calibration import report
    from gmmproxy.bridge.calibration.fit import fit, load_logs

    logs = _logs(tmp_path / "logs", [(12, 0.5, 3), (7, 0.5, 3)])
    res = fit(logs, tmp_path / "c", model=MODEL, seed=0, max_generations=1, population_size=12, replicates=2,
              loco=False, times=(5, 10), progress=False)
    figs = []
    monkeypatch.setattr(report, "_savefig", lambda fig, path: figs.append(fig))
    report.plot_nt_grid(res, load_logs(logs, res.times), tmp_path / "g.png", draws=10)
    (fig,) = figs
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert sorted(ax.get_title() for ax in axes) == ["p = 0.5, k = 3, n = 12", "p = 0.5, k = 3, n = 7"]
    for ax in axes:  # each panel's own population: the LLM runs start at n silos
        n = int(ax.get_title().rsplit("= ", 1)[1])
        assert max(v for line in ax.get_lines() for v in line.get_ydata()) == n
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert sorted(labels) == sorted(set(labels)) and len(labels) == 4

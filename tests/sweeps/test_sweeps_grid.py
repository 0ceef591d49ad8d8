"""Parameter sweeps: tidy rows, per-cell seeding, CSV streaming, validation."""
import csv

import numpy as np
import pytest

import gmmproxy
from gmmproxy import metrics
from gmmproxy.sweeps import ROW_FIELDS, sweep

BASE = gmmproxy.SimulationConfig(n_agents=8, sigma=0.3, rag_size=3, p_mirror=0.2)


def test_rows_match_simulate_many_with_the_cell_seed(tmp_path):
    grid = {"p_mirror": [0.0, 0.5], "n_neighbors": [1, 7]}
    out = tmp_path / "sweep.csv"
    rows = sweep(BASE, grid, steps=15, replicates=6, seed=3, out=out)
    assert len(rows) == 4 * 6
    cells = [(0.0, 1), (0.0, 7), (0.5, 1), (0.5, 7)]
    for idx, (p, k) in enumerate(cells):
        ens = gmmproxy.simulate_many(BASE.replace(p_mirror=p, n_neighbors=k), 15, 6,
                                     gmmproxy.replicate_seed(3, idx), record="metrics")
        mine = [r for r in rows if r["cell"] == idx]
        assert all(r["p_mirror"] == p and r["n_neighbors"] == k for r in mine)
        np.testing.assert_array_equal([r["n_silos_final"] for r in mine], ens.n_silos[:, -1])
        np.testing.assert_array_equal([r["time_to_single_silo"] for r in mine],
                                      metrics.time_to_single_silo_from_counts(ens.n_silos))
        sw = ens.n_switched[:, 1:] / 8
        np.testing.assert_allclose([r["mean_switch_rate"] for r in mine], sw.mean(axis=1))
    with open(out) as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == ["p_mirror", "n_neighbors", *ROW_FIELDS]
    assert [int(r["n_silos_final"]) for r in table] == [r["n_silos_final"] for r in rows]


def test_cell_results_do_not_depend_on_the_other_cells():
    a = sweep(BASE, {"p_mirror": [0.0, 0.5]}, steps=10, replicates=4, seed=1)
    b = sweep(BASE, {"p_mirror": [0.0]}, steps=10, replicates=4, seed=1)
    assert [r["n_silos_final"] for r in a if r["cell"] == 0] == [r["n_silos_final"] for r in b]


def test_swept_n_agents_keeps_the_unrestricted_default_k():
    rows = sweep(BASE, {"n_agents": [5, 9]}, steps=3, replicates=2, seed=0)
    assert len(rows) == 4


@pytest.mark.parametrize("grid, word", [
    ({"bogus": [1]}, "bogus"),
    ({"p_mirror": []}, "p_mirror"),
    ({"p_mirror": [0.1, 1.5]}, "p_mirror"),
    ({"n_neighbors": [8]}, "n_neighbors"),
    ({}, "grid"),
])
def test_bad_grids_are_rejected_before_running(grid, word):
    with pytest.raises(ValueError, match=word):
        sweep(BASE, grid, steps=3, replicates=2, seed=0)


def test_interrupted_sweep_keeps_finished_cells(monkeypatch, tmp_path):
    import gmmproxy.sweeps._grid as sw

    real = sw.simulate_many
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sw, "simulate_many", flaky)
    out = tmp_path / "s.csv"
    with pytest.warns(RuntimeWarning, match="interrupted"):
        rows = sweep(BASE, {"p_mirror": [0.0, 0.3, 0.6]}, steps=5, replicates=3, seed=0, out=out)
    assert len(rows) == 3 and {r["cell"] for r in rows} == {0}
    with open(out) as fh:
        assert len(list(csv.DictReader(fh))) == 3


def test_old_import_paths_still_reach_the_same_functions():
    import gmmproxy.plotting
    import gmmproxy.sweep
    import gmmproxy.sweeps

    assert gmmproxy.sweep.sweep is sweep and gmmproxy.sweep.ROW_FIELDS is ROW_FIELDS
    assert gmmproxy.plotting.sweep_summary is gmmproxy.sweeps.sweep_summary

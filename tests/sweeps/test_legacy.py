"""The old call ``gmmproxy.sweep.sweep(base, grid, ...)`` still works, with a DeprecationWarning."""
import csv

import pytest

import gmmproxy

pytest.importorskip("pandas")
BASE = gmmproxy.SimulationConfig(n_agents=6, sigma=0.3, rag_size=2, p_mirror=0.2)


def test_old_call_warns_and_returns_the_new_rows_in_the_old_shape(tmp_path):
    out = tmp_path / "s.csv"
    with pytest.warns(DeprecationWarning, match=r"gmmproxy.sweep\(base_cfg, grid"):
        rows = gmmproxy.sweep.sweep(BASE, {"p_mirror": [0.0, 0.5]}, steps=6, replicates=3, seed=2, out=out)
    new = gmmproxy.sweep(BASE, {"p_mirror": [0.0, 0.5]}, 6, 3, 2)
    assert [r["cell"] for r in rows] == [0, 0, 0, 1, 1, 1]
    assert [r["n_silos_final"] for r in rows] == new.silos_final.tolist()
    assert [r["time_to_single_silo"] for r in rows] == new.time_to_single_silo.fillna(-1).tolist()
    with open(out) as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == ["p_mirror", *gmmproxy.sweep.ROW_FIELDS]
    assert [int(r["n_silos_final"]) for r in table] == [r["n_silos_final"] for r in rows]


def test_old_import_spellings_reach_the_deprecated_call():
    from gmmproxy.sweep import ROW_FIELDS, sweep  # the old module path

    import gmmproxy.plotting
    import gmmproxy.sweeps

    assert sweep is gmmproxy.sweep.sweep and ROW_FIELDS[0] == "cell"
    # importing the old path does not shadow the function
    assert callable(gmmproxy.sweep) and gmmproxy.sweep is gmmproxy.sweeps.sweep
    assert gmmproxy.plotting.sweep_summary is gmmproxy.sweeps.sweep_summary

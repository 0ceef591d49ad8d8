"""Sweeps: rows from the cell seed, order independence, store, resume, interruption, provenance."""
import datetime as dt
import json

import numpy as np
import pytest

import gmmproxy
from gmmproxy.sweeps import (ManifestMismatchError, SweepExistsError, SweepInterrupted, cell_seed,
                             load_n_silos, load_sweep, sweep)

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

BASE = gmmproxy.SimulationConfig(n_agents=6, sigma=0.3, rag_size=2, p_mirror=0.2)
GRID = {"p_mirror": [0, 0.5], "neighbors": [1, 5]}
RUN = dict(steps=8, replicates=4, seed=3)


def _reference_rows(cfg, params, steps, replicates, seed):
    """Per-replicate statistics re-derived in plain NumPy from simulate_many with the cell seed."""
    ens = gmmproxy.simulate_many(cfg, steps, replicates, cell_seed(seed, params), record="silos")
    rows = []
    for r in range(replicates):
        counts = np.array([len(np.unique(ens.silos[r, t])) for t in range(steps + 1)])
        multi = np.nonzero(counts > 1)[0]
        tts = None if counts[-1] > 1 else (0 if multi.size == 0 else int(multi[-1]) + 1)
        _, sizes = np.unique(ens.silos[r, -1], return_counts=True)
        p = sizes / cfg.n_agents
        switches = (ens.silos[r, 1:] != ens.silos[r, :-1]).mean(axis=1)
        rows.append(dict(silos_final=int(counts[-1]), time_to_single_silo=tts,
                         reached_single_silo=tts is not None, largest_silo_final=int(sizes.max()),
                         entropy_final=float(-(p * np.log2(p)).sum()),
                         mean_switch_rate=float(switches.mean()), final_switch_rate=float(switches[-1])))
    return rows


def test_rows_are_the_cell_seeds_replicates():
    df = sweep(BASE, GRID, **RUN)
    assert list(df.columns) == ["cell", "p_mirror", "n_neighbors", "replicate", "silos_final",
                                "time_to_single_silo", "reached_single_silo", "largest_silo_final",
                                "entropy_final", "mean_switch_rate", "final_switch_rate"]
    assert len(df) == 4 * 4
    assert df[["p_mirror", "n_neighbors"]].drop_duplicates().values.tolist() == [[0, 1], [0, 5], [0.5, 1], [0.5, 5]]
    for (p, k), part in df.groupby(["p_mirror", "n_neighbors"], sort=False):
        ref = _reference_rows(BASE.replace(p_mirror=p, n_neighbors=k), {"p_mirror": p, "n_neighbors": k},
                              8, 4, 3)
        assert part.replicate.tolist() == [0, 1, 2, 3]
        for (_, row), exp in zip(part.iterrows(), ref):
            for name, value in exp.items():
                got = row[name]
                if value is None:
                    assert got is pd.NA, name
                else:
                    assert got == pytest.approx(value, abs=1e-12), name


def test_cell_seed_depends_on_values_not_spelling_or_position():
    a = cell_seed(3, {"p_mirror": 0.0, "n_neighbors": 5})
    assert a.spawn_key == cell_seed(3, {"n_neighbors": 5, "p_mirror": 0.0}).spawn_key
    assert a.spawn_key != cell_seed(3, {"p_mirror": 0.0, "n_neighbors": 4}).spawn_key
    assert cell_seed(4, {"p_mirror": 0.0, "n_neighbors": 5}).entropy == 4 != a.entropy
    # never one of the batch's replicate seeds
    assert a.spawn_key != gmmproxy.replicate_seed(3, 0).spawn_key and len(a.spawn_key) == 2
    # grid values are typed through the config: 0 and 0.0 are the same cell
    x = sweep(BASE, {"p_mirror": [0]}, **RUN)
    y = sweep(BASE, {"p_mirror": [0.0]}, **RUN)
    pd.testing.assert_frame_equal(x, y)


def test_inserting_and_reordering_values_leaves_other_cells_unchanged():
    small = sweep(BASE, {"p_mirror": [0, 0.5], "rag_size": [1, 3]}, **RUN)
    big = sweep(BASE, {"rag_size": [3, 2, 1], "p_mirror": [0.5, 0.25, 0]}, **RUN)
    key = ["p_mirror", "rag_size", "replicate"]
    merged = small.merge(big, on=key, suffixes=("", "_big"))
    assert len(merged) == len(small)
    for col in ("cell", "silos_final", "mean_switch_rate", "entropy_final", "time_to_single_silo"):
        assert merged[col].equals(merged[col + "_big"].rename(col)), col
    # and the inserted cells are different draws, not copies
    new = big[big.p_mirror == 0.25]
    assert len(new) == 3 * 4


def test_swept_n_agents_keeps_the_unrestricted_default_k():
    df = sweep(BASE, {"n_agents": [4, 7]}, steps=3, replicates=2, seed=0)
    cells = df.attrs["manifest"]["cells"]
    assert [c["n_agents"] for c in cells] == [4, 7]
    assert (df.silos_final <= df.n_agents).all()


@pytest.mark.parametrize("grid, match", [
    ({"p_mirror": [0.1, 1.5]}, "p_mirror must be in"),
    ({"n_neighbors": [6]}, "n_neighbors must be in"),
    ({"agents": [5], "n_agents": [6]}, "twice"),
])
def test_bad_cells_are_rejected_before_running(grid, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        sweep(BASE, grid, out=tmp_path / "s", **RUN)
    assert not (tmp_path / "s").exists()


def test_store_round_trip_manifest_and_n_silos(tmp_path):
    out = tmp_path / "sw"
    t0 = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    df = sweep(BASE, GRID, out=out, record_n_silos=True, **RUN)
    back = load_sweep(out)
    pd.testing.assert_frame_equal(df, back)
    assert back.attrs["complete"]
    m = json.loads((out / "manifest.json").read_text())
    assert m["format"] == "gmmproxy-sweep/1" and m["version"] == gmmproxy.__version__
    assert gmmproxy.SimulationConfig.from_dict(m["base_config"]) == BASE
    assert m["design"] == {"kind": "grid", "values": {"p_mirror": [0, 0.5], "n_neighbors": [1, 5]}}
    assert m["steps"] == 8 and m["replicates"] == 4 and m["record_n_silos"] is True
    assert m["seed"] == {"entropy": "3", "spawn_key": []}
    assert t0 <= dt.datetime.fromisoformat(m["started"]) <= dt.datetime.now(dt.timezone.utc)
    assert [c["cell"] for c in m["cells"]] == df.cell.unique().tolist()
    assert m["runs"][0]["executor"] == {"kind": "in-process"}
    arrays = load_n_silos(out)
    for c in m["cells"]:
        params = {"p_mirror": c["p_mirror"], "n_neighbors": c["n_neighbors"]}
        ens = gmmproxy.simulate_many(BASE.replace(**params), 8, 4, cell_seed(3, params), record="metrics")
        np.testing.assert_array_equal(arrays[c["cell"]], ens.n_silos)
        np.testing.assert_array_equal(df[df.cell == c["cell"]].silos_final, arrays[c["cell"]][:, -1])


def test_existing_out_needs_resume_or_force(tmp_path):
    out = tmp_path / "sw"
    sweep(BASE, {"p_mirror": [0]}, out=out, **RUN)
    with pytest.raises(SweepExistsError, match=r"already exists; finish it with resume \(--resume\) or overwrite it with force"):
        sweep(BASE, {"p_mirror": [0]}, out=out, **RUN)
    df = sweep(BASE, {"p_mirror": [0.5]}, out=out, force=True, **RUN)
    assert set(load_sweep(out).p_mirror) == {0.5} and len(df) == 4
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(SweepExistsError, match="holds no sweep.*refusing"):
        sweep(BASE, {"p_mirror": [0]}, out=other, force=True, **RUN)
    assert (other / "notes.txt").read_text() == "keep me"
    with pytest.raises(FileNotFoundError, match="cannot resume"):
        sweep(BASE, {"p_mirror": [0]}, out=tmp_path / "none", resume=True, **RUN)


def test_resume_refuses_a_different_sweep(tmp_path):
    out = tmp_path / "sw"
    sweep(BASE, GRID, out=out, **RUN)
    with pytest.raises(ManifestMismatchError, match=r"steps: folder has 8, this call 9"):
        sweep(BASE, GRID, out=out, resume=True, **dict(RUN, steps=9))
    with pytest.raises(ManifestMismatchError, match="base_config"):
        sweep(BASE.replace(sigma=0.4), GRID, out=out, resume=True, **RUN)
    with pytest.raises(ManifestMismatchError, match="design"):
        sweep(BASE, {"p_mirror": [0, 0.5]}, out=out, resume=True, **RUN)


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, monkeypatch):
    import gmmproxy.sweeps._executors as ex

    grid = {"p_mirror": [0, 0.3, 0.6], "rag_size": [1, 2]}
    full = sweep(BASE, grid, out=tmp_path / "full", **RUN)

    real = ex.run_cell
    calls = []

    def interrupt_third(spec):
        calls.append(spec["seed"]["spawn_key"][-1])
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C while the third cell runs
        return real(spec)

    monkeypatch.setattr(ex, "run_cell", interrupt_third)
    out = tmp_path / "part"
    with pytest.raises(SweepInterrupted, match="2 of 6 cells finished") as info:
        sweep(BASE, grid, out=out, **RUN)
    assert info.value.finished == 2 and len(info.value.partial) == 2 * 4
    with pytest.warns(RuntimeWarning, match="incomplete: 2 of 6"):
        part = load_sweep(out)
    assert not part.attrs["complete"] and len(list((out / "cells").iterdir())) == 2

    resumed_calls = []

    def count(spec):
        resumed_calls.append(spec["seed"]["spawn_key"][-1])
        return real(spec)

    monkeypatch.setattr(ex, "run_cell", count)
    again = sweep(BASE, grid, out=out, resume=True, seed=None, steps=8, replicates=4)
    assert len(resumed_calls) == 4 and not set(resumed_calls) & set(calls[:2])  # no finished cell rerun
    pd.testing.assert_frame_equal(again, full)
    pd.testing.assert_frame_equal(load_sweep(out), load_sweep(tmp_path / "full"))
    assert len(json.loads((out / "manifest.json").read_text())["runs"]) == 2


def test_thread_pool_executor_gives_the_same_rows():
    from concurrent.futures import ThreadPoolExecutor

    ref = sweep(BASE, GRID, **RUN)
    with ThreadPoolExecutor(2) as pool:
        got = sweep(BASE, GRID, executor=pool, **RUN)
    pd.testing.assert_frame_equal(ref, got)


def test_bad_executor_and_forking_pool():
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with pytest.raises(TypeError, match="executor must be"):
        sweep(BASE, GRID, executor="dask", **RUN)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        with pytest.raises(ValueError, match="spawn"):
            sweep(BASE, GRID, executor=pool, **RUN)

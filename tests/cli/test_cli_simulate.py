"""``gmmproxy simulate`` through the full CLI group (click's CliRunner)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from gmmproxy import Ensemble, Trajectory
from gmmproxy.cli import main

SMALL = ["--agents", "6", "--rag-size", "3", "--sigma", "0.35", "--neighbors", "3"]


def _run(args):
    return CliRunner().invoke(main, ["simulate", *args])


def test_single_run_writes_npz_and_plot(tmp_path):
    out, png = tmp_path / "run.npz", tmp_path / "silos.png"
    res = _run(["--out", str(out), "--plot", str(png), "--steps", "20"])
    assert res.exit_code == 0, res.output
    assert out.exists() and png.exists() and png.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tr = Trajectory.load(out)
    assert tr.steps == 20 and tr.config.n_agents == 30 and tr.weights.shape == (21, 30, 30)
    # the printed summary matches the saved run
    assert "N(t):" in res.output and "t=0:30" in res.output
    assert f"silos at the end:          {int(tr.n_silos[-1])}" in res.output
    assert "time to a single silo:" in res.output and "wrote" in res.output


def test_json_summary_equals_trajectory_summary(tmp_path):
    out = tmp_path / "r.npz"
    res = _run([*SMALL, "--steps", "8", "--seed", "3", "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[0])
    assert summary == Trajectory.load(out).summary()


def test_batch_prints_distribution(tmp_path):
    out = tmp_path / "b.npz"
    res = _run([*SMALL, "--steps", "10", "--replicates", "20", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    ens = Ensemble.load(out)
    assert ens.replicates == 20
    assert "replicates=20" in res.output
    assert "silos at the end:  mean" in res.output
    counts = np.bincount(ens.n_silos[:, -1])
    dist = "  ".join(f"{v}:{c}" for v, c in enumerate(counts) if c)
    assert f"distribution:    {dist}" in res.output
    assert sum(int(x.split(":")[1]) for x in dist.split()) == 20
    assert "reached a single silo" in res.output


def test_batch_json():
    res = _run([*SMALL, "--steps", "5", "--replicates", "4", "--json", "--no-progress"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["replicates"] == 4 and s["n_steps"] == 5


def test_reference_engine_reproduces_figure2_from_the_shell():
    res = _run(["--engine", "reference", "--steps", "100", "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["n_silos_final"] == 2 and s["largest_silo_final"] == 29


@pytest.mark.parametrize("args,parts", [
    (["--p-mirror", "1.5"], ["p_mirror", "1.5", "[0, 1]"]),
    (["--p-mirror", "-0.1"], ["p_mirror", "-0.1"]),
    (["--neighbors", "30"], ["n_neighbors", "30", "[1, 29]"]),
    (["--neighbors", "0"], ["n_neighbors", "0"]),
    (["--rag-size", "0"], ["rag_size", "0", ">= 1"]),
    (["--sigma", "0"], ["sigma", "0.0", "> 0"]),
    (["--sigma", "-1"], ["sigma", "-1.0", "> 0"]),
    (["--steps", "-1"], ["steps", "-1", ">= 0"]),
    (["--seed", "-5"], ["seed", "-5"]),
    (["--agents", "1"], ["n_agents", "1", ">= 2"]),
    (["--replicates", "0"], ["replicates", "0", ">= 1"]),
    (["--replicates", "2", "--engine", "reference"], ["engine", "reference"]),
    (["--volume-preserving"], ["volume_preserving", "update_covariances"]),
    (["--means", "/nonexistent/m.npy"], ["--means", "does not exist"]),
    (["--replicates", "2", "--threads", "0"], ["n_threads", "0"]),
    (["--record", "metrics", "--plot", "x.png"], ["--plot", "silos"]),
])
def test_bad_values_print_one_error_line_and_exit_2(args, parts):
    res = _run([*args, "--steps", "3"] if "--steps" not in args else args)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    for part in parts:
        assert part in lines[0], (part, lines[0])
    assert "Traceback" not in res.output


def test_bad_files_are_reported(tmp_path):
    w = tmp_path / "w.npy"
    np.save(w, np.full((6, 6), 0.5))  # rows do not sum to 1
    res = _run([*SMALL, "--init-weights", str(w), "--steps", "2"])
    assert res.exit_code == 2
    assert res.stderr.startswith("Error: init_weights rows must sum to 1")
    g = tmp_path / "g.npy"
    np.save(g, np.ones((5, 5), bool))
    res = _run([*SMALL, "--graph", str(g), "--steps", "2"])
    assert res.exit_code == 2 and "graph" in res.stderr and "(6, 6)" in res.stderr
    sched = tmp_path / "s.npy"
    np.save(sched, np.ones((2, 6, 6), bool))
    res = _run([*SMALL, "--graph", str(sched), "--steps", "4"])
    assert res.exit_code == 2 and "graph schedule" in res.stderr and "steps = 4" in res.stderr


def test_means_and_graph_files_are_used(tmp_path):
    m = tmp_path / "m.txt"
    m.write_text("0\n1\n2\n10\n11\n12\n")
    g = tmp_path / "g.npy"
    classes = np.array([0, 0, 0, 1, 1, 1])
    np.save(g, (classes[:, None] == classes[None, :]) & ~np.eye(6, dtype=bool))
    out = tmp_path / "r.npz"
    res = _run(["--agents", "6", "--rag-size", "3", "--sigma", "0.3", "--p-mirror", "0", "--means", str(m),
                "--graph", str(g), "--steps", "15", "--out", str(out)])
    assert res.exit_code == 0, res.output
    tr = Trajectory.load(out)
    np.testing.assert_array_equal(tr.config.means[:, 0], [0, 1, 2, 10, 11, 12])
    assert np.all(tr.silos[:, :3] <= 2) and np.all(tr.silos[:, 3:] >= 3)


def _interrupt_on_call(monkeypatch, which):
    import importlib

    sim = importlib.import_module("gmmproxy._simulate")
    original = sim._run_kernel
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == which:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(sim, "_run_kernel", flaky)
    # the CLI has no chunk option: make chunks small so that several run
    monkeypatch.setattr(sim, "_default_chunk", lambda cfg, steps, replicates: 5)


@pytest.mark.filterwarnings("ignore:simulate_many interrupted:RuntimeWarning")
def test_ctrl_c_in_a_batch_keeps_finished_replicates_and_exits_130(monkeypatch, tmp_path):
    _interrupt_on_call(monkeypatch, 3)
    out = tmp_path / "b.npz"
    res = CliRunner().invoke(main, ["simulate", *SMALL, "--steps", "4", "--replicates", "40", "--no-progress",
                                    "--out", str(out)])
    assert res.exit_code == 130, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    ens = Ensemble.load(out)
    assert ens.interrupted and ens.replicates == 10
    assert f"replicates={ens.replicates} of 40 (interrupted)" in res.output


@pytest.mark.filterwarnings("ignore:simulate_many interrupted:RuntimeWarning")
def test_ctrl_c_before_any_replicate_finished_is_reported_cleanly(monkeypatch):
    _interrupt_on_call(monkeypatch, 1)
    res = CliRunner().invoke(main, ["simulate", *SMALL, "--steps", "4", "--replicates", "5", "--no-progress"])
    assert res.exit_code == 130, (res.exit_code, res.output, repr(res.exception))
    assert "interrupted" in res.output

"""``gmmproxy sweep`` and ``gmmproxy sweep plot`` through the full CLI group (click's CliRunner)."""
import json

import pytest
from click.testing import CliRunner

import gmmproxy
from gmmproxy.cli import main

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

ARGS = ["sweep", "--agents", "6", "--sigma", "0.3", "--rag-size", "2", "--grid", "p_mirror=0,0.5",
        "--grid", "neighbors=1,5", "--replicates", "4", "--steps", "8", "--seed", "3"]


def run(args, **kw):
    return CliRunner().invoke(main, [str(a) for a in args], **kw)


def test_cli_grid_sweep_equals_the_python_call(tmp_path):
    out = tmp_path / "s"
    res = run(ARGS + ["--out", out])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert sum(1 for l in lines if l.split()[:2] in (["0", "1"], ["0", "5"], ["0.5", "1"], ["0.5", "5"])) == 4
    base = gmmproxy.SimulationConfig(n_agents=6, sigma=0.3, rag_size=2)
    ref = gmmproxy.sweep(base, {"p_mirror": [0, 0.5], "n_neighbors": [1, 5]}, 8, 4, 3)
    pd.testing.assert_frame_equal(gmmproxy.load_sweep(out), ref)


def test_cli_existing_out_resume_and_force(tmp_path):
    out = tmp_path / "s"
    assert run(ARGS + ["--out", out]).exit_code == 0
    again = run(ARGS + ["--out", out])
    assert again.exit_code == 2 and "already exists" in again.output and "Traceback" not in again.output
    assert run(ARGS + ["--out", out, "--resume"]).exit_code == 0
    other = run([a if a != "8" else "9" for a in ARGS] + ["--out", out, "--resume"])
    assert other.exit_code == 2 and "steps: folder has 8, this call 9" in other.output
    assert run(ARGS + ["--out", out, "--force"]).exit_code == 0
    assert run(ARGS + ["--resume"]).exit_code == 2


@pytest.mark.parametrize("extra, match", [
    (["--grid", "p_mirror=0.2"], "'p_mirror' twice"),
    (["--grid", "n_neighbors=3"], "'n_neighbors' twice"),
    (["--grid", "k=3"], "unknown parameter 'k'"),
    (["--grid", "sigma=0.1,0.1"], "0.1 twice"),
])
def test_cli_bad_grids(extra, match):
    res = run(ARGS + extra)
    assert res.exit_code == 2 and match in res.output, res.output


def test_cli_bad_value_names_the_parameter():
    res = run(["sweep", "--grid", "p_mirror=2"])
    assert res.exit_code == 2 and "p_mirror must be in [0, 1]" in res.output


def test_cli_sampled_design(tmp_path):
    out = tmp_path / "s"
    res = run(["sweep", "--agents", "6", "--sample", "sigma=0.05:0.5", "--sample", "rag_size=1:4:int",
               "--points", "8", "--design", "sobol", "--replicates", "2", "--steps", "4", "--seed", "5",
               "--out", out])
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_text())
    assert m["design"]["kind"] == "sobol" and len(m["cells"]) == 8
    expected = gmmproxy.sweeps.sample_design("sobol", {"sigma": (0.05, 0.5), "rag_size": (1, 4, "int")}, 8, 5)
    assert [{k: c[k] for k in ("sigma", "rag_size")} for c in m["cells"]] == expected.points()
    bad = run(["sweep", "--sample", "sigma=0.05:0.5", "--points", "12", "--design", "sobol"])
    assert bad.exit_code == 2 and "power of 2" in bad.output
    both = run(["sweep", "--grid", "sigma=0.1", "--sample", "rag_size=1:4"])
    assert both.exit_code == 2 and "one of the two" in both.output


def test_cli_ctrl_c_keeps_finished_cells_and_exits_130(tmp_path, monkeypatch):
    import gmmproxy.sweeps._executors as ex

    real = ex.run_cell
    calls = []

    def interrupt_second(spec):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(spec)

    monkeypatch.setattr(ex, "run_cell", interrupt_second)
    out = tmp_path / "s"
    res = run(ARGS + ["--out", out])
    assert res.exit_code == 130, res.output
    assert "1 of 4 cells finished" in res.output and "--resume" in res.output
    assert len(list((out / "cells").glob("*.parquet"))) == 1
    monkeypatch.setattr(ex, "run_cell", real)
    assert run(ARGS + ["--out", out, "--resume"]).exit_code == 0
    full = tmp_path / "full"
    assert run(ARGS + ["--out", full]).exit_code == 0
    pd.testing.assert_frame_equal(gmmproxy.load_sweep(out), gmmproxy.load_sweep(full))


def test_cli_interrupted_inside_a_batch_discards_the_running_cell(tmp_path, monkeypatch):
    # Ctrl-C inside simulate_many: it returns the finished replicates flagged interrupted;
    # the sweep must not store that partial cell
    import gmmproxy._simulate as sim

    real = sim.simulate_many
    calls = []

    def partial(cfg, steps, replicates, seed, **kw):
        calls.append(1)
        ens = real(cfg, steps, replicates, seed, **kw)
        if len(calls) == 3:
            ens.interrupted = True
        return ens

    monkeypatch.setattr(sim, "simulate_many", partial)
    out = tmp_path / "s"
    res = run(ARGS + ["--out", out])
    assert res.exit_code == 130 and "2 of 4 cells finished" in res.output
    assert len(list((out / "cells").glob("*.parquet"))) == 2


def test_cli_missing_extra_is_one_line(monkeypatch):
    import gmmproxy._extras as extras

    real = extras.importlib.import_module

    def no_distributed(name, *a):
        if name == "distributed":
            raise ImportError(name)
        return real(name, *a)

    monkeypatch.setattr(extras.importlib, "import_module", no_distributed)
    res = run(ARGS + ["--workers", "2"])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        "Error: --workers and --scheduler: the 'distributed' extra is not installed (no module 'distributed'); "
        "pip install 'gmmproxy[distributed]'"]


def test_cli_scheduler_down_is_one_line(monkeypatch):
    pytest.importorskip("distributed")
    import socket

    import gmmproxy.sweeps as sweeps

    real = sweeps.connect_dask
    monkeypatch.setattr(sweeps, "connect_dask", lambda address: real(address, timeout=1))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = run(ARGS + ["--scheduler", f"tcp://127.0.0.1:{port}"])
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")


def test_cli_sweep_plot(tmp_path):
    out = tmp_path / "s"
    assert run(ARGS + ["--out", out]).exit_code == 0
    heat = tmp_path / "heat.png"
    res = run(["sweep", "plot", out, "--x", "neighbors", "--y", "p_mirror", "--stat", "silos_final",
               "--plot", heat])
    assert res.exit_code == 0, res.output
    assert heat.stat().st_size > 0
    from PIL import Image

    meta = json.loads(Image.open(heat).text["provenance"])
    assert meta["seed"] == {"entropy": "3", "spawn_key": []} and meta["steps"] == 8
    lines = tmp_path / "lines.png"
    assert run(["sweep", "plot", out, "--x", "p_mirror", "--plot", lines]).exit_code == 0
    one = run(["sweep", "plot", out, "--x", "p_mirror", "--where", "neighbors=5", "--stat", "entropy_final",
               "--plot", tmp_path / "one.png"])
    assert one.exit_code == 0, one.output
    bad = run(["sweep", "plot", out, "--x", "p_mirror", "--stat", "bogus", "--plot", tmp_path / "b.png"])
    assert bad.exit_code == 2 and "stat must be one of" in bad.output
    missing = run(["sweep", "plot", tmp_path / "nothing", "--x", "p_mirror", "--plot", tmp_path / "b.png"])
    assert missing.exit_code == 2 and "no manifest.json" in missing.output

"""A real Ctrl-C (SIGINT) to a running ``gmmproxy sweep``: exit 130, finished cells kept and intact."""
import os
import signal
import subprocess
import sys
import time

import pytest

import gmmproxy

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")


def _dask_available():
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
@pytest.mark.parametrize("executor", [
    [],
    # a local Dask cluster: exit 130 as well, and the cluster's processes are stopped
    pytest.param(["--workers", "2"], marks=[pytest.mark.slow, pytest.mark.skipif(
        not _dask_available(), reason="needs the distributed extra")]),
], ids=["in-process", "dask"])
def test_sigint_keeps_finished_cells_and_exits_130(tmp_path, executor):
    out = tmp_path / "s"
    values = [round(0.05 * i, 2) for i in range(12)]
    args = ["sweep", "--agents", "20", "--grid", "p_mirror=" + ",".join(map(str, values)),
            # cells of ~0.2 s each: long enough that the signal lands before the last cell, however
            # fast the engine gets (with 60 steps a cell took 36 ms, and the sweep could finish first)
            "--replicates", "60", "--steps", "300", "--seed", "4", "--out", str(out), "--no-progress",
            *executor]
    # SIGINT back to its default in the child: a suite started in the background of a
    # non-interactive shell (`pytest &`) passes SIGINT down as ignored, and Python then never
    # raises KeyboardInterrupt
    proc = subprocess.Popen([sys.executable, "-c", "from gmmproxy.cli import main; main()", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list((out / "cells").glob("*.parquet"))) >= 1 if (out / "cells").is_dir() else False:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "cells finished and kept in" in err and "Traceback" not in err
    # with a cold Numba cache the Dask workers also report compiling ("gmmproxy: compil..."):
    # information, not part of the interrupt report, which must be one line
    report = [line for line in err.strip().splitlines() if not line.startswith("gmmproxy: compil")]
    assert len(report) == 1, err
    kept = sorted((out / "cells").glob("*.parquet"))
    assert 1 <= len(kept) < len(values)
    assert not list((out / "cells").glob(".*.part"))
    with pytest.warns(RuntimeWarning, match="incomplete"):
        table = gmmproxy.load_sweep(out)
    # every kept cell is complete and equals the same cell computed on its own
    base = gmmproxy.SimulationConfig(n_agents=20)
    for p, part in table.groupby("p_mirror"):
        alone = gmmproxy.sweep(base, {"p_mirror": [p]}, 300, 60, 4)
        pd.testing.assert_frame_equal(part.reset_index(drop=True), alone)

"""``gmmproxy warmup``: registered, documented, compiles and reports the default variants."""
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from gmmproxy.cli import main


def test_warmup_is_a_command_with_all_flag():
    res = CliRunner().invoke(main, ["warmup", "--help"])
    assert res.exit_code == 0
    assert "--all" in res.output and "NUMBA_CACHE_DIR" in res.output
    assert "--calibration" in res.output and "gmmproxy calibrate" in res.output


def test_warmup_runs_and_lists_each_variant():
    res = CliRunner().invoke(main, ["warmup"])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[0].startswith("kernel cache: ")
    assert any(line.startswith("Algorithm 1, 1-d, kNN") for line in lines)
    assert any(line.startswith("Markov chain") for line in lines)
    assert any(line.startswith("Markov chain, k nearest senders") for line in lines)
    assert lines[-1].startswith("4 variants ready in ")


_CALIBRATION_RUN = """
import json
from gmmproxy._kernels import batched
from gmmproxy.bridge.calibration.batch import Geometry, simulate_batch
simulate_batch(Geometry(7), 3, p_mirror=0.4, n_neighbors=3, sigma=0.25, rag_size=4, seed=1)
stats = batched._work.stats
print(json.dumps({"hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values())}))
"""


@pytest.mark.slow
def test_warmup_calibration_leaves_nothing_for_a_calibration_to_compile(tmp_path):
    # a cluster worker started from a warmed cache must load the calibration kernel, not compile it
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    warm = subprocess.run([sys.executable, "-c", "from gmmproxy.cli import main; main()", "warmup", "--calibration"], env=env,
                          capture_output=True, text=True, timeout=900)
    assert warm.returncode == 0, warm.stderr
    assert "Calibration kernel (gmmproxy calibrate)" in warm.stdout
    run = subprocess.run([sys.executable, "-c", _CALIBRATION_RUN], env=env, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stderr
    stats = json.loads(run.stdout.strip().splitlines()[-1])
    assert stats == {"hits": 1, "misses": 0}
    assert "compiling" not in run.stderr

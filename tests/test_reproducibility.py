"""Same seed, same arrays: replicates vs single runs, chunking, thread count."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gmmproxy
from gmmproxy import SimulationConfig, replicate_seed

CFG = SimulationConfig(n_agents=6, n_components=6, sigma=0.35, rag_size=3, p_mirror=0.3, n_neighbors=3)
ROOT = Path(__file__).resolve().parents[1]


def test_same_seed_same_run_different_seed_different_run():
    a = gmmproxy.simulate(CFG, 12, seed=42)
    b = gmmproxy.simulate(CFG, 12, seed=42)
    c = gmmproxy.simulate(CFG, 12, seed=43)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.final_rag, b.final_rag)
    assert not np.array_equal(a.weights, c.weights)
    # a SeedSequence and its int give the same run
    d = gmmproxy.simulate(CFG, 12, seed=np.random.SeedSequence(42))
    np.testing.assert_array_equal(a.weights, d.weights)


def test_unseeded_run_records_replayable_entropy():
    a = gmmproxy.simulate(CFG, 6, seed=None)
    from gmmproxy._seeding import seed_from_record

    b = gmmproxy.simulate(CFG, 6, seed=seed_from_record(a.seed))
    np.testing.assert_array_equal(a.weights, b.weights)


@pytest.mark.parametrize("record", ["weights", "silos"])
@pytest.mark.parametrize("variant", [{}, {"update_covariances": True}, {"update": "sequential", "rag_replacement": "fifo"}])
def test_replicate_r_equals_single_run(record, variant):
    cfg = CFG.replace(**variant)
    seed = 2024
    ens = gmmproxy.simulate_many(cfg, 10, 5, seed=seed, record=record, progress=False)
    for r in range(5):
        tr = gmmproxy.simulate(cfg, 10, seed=replicate_seed(seed, r), record=record)
        np.testing.assert_array_equal(ens.silos[r], tr.silos)
        np.testing.assert_array_equal(ens.n_silos[r], tr.n_silos)
        np.testing.assert_array_equal(ens.n_switched[r], tr.n_switched)
        np.testing.assert_array_equal(ens.final_silos[r], tr.final_silos)
        if record == "weights":
            np.testing.assert_array_equal(ens.weights[r], tr.weights)
    # replicates are not copies of each other
    assert len({ens.silos[r].tobytes() for r in range(5)}) == 5


def test_chunk_size_does_not_change_results():
    runs = [gmmproxy.simulate_many(CFG, 10, 7, seed=5, record="weights", chunk_size=c, progress=False)
            for c in (1, 3, 7, None)]
    for other in runs[1:]:
        np.testing.assert_array_equal(runs[0].weights, other.weights)
        np.testing.assert_array_equal(runs[0].n_silos, other.n_silos)


def test_n_threads_argument_does_not_change_results():
    import numba

    a = gmmproxy.simulate_many(CFG, 10, 6, seed=9, n_threads=1, progress=False)
    b = gmmproxy.simulate_many(CFG, 10, 6, seed=9, n_threads=numba.config.NUMBA_NUM_THREADS, progress=False)
    np.testing.assert_array_equal(a.silos, b.silos)


_SCRIPT = """
import sys, numpy as np, numba, gmmproxy
cfg = gmmproxy.SimulationConfig(n_agents=6, n_components=6, sigma=0.35, rag_size=3, p_mirror=0.3, n_neighbors=3)
ens = gmmproxy.simulate_many(cfg, 10, 8, seed=77, record="weights", progress=False, chunk_size=8)
np.savez(sys.argv[1], weights=ens.weights, silos=ens.silos, threads=numba.config.NUMBA_NUM_THREADS)
"""


def test_numba_num_threads_does_not_change_results(tmp_path):
    out = {}
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads, PYTHONPATH=str(ROOT))
        path = tmp_path / f"t{threads}.npz"
        subprocess.run([sys.executable, "-c", _SCRIPT, str(path)], env=env, check=True, timeout=300,
                       cwd=str(ROOT))
        out[threads] = np.load(path)
    assert int(out["1"]["threads"]) == 1 and int(out["2"]["threads"]) == 2
    np.testing.assert_array_equal(out["1"]["weights"], out["2"]["weights"])
    np.testing.assert_array_equal(out["1"]["silos"], out["2"]["silos"])
    # and equal to this process's run
    ens = gmmproxy.simulate_many(CFG, 10, 8, seed=77, record="weights", progress=False)
    np.testing.assert_array_equal(out["1"]["weights"], ens.weights)

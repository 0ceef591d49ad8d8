"""Numba's threading layer: fork-based pools keep working after a parallel batch."""
import os
import subprocess
import sys

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_SCRIPT = """
import multiprocessing as mp
import numba
import gmmproxy

cfg = gmmproxy.SimulationConfig(n_agents=4, n_components=4, rag_size=2)

def batch(seed):
    # the workers run parallel batches themselves, as pyABC's multicore sampler does
    return int(gmmproxy.simulate_many(cfg, 3, 4, seed=seed, progress=False).n_silos.sum())

if __name__ == "__main__":
    ens = gmmproxy.simulate_many(cfg, 3, 4, seed=1, progress=False)
    print(numba.threading_layer())
    # a fork-based pool after a parallel batch in the parent
    with mp.get_context("fork").Pool(2) as pool:
        # a worker killed by the threading layer would hang map(): bound the wait
        got = pool.map_async(batch, range(4)).get(timeout=240)
    print(int(got == [batch(s) for s in range(4)]))
"""


def _run(env_layer=None):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    env["PYTHONPATH"] = _ROOT
    if env_layer is not None:
        env["NUMBA_THREADING_LAYER"] = env_layer
    return subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.skipif(sys.platform == "win32", reason="fork start method")
def test_fork_pool_after_parallel_batch():
    out = _run()
    assert out.returncode == 0, out.stderr
    layer, same = out.stdout.split()
    assert layer in ("tbb", "workqueue") or (layer == "omp" and not sys.platform.startswith("linux"))
    assert same == "1"  # the workers' batches equal the same batches run in the parent


def test_user_choice_of_layer_is_kept():
    out = _run("workqueue")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "workqueue"
    # a layer set in code before importing gmmproxy is kept too
    code = ("import numba; numba.config.THREADING_LAYER = 'threadsafe'\n"
            "import gmmproxy; print(numba.config.THREADING_LAYER)")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    out = subprocess.run([sys.executable, "-c", code], env=dict(env, PYTHONPATH=_ROOT),
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "threadsafe", out.stderr


_THREADS_SCRIPT = """
from concurrent.futures import ThreadPoolExecutor
import numpy as np
import gmmproxy
from gmmproxy.chain import ChainConfig, simulate_chain_many

cfg = gmmproxy.SimulationConfig(n_agents=5, n_components=5, rag_size=2)
ccfg = ChainConfig(n_agents=5, sigma=0.3, rag_size=2, n_neighbors=2, eps=0.0)

def batch(seed):
    return gmmproxy.simulate_many(cfg, 20, 16, seed=seed, progress=False, chunk_size=2).n_silos

def chains(seed):
    return simulate_chain_many(ccfg, 30, 16, seed, chunk_size=2).log_weights

with ThreadPoolExecutor(4) as ex:
    got = list(ex.map(batch, range(6))) + list(ex.map(chains, range(6)))
want = [batch(s) for s in range(6)] + [chains(s) for s in range(6)]
print(int(all(np.array_equal(a, b) for a, b in zip(got, want))))
"""


def test_parallel_batches_from_several_threads():
    """A thread-pool executor (as the sweeps' threads executor) may launch batches concurrently."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    out = subprocess.run([sys.executable, "-c", _THREADS_SCRIPT], env=dict(env, PYTHONPATH=_ROOT),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "1"

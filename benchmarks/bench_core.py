"""Benchmark of the simulator core; the numbers in docs/performance.md come from here.

    python benchmarks/bench_core.py            # all measurements, markdown table on stdout
    python benchmarks/bench_core.py --quick    # fewer repetitions

Measures, on the machine it runs on:

1. single-threaded time per agent update at the Figure-2 configuration
   (n = K = 30, sigma = 0.2, r = 5, p = 0.4, k = 29), warm (kernels compiled);
2. the same for the plain-NumPy reference engine (the authors' algorithm and
   random-number order, for scale: the authors' pure-Python code needs about
   350 us per update);
3. wall time of 10,000 replicates of the Figure-3 configuration (p = 0,
   k = 10, T = 80) with ``simulate_many`` on all Numba threads;
4. first-call times in a fresh interpreter: with an empty Numba cache (the
   kernels are compiled) and with the on-disk cache (``cache=True``) loaded.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np


def _per_update_numba(repeats: int, steps: int) -> float:
    import gmmproxy

    cfg = gmmproxy.SimulationConfig(n_agents=30, n_components=30, sigma=0.2, rag_size=5, p_mirror=0.4,
                                    n_neighbors=29)
    gmmproxy.simulate(cfg, steps=2, seed=0, record="metrics")  # compile / load cache
    best = np.inf
    for s in range(repeats):
        t0 = time.perf_counter()
        gmmproxy.simulate(cfg, steps=steps, seed=s, record="metrics")
        best = min(best, time.perf_counter() - t0)
    return best / (steps * cfg.n_agents) * 1e6


def _per_update_reference(steps: int) -> float:
    import gmmproxy
    from gmmproxy.reference import simulate_reference

    cfg = gmmproxy.SimulationConfig(n_agents=30, n_components=30, sigma=0.2, rag_size=5, p_mirror=0.4,
                                    n_neighbors=29)
    t0 = time.perf_counter()
    simulate_reference(cfg, steps, seed=618327487)
    return (time.perf_counter() - t0) / (steps * cfg.n_agents) * 1e6


def _figure3_batch(replicates: int) -> tuple[float, int]:
    import numba

    import gmmproxy

    cfg = gmmproxy.SimulationConfig(n_agents=30, n_components=30, sigma=0.2, rag_size=5, p_mirror=0.0,
                                    n_neighbors=10)
    gmmproxy.simulate_many(cfg, steps=2, replicates=4, seed=0, record="metrics")  # compile / load cache
    t0 = time.perf_counter()
    gmmproxy.simulate_many(cfg, steps=80, replicates=replicates, seed=0, record="silos", progress=False)
    return time.perf_counter() - t0, numba.get_num_threads()


def _first_call(cold: bool, batch: bool = False) -> float:
    """Seconds from interpreter start to a finished 1-round run (or 2-replicate batch).

    ``cold``: with an empty Numba cache directory, so every kernel is compiled;
    otherwise the kernels are loaded from the on-disk cache.
    """
    call = ("gmmproxy.simulate_many(cfg, steps=1, replicates=2, seed=0)" if batch
            else "gmmproxy.simulate(cfg, steps=1, seed=0)")
    code = (
        "import time; t0 = time.perf_counter(); import gmmproxy; "
        f"cfg = gmmproxy.SimulationConfig(); {call}; "
        "print(time.perf_counter() - t0)"
    )
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        if cold:
            env["NUMBA_CACHE_DIR"] = tmp
        else:  # make sure the cache is populated first
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--replicates", type=int, default=10_000)
    args = ap.parse_args(argv)
    repeats = 3 if args.quick else 7
    warm_first = _first_call(cold=False)
    cold_first = _first_call(cold=True)
    cold_batch = _first_call(cold=True, batch=True)
    numba_us = _per_update_numba(repeats, 1000 if args.quick else 3000)
    ref_us = _per_update_reference(10 if args.quick else 30)
    batch_s, threads = _figure3_batch(args.replicates)
    updates = args.replicates * 80 * 30
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} logical cores, "
          f"Python {platform.python_version()}, NumPy {np.__version__}")
    print()
    print("| measurement | value |")
    print("|---|---|")
    print(f"| first run in a fresh interpreter, kernels compiled (empty cache) | {cold_first:.2f} s |")
    print(f"| first batch in a fresh interpreter, parallel kernel compiled (empty cache) | {cold_batch:.2f} s |")
    print(f"| first run in a fresh interpreter, kernels loaded from the on-disk cache | {warm_first:.2f} s |")
    print(f"| Numba engine, Figure-2 config, single thread, warm | {numba_us:.3f} us per agent update |")
    print(f"| NumPy reference engine, same config | {ref_us:.1f} us per agent update |")
    print(f"| speed-up of the Numba engine over the reference engine | {ref_us / numba_us:.0f}x |")
    print(f"| {args.replicates} replicates of Figure 3 (k=10, p=0, T=80), {threads} threads | "
          f"{batch_s:.2f} s ({batch_s / updates * 1e6 * threads:.3f} us per update per thread) |")


if __name__ == "__main__":
    main()

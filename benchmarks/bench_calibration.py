"""Benchmark of the batched calibration kernel: one evaluation of 8 conditions x 16 replicates.

    python benchmarks/bench_calibration.py            # markdown table on stdout
    python benchmarks/bench_calibration.py --repeats 3

One *evaluation* is what an ABC particle costs: the 8 flower conditions
(p in {0.2, 0.7} x k in {1, 5, 15, 25}, n = 30, T = 80 steps) with 16
replicates each, in one call of the batched kernel (128 jobs, 307,200 agent
updates at one round per step). Measured at three parameter sets:

* label copying (answer from current weights, r = 1, sigma = 0.15, tau = 1);
* the same with tau = 1.5 (two rounds per step, activation 0.75);
* the paper's proxy (pseudo-updated answers, r = 5, sigma = 0.2).

Reports the best wall time over ``--repeats`` runs on all Numba threads and
on one thread, the process CPU time, and the load average (other processes
on a shared machine inflate wall times).
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def _evaluation(theta, model, repeats):
    from gmmproxy.bridge.calibration.batch import Geometry
    from gmmproxy.bridge.calibration.model import Condition
    from gmmproxy.bridge.calibration.simulator import simulate_silos

    conds = [Condition(p, k, 30, 80) for p in (0.2, 0.7) for k in (1, 5, 15, 25)]
    g = Geometry(30)
    simulate_silos(model, [theta], conds, 16, g, 0)  # compile / load the cache
    wall, cpu = np.inf, np.inf
    for s in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        simulate_silos(model, [theta], conds, 16, g, s + 1)
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall * 1e3, cpu * 1e3


def main(argv=None):
    import numba

    from gmmproxy.bridge.calibration.model import BASELINE, ProxyModel

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    copying = ProxyModel()
    cases = [
        ("label copying, r = 1, sigma = 0.15, tau = 1", copying,
         {"sigma": 0.15, "rag_size": 1, "time_scale": 1.0, "p_exponent": 1.0}),
        ("label copying, r = 1, sigma = 0.15, tau = 1.5", copying,
         {"sigma": 0.15, "rag_size": 1, "time_scale": 1.5, "p_exponent": 1.0}),
        ("paper's proxy, r = 5, sigma = 0.2", BASELINE, {}),
    ]
    threads = numba.get_num_threads()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, Numba {numba.__version__}; load average before: {os.getloadavg()[0]:.1f}")
    print()
    print(f"| one evaluation (8 conditions x 16 replicates) | wall, {threads} threads | CPU | wall, 1 thread |")
    print("|---|---|---|---|")
    for label, model, theta in cases:
        numba.set_num_threads(threads)
        wall, cpu = _evaluation(theta, model, args.repeats)
        numba.set_num_threads(1)
        wall1, _ = _evaluation(theta, model, args.repeats)
        numba.set_num_threads(threads)
        print(f"| {label} | {wall:.0f} ms | {cpu:.0f} ms | {wall1:.0f} ms |")
    print()
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

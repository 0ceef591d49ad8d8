"""Benchmark of the simulator core: every row of the performance table in docs/performance.md.

    python benchmarks/bench_core.py            # all rows (about 15-25 min on 2 busy cores)
    python benchmarks/bench_core.py --quick    # fewer repetitions and steps (about 5-10 min)
    python benchmarks/bench_core.py --plot docs/img/performance-cost-vs-n.png

Prints a markdown table. Measured on the machine it runs on:

* first-use times of the command line in a fresh interpreter with an *empty*
  Numba cache (a temporary ``NUMBA_CACHE_DIR``): ``gmmproxy simulate``,
  ``gmmproxy simulate --replicates 100``, ``gmmproxy theory montecarlo
  --replicates 1000``, and the further code paths (``--update-covariances``,
  ``--neighbors 10``, a sparse ``--graph``) once the default kernels are
  cached; the CPU time of the child process (what to compare on a shared
  machine), measured by ``bench_first_use.py`` (which also compares with an
  earlier commit, alternately: ``--ref``);
* warm per-update cost, single thread, of the Numba engine for the
  configurations of the issue table (Figure 2, kNN at n = 30 and 1000,
  unrestricted n = 1000, K = 300, Algorithm 2 at the Figure-10 set-up),
  side by side with the plain-NumPy reference engine where it runs in
  reasonable time; best of several runs, CPU time of the calling thread
  (``time.thread_time``; a single replicate runs on it). Not
  ``time.process_time``: it also counts OpenBLAS's worker threads, which spin
  on the other core for a while after a matrix product (a Figure-2 run right
  after a 200 x 200 product: 1.7 µs per update in process time, 0.66 µs in
  thread time);
* with ``--plot`` or ``--curves-only``: cost per update against n for the
  dense kNN (k = 10), unrestricted (k = n - 1) and sparse-graph paths, measured
  and drawn by ``bench_scale.py``'s functions (the one owner of that figure).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time

import numpy as np


def first_use_rows(quick: bool) -> list[tuple[str, str]]:
    """First-use rows, measured by ``bench_first_use.py`` (the one owner of that measurement) on this tree."""
    import bench_first_use

    with tempfile.TemporaryDirectory() as tmp:
        cpu = bench_first_use.measure_tree(bench_first_use._REPO, list(bench_first_use.ROWS), tmp)
    return [(bench_first_use.ROWS[key][0], f"{secs:.1f} s CPU") for key, secs in cpu.items()]


def per_update_numba(cfg, steps: int, repeats: int) -> float:
    """Best CPU microseconds per agent update, one thread, kernels warm."""
    import gmmproxy

    gmmproxy.simulate(cfg, steps=2, seed=0, record="metrics")  # compile / load cache
    best = np.inf
    for s in range(repeats):
        t0 = time.thread_time()
        gmmproxy.simulate(cfg, steps=steps, seed=s, record="metrics")
        best = min(best, time.thread_time() - t0)
    return best / (steps * cfg.n_agents) * 1e6


def per_update_reference(cfg, steps: int) -> float:
    from gmmproxy.reference import simulate_reference

    t0 = time.process_time()
    simulate_reference(cfg, steps, seed=618327487)
    return (time.process_time() - t0) / (steps * cfg.n_agents) * 1e6


def steady_rows(quick: bool) -> list[tuple[str, str]]:
    import gmmproxy

    C = gmmproxy.SimulationConfig
    rep = 3 if quick else 7
    f = 1 if quick else 3
    fig10 = C(update_covariances=True)  # experiments/figure10.py: the Figure-2 set-up with Algorithm 2
    cases = [
        ("Figure-2 config (n = K = 30, r = 5, p = 0.4, k = 29)", C(), 500 * f, 10 * f),
        ("n = 30, k = 10, p = 0 (the kNN path)", C(p_mirror=0.0, n_neighbors=10), 500 * f, 10 * f),
        ("n = 1000, k = 10, p = 0", C(n_agents=1000, n_components=30, p_mirror=0.0, n_neighbors=10), 10 * f, 0),
        ("n = 1000, k = 999, p = 0", C(n_agents=1000, n_components=30, p_mirror=0.0), 10 * f, 0),
        ("K = 300 components, n = 30", C(n_components=300), 200 * f, 4 * f),
        ("Algorithm 2, Figure-10 config (Figure 2 + covariance updates)", fig10, 200 * f, 4 * f),
    ]
    rows = []
    for name, cfg, steps, ref_steps in cases:
        us = per_update_numba(cfg, steps, rep)
        if ref_steps:
            ref = per_update_reference(cfg, ref_steps)
            rows.append((name, f"**{us:.3f} µs** per update (reference engine {ref:.0f} µs, {ref / us:,.0f}x)"))
        else:
            rows.append((name, f"**{us:.3f} µs** per update"))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and steps")
    ap.add_argument("--plot", metavar="PNG", help="draw cost per update against n into this file")
    ap.add_argument("--skip-first-use", action="store_true", help="skip the empty-cache subprocess rows")
    ap.add_argument("--curves-only", action="store_true", help="only the cost-per-update-against-n curves")
    args = ap.parse_args(argv)
    if args.plot:
        parent = os.path.dirname(os.path.abspath(args.plot))
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
            ap.error(f"--plot: folder {parent} does not exist or is not writable")
    rows = [] if (args.skip_first_use or args.curves_only) else first_use_rows(args.quick)
    rows += [] if args.curves_only else steady_rows(args.quick)
    import numba

    print(f"date: {datetime.date.today()}; machine: {platform.machine()}, {os.cpu_count()} logical cores, "
          f"load average {os.getloadavg()[0]:.1f}; Python {platform.python_version()}, NumPy {np.__version__}, "
          f"Numba {numba.__version__}; command: python benchmarks/bench_core.py {' '.join(argv or sys.argv[1:])}")
    print()
    print("| measurement | value |")
    print("|---|---|")
    for name, val in rows:
        print(f"| {name} | {val} |")
    if args.plot or args.curves_only:
        # one owner of the cost-against-n curves and their figure: bench_scale (it adds the sparse path)
        import bench_scale

        cv = bench_scale.curves(args.quick)
        bench_scale.print_curves(cv)
        if args.plot:
            bench_scale.plot(cv, args.plot)


if __name__ == "__main__":
    main()

"""Benchmark of sweep throughput; the numbers in docs/scaling.md come from here.

    python benchmarks/bench_sweeps.py            # full run, markdown table on stdout
    python benchmarks/bench_sweeps.py --quick    # smaller sweeps

Side by side, on the machine it runs on (needs the ``tidy`` and
``distributed`` extras):

1. replicates per second of the same sweep (Figure-3 configuration n = K = 30,
   sigma = 0.2, r = 5, k = 10, T = 80; a grid over p_mirror) in-process (one
   process, every Numba thread) and on a local Dask cluster of 2 worker
   processes with one Numba thread each (started before the clock, kernels
   loaded from the disk cache by a warm-up cell);
2. the cost per cell beyond the simulation: a sweep of trivial cells (n = 2,
   T = 0, one replicate) in-process without a store, in-process with the
   Parquet store, and on the Dask cluster with the store. The differences are
   the store's cost per cell and Dask's overhead per cell (submit, schedule,
   ship the result back, as seen by the single driver process).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time


def _timed_sweep(base, grid, steps, replicates, executor=None, out=None):
    from gmmproxy.sweeps import sweep

    t0 = time.perf_counter()
    df = sweep(base, grid, steps=steps, replicates=replicates, seed=1, out=out, executor=executor,
               force=out is not None and os.path.exists(out), progress=False)
    return time.perf_counter() - t0, df


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)

    import numba
    import pandas as pd

    import gmmproxy
    from gmmproxy.sweeps import local_dask_client

    n_p = 4 if args.quick else 8
    reps = 100 if args.quick else 250
    fig3 = gmmproxy.SimulationConfig(n_agents=30, sigma=0.2, rag_size=5, p_mirror=0.0, n_neighbors=10)
    grid = {"p_mirror": [round(i / n_p, 4) for i in range(n_p)]}
    tiny = gmmproxy.SimulationConfig(n_agents=2, rag_size=1)
    n_tiny = 100 if args.quick else 400
    tiny_grid = {"sigma": [0.1 + i * 1e-4 for i in range(n_tiny)]}

    tmp = tempfile.mkdtemp(prefix="bench_sweeps_")
    rows = []
    try:
        _timed_sweep(fig3, {"p_mirror": [0.0]}, 2, 2)  # compile / load the kernels here
        wall, df = _timed_sweep(fig3, grid, 80, reps)
        assert len(df) == n_p * reps
        rows.append(("in-process", f"{numba.get_num_threads()} Numba threads", wall, n_p * reps))
        t_ip_bare, _ = _timed_sweep(tiny, tiny_grid, 0, 1)
        t_ip_store, _ = _timed_sweep(tiny, tiny_grid, 0, 1, out=os.path.join(tmp, "ip"))

        t0 = time.perf_counter()
        client = local_dask_client(args.workers)
        startup = time.perf_counter() - t0
        try:
            t0 = time.perf_counter()
            _timed_sweep(fig3, {"p_mirror": [0.0, 0.5]}, 2, 2, executor=client)  # workers load the kernels
            warm = time.perf_counter() - t0
            wall_d, df_d = _timed_sweep(fig3, grid, 80, reps, executor=client)
            pd.testing.assert_frame_equal(df, df_d)  # the benchmark also checks the rows agree
            rows.append(("Dask LocalCluster", f"{args.workers} workers x 1 thread", wall_d, n_p * reps))
            t_d_store, _ = _timed_sweep(tiny, tiny_grid, 0, 1, executor=client, out=os.path.join(tmp, "d"))
        finally:
            client.close()
            client.cluster.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
          f"Python {platform.python_version()}, NumPy {__import__('numpy').__version__}, "
          f"Numba {numba.__version__}, dask {__import__('distributed').__version__}; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"Command: python benchmarks/bench_sweeps.py{' --quick' if args.quick else ''}\n")
    print(f"Sweep: Figure-3 configuration (n = K = 30, k = 10, T = 80), {n_p} cells x {reps} replicates\n")
    print("| executor | threads | wall (s) | replicates/s |")
    print("|---|---|---:|---:|")
    for name, threads, wall, n in rows:
        print(f"| {name} | {threads} | {wall:.2f} | {n / wall:.0f} |")
    print(f"\nDask cluster start-up: {startup:.1f} s; first cells (workers load the kernels "
          f"from the disk cache): {warm:.1f} s (not in the table)\n")
    per = lambda t: t / n_tiny * 1e3  # noqa: E731
    print(f"Cost per cell beyond the simulation ({n_tiny} trivial cells):\n")
    print("| run | ms per cell |")
    print("|---|---:|")
    print(f"| in-process, no store | {per(t_ip_bare):.2f} |")
    print(f"| in-process, Parquet store | {per(t_ip_store):.2f} |")
    print(f"| Dask, {args.workers} workers, Parquet store | {per(t_d_store):.2f} |")
    print(f"\nParquet store per cell: {per(t_ip_store - t_ip_bare):.2f} ms; Dask overhead per cell "
          f"(beyond the in-process run with the store): {per(t_d_store - t_ip_store):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

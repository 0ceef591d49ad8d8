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
2. the cost per cell beyond the simulation, on trivial cells (n = 2, T = 0,
   one replicate): the task alone (``run_cell`` called in this process); the
   same task sent to the Dask cluster and awaited one at a time (the
   difference is Dask's round trip per cell: submit, schedule, run remotely,
   send the result back); whole sweeps of such cells in-process without and
   with the Parquet store (the driver's table building and the store's write
   per cell), and on the Dask cluster with the store (cells per second one
   driver sustains).
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
    import numpy as np
    import pandas as pd

    import gmmproxy
    from gmmproxy._seeding import seed_record
    from gmmproxy.sweeps import local_dask_client
    from gmmproxy.sweeps._worker import run_cell

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
        specs = [{"config": tiny.replace(sigma=v).to_dict(), "steps": 0, "replicates": 1,
                  "seed": seed_record(np.random.SeedSequence(i)), "n_threads": 1, "record_n_silos": False}
                 for i, v in enumerate(tiny_grid["sigma"])]
        t0 = time.perf_counter()
        for spec in specs:
            run_cell(spec)
        t_task = time.perf_counter() - t0
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
            t0 = time.perf_counter()
            for spec in specs:
                client.submit(run_cell, spec, pure=False).result()
            t_d_serial = time.perf_counter() - t0
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
    print(f"| the task alone (run_cell in this process) | {per(t_task):.2f} |")
    print(f"| the task on Dask, one at a time | {per(t_d_serial):.2f} |")
    print(f"| sweep in-process, no store | {per(t_ip_bare):.2f} |")
    print(f"| sweep in-process, Parquet store | {per(t_ip_store):.2f} |")
    print(f"| sweep on Dask ({args.workers} workers), Parquet store | {per(t_d_store):.2f} |")
    print(f"\nDask round trip per cell: {per(t_d_serial - t_task):.2f} ms; driver's table per cell: "
          f"{per(t_ip_bare - t_task):.2f} ms; Parquet write per cell: {per(t_ip_store - t_ip_bare):.2f} ms; "
          f"one driver with {args.workers} Dask workers sustains {n_tiny / t_d_store:.0f} cells/s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

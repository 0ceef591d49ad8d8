"""Populations of 10^4 to 10^6 agents on sparse communication graphs: CPU time per update and peak memory.

Usage::

    python benchmarks/bench_scale.py --quick                      # n = 10^4, 10^5, 10^6; a few minutes
    python benchmarks/bench_scale.py --plot docs/img/performance-cost-vs-n.png   # + the cost-vs-n curves
    python benchmarks/bench_scale.py --quick --sizes 100000 --ref 28f385b      # this tree against a commit

Each population size runs in a **child process** (so that its peak resident memory,
``resource.getrusage(RUSAGE_SELF).ru_maxrss``, is its own): it draws a directed Erdos-Renyi graph
of mean out-degree 10 with ``gmmproxy.topology.random_graph`` (O(n * degree), seeded; no dense
array), builds ``SimulationConfig(n_agents=n, n_components=30, p_mirror=0, graph=...)`` with the
graph as a ``scipy.sparse`` array, loads the compiled kernel on a tiny run, then times
``simulate(..., record="metrics")`` with ``time.thread_time`` (CPU time of the one thread that runs it;
``process_time`` would also count OpenBLAS worker threads spinning after a matrix product). The
cost per update is (time of T rounds - time of 0 rounds) / (T n): the set-up (initial RAG,
densities) is left out. Two partner rules: any allowed neighbour (k = n - 1) and the 5 nearest
allowed neighbours in weight space (k = 5, distances to the ~10 neighbours only).

``--plot`` adds the cost per update against n for the dense kNN path (k = 10: a heap pass over
the other agents, distances per pair of distinct weight rows), unrestricted partners and the
sparse-graph path, and draws it.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

K = 30
DEGREE = 10


def _cpu_per_update(cfg, steps: int, repeats: int) -> float:
    """Best CPU µs per agent update over ``repeats`` runs, the set-up of a 0-round run subtracted."""
    import gmmproxy

    def best(T):
        b = np.inf
        for s in range(repeats):
            t0 = time.thread_time()
            gmmproxy.simulate(cfg, steps=T, seed=s, record="metrics")
            b = min(b, time.thread_time() - t0)
        return b

    setup = best(0)
    return (best(steps) - setup) / (steps * cfg.n_agents) * 1e6


def child(n: int, steps: int, repeats: int, n_neighbors) -> dict:
    """One population size, in this (child) process: timings and peak memory as a dict."""
    import resource

    import gmmproxy
    from gmmproxy.topology import random_graph

    # compile or load the variant on a tiny population first (its memory is negligible)
    tiny = gmmproxy.SimulationConfig(n_agents=100, n_components=K, p_mirror=0.0, n_neighbors=n_neighbors,
                                     graph=random_graph(100, DEGREE, seed=1))
    gmmproxy.simulate(tiny, steps=1, seed=0, record="metrics")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.process_time()
    graph = random_graph(n, DEGREE, seed=2026)
    t_graph = time.process_time() - t0
    t0 = time.process_time()
    cfg = gmmproxy.SimulationConfig(n_agents=n, n_components=K, p_mirror=0.0, n_neighbors=n_neighbors, graph=graph)
    t_cfg = time.process_time() - t0
    us = _cpu_per_update(cfg, steps, repeats)
    return {"n": n, "k": n_neighbors, "steps": steps, "us_per_update": us, "graph_s": t_graph, "config_s": t_cfg,
            "mean_degree": cfg.graph.mean_degree, "edges": int(cfg.graph.nnz.sum()),
            "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "rss_after_compile": rss0}


def run_child(n: int, steps: int, repeats: int, n_neighbors, root: str | None = None) -> dict:
    """One population size in a fresh interpreter; ``root``: import gmmproxy from there instead."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", str(n), "--steps", str(steps),
           "--repeats", str(repeats)]
    if n_neighbors is not None:
        cmd += ["--k", str(n_neighbors)]
    env = dict(os.environ)
    if root is not None:
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def before_after(ref: str, sizes: list, quick: bool) -> None:
    """This tree against commit ``ref`` (exported with git archive), children alternating old/new."""
    import tempfile

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", repo, "archive", ref, "gmmproxy"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        print(f"\nBefore/after: commit {ref} against this tree, fresh child processes alternating "
              "(old, new, old, new, old, new); best CPU µs per update of each\n")
        print(f"| n | partners | {ref} | this tree | speed-up |")
        print("|---|---|---:|---:|---:|")
        for n in sizes:
            steps = max(2, int((3e6 if quick else 1e7) // n))
            for k in (None, 5):
                old, new = [], []
                for _ in range(3):
                    old.append(run_child(n, steps, 1, k, root=tmp)["us_per_update"])
                    new.append(run_child(n, steps, 1, k)["us_per_update"])
                who = "k = n - 1" if k is None else "k = 5"
                print(f"| {n:,} | {who} | {min(old):.2f} | {min(new):.2f} | {min(old) / min(new):.2f}x |",
                      flush=True)


def curves(quick: bool) -> dict:
    """Cost per update against n for the three partner paths (in this process)."""
    import gmmproxy
    from gmmproxy.topology import random_graph

    C = gmmproxy.SimulationConfig
    dense_ns = [30, 100, 300, 1000] + ([] if quick else [3000])
    unres_ns = [30, 100, 300, 1000, 10_000, 100_000]
    sparse_ns = [100, 300, 1000, 10_000, 100_000, 1_000_000]
    out = {"kNN": {}, "unrestricted": {}, "sparse": {}}
    rep = 2 if quick else 3

    def steps_for(n, work=3e5):
        return int(max(3, min(300, work // n)))

    for n in dense_ns:
        out["kNN"][n] = _cpu_per_update(C(n_agents=n, n_components=K, p_mirror=0.0, n_neighbors=10),
                                        max(3, int(3e4 // n)), rep)
    for n in unres_ns:
        out["unrestricted"][n] = _cpu_per_update(C(n_agents=n, n_components=K, p_mirror=0.0), steps_for(n), rep)
    for n in sparse_ns:
        cfg = C(n_agents=n, n_components=K, p_mirror=0.0, graph=random_graph(n, DEGREE, seed=2026))
        out["sparse"][n] = _cpu_per_update(cfg, steps_for(n, 3e5 if n < 10**6 else 3e6), rep)
    return out


def print_curves(cv: dict) -> None:
    """The cost-per-update-against-n curves of :func:`curves` as a markdown table."""
    print("\n| n | kNN k = 10 | unrestricted | sparse graph, degree 10 |")
    print("|---:|---:|---:|---:|")
    for n in sorted(set(cv["kNN"]) | set(cv["unrestricted"]) | set(cv["sparse"])):
        cell = lambda key: f"{cv[key][n]:.2f} µs" if n in cv[key] else ""  # noqa: E731
        print(f"| {n:,} | {cell('kNN')} | {cell('unrestricted')} | {cell('sparse')} |")


def plot(cv: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.2, 4.0))
    styles = {"kNN": ("k nearest in weight space (k = 10)", "o", "C0"),
              "unrestricted": ("unrestricted partners (k = n - 1)", "s", "C1"),
              "sparse": ("sparse graph of mean degree 10 (scipy.sparse, CSR)", "^", "C2")}
    for key, (label, marker, color) in styles.items():
        ns = sorted(cv[key])
        ax.loglog(ns, [cv[key][n] for n in ns], marker=marker, color=color, label=label)
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    # labelled ticks at 0.5, 1, 2, 5, 10 µs: a reader can read values off the log axis
    lo = min(min(v.values()) for v in cv.values())
    hi = max(max(v.values()) for v in cv.values())
    ticks = [t for t in (0.2, 0.5, 1, 2, 5, 10, 20, 50) if lo / 2 <= t <= hi * 2]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("number of agents n")
    ax.set_ylabel("CPU time per agent update (µs)")
    ax.set_title(f"Cost per update against n (K = {K}, r = 5, p = 0, 1 thread)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    # the key below the axes: never over the data
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), frameon=False, fontsize=8.5, ncol=1)
    fig.tight_layout()
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), "." + os.path.basename(path) + ".part.png")
    fig.savefig(tmp, dpi=130, bbox_inches="tight")
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer rounds and repetitions")
    ap.add_argument("--plot", metavar="PNG", help="also measure the three cost-vs-n curves and draw them here")
    ap.add_argument("--sizes", default="10000,100000,1000000", help="population sizes, comma-separated")
    ap.add_argument("--ref", metavar="COMMIT", help="only compare this tree with an earlier commit (alternating)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--k", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.steps, args.repeats, args.k)))
        return
    if args.plot:
        parent = os.path.dirname(os.path.abspath(args.plot))
        if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
            ap.error(f"--plot: folder {parent} does not exist or is not writable")
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
        if any(s < 100 for s in sizes):
            raise ValueError
    except ValueError:
        ap.error(f"--sizes must be integers >= 100, comma-separated; got {args.sizes!r}")
    import numba

    load = os.getloadavg()
    print(f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
          f"{os.cpu_count()} logical cores; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start; "
          f"Python {platform.python_version()}, NumPy {np.__version__}, Numba {numba.__version__}; command: "
          f"python benchmarks/bench_scale.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    if args.ref:
        before_after(args.ref, sizes, args.quick)
        print(f"\nload average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        return
    print()
    print(f"Directed Erdos-Renyi graph, mean out-degree {DEGREE}, K = {K}, r = 5, p = 0; CPU µs per update "
          "(set-up excluded); peak RSS of the child process")
    print()
    print("| n | partners | rounds | µs per update | peak memory | graph drawn in | config built in |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for n in sizes:
        steps = max(2, int((3e6 if args.quick else 1e7) // n))
        for k in (None, 5):
            r = run_child(n, steps, 2 if args.quick else 3, k)
            who = "any neighbour (k = n - 1)" if k is None else "5 nearest neighbours (k = 5)"
            print(f"| {n:,} | {who} | {steps} | **{r['us_per_update']:.2f}** | {r['peak_rss'] / 2**30:.2f} GiB | "
                  f"{r['graph_s']:.1f} s | {r['config_s']:.1f} s |", flush=True)
    print(f"\nload average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.plot:
        cv = curves(args.quick)
        print_curves(cv)
        plot(cv, args.plot)
        print(f"\nwrote {args.plot}; load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()

"""Benchmark of the batched calibration kernel: one evaluation of 8 conditions x 16 replicates.

    python benchmarks/bench_calibration.py                       # markdown table on stdout
    python benchmarks/bench_calibration.py --repeats 3
    python benchmarks/bench_calibration.py --ref d114a7f         # this tree against an earlier commit
    python benchmarks/bench_calibration.py --ref d114a7f --threads 2   # the same, wall time on 2 threads
    python benchmarks/bench_calibration.py --draws 40             # also: over draws of the posterior and the prior

One *evaluation* is what an ABC particle costs: the 8 flower conditions
(p in {0.2, 0.7} x k in {1, 5, 15, 25}, n = 30, T = 80 steps) with 16
replicates each, in one call of the batched kernel (128 jobs, 307,200 agent
updates at one round per step). Measured at four parameter sets:

* label copying (answer from current weights, r = 1, sigma = 0.15, tau = 1);
* the same with tau = 1.5 (two rounds per step, activation 0.75);
* the posterior medians of the shipped calibration (r = 1, sigma 0.114, tau 1.5,
  p exponent 0.866; two rounds per step, activation 0.75);
* the paper's proxy (pseudo-updated answers, r = 5, sigma = 0.2).

Reports the best wall time over ``--repeats`` runs on all Numba threads and
on one thread, the process CPU time, and the load average (other processes
on a shared machine inflate wall times; the CPU time is the comparable
number). With ``--ref COMMIT`` the package at that commit is exported with
``git archive`` and both trees run the cases in fresh single-threaded
interpreters, alternately (old, new, old, new), so a busy machine slows
both alike; the table gives the best CPU time of each on one thread, or
with ``--threads N`` the best wall time on N threads.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CASES = {
    "label copying, r = 1, sigma = 0.15, tau = 1":
        ("current", {"sigma": 0.15, "rag_size": 1, "time_scale": 1.0, "p_exponent": 1.0}),
    "label copying, r = 1, sigma = 0.15, tau = 1.5":
        ("current", {"sigma": 0.15, "rag_size": 1, "time_scale": 1.5, "p_exponent": 1.0}),
    "calibrated medians, r = 1, sigma = 0.114, tau = 1.5, p exponent 0.866":
        ("current", {"sigma": 0.114, "rag_size": 1, "time_scale": 1.5, "p_exponent": 0.866}),
    "paper's proxy, r = 5, sigma = 0.2": ("baseline", {}),
}


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


def _draws(n, seed=0):
    """Wall times (ms, all threads) of one evaluation at n posterior and n prior draws of the shipped fit.

    Posterior draws are weighted draws of ``docs/calibration-report/posterior.csv``;
    prior draws come from the default model's priors. Each parameter set is
    evaluated once (one evaluation, not a best of several), so the spread
    shows how the cost depends on the parameters.
    """
    import pandas as pd

    from gmmproxy.bridge.calibration.batch import Geometry
    from gmmproxy.bridge.calibration.model import Condition, ProxyModel
    from gmmproxy.bridge.calibration.simulator import simulate_silos

    model = ProxyModel()
    conds = [Condition(p, k, 30, 80) for p in (0.2, 0.7) for k in (1, 5, 15, 25)]
    g = Geometry(30)
    rng = np.random.default_rng(seed)
    prior = model.sample_prior(n, rng)
    post = pd.read_csv(os.path.join(_REPO, "docs", "calibration-report", "posterior.csv"))
    rows = rng.choice(len(post), n, p=post["weight"] / post["weight"].sum())
    sets = {"posterior draws of the shipped fit": [{f: float(post[f].iloc[i]) for f in model.free} for i in rows],
            "prior draws (the first ABC generation)": [{f: float(prior[f][i]) for f in model.free}
                                                       for i in range(n)]}
    simulate_silos(model, [sets["posterior draws of the shipped fit"][0]], conds, 16, g, 0)  # compile / load
    out = {}
    for label, thetas in sets.items():
        t = []
        for s, theta in enumerate(thetas):
            t0 = time.perf_counter()
            simulate_silos(model, [theta], conds, 16, g, s + 1)
            t.append(time.perf_counter() - t0)
        out[label] = np.array(t) * 1e3
    return out


def _model(kind):
    from gmmproxy.bridge.calibration.model import BASELINE, ProxyModel

    return BASELINE if kind == "baseline" else ProxyModel()


_CHILD = """
import json, sys
sys.path.insert(0, {root!r})
sys.path.insert(0, {bench!r})
import numba
numba.set_num_threads({threads})
import gmmproxy
assert gmmproxy.__file__.startswith({root!r}), gmmproxy.__file__
import bench_calibration as b
out = {{}}
for name, (kind, theta) in b.CASES.items():
    out[name] = b._evaluation(theta, b._model(kind), {repeats})
print(json.dumps(out))
"""


def _child(root, repeats, threads=1):
    code = _CHILD.format(root=root, bench=os.path.join(_REPO, "benchmarks"), repeats=repeats, threads=threads)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def before_after(ref, repeats, rounds=2, threads=1):
    """Best (wall, CPU) ms per case of the tree at ``ref`` and of this tree on ``threads`` threads, run alternately."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", _REPO, "archive", ref, "gmmproxy"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        best = {"old": {}, "new": {}}
        for _ in range(rounds):
            for label, root in (("old", tmp), ("new", _REPO)):
                for name, (wall, cpu) in _child(root, repeats, threads).items():
                    w0, c0 = best[label].get(name, (np.inf, np.inf))
                    best[label][name] = (min(w0, wall), min(c0, cpu))
    return best


def main(argv=None):
    import numba

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--ref", default=None, help="earlier commit to compare with (alternating runs)")
    ap.add_argument("--threads", type=int, default=1,
                    help="with --ref: Numba threads of both trees (1: compare CPU time; more: compare wall time)")
    ap.add_argument("--rounds", type=int, default=2, help="with --ref: alternations (old, new) of fresh interpreters")
    ap.add_argument("--draws", type=int, default=0,
                    help="also time one evaluation at this many posterior and prior draws (all threads)")
    args = ap.parse_args(argv)
    threads = numba.get_num_threads()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, Numba {numba.__version__}; load average before: {os.getloadavg()[0]:.1f}")
    print()
    if args.ref:
        best = before_after(args.ref, args.repeats, args.rounds, args.threads)
        # one thread: the CPU time is the comparable number; more threads: the wall time is the point
        col, what = (1, "CPU time, 1 thread") if args.threads == 1 else (0, f"wall time, {args.threads} threads")
        print(f"| one evaluation (8 conditions x 16 replicates), {what} | {args.ref} | this tree | speed-up |")
        print("|---|---|---|---|")
        for name in CASES:
            old, new = best["old"][name][col], best["new"][name][col]
            print(f"| {name} | {old:.0f} ms | {new:.0f} ms | {old / new:.2f}x |")
    else:
        print(f"| one evaluation (8 conditions x 16 replicates) | wall, {threads} threads | CPU | wall, 1 thread |")
        print("|---|---|---|---|")
        for label, (kind, theta) in CASES.items():
            numba.set_num_threads(threads)
            wall, cpu = _evaluation(theta, _model(kind), args.repeats)
            numba.set_num_threads(1)
            wall1, _ = _evaluation(theta, _model(kind), args.repeats)
            numba.set_num_threads(threads)
            print(f"| {label} | {wall:.0f} ms | {cpu:.0f} ms | {wall1:.0f} ms |")
    if args.draws:
        print()
        print(f"| one evaluation, {threads} threads, at {args.draws} parameter sets | mean | median | 90% | max |")
        print("|---|---|---|---|---|")
        for label, t in _draws(args.draws).items():
            print(f"| {label} | {t.mean():.0f} ms | {np.median(t):.0f} ms | {np.percentile(t, 90):.0f} ms | "
                  f"{t.max():.0f} ms |")
    print()
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

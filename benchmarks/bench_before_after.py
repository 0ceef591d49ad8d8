"""Per-update cost of the Numba engine in this tree against an earlier commit, measured alternately.

    python benchmarks/bench_before_after.py --ref 5772788            # the engine before issue 10
    python benchmarks/bench_before_after.py --ref 5772788 --quick

The earlier package is exported with ``git archive`` into a temporary folder;
both engines run the same configurations in fresh interpreters, alternating
(old, new, old, new, ...) so that a busy machine slows both alike; each value
is the best CPU time of the calling thread (``time.thread_time``) over all
runs, single thread, kernels warm (``time.process_time`` would also count
OpenBLAS's worker threads spinning after a matrix product). The cost per
agent update is the marginal one (a run minus a one-round call, divided by
the extra updates), so the fixed cost of a call
(validation, allocation, seeding), reported in its own column, does not
masquerade as per-update cost in short runs. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CASES = {
    "Figure-2 config (n = K = 30, p = 0.4, k = 29)": ("dict()", 600),
    "n = 30, k = 10, p = 0 (kNN)": ("dict(p_mirror=0.0, n_neighbors=10)", 600),
    "n = 1000, k = 10, p = 0": ("dict(n_agents=1000, n_components=30, p_mirror=0.0, n_neighbors=10)", 8),
    "n = 1000, k = 999, p = 0": ("dict(n_agents=1000, n_components=30, p_mirror=0.0)", 8),
    "K = 300, n = 30": ("dict(n_components=300)", 200),
    "Algorithm 2, Figure-10 config": ("dict(update_covariances=True)", 100),
}

_CODE = """
import json, sys, time
sys.path.insert(0, {root!r})
import gmmproxy
assert gmmproxy.__file__.startswith({root!r}), gmmproxy.__file__
cases = {cases!r}
scale = {scale!r}
out = {{}}


def best(cfg, steps, reps):
    b = float("inf")
    for s in range(reps):
        t0 = time.thread_time()
        gmmproxy.simulate(cfg, steps=steps, seed=s, record="metrics")
        b = min(b, time.thread_time() - t0)
    return b


for name, (kw, steps) in cases.items():
    cfg = gmmproxy.SimulationConfig(**eval(kw))
    steps = max(4, int(steps * scale))
    gmmproxy.simulate(cfg, steps=2, seed=0, record="metrics")
    setup = best(cfg, 1, 7)
    full = best(cfg, steps, 3)
    # marginal cost of an update (the run minus a one-round call), and the fixed cost of a call
    out[name] = [(full - setup) / ((steps - 1) * cfg.n_agents) * 1e6, setup * 1e3]
print(json.dumps(out))
"""


def _measure(root: str, scale: float, env: dict, cases: dict) -> dict:
    code = _CODE.format(root=root, cases=cases, scale=scale)
    res = subprocess.run([sys.executable, "-P", "-c", code], env=env, capture_output=True, text=True, cwd=root)
    if res.returncode != 0:
        raise SystemExit(f"measuring the engine in {root} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", required=True, help="git commit of the earlier engine")
    ap.add_argument("--rounds", type=int, default=2, help="alternations (default 2)")
    ap.add_argument("--quick", action="store_true", help="a third of the steps")
    ap.add_argument("--scale", type=float, default=None,
                    help="multiply every run's steps by this (e.g. 5: longer runs, less noise per update)")
    ap.add_argument("--only", default=None,
                    help="measure only the configurations whose name contains this text (e.g. 'k = 10')")
    args = ap.parse_args(argv)
    cases = {k: v for k, v in CASES.items() if args.only is None or args.only in k}
    if not cases:
        ap.error(f"--only {args.only!r} matches no configuration; names: {list(CASES)}")
    if args.scale is not None and not args.scale > 0:
        ap.error(f"--scale must be > 0; got {args.scale}")
    scale = args.scale if args.scale is not None else (1 / 3 if args.quick else 1.0)
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", _REPO, "archive", args.ref, "gmmproxy"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env_old = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}  # old code caches in tmp
        best_old: dict = {}
        best_new: dict = {}
        for _ in range(args.rounds):
            for root, env, best in ((tmp, env_old, best_old), (_REPO, dict(os.environ), best_new)):
                for k, (upd, call) in _measure(root, scale, env, cases).items():
                    o = best.get(k, (float("inf"), float("inf")))
                    best[k] = (min(o[0], upd), min(o[1], call))
    head = subprocess.run(["git", "-C", _REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    print(f"load average {os.getloadavg()[0]:.1f}; steps x {scale:.3g}; best CPU time over {args.rounds} alternations; per update = "
          f"(a run - a one-round call) / updates; per call = a one-round call")
    print()
    print(f"| configuration | per update {args.ref} | per update {head} (this tree) | ratio | "
          f"per call {args.ref} | per call {head} |")
    print("|---|---|---|---|---|---|")
    for name in cases:
        (uo, co), (un, cn) = best_old[name], best_new[name]
        print(f"| {name} | {uo:.3f} µs | {un:.3f} µs | {uo / un:.2f}x | {co:.2f} ms | {cn:.2f} ms |")

if __name__ == "__main__":
    main()

"""Per-update cost of the Numba engine in this tree against an earlier commit, measured alternately.

    python benchmarks/bench_before_after.py --ref 5772788            # the engine before issue 10
    python benchmarks/bench_before_after.py --ref 5772788 --quick

The earlier package is exported with ``git archive`` into a temporary folder;
both engines run the same configurations in fresh interpreters, alternating
(old, new, old, new, ...) so that a busy machine slows both alike; each value
is the best CPU time (``time.process_time``) per agent update over all runs,
single thread, kernels warm. Prints a markdown table.
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
for name, (kw, steps) in cases.items():
    cfg = gmmproxy.SimulationConfig(**eval(kw))
    steps = max(2, int(steps * scale))
    gmmproxy.simulate(cfg, steps=2, seed=0, record="metrics")
    best = float("inf")
    for s in range(3):
        t0 = time.process_time()
        gmmproxy.simulate(cfg, steps=steps, seed=s, record="metrics")
        best = min(best, time.process_time() - t0)
    out[name] = best / (steps * cfg.n_agents) * 1e6
print(json.dumps(out))
"""


def _measure(root: str, scale: float, env: dict) -> dict:
    code = _CODE.format(root=root, cases=CASES, scale=scale)
    res = subprocess.run([sys.executable, "-P", "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=root)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", required=True, help="git commit of the earlier engine")
    ap.add_argument("--rounds", type=int, default=2, help="alternations (default 2)")
    ap.add_argument("--quick", action="store_true", help="a third of the steps")
    args = ap.parse_args(argv)
    scale = 1 / 3 if args.quick else 1.0
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", _REPO, "archive", args.ref, "gmmproxy"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env_old = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}  # old code caches in tmp
        best_old: dict = {}
        best_new: dict = {}
        for _ in range(args.rounds):
            for root, env, best in ((tmp, env_old, best_old), (_REPO, dict(os.environ), best_new)):
                for k, v in _measure(root, scale, env).items():
                    best[k] = min(best.get(k, float("inf")), v)
    head = subprocess.run(["git", "-C", _REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    print(f"load average {os.getloadavg()[0]:.1f}; best CPU µs per update over {args.rounds} alternations")
    print()
    print(f"| configuration | {args.ref} | {head} (this tree) | ratio |")
    print("|---|---|---|---|")
    for name in CASES:
        print(f"| {name} | {best_old[name]:.3f} µs | {best_new[name]:.3f} µs | {best_old[name] / best_new[name]:.2f}x |")


if __name__ == "__main__":
    main()

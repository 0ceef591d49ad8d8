"""First use of the calibration kernel: CPU time of one ``simulate_batch`` call with an empty Numba cache.

    python benchmarks/bench_calibration_first_use.py                         # this tree, 2 runs
    python benchmarks/bench_calibration_first_use.py --ref 2dc68e9 --rounds 2   # old and new alternately

Each run is a fresh interpreter with a new, empty ``NUMBA_CACHE_DIR``; it
imports the package, then times (``time.process_time``) one small
``simulate_batch`` call, which compiles the batched kernel (what a user's first
``gmmproxy calibrate fit``, ``predict`` or ``validate`` pays). With ``--ref``
the package at that commit is exported with ``git archive`` and the two trees
run alternately, so a busy machine slows both alike. Prints each run and the
best of each tree, with the load average.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from gmmproxy.bridge.calibration.batch import Geometry, simulate_batch
t0 = time.process_time()
simulate_batch(Geometry(10), 5, p_mirror=0.3, n_neighbors=3, sigma=0.1, rag_size=1, seed=0)
print(time.process_time() - t0)
"""


def _one(root: str) -> float:
    with tempfile.TemporaryDirectory(prefix="gmmproxy-bench-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = subprocess.run([sys.executable, "-c", _CHILD.format(root=root)], env=env, check=True,
                             capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", help="earlier commit to compare with (alternating runs)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    trees = [("this tree", _REPO)]
    with tempfile.TemporaryDirectory(prefix="gmmproxy-bench-ref-") as ref_dir:
        if args.ref:
            archive = subprocess.run(["git", "-C", _REPO, "archive", args.ref, "gmmproxy"], check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", ref_dir], input=archive, check=True)
            trees.insert(0, (args.ref, ref_dir))
        best = {name: float("inf") for name, _ in trees}
        for r in range(args.rounds):
            for name, root in trees:
                t = _one(root)
                best[name] = min(best[name], t)
                print(f"round {r + 1}: {name}: {t:.1f} s CPU", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print("best: " + ", ".join(f"{name} {t:.1f} s" for name, t in best.items()))


if __name__ == "__main__":
    main()

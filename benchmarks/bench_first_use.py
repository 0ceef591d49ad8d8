"""First-use (empty Numba cache) CPU time of the console commands, this tree against an earlier commit.

    python benchmarks/bench_first_use.py                     # this tree only
    python benchmarks/bench_first_use.py --ref 0b62d52       # old and new alternately, same window
    python benchmarks/bench_first_use.py --ref 0b62d52 --rounds 2 --rows simulate,montecarlo

Each row runs a ``gmmproxy`` command in a fresh interpreter whose
``NUMBA_CACHE_DIR`` is a new, empty folder, and reports the CPU time (user +
system) of that child process: on a shared machine CPU time, not wall time,
is what to compare. The "further code path" rows run in the cache the
``simulate`` row has just filled, so they measure what that code path
compiles beyond the default kernels. With ``--ref`` the earlier package is
exported with ``git archive`` into a temporary folder and the two trees run
alternately (old, new, old, new, ...) so that a busy machine slows both
alike; each value is the best over ``--rounds`` alternations. Before timing,
each tree is imported once so that Python's bytecode cache is warm (the
first import of an unpacked archive would otherwise count against it).
Prints a markdown table with the load average.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: (row name, command arguments, cache: "fresh" or the name of the row whose cache it reuses)
ROWS = {
    "simulate": ("`gmmproxy simulate`, empty cache", ["simulate"], "fresh"),
    "replicates": ("`gmmproxy simulate --replicates 100`, empty cache",
                   ["simulate", "--replicates", "100", "--no-progress"], "fresh"),
    "montecarlo": ("`gmmproxy theory montecarlo --replicates 1000`, empty cache",
                   ["theory", "montecarlo", "--replicates", "1000"], "fresh"),
    "covariances": ("further path, defaults cached: `--update-covariances --steps 20`",
                    ["simulate", "--update-covariances", "--steps", "20"], "simulate"),
    "neighbors": ("further path, defaults cached: `--neighbors 10`", ["simulate", "--neighbors", "10"], "simulate"),
    "graph": ("further path, defaults cached: `--graph ring.npy` (ring of 30, sparse path)",
              ["simulate", "--graph", "{graph}", "--steps", "20"], "simulate"),
    "cached": ("`gmmproxy simulate`, kernels cached", ["simulate"], "simulate"),
}

_MAIN = "import sys; sys.path.insert(0, {root!r}); from gmmproxy.cli import main; sys.argv[0] = 'gmmproxy'; main()"


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_command(root: str, args: list[str], cache: str, cwd: str) -> float:
    """CPU seconds (user + system) of ``gmmproxy args`` from the package in ``root``, caching into ``cache``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    c0 = _child_cpu()
    subprocess.run([sys.executable, "-P", "-c", _MAIN.format(root=root), *args], env=env, cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return _child_cpu() - c0


def ring_graph_file(tmp: str, n: int = 30) -> str:
    """A ring of ``n`` agents (each talks to its two neighbours) saved as ``.npy``: mean degree 2, the sparse path."""
    import numpy as np

    g = np.zeros((n, n), dtype=bool)
    for i in range(n):
        g[i, (i - 1) % n] = g[i, (i + 1) % n] = True
    path = os.path.join(tmp, "ring.npy")
    np.save(path, g)
    return path


def measure_tree(root: str, rows: list[str], tmp: str) -> dict:
    """One pass over ``rows`` for the tree in ``root``, each with its own new cache folder(s)."""
    graph = ring_graph_file(tmp)
    out = {}
    caches = {}
    for key in rows:
        _, args, cache = ROWS[key]
        args = [a.format(graph=graph) for a in args]
        if cache == "fresh":
            folder = tempfile.mkdtemp(dir=tmp)
            caches[key] = folder
        else:
            if cache not in caches:  # the row that fills it was not selected: fill it now, untimed
                caches[cache] = tempfile.mkdtemp(dir=tmp)
                run_command(root, ROWS[cache][1], caches[cache], tmp)
            folder = caches[cache]
        out[key] = run_command(root, args, folder, tmp)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", help="git commit of the earlier package to compare with (alternately)")
    ap.add_argument("--rounds", type=int, default=1, help="alternations (default 1)")
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated subset of {','.join(ROWS)}")
    args = ap.parse_args(argv)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    bad = [r for r in rows if r not in ROWS]
    if bad:
        ap.error(f"--rows: unknown row(s) {', '.join(bad)}; allowed: {', '.join(ROWS)}")
    if args.rounds < 1:
        ap.error(f"--rounds must be >= 1; got {args.rounds}")
    with tempfile.TemporaryDirectory() as tmp:
        trees = []
        if args.ref:
            old = os.path.join(tmp, "old")
            os.mkdir(old)
            archive = subprocess.run(["git", "-C", _REPO, "archive", args.ref, "gmmproxy", "theory"],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
            trees.append((args.ref, old))
        head = subprocess.run(["git", "-C", _REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        trees.append((f"{head} (this tree)", _REPO))
        for _, root in trees:  # warm Python's bytecode cache of each tree
            subprocess.run([sys.executable, "-P", "-c", _MAIN.format(root=root), "--help"], cwd=tmp, check=True,
                           stdout=subprocess.DEVNULL, env=dict(os.environ, NUMBA_CACHE_DIR=tmp))
        loads = [os.getloadavg()[0]]
        best: dict = {name: {} for name, _ in trees}
        for _ in range(args.rounds):
            for name, root in trees:
                for key, cpu in measure_tree(root, rows, tmp).items():
                    best[name][key] = min(best[name].get(key, float("inf")), cpu)
                loads.append(os.getloadavg()[0])
    print(f"load average {min(loads):.1f}-{max(loads):.1f}; CPU s (user + system) of the command, best of "
          f"{args.rounds}{' alternation(s)' if args.ref else ' run(s)'}")
    print()
    names = [name for name, _ in trees]
    print("| command | " + " | ".join(names) + (" | ratio |" if args.ref else ""))
    print("|---|" + "---|" * len(names) + ("---|" if args.ref else ""))
    for key in rows:
        vals = [best[name][key] for name in names]
        line = f"| {ROWS[key][0]} | " + " | ".join(f"{v:.1f} s" for v in vals) + " |"
        if args.ref:
            line += f" {vals[0] / vals[1]:.2f}x |"
        print(line)


if __name__ == "__main__":
    main()

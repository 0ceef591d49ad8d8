"""Figure 3: number of silos at T = 80 versus neighbourhood size k (p = 0).

50 replicates per k in {1, 2, 5, 10, 15, 20, 25, 27, 28, 29}; points jittered
by N(0, 0.1^2) on the y axis, black line = mean over replicates, grey band =
mean +- 5 SE (SE = sample sd / sqrt(50)), y from 0 to 10.5 -- as the paper.
The paper's runs were unseeded; this recipe uses seed 2025, and neighbourhood
size k runs ``simulate_many`` with seed ``replicate_seed(2025, k)`` (so a k's
replicates do not depend on which other k's are run).

    python -m experiments.figure3 --out docs/img/figure3.png
"""
from __future__ import annotations

import numpy as np

from experiments import Timer, base_config, check_count, make_parser, provenance, sub_seed

#: Spec Section 9, Figure 3: base set-up, p = 0, T = 80, 50 replicates per k.
CONFIG = {"p_mirror": 0.0}
NEIGHBORS = (1, 2, 5, 10, 15, 20, 25, 27, 28, 29)
STEPS = 80
REPLICATES = 50
SEED = 2025
YLIM = (0.0, 10.5)


def config(n_neighbors: int):
    """The ``SimulationConfig`` of one k of Figure 3."""
    return base_config(**CONFIG, n_neighbors=n_neighbors)


def run(neighbors=NEIGHBORS, replicates: int = REPLICATES, steps: int = STEPS, seed=SEED) -> dict:
    """Number of silos at the last round for every k and replicate.

    Parameters
    ----------
    neighbors : sequence of int
        Neighbourhood sizes k (each in [1, 29]).
    replicates : int, default 50
        Replicates per k.
    steps : int, default 80
        Rounds T.
    seed : int, default 2025
        Recipe seed; neighbourhood size k uses ``replicate_seed(seed, k)``.

    Returns
    -------
    dict
        ``values`` (m,) the k's, ``n_silos_final`` (m, R) number of silos at T,
        ``n_silos`` (m, R, T+1), ``wall_time``, ``params``.
    """
    import gmmproxy

    replicates = check_count("replicates", replicates)
    steps = check_count("steps", steps)
    ks = [int(k) for k in neighbors]
    if not ks:
        raise ValueError("neighbors must hold at least one k; got an empty sequence")
    out = []
    with Timer() as timer:
        for k in ks:
            ens = gmmproxy.simulate_many(config(k), steps=steps, replicates=replicates,
                                         seed=sub_seed(seed, k), record="metrics")
            out.append(np.asarray(ens.n_silos))
    n_silos = np.stack(out)
    return {"values": np.array(ks), "n_silos_final": n_silos[:, :, -1], "n_silos": n_silos,
            "wall_time": timer.elapsed,
            "params": {**CONFIG, "neighbors": ks, "replicates": replicates, "steps": steps,
                       "seed": seed}}


def table(result: dict) -> list[dict]:
    """Mean and standard error (ddof=1) of the number of silos at T, per k."""
    from gmmproxy.sweeps import sweep_summary

    s = sweep_summary(result["values"], result["n_silos_final"])
    return [{"k": int(k), "mean": float(m), "se": float(e), "n": int(n)}
            for k, m, e, n in zip(s["values"], s["mean"], s["se"], s["n"])]


def table_markdown(result: dict) -> str:
    """:func:`table` as a Markdown table."""
    rows = ["| k | mean silos at T | SE | replicates |", "|---|---|---|---|"]
    rows += [f"| {r['k']} | {r['mean']:.2f} | {r['se']:.3f} | {r['n']} |" for r in table(result)]
    return "\n".join(rows)


def plot(result: dict, path=None, provenance_info=None):
    """Figure-3 sweep plot."""
    from gmmproxy.plotting import plot_sweep

    p = result["params"]
    return plot_sweep(result["values"], result["n_silos_final"], xlabel="k (neighbours)",
                      ylabel=f"number of silos at T = {p['steps']}", ylim=YLIM,
                      title=f"Figure 3 (GMM proxy): p = 0, {p['replicates']} replicates per k",
                      seed=p["seed"], path=path, provenance=provenance_info)


def main(argv=None) -> int:
    parser = make_parser("figure3", __doc__.splitlines()[0], steps=STEPS, seed=SEED,
                         replicates=REPLICATES)
    args = parser.parse_args(argv)
    result = run(replicates=args.replicates, steps=args.steps, seed=args.seed)
    prov = provenance("figure3", result["params"], args.seed, result["wall_time"])
    plot(result, args.out, prov)
    print(f"figure3: {args.out}  run {result['wall_time']:.1f} s")
    print(table_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Figure 2: silo membership and silo sizes over time (p = 0.4, k = 29, T = 100).

The paper's left column (the GMM proxy). Seed 618327487 is the authors'; with
the default ``engine="reference"`` (NumPy, the authors' random-number order)
the run is theirs bit for bit: N(t) at t = 0, 10, ..., 100 is
30, 16, 12, 8, 7, 6, 4, 3, 2, 2, 2 and exactly two silos remain from t = 75.
``engine="numba"`` runs the fast simulator (own generator: same law, a
different sample path).

    python -m experiments.figure2 --out docs/img/figure2.png
"""
from __future__ import annotations

from experiments import Timer, base_config, check_count, make_parser, provenance, run_silos

#: Spec Section 9, Figure 2: base set-up, p = 0.4, k = 29 (no neighbourhood
#: restriction), T = 100, one run with the authors' seed.
CONFIG = {"p_mirror": 0.4, "n_neighbors": 29}
STEPS = 100
SEED = 618327487
#: N(t) at t = 0, 10, ..., 100 of the authors' run (spec Section 9, checks).
PUBLISHED_N_SILOS = (30, 16, 12, 8, 7, 6, 4, 3, 2, 2, 2)


def config():
    """The ``SimulationConfig`` of Figure 2."""
    return base_config(**CONFIG)


def run(steps: int = STEPS, seed=SEED, engine: str = "reference") -> dict:
    """Run the Figure-2 simulation.

    Parameters
    ----------
    steps : int, default 100
        Rounds T.
    seed : int or SeedSequence, default 618327487 (the authors')
        Seed of the run.
    engine : {"reference", "numba"}
        ``"reference"`` reproduces the authors' run; ``"numba"`` is fast.

    Returns
    -------
    dict
        ``silos`` (T+1, n) int, ``n_silos`` (T+1,), ``wall_time`` (s), ``params``.
    """
    steps = check_count("steps", steps)
    from gmmproxy.metrics import n_silos

    with Timer() as timer:
        silos, _ = run_silos(config(), steps, seed, engine)
    return {"silos": silos, "n_silos": n_silos(silos), "wall_time": timer.elapsed,
            "params": {**CONFIG, "steps": steps, "seed": seed, "engine": engine}}


def plot(result: dict, path=None, provenance_info=None):
    """Figure-2 panels: membership (top), agents per silo (bottom)."""
    from gmmproxy.plotting import plot_silos

    p = result["params"]
    title = (f"Figure 2 (GMM proxy): p = {p['p_mirror']}, k = {p['n_neighbors']}, "
             f"seed {p['seed']} ({p['engine']} engine)")
    return plot_silos(result["silos"], title=title, path=path, provenance=provenance_info)


def main(argv=None) -> int:
    parser = make_parser("figure2", __doc__.splitlines()[0], steps=STEPS, seed=SEED)
    parser.add_argument("--engine", choices=("reference", "numba"), default="reference")
    args = parser.parse_args(argv)
    result = run(steps=args.steps, seed=args.seed, engine=args.engine)
    prov = provenance("figure2", result["params"], args.seed, result["wall_time"],
                      config=config().to_dict())
    plot(result, args.out, prov)
    ns = result["n_silos"]
    print(f"figure2: {args.out}  run {result['wall_time']:.1f} s; "
          f"N(t) at t=0,10,..: {ns[::10].tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

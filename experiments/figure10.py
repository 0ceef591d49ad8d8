"""Figure 10 (Appendix B): Algorithm 2, where agents also update their covariances.

Figure-2 set-up (p = 0.4, k = 29, r = 5, T = 100, initial sd 0.2, means fixed)
with each agent's component sds updated by one M-step per EM call (floored at
0.01). Left: silo membership; right: the largest of the 30 x 30 (agent,
component) sds at each t, on a log scale.

Seed 618327487 is the authors'. The default reference engine draws random
numbers in the authors' order and uses their numerical guards (spec Section
2.2), including the one that matters for Algorithm 2: a RAG point whose total
mixture density underflows float64 (common once sds shrink towards 0.01) is
left out of the M-step. So this is the authors' Algorithm-2 run bit for bit:
3 silos and a largest sd of 3.00 at t = 100 (spec Section 9). The authors'
*published* figure, however, came from a run their committed code does not
reproduce (one silo by t ~ 90, max sd at the floor), so the comparison with
the paper's picture is qualitative. ``--engine numba`` runs the same model
with the fast simulator's own random-number generator (another sample path).

    python -m experiments.figure10 --out docs/img/figure10.png
"""
from __future__ import annotations

import numpy as np

from experiments import Timer, base_config, check_count, make_parser, provenance, run_silos

#: Spec Section 9, Figure 10.
CONFIG = {"p_mirror": 0.4, "n_neighbors": 29, "update_covariances": True, "min_sd": 0.01}
STEPS = 100
SEED = 618327487


def config():
    """The ``SimulationConfig`` of Figure 10."""
    return base_config(**CONFIG)


def run(steps: int = STEPS, seed=SEED, engine: str = "reference") -> dict:
    """Run Algorithm 2.

    Returns
    -------
    dict
        ``silos`` (T+1, n), ``max_sd`` (T+1,) the largest component sd over
        all agents and components, ``n_silos`` (T+1,), ``wall_time``, ``params``.
    """
    from gmmproxy.metrics import n_silos

    steps = check_count("steps", steps)
    with Timer() as timer:
        silos, out = run_silos(config(), steps, seed, engine)
    cov = np.asarray(out.covariances)  # (T+1, n, K, d, d); d = 1 here
    variances = np.diagonal(cov, axis1=-2, axis2=-1)  # (T+1, n, K, d)
    max_sd = np.sqrt(variances.reshape(variances.shape[0], -1).max(axis=1))
    return {"silos": silos, "max_sd": max_sd, "n_silos": n_silos(silos),
            "wall_time": timer.elapsed,
            "params": {**CONFIG, "steps": steps, "seed": seed, "engine": engine}}


def plot(result: dict, path=None, provenance_info=None):
    """Membership (left) and max sd over time (right)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from gmmproxy.plotting import plot_silo_membership, save_figure

    fig = Figure(figsize=(11.0, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    plot_silo_membership(result["silos"], left, title="silo membership")
    sd = result["max_sd"]
    right.plot(np.arange(sd.size), sd, color="k", gid="max_sd")
    right.axhline(0.2, color="grey", linestyle=":", linewidth=1, label="initial sd 0.2")
    right.axhline(result["params"]["min_sd"], color="tab:red", linestyle="--", linewidth=1,
                  label=f"sd floor {result['params']['min_sd']:g}")
    right.set_xlim(0, sd.size - 1)
    # log scale: the sds range from the 0.01 floor to tens
    right.set_yscale("log")
    right.set_xlabel("t")
    right.set_ylabel("max sd over agents and components")
    right.legend(fontsize="small")
    p = result["params"]
    fig.suptitle(f"Figure 10 (Algorithm 2): p = {p['p_mirror']}, k = {p['n_neighbors']}, "
                 f"seed {p['seed']} ({p['engine']} engine)")
    if path is not None:
        save_figure(fig, path, provenance_info)
    return fig


def main(argv=None) -> int:
    parser = make_parser("figure10", __doc__.splitlines()[0], steps=STEPS, seed=SEED)
    parser.add_argument("--engine", choices=("reference", "numba"), default="reference")
    args = parser.parse_args(argv)
    result = run(steps=args.steps, seed=args.seed, engine=args.engine)
    prov = provenance("figure10", result["params"], args.seed, result["wall_time"],
                      config=config().to_dict())
    plot(result, args.out, prov)
    print(f"figure10: {args.out}  run {result['wall_time']:.1f} s; N(T) = {result['n_silos'][-1]}, "
          f"max sd at T = {result['max_sd'][-1]:.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

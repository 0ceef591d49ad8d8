"""Figure 6: with RAG size r = 10 every replicate collapses to a single silo.

Base set-up but r = 10, p = 0.2, k = 29, T = 200, 50 replicates. Left: silo
membership of replicate 0; right: share of the replicates that are in a single
silo at each t (the paper states that all 50 collapse by T). The paper's runs
were unseeded; this recipe uses seed 6 (``simulate_many(..., seed=6)``).

    python -m experiments.figure6 --out docs/img/figure6.png
"""
from __future__ import annotations

import numpy as np

from experiments import Timer, base_config, check_count, make_parser, provenance

#: Spec Section 9, Figure 6.
CONFIG = {"rag_size": 10, "p_mirror": 0.2, "n_neighbors": 29}
STEPS = 200
REPLICATES = 50
SEED = 6


def config():
    """The ``SimulationConfig`` of Figure 6."""
    return base_config(**CONFIG)


def run(replicates: int = REPLICATES, steps: int = STEPS, seed=SEED) -> dict:
    """Run the Figure-6 ensemble.

    Returns
    -------
    dict
        ``silos`` (R, T+1, n), ``n_silos`` (R, T+1), ``time_to_single_silo``
        (R,) (``metrics.NEVER`` = -1 when a replicate ends with > 1 silo),
        ``share_single`` (T+1,) share of replicates with one silo at t,
        ``wall_time``, ``params``.
    """
    import gmmproxy
    from gmmproxy.metrics import n_silos, time_to_single_silo

    replicates = check_count("replicates", replicates)
    steps = check_count("steps", steps)
    with Timer() as timer:
        ens = gmmproxy.simulate_many(config(), steps=steps, replicates=replicates, seed=seed,
                                     record="silos")
    silos = np.asarray(ens.silos)
    ns = n_silos(silos)
    return {"silos": silos, "n_silos": ns, "time_to_single_silo": time_to_single_silo(silos),
            "share_single": np.mean(ns == 1, axis=0), "wall_time": timer.elapsed,
            "params": {**CONFIG, "replicates": replicates, "steps": steps, "seed": seed}}


def plot(result: dict, path=None, provenance_info=None):
    """Membership of replicate 0 and the share of replicates in one silo."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from gmmproxy.metrics import NEVER
    from gmmproxy.plotting import plot_silo_membership, save_figure

    fig = Figure(figsize=(11.0, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    plot_silo_membership(result["silos"][0], left, title="replicate 0: silo membership")
    share = result["share_single"]
    right.plot(np.arange(share.size), share, color="k", gid="share_single")
    right.set_ylim(-0.02, 1.02)
    right.set_xlim(0, share.size - 1)
    right.set_xlabel("t")
    right.set_ylabel("share of replicates with one silo")
    tts = result["time_to_single_silo"]
    done = tts != NEVER
    R = tts.size
    note = f"{int(done.sum())} of {R} replicates end in a single silo"
    if done.any():
        note += f"\nt* (first t from which N = 1): median {np.median(tts[done]):.0f}, max {tts[done].max()}"
    right.set_title(note, fontsize="small")
    p = result["params"]
    fig.suptitle(f"Figure 6 (GMM proxy): r = {p['rag_size']}, p = {p['p_mirror']}, "
                 f"k = {p['n_neighbors']}, {R} replicates")
    if path is not None:
        save_figure(fig, path, provenance_info)
    return fig


def main(argv=None) -> int:
    parser = make_parser("figure6", __doc__.splitlines()[0], steps=STEPS, seed=SEED,
                         replicates=REPLICATES)
    args = parser.parse_args(argv)
    result = run(replicates=args.replicates, steps=args.steps, seed=args.seed)
    prov = provenance("figure6", result["params"], args.seed, result["wall_time"],
                      config=config().to_dict())
    plot(result, args.out, prov)
    share = result["share_single"][-1]
    print(f"figure6: {args.out}  run {result['wall_time']:.1f} s; "
          f"share with one silo at T: {share:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

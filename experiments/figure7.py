"""Figure 7: time to a single silo versus the separation of the components.

Three geometries, each with n = K = 30, p = 0, k = 29, r = 5 and unit
covariances (sigma = 1, so the x axis delta_mu / sigma is delta_mu):

* ``linear`` -- 1-d, mu_c = c * delta_mu, delta_mu in 0.5, 0.75, ..., 6.0, T = 200;
* ``circle`` -- 2-d, 30 means on a circle with neighbours delta_mu apart,
  delta_mu in 0.5, 0.75, ..., 3.0, T = 400;
* ``simplex`` -- 30-d, mu_c = (delta_mu / sqrt 2) e_c (all pairs delta_mu
  apart), delta_mu in 2.5, 2.75, ..., 8.0, T = 400.

The y value is t* = the first round from which one silo remains
(``gmmproxy.metrics.time_to_single_silo``; the authors' code plots t* - 1).
A replicate still split at T is plotted at T (censored, as the authors do)
and counted in the panel title. Seeds: the paper used 42 + 50 * (index of
delta_mu) + replicate with NumPy's generator; this recipe uses seed 7, panel
number a (linear 0, circle 1, simplex 2) and delta_mu index j (in the full
list of the panel) running ``simulate_many`` with
``replicate_seed(replicate_seed(7, a), j)``.

    python -m experiments.figure7 --out docs/img/figure7.png            # about 5 min
    python -m experiments.figure7 --replicates 10 --stride 2 --out /tmp/figure7_quick.png
"""
from __future__ import annotations

import numpy as np

from experiments import (Timer, _positive_int, base_config, check_count, make_parser, provenance,
                         sub_seed)

#: Spec Section 9, Figure 7 (common part).
CONFIG = {"p_mirror": 0.0, "n_neighbors": 29, "rag_size": 5, "sigma": 1.0}
N_TOPICS = 30
#: panel -> (delta_mu values, T)
PANELS = {
    "linear": (np.round(np.arange(0.5, 6.0 + 1e-9, 0.25), 2), 200),
    "circle": (np.round(np.arange(0.5, 3.0 + 1e-9, 0.25), 2), 400),
    "simplex": (np.round(np.arange(2.5, 8.0 + 1e-9, 0.25), 2), 400),
}
REPLICATES = 50
SEED = 7


def means(panel: str, delta_mu: float) -> np.ndarray:
    """Component means (K, d) of a panel with neighbouring means ``delta_mu`` apart."""
    c = np.arange(N_TOPICS)
    if panel == "linear":
        return (c * delta_mu)[:, None].astype(float)
    if panel == "circle":
        radius = delta_mu / (2.0 * np.sin(np.pi / N_TOPICS))
        angle = 2.0 * np.pi * c / N_TOPICS
        return radius * np.column_stack([np.cos(angle), np.sin(angle)])
    if panel == "simplex":
        return (delta_mu / np.sqrt(2.0)) * np.eye(N_TOPICS)
    raise ValueError(f"panel must be one of {sorted(PANELS)}; got {panel!r}")


def config(panel: str, delta_mu: float):
    """The ``SimulationConfig`` of one (panel, delta_mu) point."""
    return base_config(**CONFIG, means=means(panel, delta_mu))


def run(panels=tuple(PANELS), replicates: int = REPLICATES, steps=None, stride: int = 1,
        seed=SEED) -> dict:
    """Time to a single silo for every panel, separation and replicate.

    Parameters
    ----------
    panels : sequence of {"linear", "circle", "simplex"}
        Panels to run.
    replicates : int, default 50
        Replicates per separation.
    steps : int, optional
        Rounds T for every panel (default: 200 linear, 400 otherwise).
    stride : int, default 1
        Use every ``stride``-th separation value (quick runs).
    seed : int, default 7
        Recipe seed.

    Returns
    -------
    dict
        panel -> ``values`` (m,), ``t_star`` (m, R) with ``metrics.NEVER``
        (-1) for replicates still split at T, ``steps``, ``wall_time``;
        plus ``params`` and ``wall_time`` (total).
    """
    import gmmproxy
    from gmmproxy.metrics import time_to_single_silo_from_counts

    replicates = check_count("replicates", replicates)
    stride = check_count("stride", stride)
    if steps is not None:
        steps = check_count("steps", steps)
    panels = list(panels)
    for name in panels:
        if name not in PANELS:
            raise ValueError(f"panels must be taken from {sorted(PANELS)}; got {name!r}")
    out = {}
    with Timer() as total:
        for name in panels:
            a = list(PANELS).index(name)
            all_values, default_steps = PANELS[name]
            # j indexes the full list, so a value keeps its seed whatever the stride
            picked = list(range(0, all_values.size, stride))
            values = all_values[picked]
            T = default_steps if steps is None else steps
            rows = []
            with Timer() as timer:
                for j, dm in zip(picked, values):
                    ens = gmmproxy.simulate_many(config(name, float(dm)), steps=T,
                                                 replicates=replicates,
                                                 seed=sub_seed(sub_seed(seed, a), j),
                                                 record="metrics")
                    rows.append(time_to_single_silo_from_counts(np.asarray(ens.n_silos)))
            out[name] = {"values": values, "t_star": np.stack(rows), "steps": T,
                         "wall_time": timer.elapsed}
    out["wall_time"] = total.elapsed
    out["params"] = {**CONFIG, "panels": panels, "replicates": replicates, "steps": steps,
                     "stride": stride, "seed": seed}
    return out


def plot(result: dict, path=None, provenance_info=None):
    """One sweep panel (mean line, mean +- 5 SE band) per geometry."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from gmmproxy.metrics import NEVER
    from gmmproxy.plotting import plot_sweep, save_figure

    names = [n for n in PANELS if n in result]
    fig = Figure(figsize=(4.6 * len(names), 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    labels = {"linear": "1-d linear", "circle": "2-d circle", "simplex": "30-d simplex"}
    for ax, name in zip(axes, names):
        panel = result[name]
        t_star = panel["t_star"]
        censored = t_star == NEVER
        shown = np.where(censored, panel["steps"], t_star)
        title = f"{labels[name]}, T = {panel['steps']}"
        if censored.any():
            title += f"\n{int(censored.sum())} of {t_star.size} runs still split at T (plotted at T)"
        plot_sweep(panel["values"], shown, xlabel=r"$\Delta\mu / \sigma$",
                   ylabel="time to one silo t*", title=title, jitter=0.0, ax=ax,
                   seed=result["params"]["seed"])
        ax.title.set_fontsize("small")
        ax.set_ylim(bottom=0)
    R = result["params"]["replicates"]
    fig.suptitle(f"Figure 7 (GMM proxy): p = 0, k = 29, r = 5, {R} replicates per value; "
                 "band = mean $\\pm$ 5 SE")
    if path is not None:
        save_figure(fig, path, provenance_info)
    return fig


def main(argv=None) -> int:
    parser = make_parser("figure7", __doc__.splitlines()[0], steps=None, seed=SEED,
                         replicates=REPLICATES)
    parser.add_argument("--stride", type=_positive_int, default=1,
                        help="use every n-th separation value; default %(default)s")
    parser.add_argument("--panels", nargs="+", choices=tuple(PANELS), default=list(PANELS))
    args = parser.parse_args(argv)
    result = run(panels=args.panels, replicates=args.replicates, steps=args.steps,
                 stride=args.stride, seed=args.seed)
    prov = provenance("figure7", result["params"], args.seed, result["wall_time"])
    plot(result, args.out, prov)
    print(f"figure7: {args.out}  run {result['wall_time']:.1f} s")
    for name in args.panels:
        p = result[name]
        mean = np.where(p["t_star"] < 0, p["steps"], p["t_star"]).mean(axis=1)
        censored = (p["t_star"] < 0).sum(axis=1)
        print(f"  {name}: {p['wall_time']:.1f} s; {int(censored.sum())} of {p['t_star'].size} "
              "runs still split at T; delta_mu -> mean t* (still split): "
              + ", ".join(f"{v:g}:{m:.0f}" + (f"({c})" if c else "")
                          for v, m, c in zip(p["values"], mean, censored)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

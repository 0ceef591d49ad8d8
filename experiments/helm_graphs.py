"""Case study with communication graphs: intra-class communication polarizes.

A GMM-proxy version of Helm et al. (2024), case study 3 ("mitigating or
promoting polarization"). The 30 agents of the base set-up (topics 0..29,
sigma = 0.2, r = 5, p = 0.2) are split into two classes that start
intertwined: class A holds the even agents (certain of topics 0, 2, ..., 28),
class B the odd ones (topics 1, 3, ..., 29). Two communication structures:

* ``unrestricted`` -- everybody may query everybody (``graph=None``);
* ``intra-class`` -- a block graph: agents may only query their own class.

An agent's 1-d *perspective* is the mean of its belief, sum_c w_c mu_c. As in
Helm et al., *polarization* at t is the distance between the two class-average
perspectives divided by that distance at t = 0 (here 1.0). Unrestricted
systems collapse to one silo and polarization goes to 0; intra-class systems
settle into one silo per class and polarization grows many-fold.
Seed 12: condition number a runs ``simulate_many`` with
``replicate_seed(12, a)``.

    python -m experiments.helm_graphs --out docs/img/helm_graphs.png
"""
from __future__ import annotations

import numpy as np

from experiments import Timer, base_config, check_count, make_parser, provenance, sub_seed

CONFIG = {"p_mirror": 0.2, "n_neighbors": 29}
N_AGENTS = 30
CONDITIONS = ("unrestricted", "intra-class")
STEPS = 100
REPLICATES = 20
SEED = 12


def classes(n_agents: int = N_AGENTS) -> np.ndarray:
    """Class of each agent: 0 (A) for even indices, 1 (B) for odd."""
    return np.arange(n_agents) % 2


def graph(condition: str, n_agents: int = N_AGENTS):
    """Adjacency (n, n) of a condition (None = everybody may talk to everybody)."""
    if condition == "unrestricted":
        return None
    if condition == "intra-class":
        c = classes(n_agents)
        return c[:, None] == c[None, :]
    raise ValueError(f"condition must be one of {CONDITIONS}; got {condition!r}")


def config(condition: str):
    """The ``SimulationConfig`` of one condition."""
    return base_config(**CONFIG, graph=graph(condition))


def perspectives(weights: np.ndarray, means: np.ndarray) -> np.ndarray:
    """1-d perspective sum_c w_c mu_c of every agent, shape weights.shape[:-1]."""
    return weights @ means[:, 0]


def polarization(persp: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """|mean perspective of class A - class B| / the same at t = 0, per time.

    ``persp`` has shape (..., T+1, n); returns (..., T+1).
    """
    gap = np.abs(persp[..., cls == 0].mean(axis=-1) - persp[..., cls == 1].mean(axis=-1))
    if np.any(gap[..., 0] == 0):
        raise ValueError("polarization is undefined: the two classes start with equal mean perspectives")
    return gap / gap[..., :1]


def run(replicates: int = REPLICATES, steps: int = STEPS, seed=SEED) -> dict:
    """Simulate both conditions.

    Returns
    -------
    dict
        condition -> ``perspectives`` (R, T+1, n), ``polarization`` (R, T+1),
        ``n_silos`` (R, T+1), ``wall_time``; plus ``classes``, ``params``.
    """
    import gmmproxy
    from gmmproxy.metrics import n_silos

    replicates = check_count("replicates", replicates)
    steps = check_count("steps", steps)
    cls = classes()
    out = {"classes": cls}
    for a, cond in enumerate(CONDITIONS):
        cfg = config(cond)
        with Timer() as timer:
            ens = gmmproxy.simulate_many(cfg, steps=steps, replicates=replicates,
                                         seed=sub_seed(seed, a), record="weights")
        persp = perspectives(np.asarray(ens.weights), cfg.means)
        out[cond] = {"perspectives": persp, "polarization": polarization(persp, cls),
                     "n_silos": n_silos(np.asarray(ens.silos)) if ens.silos is not None
                     else np.asarray(ens.n_silos),
                     "wall_time": timer.elapsed}
    out["wall_time"] = sum(out[c]["wall_time"] for c in CONDITIONS)
    out["params"] = {**CONFIG, "conditions": list(CONDITIONS), "classes": "even/odd agents",
                     "replicates": replicates, "steps": steps, "seed": seed}
    return out


def plot(result: dict, path=None, provenance_info=None):
    """Perspectives of replicate 0 per condition, polarization and number of silos."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from gmmproxy.plotting import plot_perspective, save_figure

    cls = result["classes"]
    fig = Figure(figsize=(11.0, 7.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    for col, cond in enumerate(CONDITIONS):
        persp = result[cond]["perspectives"][0]
        labels = np.broadcast_to(cls, persp.shape)
        ax = axes[0, col]
        for c, name, colour in ((0, "A", "k"), (1, "B", "darkred")):
            ax.plot(np.arange(persp.shape[0]), persp[:, cls == c].mean(axis=1), linewidth=3,
                    color=colour, zorder=5, label=f"class {name} mean", gid=f"class_mean_{name}")
        plot_perspective(persp, silos=labels, label_names=["class A", "class B"], ax=ax,
                         ylabel="perspective (mean of belief)", legend_title="class",
                         marker_size=0, title=f"{cond}: replicate 0")
    t = np.arange(result[CONDITIONS[0]]["polarization"].shape[1])
    for cond, colour in zip(CONDITIONS, ("tab:blue", "tab:red")):
        pol = result[cond]["polarization"]
        m = pol.mean(axis=0)
        lo, hi = np.quantile(pol, [0.1, 0.9], axis=0)
        axes[1, 0].fill_between(t, lo, hi, color=colour, alpha=0.2, linewidth=0)
        axes[1, 0].plot(t, m, color=colour, label=cond, gid=f"polarization_{cond}")
        ns = result[cond]["n_silos"]
        axes[1, 1].plot(t, ns.mean(axis=0), color=colour, label=cond, gid=f"n_silos_{cond}")
    R = result[CONDITIONS[0]]["polarization"].shape[0]
    axes[1, 0].set_xlabel("t")
    axes[1, 0].set_ylabel("polarization (class gap / gap at t = 0)")
    axes[1, 0].set_title(f"mean over {R} replicates (band: 10-90% quantiles)", fontsize="small")
    axes[1, 0].legend(fontsize="small")
    axes[1, 1].set_xlabel("t")
    axes[1, 1].set_ylabel("mean number of silos")
    axes[1, 1].set_ylim(bottom=0)
    axes[1, 1].legend(fontsize="small")
    fig.suptitle("Communication graphs (Helm et al. 2024, C.S. 3): two intertwined classes, "
                 "unrestricted vs intra-class only")
    if path is not None:
        save_figure(fig, path, provenance_info)
    return fig


def main(argv=None) -> int:
    parser = make_parser("helm_graphs", __doc__.splitlines()[0], steps=STEPS, seed=SEED,
                         replicates=REPLICATES)
    args = parser.parse_args(argv)
    result = run(replicates=args.replicates, steps=args.steps, seed=args.seed)
    prov = provenance("helm_graphs", result["params"], args.seed, result["wall_time"])
    plot(result, args.out, prov)
    print(f"helm_graphs: {args.out}  run {result['wall_time']:.1f} s")
    for cond in CONDITIONS:
        pol = result[cond]["polarization"][:, -1]
        ns = result[cond]["n_silos"][:, -1]
        print(f"  {cond}: polarization at T mean {pol.mean():.2f} (min {pol.min():.2f}, "
              f"max {pol.max():.2f}); silos at T mean {ns.mean():.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""An LLM run and a proxy built from its geometry, side by side in the LLM's perspective space.

One published flower run (``data/llm-flowers``) is imported, its answers embedded and
reduced to a ``dim``-dimensional perspective space, and proxy components are placed
there with :func:`gmmproxy.bridge.components.components_from_logs` (one component per
flower at the centroid of that flower's answers, within-flower covariances, each
agent's initial weights from its first answer). The proxy then runs with the LLM's p
and k and the *calibrated* parameters: the weighted posterior medians of the shipped
calibration (``docs/calibration-report/posterior.csv``, ``gmmproxy calibrate fit`` on the
published runs) for the RAG size r, the time scale (proxy actions per LLM step, by random
activation) and the mirroring map ``p_proxy = p ** p_exponent``, with the partner answering
from its current weights (the calibration's model, docs/calibration.md). The calibrated
sigma is a spread in units of the paper's topic spacing and has no counterpart here: the
components keep the within-flower covariances of the data (sigma factor 1).

Both runs live in the same coordinates: an LLM agent's position at step t is its answer's
perspective coordinate; a proxy agent's is its mixture mean ``sum_k w_k mu_k`` (its
expected answer). The figure shows

* the first perspective coordinate of every agent over time (LLM left, proxy right,
  same scale), coloured by flower (the LLM's extracted flower; the proxy's silo, i.e. its
  strongest component);
* the iso-mirror of both runs (Athreya et al. 2022): a flat stretch is a system that no
  longer moves;
* the number of GMM clusters of the perspectives at each step (BIC), with the number of
  silos (flowers) dashed.

Seed 90: the proxy run takes ``replicate_seed(90, 0)``, the clusterings seed 0.

    python -m experiments.perspective_comparison --out docs/img/perspective_comparison.png
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from experiments import Timer, make_parser, provenance, sub_seed

SEED = 90
P_MIRROR = 0.7
NEIGHBORS = 15
REPLICATE = 0
DIM = 2
STEPS = None  # fixed by the log
DATA_DIR = Path(os.environ.get("GMMPROXY_FLOWER_DATA",
                               Path(__file__).resolve().parents[2] / "shared" / "data" / "llm-flowers"))
POSTERIOR = Path(__file__).resolve().parents[1] / "docs" / "calibration-report" / "posterior.csv"


def calibrated_parameters(path=POSTERIOR) -> dict:
    """Weighted posterior medians of a calibration's ``posterior.csv`` (free parameters and ``weight``)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"posterior must be a calibration's posterior.csv; got {str(path)!r}")
    table = np.genfromtxt(path, delimiter=",", names=True)
    w = np.asarray(table["weight"], dtype=float)
    w = w / w.sum()
    out = {}
    for name in table.dtype.names:
        if name == "weight":
            continue
        x = np.asarray(table[name], dtype=float)
        order = np.argsort(x)
        out[name] = float(x[order][np.searchsorted(np.cumsum(w[order]), 0.5)])
    return out


def run(p_mirror: float = P_MIRROR, n_neighbors: int = NEIGHBORS, replicate: int = REPLICATE,
        embedder=None, dim=DIM, seed=SEED, data_dir=DATA_DIR, log=None,
        max_clusters: int = 8, posterior=POSTERIOR) -> dict:
    """Build components from one LLM run, simulate the proxy, and embed both runs.

    Parameters
    ----------
    p_mirror, n_neighbors, replicate
        Which published run (ignored when ``log`` is given).
    embedder : str, optional
        ``minilm`` (default when the embed extra is installed) or ``tfidf``.
    dim : int or "auto"
        Perspective dimension of the components.
    seed : int
        Recipe seed.
    data_dir : path
        Folder of the published CSVs.
    log : path, optional
        A run log to use instead of a published run.
    max_clusters : int
        Largest number of GMM clusters tried per step.
    posterior : path
        ``posterior.csv`` of the calibration whose medians parameterise the proxy.

    Returns
    -------
    dict
        ``llm`` and ``proxy`` (each ``positions`` (T, n, d), ``silos`` (T, n) as
        component indices, ``iso_mirror`` (T,), ``n_clusters`` (T,), ``n_silos`` (T,)),
        ``label_names``, ``components`` (the :class:`ProxyComponents`), ``meta``,
        ``wall_time``, ``params``.
    """
    from gmmproxy.bridge.calibration.batch import Geometry, simulate_batch
    from gmmproxy.bridge.calibration.model import Condition, ProxyModel
    from gmmproxy.bridge.components import components_from_logs
    from gmmproxy.bridge.importer import import_published_run
    from gmmproxy.bridge.trajectory import _default_embedder_name, from_log
    from gmmproxy.metrics import n_silos
    from gmmproxy.perspective import cluster_steps, iso_mirror

    embedder = _default_embedder_name() if embedder is None else embedder
    theta = calibrated_parameters(posterior)
    theta["sigma"] = 1.0  # the data's own within-flower covariances (see the module docstring)
    with Timer() as timer, tempfile.TemporaryDirectory() as tmp:
        if log is None:
            stem = f"output{int(round(p_mirror * 10))}_{int(n_neighbors)}_{int(replicate)}"
            first, second = Path(data_dir) / f"{stem}.csv", Path(data_dir) / f"{stem}_2nd.csv"
            if not first.exists() or not second.exists():
                raise ValueError(f"data_dir has no published run {stem}: expected {first} "
                                 f"and {second}")
            log = import_published_run(first, second, Path(tmp) / f"{stem}.jsonl")
        traj = from_log(log, extractor=None)
        comps, (llm_pos,) = components_from_logs([traj], embedder=embedder, dim=dim,
                                                 return_positions=True)
        index = {name: k for k, name in enumerate(comps.label_names)}
        to_comp = np.array([index.get(name, -1) for name in traj.label_names])
        llm_silos = to_comp[traj.silos]
        p, k = float(traj.meta["p_mirror"]), int(traj.meta["n_neighbors"])
        T = traj.n_steps
        geometry = Geometry(comps.n_agents, comps.means, comps.covariances, comps.initial_weights)
        settings = ProxyModel().proxy_settings(theta, Condition(p, k, comps.n_agents, T))
        proxy_silos, _, proxy_w = simulate_batch(geometry, T - 1, seed=sub_seed(seed, 0), return_weights=True,
                                                 **settings)
        proxy_pos = proxy_w[0] @ comps.means
        out = {}
        for name, pos, silos in (("llm", llm_pos, llm_silos),
                                 ("proxy", proxy_pos, proxy_silos[0].astype(np.int64))):
            out[name] = {
                "positions": pos,
                "silos": silos,
                "iso_mirror": iso_mirror(pos).values,
                "n_clusters": cluster_steps(pos, max_clusters=max_clusters, seed=0).n_clusters,
                "n_silos": n_silos(silos),
            }
    out.update(label_names=comps.label_names, components=comps,
               meta={"p_mirror": p, "n_neighbors": k, "replicate": traj.meta.get("replicate"),
                     "embedder": comps.provenance["embedder"], "dim": comps.dim},
               wall_time=timer.elapsed,
               calibrated=theta, proxy_settings=settings,
               params={"p_mirror": p, "n_neighbors": k, "replicate": replicate,
                       "embedder": comps.provenance["embedder"], "dim": comps.dim, "seed": seed,
                       "max_clusters": max_clusters, "calibrated": theta})
    return out


def plot(result: dict, path=None, provenance_info=None):
    """2 x 2 figure: 1-d perspectives (LLM, proxy), iso-mirrors, clusters and silos."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from gmmproxy.plotting import plot_perspective, save_figure
    from gmmproxy.plotting._common import _silo_colour

    names = result["label_names"]
    llm, proxy = result["llm"], result["proxy"]
    fig = Figure(figsize=(11.0, 7.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2, height_ratios=[1.5, 1.0])
    cal = result.get("calibrated", {})
    label = "calibrated GMM proxy on its components"
    if cal:
        label += (f"\nposterior medians r = {int(cal['rag_size'] + 0.5)}, time scale {cal['time_scale']:.2f}, "
                  f"p^{cal['p_exponent']:.2f}")
    sides = (("LLM (published run)\nits answers' perspectives", llm, axes[0, 0]),
             (label, proxy, axes[0, 1]))
    for title, side, ax in sides:
        plot_perspective(side["positions"][..., 0], silos=side["silos"], marker_size=0, ax=ax,
                         title=title, ylabel="perspective (coordinate 1)")
        if ax.get_legend() is not None:  # the figure's own flower key below replaces the silo-index key
            ax.get_legend().remove()
    lo = min(a.get_ylim()[0] for _, _, a in sides)
    hi = max(a.get_ylim()[1] for _, _, a in sides)
    for _, _, a in sides:
        a.set_ylim(lo, hi)
    # one legend for both panels, below them: the flowers held at the end by either run
    final = np.unique(np.concatenate([llm["silos"][-1], proxy["silos"][-1]]))
    handles = [axes[0, 0].plot([], [], color=_silo_colour(int(k)), linewidth=2)[0] for k in final]
    fig.legend(handles, [names[k] for k in final], loc="outside lower center",
               ncol=min(len(final), 8), fontsize="small", title="flower at the last step")
    t_llm = np.arange(llm["iso_mirror"].size)
    t_proxy = np.arange(proxy["iso_mirror"].size)
    ax = axes[1, 0]
    ax.plot(t_llm, llm["iso_mirror"], color="tab:red", label="LLM")
    ax.plot(t_proxy, proxy["iso_mirror"], color="tab:blue", label="proxy")
    ax.set_xlabel("t")
    ax.set_ylabel("iso-mirror")
    ax.set_title("iso-mirror (flat: the system no longer moves)")
    ax.legend(fontsize="small", loc="lower right")
    ax = axes[1, 1]
    ax.step(t_llm, llm["n_clusters"], where="post", color="tab:red", label="LLM clusters")
    ax.step(t_proxy, proxy["n_clusters"], where="post", color="tab:blue", label="proxy clusters")
    ax.plot(t_llm, llm["n_silos"], color="tab:red", linestyle="--", linewidth=1,
            label="LLM silos")
    ax.plot(t_proxy, proxy["n_silos"], color="tab:blue", linestyle="--", linewidth=1,
            label="proxy silos")
    ax.set_yscale("log")
    # head room above N(0) = n for the key, so it never covers a curve
    ax.set_ylim(0.8, 4.0 * max(np.max(llm["n_silos"]), np.max(proxy["n_silos"])))
    ax.set_yticks([1, 2, 5, 10, 30], labels=["1", "2", "5", "10", "30"])
    ax.set_xlabel("t")
    ax.set_ylabel("number")
    ax.set_title("GMM clusters of the perspectives (BIC) and silos")
    ax.legend(fontsize="small", loc="upper right", ncol=2)
    m = result["meta"]
    fig.suptitle(f"Perspective space of the LLM's answers ({m['embedder']}, d = {m['dim']}): "
                 f"p = {m['p_mirror']:g}, k = {m['n_neighbors']}, LLM replicate {m['replicate']}")
    if path is not None:
        save_figure(fig, path, provenance_info)
    return fig


def main(argv=None) -> int:
    parser = make_parser("perspective_comparison", __doc__.splitlines()[0], steps=None, seed=SEED)
    parser.add_argument("--p-mirror", type=float, default=P_MIRROR)
    parser.add_argument("--neighbors", type=int, default=NEIGHBORS)
    parser.add_argument("--replicate", type=int, default=REPLICATE)
    parser.add_argument("--embedder", default=None,
                        help="minilm (default when installed) or tfidf")
    parser.add_argument("--dim", default=str(DIM), help="perspective dimension or 'auto'")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    if args.steps is not None:
        parser.error("--steps is fixed by the LLM log (80 steps)")
    dim = args.dim if args.dim == "auto" else int(args.dim)
    result = run(args.p_mirror, args.neighbors, args.replicate, embedder=args.embedder, dim=dim,
                 seed=args.seed, data_dir=args.data_dir)
    prov = provenance("perspective_comparison", result["params"], args.seed, result["wall_time"])
    plot(result, args.out, prov)
    print(f"perspective_comparison: {args.out}  run {result['wall_time']:.1f} s")
    for name in ("llm", "proxy"):
        r = result[name]
        print(f"  {name:>5}: silos t=0/10/79 {r['n_silos'][0]}/{r['n_silos'][10]}/{r['n_silos'][-1]}, "
              f"clusters t=0/10/79 {r['n_clusters'][0]}/{r['n_clusters'][10]}/{r['n_clusters'][-1]}, "
              f"iso-mirror at t=79 {r['iso_mirror'][-1]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

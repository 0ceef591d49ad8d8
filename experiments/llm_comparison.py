"""Proxy versus LLM: number of silos over time on the published flower runs.

McGuinness et al.'s LLM system (30 LLaMA-2 agents naming "the prettiest
flower", T = 80 steps) was run for p in {0.2, 0.7} and k in {1, 5, 15, 25},
four replicates each; the logs ship in ``data/llm-flowers`` (see its README).
This recipe imports them with ``gmmproxy.bridge`` (an agent's silo = the
flower it names) and runs the GMM proxy with the same p, k, n = 30 and number
of steps (base set-up otherwise: 30 topics, sigma = 0.2, r = 5).

* ``plot`` -- a 2 x 4 grid (rows p, columns k) of N(t): every LLM replicate and
  every proxy replicate, with their means;
* ``plot_example`` -- one LLM run beside one proxy run (silo membership and
  N(t)), via :func:`gmmproxy.plotting.plot_comparison`.

Seed 80: setting (p, k) number j (row-major over the grid) runs
``simulate_many`` with ``replicate_seed(80, j)``.

    python -m experiments.llm_comparison --out docs/img/llm_comparison.png \\
        --example-out docs/img/llm_comparison_example.png
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from experiments import Timer, base_config, check_count, make_parser, provenance, sub_seed

P_MIRROR = (0.2, 0.7)
NEIGHBORS = (1, 5, 15, 25)
LLM_REPLICATES = (0, 1, 2, 3)
REPLICATES = 20
SEED = 80
#: the data folder, overridable with the GMMPROXY_FLOWER_DATA environment variable
# default: the shared/ folder beside a clone of the repository
DATA_DIR = Path(os.environ.get("GMMPROXY_FLOWER_DATA",
                               Path(__file__).resolve().parents[2] / "shared" / "data" / "llm-flowers"))


def config(p_mirror: float, n_neighbors: int):
    """Proxy configuration matched to one LLM setting."""
    return base_config(p_mirror=p_mirror, n_neighbors=n_neighbors)


def load_llm(p_mirror: float, n_neighbors: int, replicate: int, data_dir=DATA_DIR):
    """Silo labels (T, n) and label names of one published LLM run."""
    from gmmproxy.bridge.importer import import_published_run
    from gmmproxy.bridge.trajectory import from_log

    data_dir = Path(data_dir)
    stem = f"output{int(round(p_mirror * 10))}_{n_neighbors}_{replicate}"
    first, second = data_dir / f"{stem}.csv", data_dir / f"{stem}_2nd.csv"
    if not first.exists() or not second.exists():
        raise ValueError(f"data_dir has no published run {stem}: expected {first} and {second}")
    with tempfile.TemporaryDirectory() as tmp:
        log = import_published_run(first, second, Path(tmp) / f"{stem}.jsonl")
        traj = from_log(log)
    return np.asarray(traj.silos), tuple(traj.label_names)


def run(p_mirror=P_MIRROR, neighbors=NEIGHBORS, llm_replicates=LLM_REPLICATES,
        replicates: int = REPLICATES, seed=SEED, data_dir=DATA_DIR) -> dict:
    """Import the LLM runs and simulate the matching proxy ensembles.

    Returns
    -------
    dict
        ``llm_n_silos`` (len(p), len(k), len(llm_replicates), T),
        ``proxy_n_silos`` (len(p), len(k), replicates, T), ``example`` (LLM
        silos, label names and one proxy run's silos for the first setting),
        ``p_mirror``, ``neighbors``, ``wall_time``, ``params``.
    """
    import gmmproxy
    from gmmproxy.metrics import n_silos

    replicates = check_count("replicates", replicates)
    ps, ks = [float(p) for p in p_mirror], [int(k) for k in neighbors]
    vs = [int(v) for v in llm_replicates]
    if not ps or not ks or not vs:
        raise ValueError("p_mirror, neighbors and llm_replicates must each hold at least one value")
    llm, proxy, example = [], [], None
    with Timer() as timer:
        for a, p in enumerate(ps):
            for b, k in enumerate(ks):
                runs = [load_llm(p, k, v, data_dir) for v in vs]
                T = runs[0][0].shape[0]
                llm.append(np.stack([n_silos(s) for s, _ in runs]))
                ens = gmmproxy.simulate_many(config(p, k), steps=T - 1, replicates=replicates,
                                             seed=sub_seed(seed, len(ks) * a + b), record="silos")
                proxy.append(np.asarray(ens.n_silos))
                if example is None:
                    example = {"llm_silos": runs[0][0], "label_names": runs[0][1],
                               "proxy_silos": np.asarray(ens.silos[0]), "p_mirror": p,
                               "n_neighbors": k, "llm_replicate": vs[0]}
    shape = (len(ps), len(ks))
    return {"llm_n_silos": np.stack(llm).reshape(shape + llm[0].shape),
            "proxy_n_silos": np.stack(proxy).reshape(shape + proxy[0].shape),
            "example": example, "p_mirror": np.array(ps), "neighbors": np.array(ks),
            "wall_time": timer.elapsed,
            "params": {"p_mirror": ps, "neighbors": ks, "llm_replicates": vs,
                       "replicates": replicates, "seed": seed}}


def plot(result: dict, path=None, provenance_info=None):
    """Grid of N(t): LLM replicates (red) and proxy replicates (blue), with means."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from gmmproxy.plotting import save_figure

    llm, proxy = result["llm_n_silos"], result["proxy_n_silos"]
    n_rows, n_cols = llm.shape[:2]
    fig = Figure(figsize=(3.3 * n_cols, 2.8 * n_rows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, n_cols, sharex=True, sharey=True, squeeze=False)
    t = np.arange(llm.shape[-1])
    for a in range(n_rows):
        for b in range(n_cols):
            ax = axes[a, b]
            for series, colour, name in ((proxy[a, b], "tab:blue", "GMM proxy"),
                                         (llm[a, b], "tab:red", "LLM")):
                for rep in series:
                    ax.plot(t, rep, color=colour, alpha=0.25, linewidth=0.7)
                ax.plot(t, series.mean(axis=0), color=colour, linewidth=2.2,
                        label=f"{name} (mean of {series.shape[0]})", gid=f"mean_{name}")
            ax.set_title(f"p = {result['p_mirror'][a]:g}, k = {result['neighbors'][b]}",
                         fontsize="small")
            if a == n_rows - 1:
                ax.set_xlabel("t")
            if b == 0:
                ax.set_ylabel("number of silos")
    axes[0, 0].set_yscale("log")
    axes[0, 0].set_yticks([1, 2, 5, 10, 30], labels=["1", "2", "5", "10", "30"])
    axes[0, 0].legend(fontsize="x-small")
    fig.suptitle("Number of silos over time: LLM flower runs (red) vs GMM proxy (blue)")
    if path is not None:
        save_figure(fig, path, provenance_info)
    return fig


def plot_example(result: dict, path=None, provenance_info=None):
    """One LLM run beside one proxy run of the same setting."""
    from gmmproxy.plotting import plot_comparison

    ex = result["example"]
    return plot_comparison(
        ex["proxy_silos"], ex["llm_silos"], llm_label_names=ex["label_names"],
        labels=("GMM proxy (replicate 0)", f"LLM (published replicate {ex['llm_replicate']})"),
        title=f"p = {ex['p_mirror']:g}, k = {ex['n_neighbors']}", path=path,
        provenance=provenance_info)


def main(argv=None) -> int:
    parser = make_parser("llm_comparison", __doc__.splitlines()[0], steps=None, seed=SEED,
                         replicates=REPLICATES)
    parser.add_argument("--example-out", type=Path, default=None,
                        help="also write the one-run comparison (first setting) here")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--example", nargs=2, type=float, metavar=("P", "K"), default=None,
                        help="setting of the one-run comparison (default: the first)")
    args = parser.parse_args(argv)
    if args.steps is not None:
        parser.error("--steps is fixed by the LLM logs (80 steps)")
    result = run(replicates=args.replicates, seed=args.seed, data_dir=args.data_dir)
    prov = provenance("llm_comparison", result["params"], args.seed, result["wall_time"])
    plot(result, args.out, prov)
    print(f"llm_comparison: {args.out}  run {result['wall_time']:.1f} s")
    if args.example_out is not None:
        if args.example is not None:
            p, k = args.example
            ex = run(p_mirror=(p,), neighbors=(int(k),), llm_replicates=(0,),
                     replicates=1, seed=args.seed, data_dir=args.data_dir)
            result = {**result, "example": ex["example"]}
        plot_example(result, args.example_out, prov)
        print(f"llm_comparison: {args.example_out}")
    T = result["llm_n_silos"].shape[-1]
    for a, p in enumerate(result["p_mirror"]):
        for b, k in enumerate(result["neighbors"]):
            print(f"  p={p:g} k={k}: N(T-1) LLM mean {result['llm_n_silos'][a, b, :, -1].mean():.2f}, "
                  f"proxy mean {result['proxy_n_silos'][a, b, :, -1].mean():.2f} (T = {T - 1})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

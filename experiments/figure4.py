"""Figure 4: 3 x 4 grid of silo-membership plots over p (rows) and k (columns).

Rows p in {0.2, 0.5, 0.7}, columns k in {1, 5, 15, 25}, T = 200, one run per
cell. The paper's runs were unseeded; this recipe uses seed 4 and cell
(row, column) runs with ``replicate_seed(4, 4 * row + column)``.

    python -m experiments.figure4 --out docs/img/figure4.png
"""
from __future__ import annotations

import numpy as np

from experiments import Timer, base_config, check_count, make_parser, provenance, sub_seed

#: Spec Section 9, Figure 4.
P_MIRROR = (0.2, 0.5, 0.7)
NEIGHBORS = (1, 5, 15, 25)
STEPS = 200
SEED = 4


def config(p_mirror: float, n_neighbors: int):
    """The ``SimulationConfig`` of one cell of Figure 4."""
    return base_config(p_mirror=p_mirror, n_neighbors=n_neighbors)


def run(p_mirror=P_MIRROR, neighbors=NEIGHBORS, steps: int = STEPS, seed=SEED) -> dict:
    """One run per (p, k) cell.

    Returns
    -------
    dict
        ``silos`` (len(p_mirror), len(neighbors), T+1, n), ``p_mirror``,
        ``neighbors``, ``wall_time``, ``params``.
    """
    import gmmproxy

    steps = check_count("steps", steps)
    ps, ks = [float(p) for p in p_mirror], [int(k) for k in neighbors]
    if not ps or not ks:
        raise ValueError("p_mirror and neighbors must each hold at least one value")
    cells = []
    with Timer() as timer:
        for a, p in enumerate(ps):
            for b, k in enumerate(ks):
                traj = gmmproxy.simulate(config(p, k), steps=steps,
                                         seed=sub_seed(seed, len(ks) * a + b), record="silos")
                cells.append(np.asarray(traj.silos))
    grid = np.stack(cells).reshape((len(ps), len(ks)) + cells[0].shape)
    return {"silos": grid, "p_mirror": np.array(ps), "neighbors": np.array(ks),
            "wall_time": timer.elapsed,
            "params": {"p_mirror": ps, "neighbors": ks, "steps": steps, "seed": seed}}


def plot(result: dict, path=None, provenance_info=None):
    """The grid of silo-membership panels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from gmmproxy.metrics import n_silos
    from gmmproxy.plotting import plot_silo_membership, save_figure

    silos = result["silos"]
    n_rows, n_cols = silos.shape[:2]
    fig = Figure(figsize=(3.2 * n_cols, 2.4 * n_rows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, n_cols, sharex=True, sharey=True, squeeze=False)
    for a in range(n_rows):
        for b in range(n_cols):
            ax = axes[a, b]
            s = silos[a, b]
            plot_silo_membership(s, ax, linewidth=0.8,
                                 title=f"p = {result['p_mirror'][a]:g}, k = {result['neighbors'][b]}"
                                       f"  (N(T) = {n_silos(s)[-1]})")
            ax.title.set_fontsize("small")
            if a < n_rows - 1:
                ax.set_xlabel("")
            if b > 0:
                ax.set_ylabel("")
    fig.suptitle("Figure 4 (GMM proxy): silo membership, rows p, columns k")
    if path is not None:
        save_figure(fig, path, provenance_info)
    return fig


def main(argv=None) -> int:
    parser = make_parser("figure4", __doc__.splitlines()[0], steps=STEPS, seed=SEED)
    args = parser.parse_args(argv)
    result = run(steps=args.steps, seed=args.seed)
    prov = provenance("figure4", result["params"], args.seed, result["wall_time"])
    plot(result, args.out, prov)
    print(f"figure4: {args.out}  run {result['wall_time']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``gmmproxy simulate``: run one simulation or a batch from the shell (and the model options shared with ``sweep``)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np

from gmmproxy.cli._options import check_outputs, force_option, param_option
from gmmproxy.config import DEFAULT_EPS

FIGURE2_SEED = 618327487


def _load_array(path: str, name: str) -> np.ndarray:
    """An array from .npy, or from a text file readable by numpy.loadtxt."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{name}: file {path!r} does not exist")
    if p.suffix == ".npy":
        try:
            return np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError):
            # pickled object arrays, truncated or foreign files: never unpickle
            raise ValueError(f"{name}: cannot read {path!r} as a NumPy array (.npy of numbers)") from None
    try:
        return np.loadtxt(p, ndmin=1)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"{name}: cannot read {path!r} as a NumPy array: not a .npy file, and not a "
                         "text table of numbers") from None


def _load_graph(path: str):
    """``--graph``: a scipy.sparse matrix from .npz (``scipy.sparse.save_npz``), else a dense array."""
    p = Path(path)
    if p.suffix != ".npz":
        return _load_array(path, "--graph")
    if not p.is_file():
        raise ValueError(f"--graph: file {path!r} does not exist")
    from scipy import sparse

    try:
        return sparse.load_npz(p)  # never unpickles (allow_pickle=False inside)
    except (ValueError, OSError, EOFError, KeyError):
        raise ValueError(f"--graph: cannot read {path!r} as a scipy.sparse matrix (.npz written by "
                         "scipy.sparse.save_npz)") from None


def _fmt_time(t):
    return "never (more than one silo at the end)" if t is None else str(t)


def _print_single(traj, as_json: bool):
    s = traj.summary()
    if as_json:
        click.echo(json.dumps(s))
        return
    cfg = traj.config
    click.echo(
        f"gmmproxy {traj.version}  engine={traj.engine}  n={cfg.n_agents} K={cfg.n_components} "
        f"d={cfg.dim} r={cfg.rag_size} p={cfg.p_mirror} k={cfg.n_neighbors} T={traj.steps}"
    )
    every = max(1, traj.steps // 10)
    ts = list(range(0, traj.steps + 1, every))
    click.echo("N(t):  " + "  ".join(f"t={t}:{int(traj.n_silos[t])}" for t in ts))
    click.echo(f"silos at the end:          {s['n_silos_final']} (largest holds {s['largest_silo_final']} agents)")
    click.echo(f"time to a single silo:     {_fmt_time(s['time_to_single_silo'])}")
    click.echo(f"share of switching agents: mean {s['mean_switch_rate']:.4f} per round, "
               f"{s['final_switch_rate']:.4f} in the last round")
    click.echo(f"wall time:                 {traj.wall_time:.3f} s")


def _print_batch(ens, as_json: bool):
    s = ens.summary()
    if as_json:
        click.echo(json.dumps(dict(s, interrupted=ens.interrupted, replicates_requested=ens.replicates_requested)))
        return
    if ens.replicates == 0:
        click.echo(f"interrupted before any of the {ens.replicates_requested} replicates finished; nothing to report")
        return
    cfg = ens.config
    click.echo(
        f"gmmproxy {ens.version}  n={cfg.n_agents} K={cfg.n_components} d={cfg.dim} r={cfg.rag_size} "
        f"p={cfg.p_mirror} k={cfg.n_neighbors} T={ens.steps}  replicates={ens.replicates}"
        + (f" of {ens.replicates_requested} (interrupted)" if ens.interrupted else "")
    )
    final = ens.n_silos[:, -1]
    counts = np.bincount(final)
    click.echo("silos at the end:  mean {mean:.3f}  sd {sd:.3f}  median {median:g}  min {min:g}  max {max:g}"
               .format(**s["n_silos_final"]))
    click.echo("  distribution:    " + "  ".join(f"{v}:{c}" for v, c in enumerate(counts) if c))
    click.echo(f"reached a single silo: {s['share_reaching_single_silo']:.4f} of replicates")
    tt = s["time_to_single_silo_when_reached"]
    if tt is not None:
        click.echo("time to a single silo (when reached): mean {mean:.2f}  sd {sd:.2f}  median {median:g}  "
                   "min {min:g}  max {max:g}".format(**tt))
    click.echo("share of switching agents per round: mean {mean:.4f}  sd {sd:.4f}".format(**s["mean_switch_rate"]))
    click.echo(f"wall time: {ens.wall_time:.3f} s")


_MODEL_OPTIONS = [
    param_option("n_agents", type=int, default=30, show_default=True, help="Number of agents n."),
    param_option("n_components", type=int, default=None,
                 help="Number of mixture components K [default: number of agents, or len(--means)]."),
    param_option("sigma", type=float, default=0.2, show_default=True, help="Common component standard deviation."),
    param_option("rag_size", type=int, default=5, show_default=True, help="RAG size r."),
    param_option("p_mirror", type=float, default=0.4, show_default=True, help="Mirroring probability p."),
    param_option("n_neighbors", type=int, default=None,
                 help="k nearest agents to choose partners from [default: n-1, no restriction]."),
    click.option("--means", "means_file", type=click.Path(dir_okay=False), default=None,
                 help="Component means: .npy or text file, shape (K,) or (K, d)."),
    click.option("--covariances", "cov_file", type=click.Path(dir_okay=False), default=None,
                 help="Covariances .npy: (K,) variances (d=1), (K, d) diagonal or (K, d, d)."),
    click.option("--init-weights", "weights_file", type=click.Path(dir_okay=False), default=None,
                 help="Initial weights .npy or text, shape (n, K), rows on the simplex."),
    click.option("--init-rag", "rag_file", type=click.Path(dir_okay=False), default=None,
                 help="Initial RAG points .npy, shape (n, r, d) (or (n, r) when d = 1)."),
    click.option("--graph", "graph_file", type=click.Path(dir_okay=False), default=None,
                 help="Communication graph: .npy (n, n) or (T, n, n) booleans, or a scipy.sparse (n, n) "
                      ".npz (scipy.sparse.save_npz; for large n); [i, j] = i may query j."),
    param_option("eps", type=float, default=DEFAULT_EPS, show_default=True,
                 help="Weights are clipped to [eps, 1-eps] in every EM step; in (0, 1e-3]."),
    click.option("--update", type=click.Choice(["synchronous", "sequential"]), default="synchronous",
                 show_default=True),
    click.option("--rag-replacement", type=click.Choice(["farthest", "fifo"]), default="farthest",
                 show_default=True),
    click.option("--update-covariances", is_flag=True, help="Algorithm 2: agents also update covariances."),
    click.option("--volume-preserving", is_flag=True, help="With --update-covariances: keep det(Sigma) fixed."),
    param_option("min_sd", type=float, default=0.01, show_default=True,
                 help="With --update-covariances: floor on standard deviations."),
    click.option("--tie-break", type=click.Choice(["index", "random"]), default="index", show_default=True,
                 help="Equally distant neighbour candidates: lower index first (the authors' rule) or at random."),
]


def _model_options(func):
    for opt in reversed(_MODEL_OPTIONS):
        func = opt(func)
    return func


def _config(n_agents, n_components, sigma, rag_size, p_mirror, n_neighbors, means_file, cov_file,
            weights_file, rag_file, graph_file, eps, update, rag_replacement, update_covariances,
            volume_preserving, min_sd, tie_break="index"):
    from gmmproxy.config import SimulationConfig

    return SimulationConfig(
        n_agents=n_agents, n_components=n_components, sigma=sigma, rag_size=rag_size, p_mirror=p_mirror,
        n_neighbors=n_neighbors,
        means=_load_array(means_file, "--means") if means_file else None,
        covariances=_load_array(cov_file, "--covariances") if cov_file else None,
        init_weights=_load_array(weights_file, "--init-weights") if weights_file else None,
        init_rag=_load_array(rag_file, "--init-rag") if rag_file else None,
        graph=_load_graph(graph_file) if graph_file else None,
        eps=eps, update=update, rag_replacement=rag_replacement, update_covariances=update_covariances,
        volume_preserving=volume_preserving, min_sd=min_sd, tie_break=tie_break,
    )


@click.command("simulate")
@_model_options
@click.option("--steps", type=int, default=100, show_default=True, help="Rounds T.")
@click.option("--seed", type=int, default=FIGURE2_SEED, show_default=True, help="Random seed.")
@click.option("--replicates", type=int, default=None, help="Run a batch of N replicates.")
@click.option("--engine", type=click.Choice(["numba", "reference"]), default="numba", show_default=True,
              help="'reference' reproduces the authors' runs bit for bit (slow, single runs only).")
@click.option("--record", type=click.Choice(["weights", "silos", "metrics"]), default=None,
              help="What to keep per step [default: weights for one run, silos for a batch].")
@click.option("--float32", is_flag=True, help="Store recorded weights as float32.")
@click.option("--n-threads", "--threads", "threads", type=int, default=None, help="Numba threads for a batch.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the result (.npz; the suffix is added if missing).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Write a figure (one run: silo membership and sizes; a batch: mean N(t) with bands).")
@force_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--progress/--no-progress", default=None, help="Progress bar for batches [default: on a terminal].")
def simulate_command(steps, seed, replicates, engine, record, float32, threads, out, plot, force, as_json,
                     progress, **model):
    """Simulate interacting GMM agents.

    With no options: the paper's Figure-2 configuration (n = K = 30,
    sigma = 0.2, r = 5, p = 0.4, k = 29, T = 100, seed 618327487). Add
    --engine reference to reproduce the authors' published run bit for bit.
    """
    from gmmproxy._simulate import simulate, simulate_many

    cfg = _config(**model)
    if out is not None and not str(out).endswith(".npz"):
        out = str(out) + ".npz"  # as Trajectory.save will name it
    check_outputs(force, out=out, plot=plot)
    if plot is not None and record == "metrics":
        raise ValueError("--plot needs recorded silos: use --record silos or weights, not metrics")
    wdt = np.float32 if float32 else np.float64
    if replicates is None:
        traj = simulate(cfg, steps, seed, record=record or "weights", weights_dtype=wdt, engine=engine)
        _print_single(traj, as_json)
        _write_outputs(traj, out, plot, _plot_single, as_json)
        return
    if engine != "numba":
        raise ValueError("engine: batches (--replicates) run on the numba engine only; got 'reference'")
    ens = simulate_many(cfg, steps, replicates, seed, record=record or "silos", weights_dtype=wdt,
                        progress=progress, n_threads=threads)
    _print_batch(ens, as_json)
    if ens.replicates == 0:
        sys.exit(130)
    _write_outputs(ens, out, plot, _plot_batch, as_json)
    if ens.interrupted:
        sys.exit(130)


def _write_outputs(result, out, plot, plotter, as_json):
    """Save a Trajectory or Ensemble and its figure where asked; report each file written.

    With --json the report goes to stderr, so stdout stays one JSON object.
    """
    if out:
        path = result.save(out)
        click.echo(f"wrote {path}", err=as_json)
    if plot:
        plotter(result, plot)
        click.echo(f"wrote {plot}", err=as_json)


def _plot_single(traj, path):
    from gmmproxy.plotting import plot_silos

    cfg = traj.config
    title = (f"n={cfg.n_agents}, K={cfg.n_components}, sigma={cfg.sigma:g}, r={cfg.rag_size}, "
             f"p={cfg.p_mirror:g}, k={cfg.n_neighbors}, seed={traj.seed.get('reference_seed') or traj.seed['entropy']}")
    silos = traj.silos
    if silos is None:
        raise ValueError("--plot needs recorded silos (--record silos or weights)")
    plot_silos(silos, title=title, path=path, provenance=traj.provenance(graph_inline=False))


def _plot_batch(ens, path):
    from gmmproxy.plotting import plot_ensemble_n_silos

    cfg = ens.config
    title = (f"{ens.replicates} replicates: n={cfg.n_agents}, K={cfg.n_components}, sigma={cfg.sigma:g}, "
             f"r={cfg.rag_size}, p={cfg.p_mirror:g}, k={cfg.n_neighbors}")
    plot_ensemble_n_silos(ens.n_silos, title=title, path=path, provenance=ens.provenance(graph_inline=False))

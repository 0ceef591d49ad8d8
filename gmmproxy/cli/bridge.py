"""Command-line commands of the bridge: ``gmmproxy llm import``, ``gmmproxy llm silos``,
``gmmproxy perspective``.

The commands are attached to the ``gmmproxy`` group (and its ``llm`` sub-group) by
``gmmproxy/cli/__init__.py``; this module defines no group. Bad inputs raise ``ValueError``, which
the group prints as a one-line ``Error: ...`` with exit status 2.
"""
from __future__ import annotations

import json
import math

import click
import numpy as np

from gmmproxy._outputs import atomic_write, check_output
from gmmproxy.cli._options import check_outputs, force_option, parse_auto_or_count

__all__ = ["import_command", "silos_command", "perspective_command"]


def _steps_to_show(T: int, every: int) -> list[int]:
    steps = list(range(0, T, every))
    if steps[-1] != T - 1:
        steps.append(T - 1)
    return steps


def _nan_to_none(values) -> list:
    return [None if (isinstance(v, float) and math.isnan(v)) else v for v in values]


def _run_line(meta: dict) -> str:
    keys = ("p_mirror", "n_neighbors", "replicate", "n_agents", "n_steps", "backend", "model")
    parts = [f"{k}={meta[k]}" for k in keys if meta.get(k) is not None]
    return "run: " + " ".join(parts)


def _check_every(every: int) -> int:
    if every < 1:
        raise ValueError(f"--every must be >= 1; got {every}")
    return every


def _check_complete(traj, log_path, allow_partial: bool) -> None:
    """Refuse a log with fewer complete steps than its run record promises, unless --allow-partial."""
    promised = traj.meta.get("n_steps")
    if not isinstance(promised, int) or traj.n_steps >= promised:
        return
    found = (f"{log_path!r} holds {traj.n_steps} complete steps of the {promised} its run record "
             "promises (a truncated, interrupted or corrupt log)")
    if not allow_partial:
        raise ValueError(f"LOG: {found}; pass --allow-partial to analyse the {traj.n_steps} steps anyway")
    click.echo(f"warning: {found}; analysing the {traj.n_steps} complete steps (--allow-partial)", err=True)


_ALLOW_PARTIAL = click.option("--allow-partial", is_flag=True,
                              help="Analyse a log that stops before the steps its run record promises.")


# ---------------------------------------------------------------------------------------
# gmmproxy llm import
# ---------------------------------------------------------------------------------------


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the converted logs (created if missing; its parent must exist).")
@click.option("--overwrite", "--force", "overwrite", is_flag=True, help="Replace logs that already exist.")
def import_command(paths, out_dir, overwrite):
    """Convert published flower-experiment CSVs into run logs.

    PATHS are files output{P}_{K}_{V}.csv / output{P}_{K}_{V}_2nd.csv or directories
    holding them. Each run (both halves, 80 steps) becomes
    OUT/flowers_p{P}_k{K}_v{V}.jsonl; labels are the extracted flower names.
    """
    from pathlib import Path

    from gmmproxy.bridge.importer import import_published
    from gmmproxy.llm.log import read_log

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: {out_dir!r} is a file; give a folder")
    if not out.exists():
        check_output(out, option="--out")  # its parent must exist and be writable
    written = import_published(list(paths), out_dir, overwrite=overwrite)
    total = unlabelled = 0
    for path in written:
        log = read_log(path)
        missing = int(sum(lab is None for lab in log.labels.ravel()))
        total += log.labels.size
        unlabelled += missing
        click.echo(f"{path}: n_agents={log.n_agents} n_steps={log.n_steps} "
                   f"p_mirror={log.meta['p_mirror']} n_neighbors={log.meta['n_neighbors']} "
                   f"replicate={log.meta['replicate']} unlabelled={missing}")
    share = 100.0 * (total - unlabelled) / total if total else 0.0
    click.echo(f"imported {len(written)} runs; labels extracted for {total - unlabelled}/{total} "
               f"answers ({share:.1f}%)")


# ---------------------------------------------------------------------------------------
# gmmproxy llm silos
# ---------------------------------------------------------------------------------------


def silo_report(traj) -> dict:
    """The silo statistics of an :class:`~gmmproxy.bridge.trajectory.LLMTrajectory`.

    Returns
    -------
    dict
        ``n_silos``, ``stability``, ``entropy_bits`` (lists over steps, ``None`` for
        undefined values), ``time_to_single_silo`` (int or None), ``final_silos``
        (label name -> size at the last step, largest first), ``summary``
        (``gmmproxy.metrics.summarize``) and ``n_unlabelled``.
    """
    from gmmproxy import metrics

    s = traj.silos
    ns = metrics.n_silos(s)
    st = metrics.stability(s)
    en = metrics.entropy(s)
    t1 = int(metrics.time_to_single_silo(s))
    sizes = metrics.silo_sizes(s, n_labels=len(traj.label_names))[-1]
    order = np.argsort(-sizes, kind="stable")
    final = {traj.label_names[i]: int(sizes[i]) for i in order if sizes[i] > 0}
    return {
        "n_silos": [int(v) for v in ns],
        "stability": _nan_to_none([float(v) for v in st]),
        "entropy_bits": [float(v) for v in en],
        "time_to_single_silo": None if t1 == metrics.NEVER else t1,
        "final_silos": final,
        "summary": metrics.summarize(s),
        "n_unlabelled": int(traj.meta.get("n_unlabelled", 0)),
    }


@click.command("silos")
@click.argument("log_path", metavar="LOG", type=click.Path(exists=True, dir_okay=False))
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Save the silo membership / sizes figure (same as for a simulation).")
@force_option
@click.option("--every", default=10, show_default=True, type=int,
              help="Print every N-th step (and the last).")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@_ALLOW_PARTIAL
def silos_command(log_path, plot_path, force, every, as_json, allow_partial):
    """Silo summary of a run log: silos over time, stability, entropy, time to one silo."""
    from gmmproxy.bridge.trajectory import from_log

    every = _check_every(every)
    check_outputs(force, plot=plot_path)
    traj = from_log(log_path, extractor=None)  # the labels the run recorded
    _check_complete(traj, log_path, allow_partial)
    rep = silo_report(traj)
    if as_json:
        click.echo(json.dumps(rep, indent=1))
    else:
        click.echo(f"log: {log_path}")
        click.echo(_run_line(traj.meta))
        if rep["n_unlabelled"]:
            click.echo(f"unlabelled answers: {rep['n_unlabelled']} (counted as one extra silo)")
        click.echo(f"{'t':>4} {'n_silos':>8} {'stability':>10} {'entropy_bits':>13}")
        for t in _steps_to_show(traj.n_steps, every):
            stab = rep["stability"][t]
            stab_s = "-" if stab is None else f"{stab:.3f}"
            click.echo(f"{t:>4} {rep['n_silos'][t]:>8} {stab_s:>10} "
                       f"{rep['entropy_bits'][t]:>13.3f}")
        t1 = rep["time_to_single_silo"]
        click.echo(f"time to one silo: {'never' if t1 is None else t1}")
        click.echo(f"mean stability (t >= 1): {1.0 - rep['summary']['mean_switch_rate']:.3f}")
        click.echo("final silos: " + ", ".join(f"{k} {v}" for k, v in rep["final_silos"].items()))
    if plot_path is not None:
        from gmmproxy.plotting import plot_silos

        meta = traj.meta
        title = "LLM run: p = {}, k = {}".format(meta.get("p_mirror", "?"), meta.get("n_neighbors", "?"))
        plot_silos(traj.silos, label_names=list(traj.label_names), title=title, path=plot_path,
                   provenance={"log": str(log_path), "kind": "llm-silos"})
        if not as_json:
            click.echo(f"figure: {plot_path}")


# ---------------------------------------------------------------------------------------
# gmmproxy perspective
# ---------------------------------------------------------------------------------------


@click.command("perspective")
@click.argument("log_path", metavar="LOG", type=click.Path(exists=True, dir_okay=False))
@click.option("--embedder", default=None,
              help="tfidf, minilm or a local sentence-transformers model directory. Default: "
                   "the log's stored embeddings if it has them, else minilm (tfidf if the "
                   "embed extra is not installed).")
@click.option("--mode", type=click.Choice(["history", "step"]), default="history",
              show_default=True, help="One CMDS over the whole history, or one per step.")
@click.option("--n-components", default="auto", show_default=True,
              help="Perspective dimension, or 'auto' (profile-likelihood elbow).")
@click.option("--max-clusters", default=8, show_default=True, type=int,
              help="Largest number of GMM components tried per step.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the GMM fits.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Save the 1-d perspective of each agent over time.")
@click.option("--clusters-plot", "clusters_path", type=click.Path(dir_okay=False), default=None,
              help="Save the number of clusters and ARI over time.")
@click.option("--save", "save_path", type=click.Path(dir_okay=False), default=None,
              help="Save positions, iso-mirror and clusters to an .npz file.")
@force_option
@click.option("--every", default=10, show_default=True, type=int,
              help="Print every N-th step (and the last).")
@_ALLOW_PARTIAL
def perspective_command(log_path, embedder, mode, n_components, max_clusters, seed,
                        plot_path, clusters_path, save_path, force, every, allow_partial):
    """Perspective space of a run log (Helm et al. 2024): CMDS, iso-mirror, GMM clusters."""
    from gmmproxy.bridge.trajectory import embed_trajectory, from_log
    from gmmproxy.perspective import cluster_steps, iso_mirror, perspective_space

    every = _check_every(every)
    d = parse_auto_or_count(n_components, "--n-components")
    if max_clusters < 1:
        raise ValueError(f"--max-clusters must be >= 1; got {max_clusters}")
    if save_path is not None and not str(save_path).endswith(".npz"):
        save_path = str(save_path) + ".npz"  # numpy.savez's naming, said up front
    check_outputs(force, plot=plot_path, clusters_plot=clusters_path, save=save_path)
    traj = from_log(log_path, extractor=None)
    _check_complete(traj, log_path, allow_partial)
    E, source = embed_trajectory(traj, embedder)
    space = perspective_space(E, mode=mode, n_components=d)
    iso = iso_mirror(space.positions, align=(mode == "step")) if traj.n_steps >= 3 else None
    clusters = cluster_steps(space.positions, max_clusters=max_clusters, seed=seed)

    click.echo(f"log: {log_path}")
    click.echo(_run_line(traj.meta))
    click.echo(f"embeddings: {source} (D = {E.shape[-1]})")
    click.echo(f"perspective space: mode={mode}, dimension {space.n_components}"
               + (" (profile-likelihood elbow)" if d == "auto" else ""))
    header = f"{'t':>4} {'n_silos':>8} {'n_clusters':>11} {'ARI':>7}"
    if iso is not None:
        header += f" {'iso_mirror':>11}"
    click.echo(header)
    from gmmproxy import metrics

    ns = metrics.n_silos(traj.silos)
    for t in _steps_to_show(traj.n_steps, every):
        a = clusters.ari[t]
        line = (f"{t:>4} {int(ns[t]):>8} {int(clusters.n_clusters[t]):>11} "
                f"{'-' if math.isnan(a) else f'{a:.3f}':>7}")
        if iso is not None:
            line += f" {iso.values[t]:>11.4f}"
        click.echo(line)
    if save_path is not None:
        arrays = dict(
            positions=space.positions, eigenvalues=space.eigenvalues,
            iso_mirror=np.zeros(0) if iso is None else iso.values,
            n_clusters=clusters.n_clusters, ari=clusters.ari, cluster_labels=clusters.labels,
            silos=traj.silos, label_names=np.asarray(traj.label_names, dtype=str),
        )
        atomic_write(save_path, lambda fh: np.savez_compressed(fh, **arrays))
        click.echo(f"saved: {save_path}")
    if plot_path is not None or clusters_path is not None:
        from gmmproxy.plotting import plot_clusters, plot_perspective

        prov = {"log": str(log_path), "embeddings": source, "mode": mode,
                "n_components": int(space.n_components)}
        meta = traj.meta
        title = "p = {}, k = {}".format(meta.get("p_mirror", "?"), meta.get("n_neighbors", "?"))
        if plot_path is not None:
            plot_perspective(space.one_d, silos=traj.silos, label_names=list(traj.label_names),
                             title=title, path=plot_path, provenance=prov)
            click.echo(f"figure: {plot_path}")
        if clusters_path is not None:
            plot_clusters(clusters.n_clusters, clusters.ari[1:], title=title,
                          path=clusters_path, provenance=prov)
            click.echo(f"figure: {clusters_path}")

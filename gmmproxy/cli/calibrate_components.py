"""The ``gmmproxy calibrate components`` command: proxy components from logged LLM runs.

Exposes the click command :data:`components_command`, attached to the ``calibrate``
group by the command-line package.
"""
from __future__ import annotations

import json
import os

import click
import numpy as np

from gmmproxy.cli._options import parse_auto_or_count

__all__ = ["components_command"]


@click.command("components")
@click.argument("logs", nargs=-1, required=True, metavar="LOG...",
                type=click.Path(exists=True, dir_okay=False))
@click.option("--embedder", default=None,
              help="tfidf, minilm, a local sentence-transformers model directory, or 'log' "
                   "(the embeddings stored in the logs). Default: minilm if the embed extra "
                   "is installed, else tfidf.")
@click.option("--dim", "dim", default="auto", show_default=True,
              help="Perspective dimension d (an int >= 1, at most the rank of the answers' "
                   "embeddings), or 'auto' (profile-likelihood elbow).")
@click.option("--shrinkage", default=None, type=float,
              help="Pseudo-answers of the pooled within-label covariance added to each "
                   "label's covariance (>= 0; default d + 1).")
@click.option("--initial", type=click.Choice(["label", "posterior"]), default="label",
              show_default=True,
              help="Initial weights: certain of the first answer's label, or the posterior "
                   "of the first answer's position.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Output .npz (means, covariances, initial_weights, label_names, provenance).")
@click.option("--force", "--overwrite", "overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.pass_context
def components_command(ctx, logs, embedder, dim, shrinkage, initial, out_path, overwrite,
                       as_json):
    """Proxy components where the LLM's perspectives live.

    Embeds every answer of the LOGs, reduces the embeddings to a d-dimensional
    perspective space (classical MDS), and puts one component per label at the centroid
    of that label's answers with their within-label covariance; each agent's initial
    weights come from its first answer. The .npz is what `calibrate fit --components`
    and `SimulationConfig(means=..., covariances=..., init_weights=...)` take.
    """
    from gmmproxy.bridge.components import (_check_out_path, check_embedder_available,
                                            components_from_logs)
    from gmmproxy.bridge.trajectory import _default_embedder_name

    try:
        # everything checkable is checked before the (possibly long) embedding
        d = parse_auto_or_count(dim, "dim")
        if shrinkage is not None and not (shrinkage >= 0 and shrinkage < float("inf")):
            raise ValueError(f"shrinkage must be a finite number >= 0; got {shrinkage}")
        out = _check_out_path(out_path, overwrite)
        name = _default_embedder_name() if embedder is None else embedder
        check_embedder_available(name)
        comps = components_from_logs(list(logs), embedder=name, dim=d, shrinkage=shrinkage,
                                     initial=initial)
        written = comps.save(out, overwrite=overwrite)
    except ImportError as exc:
        click.echo(f"Error: {exc}", err=True)
        ctx.exit(2)
    except (ValueError, TypeError) as exc:
        click.echo(f"Error: {exc}", err=True)
        ctx.exit(2)
    prov = comps.provenance
    order = sorted(range(comps.n_components), key=lambda k: -int(comps.counts[k]))
    summary = {
        "out": written,
        "n_logs": len(logs),
        "embedder": prov["embedder"],
        "dim": comps.dim,
        "n_components": comps.n_components,
        "n_agents": comps.n_agents,
        "shrinkage": prov["shrinkage"],
        "initial": initial,
        "eigenvalues": [float(x) for x in comps.eigenvalues[:10]],
        "answers_per_label": {comps.label_names[k]: int(comps.counts[k]) for k in order},
    }
    if as_json:
        click.echo(json.dumps(summary, indent=1))
        return
    click.echo(f"logs: {len(logs)} ({prov['n_answers']} answers, {prov['n_labelled']} labelled)")
    click.echo(f"perspective space: embedder {prov['embedder']}, dimension {comps.dim}"
               + (" (profile-likelihood elbow)" if d == "auto" else ""))
    click.echo("leading eigenvalues: " + ", ".join(f"{x:.4g}" for x in comps.eigenvalues[:6]))
    click.echo(f"components: {comps.n_components} (shrinkage {prov['shrinkage']:g}); "
               f"agents: {comps.n_agents}; initial weights: {initial}")
    for k in order[:10]:
        m = ", ".join(f"{x:+.3f}" for x in comps.means[k][:3])
        sd = ", ".join(f"{x:.3f}" for x in np.sqrt(np.diag(comps.covariances[k]))[:3])
        click.echo(f"  {comps.label_names[k]:<16} n={int(comps.counts[k]):>6}  mean=({m})  sd=({sd})")
    if comps.n_components > 10:
        click.echo(f"  ... {comps.n_components - 10} more")
    click.echo(f"saved: {os.fspath(written)}")


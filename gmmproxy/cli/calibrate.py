"""``gmmproxy calibrate``: fit the proxy to logged LLM runs, predict new settings, validate against runs."""
from __future__ import annotations

import json
import sys

import click

from gmmproxy.bridge.calibration.statistics import DEFAULT_TIMES
from gmmproxy.cli._options import check_outputs, force_option

_HINT = "calibration needs the 'calibrate' extra: pip install 'gmmproxy[calibrate]'"


def _need_extra(ctx):
    try:
        import pandas  # noqa: F401
        import pyabc  # noqa: F401
    except ImportError:
        click.echo(f"Error: {_HINT}", err=True)
        ctx.exit(2)


def _parse_times(value):
    try:
        out = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"--times must be comma-separated integers, e.g. 5,10,20; got {value!r}") from None
    if not out or min(out) < 0:
        raise click.BadParameter(f"--times must be non-negative integers; got {value!r}")
    return out


@click.group("calibrate")
def calibrate_group():
    """Calibrate the GMM proxy to logged LLM runs (needs the 'calibrate' extra)."""


@calibrate_group.command("fit")
@click.argument("logs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: history.db, posterior.csv, calibration.json, report.md, figures.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--population", "population_size", default=100, show_default=True, type=click.IntRange(min=10),
              help="ABC-SMC particles per generation.")
@click.option("--generations", "max_generations", default=6, show_default=True, type=click.IntRange(min=1),
              help="Maximum ABC-SMC generations.")
@click.option("--replicates", default=8, show_default=True, type=click.IntRange(min=1),
              help="Proxy replicates per condition per particle.")
@click.option("--min-acceptance", default=0.03, show_default=True, type=click.FloatRange(0, 1, max_open=True),
              help="Stop when a generation accepts fewer than this share of its simulations.")
@click.option("--free", default=None, help="Comma-separated free parameters (default sigma,rag_size,time_scale,"
              "p_exponent; also k_scale, log10_eps).")
@click.option("--prior", "priors", multiple=True, metavar="NAME=LO,HI",
              help="Prior interval of a free parameter (repeatable).")
@click.option("--answer-from", type=click.Choice(["current", "pseudo_update"]), default="current",
              show_default=True, help="Partner answers from its current or its pseudo-updated weights.")
@click.option("--components", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Proxy geometry from an .npz (means, covariances, initial_weights).")
@click.option("--times", default=",".join(map(str, DEFAULT_TIMES)), show_default=True,
              help="Steps t of the N(t) statistics.")
@click.option("--loco/--no-loco", default=True, show_default=True,
              help="Also refit leaving out each condition in turn and predict it.")
@click.option("--loco-method", type=click.Choice(["reference", "smc"]), default="reference", show_default=True,
              help="reference: rejection ABC on one shared table of prior draws for every left-out condition; "
                   "smc: one ABC-SMC refit per condition.")
@click.option("--loco-simulations", default=2000, show_default=True, type=click.IntRange(min=10),
              help="Prior draws in the shared reference table (--loco-method reference).")
@click.option("--loco-accept", default=100, show_default=True, type=click.IntRange(min=2),
              help="Nearest draws kept per left-out condition (--loco-method reference).")
@click.option("--loco-population", default=50, show_default=True, type=click.IntRange(min=10),
              help="Particles per refit (--loco-method smc).")
@click.option("--loco-generations", default=3, show_default=True, type=click.IntRange(min=1),
              help="Generations per refit (--loco-method smc).")
@click.option("--resume", is_flag=True, help="Continue the fit in --out from its last finished generation.")
@click.option("--force", "--overwrite", "overwrite", is_flag=True, help="Replace a calibration already in --out.")
@click.option("--report/--no-report", default=True, show_default=True, help="Write report.md and figures.")
@click.pass_context
def fit_command(ctx, logs, out_dir, seed, population_size, max_generations, replicates, min_acceptance, free,
                priors, answer_from, components, times, loco, loco_method, loco_simulations, loco_accept,
                loco_population, loco_generations, resume, overwrite, report):
    """Fit the proxy's parameters to LLM run logs (ABC-SMC); Ctrl-C keeps finished generations."""
    _need_extra(ctx)
    from gmmproxy.bridge.calibration.fit import fit
    from gmmproxy.bridge.calibration.model import DEFAULT_FREE, ProxyModel

    free_names = DEFAULT_FREE if free is None else tuple(f.strip() for f in free.split(",") if f.strip())
    prior_dict = {}
    for item in priors:
        try:
            name, rng = item.split("=")
            lo, hi = (float(v) for v in rng.split(","))
        except ValueError:
            raise click.BadParameter(f"--prior must look like NAME=LO,HI; got {item!r}") from None
        prior_dict[name.strip()] = (lo, hi)
    model = ProxyModel(free=free_names, priors=prior_dict, answer_from=answer_from)
    try:
        res = fit(list(logs), out_dir, model=model, components=components, seed=seed,
                  population_size=population_size, max_generations=max_generations, replicates=replicates,
                  min_acceptance=min_acceptance, times=_parse_times(times), loco=loco, loco_method=loco_method,
                  loco_simulations=loco_simulations, loco_accept=loco_accept, loco_population=loco_population, loco_generations=loco_generations, resume=resume,
                  overwrite=overwrite)
    except KeyboardInterrupt:
        click.echo("Error: interrupted before the first generation finished; nothing kept", err=True)
        ctx.exit(130)
    if res.info.get("interrupted"):
        click.echo(f"interrupted: kept {res.info['generations']} generation(s) in {out_dir}/history.db; "
                   "continue with --resume", err=True)
    if report:
        from gmmproxy.bridge.calibration.report import write_report

        path = write_report(res, out_dir, seed=seed)
        click.echo(f"report: {path}")
    summ = res.summary()
    click.echo("posterior (median [5%, 95%]): " + "; ".join(
        f"{k} {v['median']:.3g} [{v['q05']:.3g}, {v['q95']:.3g}]" for k, v in summ.items()))
    if res.loco:
        hits = sum(e["statistics"][e["headline"]]["inside"] for e in res.loco)
        n10 = sum(e["statistics"]["n_silos_t10"]["inside"] for e in res.loco if "n_silos_t10" in e["statistics"])
        click.echo(f"leave-one-condition-out: headline inside the 90% band in {hits}/{len(res.loco)}, "
                   f"N(10) in {n10}/{len(res.loco)}")


@calibrate_group.command("predict")
@click.argument("calib_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--p-mirror", required=True, type=click.FloatRange(0, 1), help="The LLM's mirroring probability.")
@click.option("--n-neighbors", "--neighbors", "n_neighbors", required=True, type=click.IntRange(min=1),
              help="The LLM's k.")
@click.option("--steps", default=80, show_default=True, type=click.IntRange(min=1),
              help="Number of LLM steps T (t = 0 .. T-1).")
@click.option("--replicates", default=500, show_default=True, type=click.IntRange(min=1))
@click.option("--n-agents", "n_agents", default=None, type=click.IntRange(min=2),
              help="Population size [default: the calibration's]; another size needs the paper's geometry.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--json", "as_json", is_flag=True, help="Print the prediction as one JSON object.")
@click.option("--save", "save_path", default=None, type=click.Path(dir_okay=False),
              help="Also save the Ensemble (.npz).")
@force_option
@click.pass_context
def predict_command(ctx, calib_dir, p_mirror, n_neighbors, steps, replicates, n_agents, seed, as_json, save_path,
                    force):
    """Predict the LLM's silo statistics for a setting, from the posterior."""
    _need_extra(ctx)
    from gmmproxy.bridge.calibration.predict import predict
    from gmmproxy.bridge.calibration.statistics import summary_statistics

    check_outputs(force, save=save_path)
    ens = predict(calib_dir, p_mirror, n_neighbors, steps=steps, replicates=replicates, seed=seed,
                  n_agents=n_agents)
    st = summary_statistics(ens, late_times="nan")
    T = st.pop("n_steps")
    out = {"p_mirror": p_mirror, "n_neighbors": n_neighbors, "n_agents": ens.config.n_agents, "n_steps": T,
           "replicates": ens.replicates,
           "statistics": {k: {"mean": float(v.mean()), "q05": float(np.quantile(v, 0.05)),
                              "q95": float(np.quantile(v, 0.95))}
                          # N(t) for t beyond the run is unknown: left out rather than NaN (not JSON)
                          for k, v in st.items() if np.all(np.isfinite(v))},
           "n_silos_mean": ens.n_silos.mean(axis=0).tolist()}
    if save_path:
        ens.save(save_path)
    if as_json:
        click.echo(json.dumps(out))
        return
    click.echo(f"p = {p_mirror}, k = {n_neighbors}, n = {ens.config.n_agents}, {T} steps, {ens.replicates} replicates "
               "(mean [5%, 95%] over replicates)")
    for k, v in out["statistics"].items():
        click.echo(f"  {k:22s} {v['mean']:8.3f}  [{v['q05']:.3g}, {v['q95']:.3g}]")


@calibrate_group.command("validate")
@click.argument("calib_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("logs", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the validation as one JSON object.")
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False),
              help="Also draw the N(t) grid: LLM runs, calibrated 90% band, baseline (.png).")
@click.option("--draws", default=200, show_default=True, type=click.IntRange(min=10),
              help="Posterior draws for the predictive band.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@force_option
@click.pass_context
def validate_command(ctx, calib_dir, logs, as_json, plot_path, draws, seed, force):
    """Compare a calibration with LLM runs (default: the runs it was fitted to)."""
    _need_extra(ctx)
    from gmmproxy.bridge.calibration.fit import load_logs, load_result
    from gmmproxy.bridge.calibration.validate import validate

    check_outputs(force, plot=plot_path)
    res = load_result(calib_dir)
    table = validate(res, list(logs) or None, draws=draws, seed=seed)
    if plot_path is not None:
        from gmmproxy.bridge.calibration.report import plot_nt_grid

        observed = load_logs(list(logs), res.times) if logs else res.observed
        plot_nt_grid(res, observed, plot_path, seed=seed)
    if as_json:
        click.echo(json.dumps(table))
        return
    from gmmproxy.bridge.calibration.report import validation_markdown

    click.echo(validation_markdown(table))


import numpy as np  # noqa: E402  (used by predict_command; kept after the click definitions)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(calibrate_group())

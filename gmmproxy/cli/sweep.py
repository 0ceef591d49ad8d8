"""``gmmproxy sweep``: parameter sweeps from the shell (in-process or on Dask), and ``sweep plot``.

The design is a grid (``--grid NAME=V1,V2,...``) or points sampled over
ranges (``--sample NAME=LOW:HIGH[:int] --points N --design sobol``); results
go to a sweep folder (``--out``: ``manifest.json`` + one Parquet file per
cell) that ``--resume`` finishes after an interruption and ``gmmproxy sweep
plot`` draws.
"""
from __future__ import annotations

import sys
import time

import click
import numpy as np

from gmmproxy.cli.simulate import _config, _model_options


def _fail(message: str, code: int = 2):
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def _parse_value(v: str):
    v = v.strip()
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def _parse_grid(items) -> dict:
    """``--grid`` items -> ``{canonical name: [values]}``; a name given twice is an error."""
    from gmmproxy._names import canonical
    from gmmproxy.sweeps import SWEEPABLE

    grid: dict = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--grid must look like NAME=V1,V2,...; got {item!r}")
        raw, vals = item.split("=", 1)
        name = canonical(raw, SWEEPABLE)
        if name in grid:
            raise ValueError(f"--grid names {name!r} twice; list all its values in one --grid {name}=V1,V2,...")
        grid[name] = [_parse_value(v) for v in vals.split(",") if v.strip() != ""]
    return grid


def _parse_sample(items) -> dict:
    """``--sample NAME=LOW:HIGH[:int|float]`` items -> ranges for a sampled design."""
    from gmmproxy._names import canonical
    from gmmproxy.sweeps import SWEEPABLE

    ranges: dict = {}
    for item in items:
        if "=" not in item or item.split("=", 1)[1].count(":") not in (1, 2):
            raise ValueError(f"--sample must look like NAME=LOW:HIGH or NAME=LOW:HIGH:int; got {item!r}")
        raw, spec = item.split("=", 1)
        name = canonical(raw, SWEEPABLE)
        if name in ranges:
            raise ValueError(f"--sample names {name!r} twice")
        parts = spec.split(":")
        try:
            lo, hi = float(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(f"--sample {item!r}: LOW and HIGH must be numbers") from None
        ranges[name] = (lo, hi, parts[2]) if len(parts) == 3 else (lo, hi)
    return ranges


def _summary_lines(table, names):
    lines = [" ".join(f"{n:>12}" for n in names) + "   silos_final (SE)   reached_one   mean_t_one"]
    for _, part in table.groupby("cell", sort=False):
        final = part["silos_final"].to_numpy(dtype=float)
        reached = part["reached_single_silo"].to_numpy()
        se = final.std(ddof=1) / np.sqrt(final.size) if final.size > 1 else 0.0
        tts = part["time_to_single_silo"].dropna().to_numpy(dtype=float)
        t_mean = f"{tts.mean():.1f}" if tts.size else "never"
        first = part.iloc[0]
        vals = " ".join(f"{(f'{first[n]:.4g}' if isinstance(first[n], float) else str(first[n])):>12}"
                        for n in names)
        lines.append(f"{vals}   {final.mean():8.3f} ({se:.3f})   {reached.mean():11.3f}   {t_mean:>10}")
    return lines


class _SweepGroup(click.Group):
    """``gmmproxy sweep [OPTIONS]`` runs a sweep; ``gmmproxy sweep plot ...`` draws one."""

    def format_usage(self, ctx, formatter):
        formatter.write_usage(ctx.command_path, "[OPTIONS] | plot FOLDER [OPTIONS]")


@click.group("sweep", cls=_SweepGroup, invoke_without_command=True)
@_model_options
@click.option("--grid", "grid_items", multiple=True,
              help="NAME=V1,V2,... (repeatable): every combination is a cell, e.g. --grid p_mirror=0,0.2 "
                   "--grid neighbors=1,5,29.")
@click.option("--sample", "sample_items", multiple=True,
              help="NAME=LOW:HIGH or NAME=LOW:HIGH:int (repeatable): a range for a sampled design.")
@click.option("--design", type=click.Choice(["grid", "random", "lhs", "sobol"]), default=None,
              help="With --sample: how points are drawn [default: lhs]. Sobol needs a power of 2 points.")
@click.option("--points", type=int, default=None, help="With --sample: number of design points.")
@click.option("--steps", type=int, default=80, show_default=True, help="Rounds T.")
@click.option("--replicates", type=int, default=50, show_default=True, help="Replicates per cell.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the sweep (and of a sampled design); a cell's seed comes from it and the "
                   "cell's parameter values.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Sweep folder: manifest.json + one Parquet file per finished cell.")
@click.option("--resume", is_flag=True, help="Finish the sweep in --out: run only its missing cells.")
@click.option("--force", is_flag=True, help="Overwrite the sweep in --out.")
@click.option("--workers", type=int, default=None,
              help="Run on a local Dask cluster of N worker processes (one Numba thread each).")
@click.option("--scheduler", default=None, help="Run on the Dask cluster at this address (tcp://HOST:8786).")
@click.option("--record-n-silos", is_flag=True, help="Also store N(t) of every replicate (out/n_silos/).")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: on a terminal].")
@click.pass_context
def sweep_command(ctx, grid_items, sample_items, design, points, steps, replicates, seed, out, resume, force,
                  workers, scheduler, record_n_silos, progress, **model):
    """Parameter sweep: every cell of a grid or sampled design x replicates, one tidy table.

    Prints one line per cell (mean number of silos at T with its standard
    error, share of replicates reaching a single silo, mean time to it).
    Ctrl-C keeps the finished cells in --out and exits with status 130.
    """
    if ctx.invoked_subcommand is not None:
        return
    from gmmproxy._extras import MissingExtraError, require

    try:
        require("pandas", "tidy", "gmmproxy sweep")
        if out is not None:
            require("pyarrow", "tidy", "gmmproxy sweep --out")
        if workers is not None or scheduler is not None:
            require("distributed", "distributed", "--workers and --scheduler")
    except MissingExtraError as exc:
        _fail(str(exc))
    from gmmproxy.sweeps import Grid, SweepExistsError, SweepInterrupted, sample_design, sweep

    if bool(grid_items) == bool(sample_items):
        raise click.UsageError("give the design as --grid NAME=V1,V2,... or as --sample NAME=LOW:HIGH "
                               "with --points (one of the two)")
    if grid_items:
        if design not in (None, "grid") or points is not None:
            raise click.UsageError("--design random/lhs/sobol and --points go with --sample, not --grid")
        the_design = Grid(_parse_grid(grid_items))
    else:
        if design == "grid":
            raise click.UsageError("--design grid goes with --grid; --sample needs random, lhs or sobol")
        if points is None:
            raise click.UsageError("--sample needs --points N")
        the_design = sample_design(design or "lhs", _parse_sample(sample_items), points, seed=seed)
    if workers is not None and scheduler is not None:
        raise click.UsageError("--workers starts a local cluster, --scheduler uses a running one: not both")
    if (resume or force) and out is None:
        raise click.UsageError("--resume and --force need --out")
    if record_n_silos and out is None:
        raise click.UsageError("--record-n-silos needs --out")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be >= 1; got {workers}")
    base = _config(**model)

    client = None
    t0 = time.perf_counter()
    try:
        if out is not None:
            # refuse an existing folder before starting a cluster
            from gmmproxy.sweeps._store import SweepStore

            SweepStore(out).check_new(resume=resume, force=force)
        if workers is not None:
            from gmmproxy.sweeps import local_dask_client

            client = local_dask_client(workers)
        elif scheduler is not None:
            from gmmproxy.sweeps import connect_dask

            client = connect_dask(scheduler)
        table = sweep(base, the_design, steps, replicates, seed, out=out, executor=client, resume=resume,
                      force=force, record_n_silos=record_n_silos, progress=progress)
    except SweepInterrupted as exc:
        click.echo(f"interrupted: {exc.finished} of {exc.total} cells finished"
                   + (f" and kept in {out}; finish with --resume" if out else " (lost: no --out)"), err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted before any cell ran", err=True)
        sys.exit(130)
    except (SweepExistsError, FileNotFoundError) as exc:
        _fail(str(exc))
    except ConnectionError as exc:
        _fail(str(exc), 1)
    finally:
        if client is not None:
            cluster = client.cluster if workers is not None else None
            client.close()
            if cluster is not None:
                cluster.close()
    names = the_design.names
    lines = _summary_lines(table, names)
    shown = lines if len(lines) <= 41 else lines[:41] + [f"... {len(lines) - 41} more cells"]
    for line in shown:
        click.echo(line)
    click.echo(f"{len(table)} rows in {time.perf_counter() - t0:.1f} s" + (f"; wrote {out}" if out else ""))


def _parse_where(items) -> dict:
    where = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--where must look like NAME=VALUE; got {item!r}")
        name, value = item.split("=", 1)
        where[name.strip()] = _parse_value(value)
    return where


@sweep_command.command("plot")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--x", "x", required=True, help="Swept parameter on the x axis.")
@click.option("--y", "y", default=None, help="Second parameter: draw a heat map of x by y.")
@click.option("--stat", default="silos_final", show_default=True,
              help="Per-replicate statistic: silos_final, time_to_single_silo, reached_single_silo, "
                   "largest_silo_final, entropy_final, mean_switch_rate, final_switch_rate.")
@click.option("--where", "where_items", multiple=True, help="NAME=VALUE (repeatable): fix another parameter.")
@click.option("--level", type=float, default=0.95, show_default=True, help="Confidence level of the bands.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), required=True, help="Figure file (.png, .pdf, .svg).")
def sweep_plot_command(folder, x, y, stat, where_items, level, plot_path):
    """Draw a sweep folder: a heat map over two parameters (--x, --y) or lines with bands over one (--x)."""
    from gmmproxy._extras import MissingExtraError, require

    try:
        require("pandas", "tidy", "gmmproxy sweep plot")
        require("pyarrow", "tidy", "gmmproxy sweep plot")
    except MissingExtraError as exc:
        _fail(str(exc))
    import warnings

    from gmmproxy.plotting.sweeps import plot_sweep_heatmap, plot_sweep_lines
    from gmmproxy.sweeps import load_sweep

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            table = load_sweep(folder)
    except FileNotFoundError as exc:
        _fail(str(exc))
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    where = _parse_where(where_items)
    m = table.attrs["manifest"]
    provenance = {"sweep": str(folder), "version": m["version"], "seed": m["seed"], "steps": m["steps"],
                  "replicates": m["replicates"], "design": m["design"], "base_config": m["base_config"],
                  "plot": {"x": x, "y": y, "stat": stat, "where": where, "level": level}}
    if y is None:
        plot_sweep_lines(table, x, stat, where=where, level=level, path=plot_path, provenance=provenance)
    else:
        plot_sweep_heatmap(table, x, y, stat, where=where, path=plot_path, provenance=provenance)
    click.echo(f"wrote {plot_path}")

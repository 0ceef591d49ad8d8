"""``gmmproxy sweep``: a parameter sweep from the shell, one tidy table of replicates."""
from __future__ import annotations

import time

import click
import numpy as np

from gmmproxy.cli.simulate import _config, _model_options


def _parse_grid(items) -> dict:
    grid = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--grid must look like NAME=V1,V2,...; got {item!r}")
        name, vals = item.split("=", 1)
        name = name.strip().replace("-", "_")
        aliases = {"agents": "n_agents", "components": "n_components", "neighbors": "n_neighbors"}
        name = aliases.get(name, name)
        out = []
        for v in vals.split(","):
            v = v.strip()
            if v.lower() in ("true", "false"):
                out.append(v.lower() == "true")
                continue
            try:
                out.append(int(v))
            except ValueError:
                try:
                    out.append(float(v))
                except ValueError:
                    out.append(v)
        grid[name] = out
    return grid


@click.command("sweep")
@_model_options
@click.option("--grid", "grid_items", multiple=True, required=True,
              help="NAME=V1,V2,... (repeatable), e.g. --grid p_mirror=0,0.2 --grid n_neighbors=1,5,29.")
@click.option("--steps", type=int, default=80, show_default=True, help="Rounds T.")
@click.option("--replicates", type=int, default=50, show_default=True, help="Replicates per cell.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the sweep.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="CSV with one row per replicate, written as cells finish.")
@click.option("--progress/--no-progress", default=None, help="Progress bars [default: on a terminal].")
def sweep_command(grid_items, steps, replicates, seed, out, progress, **model):
    """Parameter sweep: every combination of --grid values x replicates, one tidy table.

    Prints one line per cell (mean number of silos at T with its standard
    error, share of replicates reaching a single silo, mean time to it).
    """
    from gmmproxy.sweeps import sweep

    base = _config(**model)
    grid = _parse_grid(grid_items)
    t0 = time.perf_counter()
    rows = sweep(base, grid, steps=steps, replicates=replicates, seed=seed, out=out, progress=progress)
    names = list(grid)
    click.echo(" ".join(f"{n:>12}" for n in names)
               + "   silos_at_T (SE)   reached_one   mean_t_one")
    by_cell = {}
    for row in rows:
        by_cell.setdefault(row["cell"], []).append(row)
    for cell_rows in by_cell.values():
        final = np.array([r["n_silos_final"] for r in cell_rows], dtype=float)
        tts = np.array([r["time_to_single_silo"] for r in cell_rows])
        reached = tts >= 0
        se = final.std(ddof=1) / np.sqrt(final.size) if final.size > 1 else 0.0
        t_mean = f"{tts[reached].mean():.1f}" if reached.any() else "never"
        click.echo(" ".join(f"{cell_rows[0][n]!s:>12}" for n in names)
                   + f"   {final.mean():8.3f} ({se:.3f})   {reached.mean():11.3f}   {t_mean:>10}")
    click.echo(f"{len(rows)} rows in {time.perf_counter() - t0:.1f} s" + (f"; wrote {out}" if out else ""))

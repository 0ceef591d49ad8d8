"""Grid sweeps: every combination of parameter values x replicates -> one tidy table of rows.

Every cell of the grid (one combination of parameter values) runs
``simulate_many`` with its own seed ``replicate_seed(seed, cell_index)``, so a
cell's results do not depend on which other cells are in the sweep's order
or whether the sweep was interrupted. Rows are appended to the CSV file as
each cell finishes, so Ctrl-C loses nothing already computed.
"""
from __future__ import annotations

import csv
import itertools
import time
import warnings
from pathlib import Path

import numpy as np

from gmmproxy import metrics
from gmmproxy._seeding import as_seed_sequence, replicate_seed
from gmmproxy.config import SimulationConfig
from gmmproxy._simulate import simulate_many

__all__ = ["sweep", "ROW_FIELDS"]

ROW_FIELDS = ("cell", "replicate", "n_silos_final", "time_to_single_silo", "reached_single_silo",
              "mean_switch_rate", "final_switch_rate")
_SWEEPABLE = ("n_agents", "n_components", "sigma", "rag_size", "p_mirror", "n_neighbors", "eps",
              "update", "rag_replacement", "update_covariances", "volume_preserving", "min_sd")


def _cells(grid: dict):
    if not isinstance(grid, dict) or not grid:
        raise ValueError("grid must be a non-empty dict {parameter name: list of values}")
    for name, values in grid.items():
        if name not in _SWEEPABLE:
            raise ValueError(f"grid parameter {name!r} cannot be swept; allowed: {', '.join(_SWEEPABLE)}")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or len(list(values)) == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty list of values; got {values!r}")
    names = list(grid)
    return names, [dict(zip(names, combo)) for combo in itertools.product(*(list(grid[n]) for n in names))]


def sweep(base: SimulationConfig, grid: dict, *, steps: int = 80, replicates: int = 50, seed=None,
          out=None, progress: bool | None = None) -> list[dict]:
    """Run ``replicates`` replicates of every combination of ``grid`` values.

    Parameters
    ----------
    base : SimulationConfig
        Values of every parameter not in the grid. ``n_neighbors`` left at
        its default follows ``n_agents`` (n - 1) when ``n_agents`` is swept.
    grid : dict
        ``{name: [values]}`` over SimulationConfig fields, e.g.
        ``{"p_mirror": [0, 0.2], "n_neighbors": [1, 5, 29]}``.
    steps, replicates : int
    seed : int, SeedSequence or None
    out : path, optional
        CSV file; one row per replicate is appended as each cell finishes.
    progress : bool, optional
        Progress bars of the underlying batches.

    Returns
    -------
    list of dict
        One row per (cell, replicate): the grid values, then
        :data:`ROW_FIELDS` (time_to_single_silo is -1 when never reached).
    """
    if not isinstance(base, SimulationConfig):
        raise TypeError(f"base must be a SimulationConfig; got {type(base).__name__}")
    names, cells = _cells(grid)
    # validate every cell before running anything
    cfgs = []
    default_k = base.n_neighbors == base.n_agents - 1
    for cell in cells:
        changes = dict(cell)
        if "n_agents" in changes and "n_neighbors" not in changes and default_k:
            changes["n_neighbors"] = None
        if "n_agents" in changes and base.init_weights is not None:
            raise ValueError("grid: n_agents cannot be swept with explicit init_weights in base")
        cfgs.append(base.replace(**changes))
    ss = as_seed_sequence(seed)
    fields = list(names) + list(ROW_FIELDS)
    rows: list[dict] = []
    fh = None
    writer = None
    if out is not None:
        out = Path(out)
        fh = open(out, "w", newline="")
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        fh.flush()
    t0 = time.perf_counter()
    try:
        for idx, (cell, cfg) in enumerate(zip(cells, cfgs)):
            ens = simulate_many(cfg, steps, replicates, replicate_seed(ss, idx), record="metrics",
                                progress=progress)
            tts = metrics.time_to_single_silo_from_counts(ens.n_silos)
            sw = ens.n_switched[:, 1:] / cfg.n_agents if steps > 0 else np.zeros((ens.replicates, 1))
            cell_rows = []
            for r in range(ens.replicates):
                cell_rows.append({
                    **cell, "cell": idx, "replicate": r, "n_silos_final": int(ens.n_silos[r, -1]),
                    "time_to_single_silo": int(tts[r]), "reached_single_silo": bool(tts[r] != metrics.NEVER),
                    "mean_switch_rate": float(sw[r].mean()), "final_switch_rate": float(sw[r, -1]),
                })
            rows.extend(cell_rows)
            if writer is not None:
                writer.writerows(cell_rows)
                fh.flush()
            if ens.interrupted:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        warnings.warn(f"sweep interrupted: keeping the {len(rows)} rows already computed "
                      f"({time.perf_counter() - t0:.1f} s)", RuntimeWarning, stacklevel=2)
    finally:
        if fh is not None:
            fh.close()
    return rows

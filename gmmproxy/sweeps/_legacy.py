"""The pre-0.2 sweep call ``gmmproxy.sweep.sweep(base, grid, ...)`` -> list of dicts, deprecated.

Kept so old scripts run (with a ``DeprecationWarning``): it runs the new
:func:`gmmproxy.sweep` and reshapes its table into the old rows. Cell seeds
are now derived from the cells' parameter values, not their position, so the
numbers differ from those of versions before the change.
"""
from __future__ import annotations

import csv
import sys
import types
import warnings
from pathlib import Path

__all__ = ["ROW_FIELDS", "legacy_sweep", "install"]

ROW_FIELDS = ("cell", "replicate", "n_silos_final", "time_to_single_silo", "reached_single_silo",
              "mean_switch_rate", "final_switch_rate")


def legacy_sweep(base, grid: dict, *, steps: int = 80, replicates: int = 50, seed=None, out=None,
                 progress=None) -> list[dict]:
    """Deprecated: use ``gmmproxy.sweep(base, grid, steps, replicates, seed)`` (a pandas DataFrame).

    Returns the old rows: the grid values, then :data:`ROW_FIELDS` with
    ``cell`` the cell's index in the grid and ``time_to_single_silo`` -1
    when never reached; ``out`` is a CSV file of those rows.
    """
    warnings.warn("gmmproxy.sweep.sweep(...) is deprecated: call gmmproxy.sweep(base_cfg, grid, steps, "
                  "replicates, seed, out=FOLDER), which returns a pandas DataFrame and stores Parquet",
                  DeprecationWarning, stacklevel=2)
    from gmmproxy.sweeps._design import Grid
    from gmmproxy.sweeps._run import sweep

    design = Grid(grid)
    table = sweep(base, design, steps, replicates, seed, progress=progress)
    index = {key: i for i, key in enumerate(table["cell"].unique())}
    rows = []
    for rec in table.to_dict("records"):
        tts = rec["time_to_single_silo"]
        rows.append({**{n: rec[n] for n in design.names}, "cell": index[rec["cell"]],
                     "replicate": int(rec["replicate"]), "n_silos_final": int(rec["silos_final"]),
                     "time_to_single_silo": -1 if not rec["reached_single_silo"] else int(tts),
                     "reached_single_silo": bool(rec["reached_single_silo"]),
                     "mean_switch_rate": float(rec["mean_switch_rate"]),
                     "final_switch_rate": float(rec["final_switch_rate"])})
    if out is not None:
        out = Path(out)
        tmp = out.with_name("." + out.name + ".part")
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=[*design.names, *ROW_FIELDS])
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(out)
    return rows


def install(sweep_function) -> None:
    """Make the old spellings reach the deprecated call.

    ``gmmproxy.sweep`` is now the function; ``gmmproxy.sweep.sweep(...)`` and
    ``from gmmproxy.sweep import sweep`` (a module registered under the old
    name, never set as an attribute of the package, so it does not shadow the
    function) still work.
    """
    sweep_function.sweep = legacy_sweep
    sweep_function.ROW_FIELDS = ROW_FIELDS
    mod = types.ModuleType("gmmproxy.sweep", "Deprecated: parameter sweeps are gmmproxy.sweep (a function) "
                                             "and the package gmmproxy.sweeps.")
    mod.sweep = legacy_sweep
    mod.ROW_FIELDS = ROW_FIELDS
    mod.__all__ = ["sweep", "ROW_FIELDS"]
    sys.modules.setdefault("gmmproxy.sweep", mod)

"""Run a sweep (:func:`sweep`) and read one back (:func:`load_sweep`, :func:`load_n_silos`).

A sweep is a design (a grid or sampled points) over a base configuration x
``replicates`` replicates of ``steps`` rounds. Each cell's seed comes from the
sweep seed and the cell's parameter values (:mod:`gmmproxy.sweeps._cells`),
each cell runs as one task on the chosen executor, and each finished cell is
written to the store at once; see :mod:`gmmproxy.sweeps._store`.
"""
from __future__ import annotations

import datetime as _dt
import numbers
import platform
import sys
import time
import warnings

import numpy as np

from gmmproxy._provenance import package_version
from gmmproxy._extras import require
from gmmproxy._seeding import as_seed_sequence, seed_from_record, seed_record
from gmmproxy.sweeps._cells import build_cells, cell_seed
from gmmproxy.sweeps._design import as_design, design_from_dict
from gmmproxy.sweeps._executors import check_executor, describe_executor, is_dask_client, run_cells
from gmmproxy.sweeps._store import SweepStore
from gmmproxy.sweeps._worker import STAT_COLUMNS

__all__ = ["sweep", "load_sweep", "load_n_silos", "SweepInterrupted", "ROW_COLUMNS"]

# columns of every sweep table besides the swept parameters (which follow "cell")
ROW_COLUMNS = ("cell", "replicate") + STAT_COLUMNS


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: finished cells are kept (in ``out``), the running ones discarded.

    Attributes
    ----------
    partial : pandas.DataFrame
        Rows of every finished cell.
    finished, total : int
        Cells finished (including earlier runs of a resumed sweep) and in the design.
    out : str or None
    """

    def __init__(self, partial, finished: int, total: int, out):
        self.partial, self.finished, self.total, self.out = partial, finished, total, out
        where = f"; finish it with resume (--resume) into {out}" if out is not None else ""
        super().__init__(f"sweep interrupted: {finished} of {total} cells finished{where}")


def _cell_frame(pd, key: str, params: dict, res: dict, replicates: int):
    # built column by column with final dtypes: pandas' per-column conversions after the fact
    # cost about 5x more, and this runs once per cell in the driver
    def text(value):
        return pd.array(np.full(replicates, value, dtype=object), dtype="string")

    cols = {"cell": text(key)}
    for name, value in params.items():
        cols[name] = text(value) if isinstance(value, str) else np.full(replicates, value)
    cols["replicate"] = np.arange(replicates, dtype=np.int64)
    for name in STAT_COLUMNS:
        cols[name] = res[name]
    # never reaching a single silo is a missing time, not a time of -1
    reached = np.asarray(res["reached_single_silo"], dtype=bool)
    cols["time_to_single_silo"] = pd.arrays.IntegerArray(
        np.where(reached, res["time_to_single_silo"], 0).astype(np.int64), ~reached)
    return pd.DataFrame(cols)


def _normalise(pd, frame):
    """Column dtypes of a table read back from Parquet, the same as those of a fresh one."""
    frame = frame.copy()
    frame["cell"] = frame["cell"].astype("string")
    frame["time_to_single_silo"] = frame["time_to_single_silo"].astype("Int64")
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].astype("string")
    return frame


def _check_count(name, value, lo):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    if value < lo:
        raise ValueError(f"{name} must be >= {lo}; got {value}")
    return int(value)


def sweep(base_cfg, grid_or_design, steps: int = 80, replicates: int = 50, seed=None, out=None,
          executor=None, *, resume: bool = False, force: bool = False, record_n_silos: bool = False,
          progress: bool | None = None):
    """Run ``replicates`` replicates of every cell of a grid or design; one tidy table back.

    Parameters
    ----------
    base_cfg : SimulationConfig
        Values of every parameter the design does not set. ``n_neighbors``
        left at its default (no restriction) follows a swept ``n_agents``.
    grid_or_design : dict, Grid or SampledDesign
        ``{name: [values]}`` for a full grid, e.g. ``{"p_mirror": [0, 0.2],
        "neighbors": [1, 5, 29]}`` (canonical names or the aliases of
        :mod:`gmmproxy._names`), or a design from
        :func:`gmmproxy.sweeps.sample_design` (random, Latin hypercube, Sobol).
    steps : int, default 80
        Rounds per replicate.
    replicates : int, default 50
        Replicates per cell.
    seed : int, SeedSequence or None
        Seed of the sweep. Cell seeds derive from it and the cell's parameter
        values (never its position); ``None`` draws fresh entropy, recorded in
        the manifest (and taken from it on ``resume``).
    out : path, optional
        Folder to store the sweep in (``manifest.json`` + one Parquet file per
        cell). An existing folder is an error unless ``resume`` or ``force``.
    executor : None, concurrent.futures.Executor or dask.distributed.Client
        Where cells run: this process (default, all Numba threads), or one
        task per cell on the executor (one Numba thread per task). The rows
        are the same whatever the executor.
    resume : bool
        Run only the cells missing from ``out``; refuse when its manifest
        describes a different sweep.
    force : bool
        Overwrite an existing sweep folder in ``out``.
    record_n_silos : bool
        Also store N(t) of every replicate (``out/n_silos/<cell>.npy``; read
        with :func:`load_n_silos`). Needs ``out``.
    progress : bool, optional
        Progress bar over cells on stderr (default: when stderr is a terminal).

    Returns
    -------
    pandas.DataFrame
        One row per (cell, replicate), cells in design order: ``cell`` (the
        cell's key), the swept parameters, ``replicate``, then
        ``silos_final``, ``time_to_single_silo`` (``<NA>`` when never
        reached), ``reached_single_silo``, ``largest_silo_final``,
        ``entropy_final`` (bits), ``mean_switch_rate``, ``final_switch_rate``.
        ``DataFrame.attrs["manifest"]`` holds the provenance.

    Raises
    ------
    SweepInterrupted
        On Ctrl-C (a ``KeyboardInterrupt``), after keeping every finished cell.
    """
    pd = require("pandas", "tidy", "sweep results (pandas DataFrames)")
    if out is not None:
        require("pyarrow", "tidy", "sweep folders (Parquet files)")
    from gmmproxy.config import SimulationConfig

    if not isinstance(base_cfg, SimulationConfig):
        raise TypeError(f"base_cfg must be a gmmproxy.SimulationConfig; got {type(base_cfg).__name__}")
    design = as_design(grid_or_design)
    steps = _check_count("steps", steps, 0)
    replicates = _check_count("replicates", replicates, 1)
    check_executor(executor)
    if record_n_silos and out is None:
        raise ValueError("record_n_silos needs out (a folder to store the N(t) arrays in)")
    if out is None and (resume or force):
        raise ValueError("resume and force need out (the sweep folder)")
    cells = build_cells(base_cfg, design.points())  # every configuration validated before any work
    base_cfg.check_graph_steps(steps)

    store = SweepStore(out) if out is not None else None
    if store is not None:
        store.check_new(resume=resume, force=force)
    if seed is None and resume:
        ss = seed_from_record(store.read_manifest()["seed"])
    else:
        ss = as_seed_sequence(seed)
    run_info = {"started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "executor": describe_executor(executor), "host": platform.node(),
                "python": sys.version.split()[0]}
    manifest = {
        "format": "gmmproxy-sweep/1",
        "version": package_version(),
        "base_config": base_cfg.to_dict(),
        "design": design.to_dict(),
        "parameters": design.names,
        "cells": [{"cell": c["cell"], **c["params"]} for c in cells],
        "seed": seed_record(ss),
        "steps": steps,
        "replicates": replicates,
        "record_n_silos": bool(record_n_silos),
        "columns": ["cell", *design.names, "replicate", *STAT_COLUMNS],
        "threads_per_task": None if executor is None else 1,
        "started": run_info["started"],
        "runs": [run_info],
    }
    done_before: set[str] = set()
    if store is not None:
        if resume:
            stored = store.check_resume(manifest)
            manifest["started"] = stored["started"]
            manifest["runs"] = stored.get("runs", []) + [run_info]
            store.write_manifest(manifest)
            done_before = store.finished() & {c["cell"] for c in cells}
        else:
            store.create(manifest, force=force)

    by_key = {c["cell"]: c for c in cells}
    threads = None if executor is None else 1
    todo = []
    for c in cells:
        if c["cell"] in done_before:
            continue
        todo.append((c["cell"], {
            "config": c["config"].to_dict(), "steps": steps, "replicates": replicates,
            "seed": seed_record(cell_seed(ss, c["params"])), "n_threads": threads,
            "record_n_silos": bool(record_n_silos),
        }))

    frames: dict = {}
    if progress is None:
        progress = sys.stderr.isatty()
    bar = None
    if progress and todo:
        import click

        bar = click.progressbar(length=len(todo), label="cells", file=sys.stderr)
        bar.__enter__()

    def on_result(key, res):
        frame = _cell_frame(pd, key, by_key[key]["params"], res, replicates)
        if store is not None:
            store.write_cell(key, frame, res.get("n_silos"))
        frames[key] = frame
        if bar is not None:
            bar.update(1)

    t0 = time.perf_counter()
    try:
        run_cells(executor, todo, on_result)
    except KeyboardInterrupt:
        partial = _assemble(pd, cells, frames, store, done_before)
        raise SweepInterrupted(partial, len(frames) + len(done_before), len(cells),
                               None if out is None else str(out)) from None
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    result = _assemble(pd, cells, frames, store, done_before)
    result.attrs["manifest"] = manifest
    result.attrs["wall_time"] = time.perf_counter() - t0
    return result


def _assemble(pd, cells, frames, store, done_before):
    parts = []
    for c in cells:
        key = c["cell"]
        if key in frames:
            parts.append(frames[key])
        elif key in done_before:
            parts.append(_normalise(pd, store.read_cell(key)))
    if not parts:
        return pd.DataFrame(columns=list(ROW_COLUMNS))
    return pd.concat(parts, ignore_index=True)


def load_sweep(path, *, allow_incomplete: bool = True):
    """The table of a sweep folder written by :func:`sweep` (cells in design order).

    Parameters
    ----------
    path : path
        The sweep folder.
    allow_incomplete : bool, default True
        Return the finished cells of an unfinished sweep (with a warning);
        ``False`` raises instead.

    Returns
    -------
    pandas.DataFrame
        As returned by :func:`sweep`; ``attrs["manifest"]`` is the manifest,
        ``attrs["complete"]`` whether every cell finished.
    """
    pd = require("pandas", "tidy", "sweep results (pandas DataFrames)")
    require("pyarrow", "tidy", "sweep folders (Parquet files)")
    store = SweepStore(path)
    manifest = store.read_manifest()
    finished = store.finished()
    keys = [c["cell"] for c in manifest["cells"]]
    have = [k for k in keys if k in finished]
    complete = len(have) == len(keys)
    if not complete:
        msg = (f"sweep {str(path)!r} is incomplete: {len(have)} of {len(keys)} cells finished "
               f"(finish it with --resume)")
        if not allow_incomplete:
            raise ValueError(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
    if have:
        table = pd.concat([_normalise(pd, store.read_cell(k)) for k in have], ignore_index=True)
    else:
        table = pd.DataFrame(columns=manifest.get("columns", list(ROW_COLUMNS)))
    table.attrs["manifest"] = manifest
    table.attrs["complete"] = complete
    return table


def load_n_silos(path) -> dict:
    """N(t) of every replicate of every finished cell: ``{cell key: array (replicates, steps+1)}``.

    Only for sweeps run with ``record_n_silos`` (``--record-n-silos``).
    """
    store = SweepStore(path)
    manifest = store.read_manifest()
    if not manifest.get("record_n_silos"):
        raise ValueError(f"sweep {str(path)!r} was run without record_n_silos; it holds no N(t) arrays")
    finished = store.finished()
    return {c["cell"]: store.read_n_silos(c["cell"]) for c in manifest["cells"] if c["cell"] in finished}


def design_of(manifest: dict):
    """The design recorded in a manifest (a Grid or SampledDesign)."""
    return design_from_dict(manifest["design"])

"""The task a worker runs: one sweep cell -> per-replicate statistics as plain arrays.

:func:`run_cell` is a module-level function taking and returning only
JSON-like values and NumPy arrays, so any executor (a process pool, a Dask
cluster on other machines) ships it by reference: no jitted function and no
config object is ever pickled. The worker imports gmmproxy and loads the
compiled kernels from Numba's disk cache on its first cell.

Thread policy: ``n_threads`` (1 under every external executor) is the number
of Numba threads the cell may use; parallelism then comes from the
executor's worker processes, which is faster than nested thread pools and
keeps a worker's memory and CPU share predictable.
"""
from __future__ import annotations

import os
import time
import warnings

import numpy as np

__all__ = ["STAT_COLUMNS", "run_cell"]

# per-replicate statistics, in column order
STAT_COLUMNS = ("silos_final", "time_to_single_silo", "reached_single_silo", "largest_silo_final",
                "entropy_final", "mean_switch_rate", "final_switch_rate")


def _final_stats(final_silos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest silo size and membership entropy (bits) at the last step, per replicate."""
    R, n = final_silos.shape
    largest = np.zeros(R, dtype=np.int64)
    ent = np.zeros(R)
    for r in range(R):
        counts = np.bincount(final_silos[r].astype(np.int64))
        counts = counts[counts > 0]
        p = counts / n
        largest[r] = counts.max()
        ent[r] = float(-(p * np.log2(p)).sum())
    return largest, ent


def run_cell(spec: dict) -> dict:
    """Run one cell.

    Parameters
    ----------
    spec : dict
        ``config`` (``SimulationConfig.to_dict()`` of the cell), ``steps``,
        ``replicates``, ``seed`` (``{"entropy", "spawn_key"}`` of the cell
        seed), ``n_threads`` (int or None) and ``record_n_silos`` (bool).

    Returns
    -------
    dict
        One array of length ``replicates`` per name in :data:`STAT_COLUMNS`
        (``time_to_single_silo`` is -1 where never reached), ``n_silos``
        (replicates, steps+1) when asked, and ``wall_time``, ``pid``.

    Raises
    ------
    KeyboardInterrupt
        When the batch was interrupted: a partial cell is never returned.
    """
    from gmmproxy import metrics
    from gmmproxy._seeding import seed_from_record
    from gmmproxy.config import SimulationConfig
    from gmmproxy._simulate import simulate_many

    cfg = SimulationConfig.from_dict(spec["config"])
    steps, replicates = int(spec["steps"]), int(spec["replicates"])
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # an interrupted batch warns; here it is discarded instead, and the caller says so
        warnings.simplefilter("ignore", RuntimeWarning)
        ens = simulate_many(cfg, steps, replicates, seed_from_record(spec["seed"]), record="metrics",
                            progress=False, n_threads=spec.get("n_threads"))
    if ens.interrupted or ens.replicates != replicates:
        raise KeyboardInterrupt
    tts = metrics.time_to_single_silo_from_counts(ens.n_silos).astype(np.int64)
    if steps > 0:
        sw = ens.n_switched[:, 1:] / cfg.n_agents
        mean_sw, final_sw = sw.mean(axis=1), sw[:, -1].astype(float)
    else:
        mean_sw = final_sw = np.zeros(replicates)
    largest, ent = _final_stats(ens.final_silos)
    out = {
        "silos_final": ens.n_silos[:, -1].astype(np.int64),
        "time_to_single_silo": tts,
        "reached_single_silo": tts != metrics.NEVER,
        "largest_silo_final": largest,
        "entropy_final": ent,
        "mean_switch_rate": np.asarray(mean_sw, dtype=float),
        "final_switch_rate": np.asarray(final_sw, dtype=float),
        "wall_time": time.perf_counter() - t0,
        "pid": os.getpid(),
    }
    if spec.get("record_n_silos"):
        out["n_silos"] = np.ascontiguousarray(ens.n_silos, dtype=np.int32)
    return out

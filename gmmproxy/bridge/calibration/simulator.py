"""Simulate the calibrated proxy for many parameter values x conditions x replicates in one kernel call."""
from __future__ import annotations

import numpy as np

from gmmproxy.bridge.calibration.batch import Geometry, simulate_batch
from gmmproxy.bridge.calibration.model import Condition, ProxyModel
from gmmproxy.bridge.calibration.statistics import DEFAULT_TIMES, statistic_names, summary_statistics

__all__ = ["simulate_silos", "simulate_statistics"]


def simulate_silos(model: ProxyModel, thetas, conditions, replicates: int, geometry: Geometry, seed,
                   return_copied: bool = False):
    """Silo trajectories of ``replicates`` runs for every (theta, condition).

    Conditions whose ``n_agents`` differs from ``geometry``'s run on
    ``geometry.for_agents(n)`` (the paper's geometry exists for every n).

    Returns
    -------
    list (over thetas) of list (over conditions) of ndarray (replicates, T_c, n)
        With ``return_copied``, a pair ``(silos, copied)`` per entry, ``copied``
        the copying agent-steps (see :func:`~gmmproxy.bridge.calibration.batch.simulate_batch`).
    """
    conditions = list(conditions)
    steps = max(c.n_steps for c in conditions) - 1
    # the geometry of each population size, checked before any work (a components geometry has one size)
    geometries = {c.n_agents: geometry.for_agents(c.n_agents) for c in conditions}
    # job b = (theta, condition, replicate) in this order; its stream depends on b only
    jobs = {n: ({}, []) for n in geometries}
    b = 0
    for theta in thetas:
        for cond in conditions:
            cols, index = jobs[cond.n_agents]
            s = model.proxy_settings(theta, cond)
            for key, val in s.items():
                cols.setdefault(key, []).append(np.full(replicates, val))
            index.append(np.arange(b, b + replicates))
            b += replicates
    results = {}
    for n, (cols, index) in jobs.items():
        kw = {key: np.concatenate(v) for key, v in cols.items()}
        # one population size (the usual case): jobs 0 .. J-1 in order, as before the split existed
        job_index = None if len(jobs) == 1 else np.concatenate(index)
        results[n] = simulate_batch(geometries[n], steps, seed=seed, job_index=job_index, return_copied=True, **kw)
    out = []
    start = {n: 0 for n in jobs}
    for _ in thetas:
        row = []
        for cond in conditions:
            silos, copied = results[cond.n_agents]
            a = start[cond.n_agents]
            s = silos[a:a + replicates, :cond.n_steps]
            row.append((s, copied[a:a + replicates, :cond.n_steps]) if return_copied else s)
            start[cond.n_agents] = a + replicates
        out.append(row)
    return out


def simulate_statistics(model: ProxyModel, thetas, conditions, replicates: int, geometry: Geometry, seed,
                        times=DEFAULT_TIMES) -> np.ndarray:
    """Per-replicate statistics, shape (len(thetas), len(conditions), replicates, n_statistics).

    Statistics in the order of :func:`statistic_names`.
    """
    names = statistic_names(times)
    runs = simulate_silos(model, thetas, conditions, replicates, geometry, seed, return_copied=True)
    out = np.empty((len(runs), len(conditions), replicates, len(names)))
    # one statistics call per run shape (conditions of equal T and n share it), not per (theta, condition)
    for T, n in sorted({(c.n_steps, c.n_agents) for c in conditions}):
        cols = [c for c, cond in enumerate(conditions) if (cond.n_steps, cond.n_agents) == (T, n)]
        silos = np.concatenate([runs[a][c][0] for a in range(len(runs)) for c in cols])
        copied = np.concatenate([runs[a][c][1] for a in range(len(runs)) for c in cols])
        st = summary_statistics(silos, times, copying=copied, late_times="nan")
        block = np.stack([st[nm] for nm in names], axis=-1).reshape(len(runs), len(cols), replicates, len(names))
        out[:, cols] = block
    return out


def as_condition(p_mirror, n_neighbors, n_agents=30, n_steps=80) -> Condition:
    return Condition(float(p_mirror), int(n_neighbors), int(n_agents), int(n_steps))


def write_proxy_logs(silos, out_dir, *, p_mirror, n_neighbors, label_names=None, prefix="proxy", meta=None,
                     copied=None):
    """Write proxy silo trajectories (R, T, n) as run logs in the LLM log format (one file per run).

    Each answer's text and label is the name of its silo (``label_names[c]``,
    default ``"topic{c}"``), so :func:`gmmproxy.bridge.trajectory.from_log` with
    ``extractor=None`` reads the same silos back. Used to test the calibration on
    runs whose true parameters are known. With ``copied`` (R, T, n) bool (from
    ``simulate_silos(..., return_copied=True)``) every answer of step t < T-1
    records ``mirrored = not copied[t + 1]`` (the update after step t, as the
    importer's recovered flags); otherwise ``mirrored`` is unknown.

    Returns
    -------
    list of str
        The log paths.
    """
    import os

    from gmmproxy.llm.log import LogWriter

    silos = np.asarray(silos)
    if silos.ndim != 3:
        raise ValueError(f"silos must have shape (R, T, n); got {silos.shape}")
    R, T, n = silos.shape
    if copied is not None:
        copied = np.asarray(copied, dtype=bool)
        if copied.shape != silos.shape:
            raise ValueError(f"copied must have the shape of silos {silos.shape}; got {copied.shape}")
    names = label_names or [f"topic{c}" for c in range(int(silos.max()) + 1)]
    paths = []
    for r in range(R):
        path = os.path.join(os.fspath(out_dir), f"{prefix}_p{p_mirror:g}_k{n_neighbors}_v{r}.jsonl")
        run_meta = dict(meta or {}, backend="gmmproxy-calibrated", n_agents=n, n_steps=T,
                        p_mirror=float(p_mirror), n_neighbors=int(n_neighbors), replicate=r)
        w = LogWriter(path, run_meta, overwrite=True, sync=False)
        for t in range(T):
            recs = [{"agent": i, "partner": None,
                     "mirrored": None if copied is None or t == T - 1 else not bool(copied[r, t + 1, i]),
                     "text": names[int(silos[r, t, i])],
                     "label": names[int(silos[r, t, i])]} for i in range(n)]
            w.append_step(t, recs)
        w.close()
        paths.append(path)
    return paths

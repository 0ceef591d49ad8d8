"""The summary statistics of the calibration: one function for proxy ensembles and LLM runs alike.

:func:`summary_statistics` turns any source of silo trajectories -- an
:class:`~gmmproxy.trajectory.Ensemble`, one or more
:class:`~gmmproxy.bridge.trajectory.LLMTrajectory`, or a plain integer array
``(R, T, n)`` of silo labels -- into per-replicate statistics. Every input is
first reduced to the same three arrays (number of silos per step, number of
agents that switched silo per step, silo labels at the last step), and the
statistics are computed from those by one code path, so the proxy and the
LLM are measured identically.

Time convention: row ``t`` of a trajectory is step ``t`` (row 0 is the LLM's
first answers, or the proxy's initial state); a trajectory with ``T`` rows
has ``T`` steps, ``0 .. T-1``.

Statistics (names as in ``validate --json``):

``n_silos_t{t}``
    number of silos N(t) at step t (for each t of ``times``, default 5, 10, 20);
``silos_final``
    N(T-1), the number of silos at the last step;
``time_to_single_silo``
    the first step from which one silo holds to the end; a run that does not
    end in one silo is *censored* and counts as ``T`` (the number of steps),
    see ``reached_single_silo``;
``reached_single_silo``
    1 if the run ends in one silo, else 0 (so a mean is the share of runs
    that got there, i.e. not censored);
``switch_rate_mean``
    fraction of agents whose silo changed from one step to the next,
    averaged over steps 1 .. T-1;
``copy_switch_rate``
    among the *copying* agent-steps (the agent took its partner's answer
    rather than mirroring itself in the update that led to step t, t >= 1),
    the share in which its silo changed; 0 when a run has no copying step,
    NaN when the mirror flags are unknown. It separates mirroring from
    copying: ``switch_rate_mean`` is diluted by the mirrored steps (which
    never change a silo), this one is not. LLM logs give the flags (recorded
    live, or recovered by the importer for the published runs: copying at
    step t+1 is ``not mirrored[t]``); the proxy counts an agent-step as
    copying when the agent acted at least once with a partner other than
    itself in the rounds of that step (an agent that did not act in a step,
    under random activation, counts as not copying);
``entropy_final``
    Shannon entropy (bits) of the silo sizes at the last step.
"""
from __future__ import annotations

import numbers

import numpy as np

from gmmproxy import metrics

__all__ = ["DEFAULT_TIMES", "statistic_names", "summary_statistics", "silo_counts", "copying_steps",
           "copy_switch_rate"]

#: steps at which N(t) is a statistic by default
DEFAULT_TIMES = (5, 10, 20)


def statistic_names(times=DEFAULT_TIMES) -> tuple:
    """Names of the statistics :func:`summary_statistics` returns, in order."""
    times = _check_times(times)
    return tuple(f"n_silos_t{t}" for t in times) + (
        "silos_final", "time_to_single_silo", "reached_single_silo", "switch_rate_mean", "copy_switch_rate",
        "entropy_final")


def _check_times(times):
    out = []
    for t in np.atleast_1d(np.asarray(times)).tolist():
        if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
            raise ValueError(f"times must be non-negative integers; got {times!r}")
        out.append(int(t))
    if len(set(out)) != len(out):
        raise ValueError(f"times must not repeat; got {times!r}")
    return tuple(out)


def _silo_array(source):
    """Silo labels (R, T, n) of LLM trajectories or an integer array; None for an Ensemble without silos."""
    from gmmproxy.bridge.trajectory import LLMTrajectory
    from gmmproxy.trajectory import Ensemble

    if isinstance(source, Ensemble):
        return None if source.silos is None else np.asarray(source.silos)
    if isinstance(source, LLMTrajectory):
        source = [source]
    if isinstance(source, (list, tuple)) and source and all(isinstance(s, LLMTrajectory) for s in source):
        shapes = {s.silos.shape for s in source}
        if len(shapes) != 1:
            raise ValueError(f"trajectories must share (T, n); got shapes {sorted(shapes)}")
        silos = np.stack([s.silos for s in source])
    else:
        silos = np.asarray(source)
        if silos.ndim == 2:
            silos = silos[None]
        if silos.ndim != 3:
            raise ValueError(f"silo labels must have shape (T, n) or (R, T, n); got shape {silos.shape}")
    return metrics._check_silos(silos)


def silo_counts(source):
    """Reduce a source of trajectories to ``(n_silos, n_switched, final_silos, n_agents)``.

    Parameters
    ----------
    source : Ensemble, LLMTrajectory, sequence of LLMTrajectory, or array_like of int
        An integer array has shape ``(T, n)`` (one run) or ``(R, T, n)``.
        Trajectories of one call must share T and n.

    Returns
    -------
    n_silos : ndarray (R, T) of int
    n_switched : ndarray (R, T) of int, 0 at step 0
    final_silos : ndarray (R, n) of int
    n_agents : int
    """
    from gmmproxy.trajectory import Ensemble

    if isinstance(source, Ensemble):
        if source.replicates == 0:
            raise ValueError("source is an empty Ensemble (no completed replicate)")
        return (np.asarray(source.n_silos, dtype=np.int64), np.asarray(source.n_switched, dtype=np.int64),
                np.asarray(source.final_silos, dtype=np.int64), int(source.config.n_agents))
    silos = _silo_array(source)
    ns = metrics.n_silos(silos).astype(np.int64)
    sw = np.zeros(ns.shape, dtype=np.int64)
    sw[:, 1:] = np.count_nonzero(silos[:, 1:, :] != silos[:, :-1, :], axis=-1)
    return ns, sw, silos[:, -1, :].astype(np.int64), int(silos.shape[-1])


def copying_steps(source):
    """Which agent-steps were copying, (R, T, n) bool with row 0 False, or None when unknown.

    ``copying[r, t, i]``: agent i took a partner's answer (did not mirror) in
    the update that led to step t. From an Ensemble's ``copied`` attribute
    (set by the calibrated proxy), from LLM trajectories whose mirror flags
    are known for every transition (``mirrors_known``), else None.
    """
    from gmmproxy.bridge.trajectory import LLMTrajectory

    if isinstance(source, LLMTrajectory):
        source = [source]
    if isinstance(source, (list, tuple)) and source and all(isinstance(s, LLMTrajectory) for s in source):
        if not all(s.mirrors_known for s in source):
            return None
        out = np.zeros((len(source),) + source[0].silos.shape, dtype=bool)
        for r, s in enumerate(source):
            # mirrored[t] is the update t -> t+1; the last row has no following step
            out[r, 1:] = ~np.asarray(s.mirrored, dtype=bool)[:-1]
        return out
    copied = getattr(source, "copied", None)
    return None if copied is None else np.asarray(copied, dtype=bool)


def copy_switch_rate(silos, copying) -> np.ndarray:
    """Per run: share of copying agent-steps (t >= 1) whose silo changed; 0 without copying steps.

    Parameters
    ----------
    silos : ndarray (R, T, n) of int
    copying : ndarray (R, T, n) of bool (row 0 ignored)
    """
    silos = np.asarray(silos)
    copying = np.asarray(copying, dtype=bool)
    if copying.shape != silos.shape:
        raise ValueError(f"copying flags must have the shape of the silos {silos.shape}; got {copying.shape}")
    changed = silos[:, 1:] != silos[:, :-1]
    c = copying[:, 1:]
    num = np.count_nonzero(changed & c, axis=(1, 2))
    den = np.count_nonzero(c, axis=(1, 2))
    return np.where(den > 0, num / np.maximum(den, 1), 0.0)


def _entropy_bits(final_silos) -> np.ndarray:
    """Entropy (bits) of the silo sizes of each row of final_silos (R, n), vectorised over rows."""
    final_silos = np.asarray(final_silos, dtype=np.int64)
    R, n = final_silos.shape
    # relabel per row to 0..n-1 (rank among the row's sorted labels) so one bincount serves all rows
    srt = np.sort(final_silos, axis=1)
    new = np.ones((R, n), dtype=np.int64)
    new[:, 0] = 0
    new[:, 1:] = srt[:, 1:] != srt[:, :-1]
    ids = np.cumsum(new, axis=1) + n * np.arange(R)[:, None]
    counts = np.bincount(ids.ravel(), minlength=R * n).reshape(R, n)
    q = counts / n
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(counts > 0, q * np.log2(np.where(counts > 0, q, 1.0)), 0.0)
    return -terms.sum(axis=1) + 0.0


def summary_statistics(source, times=DEFAULT_TIMES, copying=None, late_times: str = "error") -> dict:
    """Per-replicate summary statistics of proxy or LLM trajectories.

    Parameters
    ----------
    source : Ensemble, LLMTrajectory, sequence of LLMTrajectory, or array_like of int
        See :func:`silo_counts`.
    times : sequence of int, default (5, 10, 20)
        Steps at which N(t) is reported; each must be < T.
    copying : ndarray (R, T, n) of bool, optional
        Copying agent-steps (see :func:`copying_steps`, which is used when
        this is not given); without them ``copy_switch_rate`` is NaN.
    late_times : {"error", "nan"}
        What a time t >= T of ``times`` gives: a ValueError, or NaN for
        ``n_silos_t{t}`` (unknown: the runs end before t). The calibration
        uses "nan", so that runs shorter than its N(t) times still compare on
        every other statistic.

    Returns
    -------
    dict
        name -> ndarray (R,) of float, for every name of :func:`statistic_names`,
        plus ``"n_steps"`` (int T, the censoring value of ``time_to_single_silo``).
    """
    times = _check_times(times)
    if late_times not in ("error", "nan"):
        raise ValueError(f"late_times must be 'error' or 'nan'; got {late_times!r}")
    ns, sw, final, n = silo_counts(source)
    if copying is None:
        copying = copying_steps(source)
    T = ns.shape[1]
    late = [t for t in times if t >= T]
    if late and late_times == "error":
        raise ValueError(f"times must be < the number of steps T = {T}; got {late}")
    out = {f"n_silos_t{t}": ns[:, t].astype(np.float64) if t < T else np.full(ns.shape[0], np.nan)
           for t in times}
    out["silos_final"] = ns[:, -1].astype(np.float64)
    t_single = metrics.time_to_single_silo_from_counts(ns)
    reached = t_single != metrics.NEVER
    out["time_to_single_silo"] = np.where(reached, t_single, T).astype(np.float64)
    out["reached_single_silo"] = reached.astype(np.float64)
    out["switch_rate_mean"] = (sw[:, 1:].mean(axis=1) / n) if T > 1 else np.zeros(ns.shape[0])
    silos = _silo_array(source) if copying is not None else None
    if silos is None:
        out["copy_switch_rate"] = np.full(ns.shape[0], np.nan)
    else:
        out["copy_switch_rate"] = copy_switch_rate(silos, copying)
    out["entropy_final"] = _entropy_bits(final)
    out["n_steps"] = T
    return out

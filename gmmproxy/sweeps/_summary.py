"""Summary statistics of a sweep: mean, standard error and a band of replicate outcomes per parameter value."""
from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from gmmproxy._validation import as_float_array as _as_float_array

__all__ = ["sweep_summary"]


def _as_results(values, results):
    v = _as_float_array(values, "values", 1)
    if np.unique(v).size != v.size:
        raise ValueError(f"values must be distinct; got {v.tolist()}")
    if isinstance(results, np.ndarray) and results.ndim == 2:
        groups = [results[i] for i in range(results.shape[0])]
    elif isinstance(results, np.ndarray):
        raise ValueError(
            f"results must have shape (len(values), replicates); got shape {results.shape}"
        )
    elif isinstance(results, Sequence) and not isinstance(results, (str, bytes)):
        groups = list(results)
    else:
        raise TypeError(
            "results must be a 2-d array or a sequence of 1-d arrays; "
            f"got {type(results).__name__}"
        )
    if len(groups) != v.size:
        raise ValueError(
            f"results must hold one group per value ({v.size}); got {len(groups)}"
        )
    out = []
    for i, g in enumerate(groups):
        out.append(_as_float_array(g, f"results[{i}]", 1))
    return v, out


def sweep_summary(values, results, *, n_se: float = 5.0):
    """Mean, standard error and band of a sweep (what :func:`gmmproxy.plotting.plot_sweep` draws).

    Parameters
    ----------
    values : array_like, shape (m,)
        Distinct parameter values.
    results : array_like, shape (m, R), or sequence of m 1-d arrays
        Replicate outcomes per value.
    n_se : float, default 5
        Half-width of the band in standard errors.

    Returns
    -------
    dict
        ``values`` (sorted), ``mean``, ``se`` (sample sd with ddof=1 over
        sqrt(R); 0 for a single replicate), ``lower``, ``upper``, ``n``.
    """
    v, groups = _as_results(values, results)
    if not isinstance(n_se, numbers.Real) or not np.isfinite(n_se) or n_se < 0:
        raise ValueError(f"n_se must be a finite number >= 0; got {n_se!r}")
    order = np.argsort(v)
    mean = np.array([groups[i].mean() for i in order])
    n = np.array([groups[i].size for i in order])
    se = np.array([groups[i].std(ddof=1) / np.sqrt(groups[i].size) if groups[i].size > 1 else 0.0
                   for i in order])
    return {"values": v[order], "mean": mean, "se": se,
            "lower": mean - n_se * se, "upper": mean + n_se * se, "n": n}

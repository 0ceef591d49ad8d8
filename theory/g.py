"""The update function g of the chain (spec Section 4).

``g_sigma(w, x)`` is the posterior probability of the +1 component after
seeing ``x``, for a prior weight ``w`` on it, when the two components are
``N(+1, sigma^2)`` and ``N(-1, sigma^2)``. Its odds form makes it exact::

    logit g_sigma(w, x) = logit w + 2 x / sigma^2

The K-component form (spec Remark 4) is the EM responsibility
``g_c(w, x) = w_c N(x; mu_c, sigma^2 I) / sum_l w_l N(x; mu_l, sigma^2 I)``.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit, logit

from gmmproxy.polarization import _check_sigma


def g_sigma(w, x, sigma):
    """Two-component update ``g_sigma(w, x) = w / (w + (1 - w) exp(-2 x / sigma^2))``.

    Parameters
    ----------
    w : float or array_like
        Prior weight on the +1 component, in [0, 1].
    x : float or array_like
        The data point (broadcast against ``w``).
    sigma : float
        Component standard deviation, > 0.

    Returns
    -------
    float or ndarray
        The posterior weight, computed as ``expit(logit(w) + 2 x / sigma^2)`` so
        that neither tail overflows. ``w = 0`` and ``w = 1`` are fixed points.
    """
    s = _check_sigma(sigma)
    w = np.asarray(w, dtype=float)
    x = np.asarray(x, dtype=float)
    if np.any(np.isnan(w)) or np.any(w < 0) or np.any(w > 1):
        raise ValueError("w must lie in [0, 1]")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    with np.errstate(divide="ignore"):
        out = expit(logit(w) + 2.0 * x / s**2)
    out = np.where(w == 0.0, 0.0, np.where(w == 1.0, 1.0, out))
    return out[()] if out.ndim == 0 else out


def g_components(w, x, means, sigma):
    """K-component update: the responsibilities ``g_c(w, x)`` for c = 1..K.

    Parameters
    ----------
    w : array_like, shape (K,)
        Prior weights (on the simplex).
    x : array_like, shape (..., d)
        Points; a leading batch shape is allowed.
    means : array_like, shape (K, d)
        Component means.
    sigma : float or array_like, shape (K,)
        Component standard deviation(s), > 0 (covariance ``sigma_c^2 I``).

    Returns
    -------
    ndarray, shape (..., K)
        Responsibilities, computed in log space (shifted by the largest log
        density of each point), summing to 1 over the last axis.
    """
    means = np.asarray(means, dtype=float)
    if means.ndim != 2 or means.shape[0] < 2:
        raise ValueError(f"means must have shape (K, d) with K >= 2; got shape {means.shape}")
    n_comp, d = means.shape
    w = np.asarray(w, dtype=float)
    if w.shape != (n_comp,):
        raise ValueError(f"w must have shape ({n_comp},); got shape {w.shape}")
    if np.any(np.isnan(w)) or np.any(w < 0) or abs(w.sum() - 1.0) > 1e-9:
        raise ValueError("w must be non-negative and sum to 1")
    s = _check_sigma(sigma)
    s = np.broadcast_to(s, (n_comp,))
    x = np.asarray(x, dtype=float)
    if x.shape[-1:] != (d,):
        raise ValueError(f"x must have shape (..., {d}); got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    sq = np.sum((x[..., None, :] - means) ** 2, axis=-1)
    with np.errstate(divide="ignore"):
        logp = np.log(w) - sq / (2 * s**2) - d * np.log(s)
    logp = logp - logp.max(axis=-1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=-1, keepdims=True)


def em_update(w, rag, sigma):
    """One chain weight update from r RAG points: ``(1/r) sum_h g_sigma(w, x_h)``.

    Parameters
    ----------
    w : float
        Current weight on the +1 component.
    rag : array_like, shape (r,)
        The agent's RAG points (after the new point was inserted).
    sigma : float
        Component standard deviation.
    """
    rag = np.asarray(rag, dtype=float)
    if rag.ndim != 1 or rag.size < 1:
        raise ValueError(f"rag must be a 1-d array of at least one point; got shape {rag.shape}")
    return float(np.mean(g_sigma(w, rag, sigma)))


__all__ = ["g_sigma", "g_components", "em_update"]

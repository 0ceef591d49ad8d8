"""Polarization of the two-component chain (spec Section 6).

The chain of the theorems has two components with means +1 and -1 in one
dimension; each agent carries ``w``, its weight on the +1 component, and ``r``
RAG points. This module holds the pure-NumPy predicates on such states:

* the windows ``A+ = [1/2, 3/2]`` and ``A- = [-3/2, -1/2]`` (``B`` = their union);
* the level thresholds ``delta_l = 1 / (1 + exp(l / sigma^2))``;
* the event ``E_l`` (Definition 1: level-l polarized) and the well-behaved
  event ``W`` (Definition 3: every RAG point inside ``B``).

Windows and the interval ``I_l`` are taken closed (the paper does not say; it
changes no bound).
"""
from __future__ import annotations


import numpy as np

#: the window around the +1 mean
A_PLUS = (0.5, 1.5)
#: the window around the -1 mean
A_MINUS = (-1.5, -0.5)


def _check_sigma(sigma):
    arr = np.asarray(sigma, dtype=float) if not isinstance(sigma, (str, bytes)) else None
    if arr is None or arr.dtype.kind not in "fiu":
        raise TypeError(f"sigma must be a positive real number; got {sigma!r}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"sigma must be > 0 and finite; got {sigma!r}")
    return arr


def _check_level(level):
    arr = np.asarray(level)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise TypeError(f"level must be an integer >= 1; got {level!r}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"level must be an integer >= 1; got {level!r}")
    if np.any(arr < 1):
        raise ValueError(f"level must be an integer >= 1; got {level!r}")
    return arr.astype(float)


def log_thresholds(sigma, level):
    """Natural log of ``delta_l``: ``-log(1 + exp(l / sigma^2))``, exact for any size.

    Parameters
    ----------
    sigma : float or array_like
        Component standard deviation, > 0.
    level : int or array_like of int
        Polarization level l >= 1. Broadcast against ``sigma``.

    Returns
    -------
    float or ndarray
    """
    s = _check_sigma(sigma)
    lv = _check_level(level)
    out = -np.logaddexp(0.0, lv / s**2)
    return out[()] if out.ndim == 0 else out


def thresholds(sigma, level):
    """The level threshold ``delta_l = 1 / (1 + exp(l / sigma^2))``.

    Computed as ``exp(-log1p(exp(l/sigma^2)))`` in a form that neither overflows
    nor loses the small tail: it underflows to 0.0 only when ``delta_l`` is
    below the smallest double (about ``l / sigma^2 > 745``); use
    :func:`log_thresholds` there.

    Parameters
    ----------
    sigma : float or array_like
        Component standard deviation, > 0.
    level : int or array_like of int
        Polarization level l >= 1.

    Returns
    -------
    float or ndarray
        ``delta_l``, broadcast over ``sigma`` and ``level``.

    Examples
    --------
    >>> float(thresholds(0.4, 1))  # doctest: +ELLIPSIS
    0.001926...
    """
    out = np.exp(log_thresholds(sigma, level))
    return out


def _as_float_array(x, name):
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers; got {type(x).__name__}") from None
    return arr


def in_window(x, pole):
    """Whether points ``x`` lie in ``A+`` (``pole=+1``) or ``A-`` (``pole=-1``), elementwise."""
    if pole not in (1, -1):
        raise ValueError(f"pole must be +1 or -1; got {pole!r}")
    x = _as_float_array(x, "x")
    lo, hi = A_PLUS if pole == 1 else A_MINUS
    return (x >= lo) & (x <= hi)


def _check_rag(rag, name="rag"):
    rag = _as_float_array(rag, name)
    if rag.ndim < 2:
        raise ValueError(f"{name} must have shape (..., m, r); got shape {rag.shape}")
    if rag.shape[-1] < 1 or rag.shape[-2] < 1:
        raise ValueError(f"{name} must have at least one agent and one RAG point; got shape {rag.shape}")
    if not np.all(np.isfinite(rag)):
        raise ValueError(f"{name} must be finite; found NaN or infinity")
    return rag


def well_behaved(rag):
    """Definition 3: every RAG point of every agent lies in ``B = A- u A+``.

    Parameters
    ----------
    rag : array_like, shape (..., m, r)
        RAG points (1-d) of the m agents, with any leading replicate axes.

    Returns
    -------
    bool or ndarray of bool, shape (...)
    """
    rag = _check_rag(rag)
    inside = in_window(rag, 1) | in_window(rag, -1)
    out = np.all(inside, axis=(-2, -1))
    return out[()] if out.ndim == 0 else out


def polarization_event(weights_plus, rag, sigma, level):
    """The event ``E_l`` (spec 6.3): the configuration is level-l polarized.

    Holds when every agent either has ``w >= 1 - delta_l`` and all its RAG
    points in ``A+``, or has ``w <= delta_l`` and all its RAG points in ``A-``.

    Parameters
    ----------
    weights_plus : array_like, shape (..., m)
        Each agent's weight on the +1 component, in [0, 1].
    rag : array_like, shape (..., m, r)
        Each agent's r RAG points; leading axes must match ``weights_plus``.
    sigma : float
        Component standard deviation, > 0.
    level : int
        Level l >= 1.

    Returns
    -------
    bool or ndarray of bool, shape (...)

    Notes
    -----
    ``w >= 1 - delta`` is tested as ``1 - w <= delta``: for ``w >= 1/2`` the
    subtraction is exact in floating point, whereas ``1 - delta`` would round
    to 1 once ``delta < 1.1e-16``. Weights closer to 1 than double precision
    allows must be handled in log space (``gmmproxy.chain`` does).
    """
    w = _as_float_array(weights_plus, "weights_plus")
    rag = _check_rag(rag)
    if w.ndim < 1:
        raise ValueError(f"weights_plus must have shape (..., m); got shape {w.shape}")
    if w.shape != rag.shape[:-1]:
        raise ValueError(
            f"weights_plus shape {w.shape} does not match rag shape {rag.shape} "
            "(expected weights_plus (..., m) and rag (..., m, r))"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0) or np.any(w > 1):
        raise ValueError("weights_plus must lie in [0, 1]; found values outside or NaN")
    s = _check_sigma(sigma)
    lv = _check_level(level)
    if s.ndim or lv.ndim:
        raise ValueError("sigma and level must be scalars for polarization_event")
    delta = float(np.exp(-np.logaddexp(0.0, float(lv) / float(s) ** 2)))
    plus = (w >= 0.5) & ((1.0 - w) <= delta) & np.all(in_window(rag, 1), axis=-1)
    minus = (w <= delta) & np.all(in_window(rag, -1), axis=-1)
    out = np.all(plus | minus, axis=-1)
    return out[()] if out.ndim == 0 else out


def polarization_event_log(log_weights, rag, sigma, level):
    """``E_l`` from log weights ``(..., m, 2)`` (index 0 = the +1 component).

    Exact for any level: ``w >= 1 - delta`` is tested as
    ``log(1 - w) <= log(delta)`` using the minority log weight, so poles
    closer to 1 than double precision resolves still count.
    """
    lw = _as_float_array(log_weights, "log_weights")
    rag = _check_rag(rag)
    if lw.ndim < 2 or lw.shape[-1] != 2:
        raise ValueError(f"log_weights must have shape (..., m, 2); got shape {lw.shape}")
    if lw.shape[:-1] != rag.shape[:-1]:
        raise ValueError(f"log_weights shape {lw.shape} does not match rag shape {rag.shape}")
    if np.any(np.isnan(lw)) or np.any(lw > 0):
        raise ValueError("log_weights must be <= 0 and not NaN")
    s = _check_sigma(sigma)
    lv = _check_level(level)
    if s.ndim or lv.ndim:
        raise ValueError("sigma and level must be scalars for polarization_event_log")
    log_delta = -np.logaddexp(0.0, float(lv) / float(s) ** 2)
    plus = (lw[..., 1] <= log_delta) & np.all(in_window(rag, 1), axis=-1)
    minus = (lw[..., 0] <= log_delta) & np.all(in_window(rag, -1), axis=-1)
    out = np.all(plus | minus, axis=-1)
    return out[()] if out.ndim == 0 else out


__all__ = [
    "A_PLUS",
    "A_MINUS",
    "thresholds",
    "log_thresholds",
    "in_window",
    "well_behaved",
    "polarization_event",
    "polarization_event_log",
]

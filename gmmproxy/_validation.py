"""Input checks shared by every public entry point (one message style everywhere).

Messages name the parameter, the allowed range and the value, e.g.
``n_neighbors must be in [1, 29]; got 30``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np


def check_int(name: str, value, lo: int, hi: int | None = None, *, allow_none: bool = False):
    """``value`` as an int in ``[lo, hi]`` (``hi=None``: no upper bound)."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} of type {type(value).__name__}")
    value = int(value)
    if value < lo or (hi is not None and value > hi):
        allowed = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be {allowed}; got {value}")
    return value


def check_float(name: str, value, lo: float | None = None, hi: float | None = None) -> float:
    """``value`` as a finite float in ``[lo, hi]`` (either bound may be None)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        if lo is not None and hi is not None:
            allowed = f"in [{lo}, {hi}]"
        elif lo is not None:
            allowed = f">= {lo}"
        else:
            allowed = f"<= {hi}"
        raise ValueError(f"{name} must be {allowed}; got {value}")
    return value


def as_float_array(x, name: str, ndim: int) -> np.ndarray:
    """``x`` as a non-empty, finite float64 array with ``ndim`` dimensions."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric array; got {type(x).__name__}") from None
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s); got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {int(np.sum(~np.isfinite(arr)))} non-finite values")
    return arr

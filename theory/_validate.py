"""Input checks shared by the theory modules (one message style everywhere)."""
from __future__ import annotations

import numbers

import mpmath

# one integer check for the whole project (same argument order and messages as gmmproxy's);
# re-exported here because the theory modules import their checks from this module
from gmmproxy._validation import check_int  # noqa: F401

#: working precision (decimal digits) of every mpmath evaluation in ``theory``
DPS = 60


def to_mpf(value, name):
    """A finite real as an ``mpf``; floats go through their shortest repr (0.3 -> 3/10)."""
    if isinstance(value, (bool,)) or value is None:
        raise TypeError(f"{name} must be a real number; got {value!r}")
    if isinstance(value, mpmath.mpf):
        x = value
    elif isinstance(value, numbers.Integral):
        x = mpmath.mpf(int(value))
    elif isinstance(value, numbers.Real):
        x = mpmath.mpf(repr(float(value)))
    elif isinstance(value, str):
        try:
            x = mpmath.mpf(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a real number; got {value!r}") from None
    else:
        raise TypeError(f"{name} must be a real number; got {value!r} of type {type(value).__name__}")
    if not mpmath.isfinite(x):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return x


def check_sigma(sigma):
    with mpmath.workdps(DPS):
        s = to_mpf(sigma, "sigma")
    if s <= 0:
        raise ValueError(f"sigma must be > 0; got {sigma!r}")
    return s


def check_agents(n_agents):
    return check_int("n_agents", n_agents, 3)


def check_level(level):
    return check_int("level", level, 1)


def check_rag_size(rag_size):
    return check_int("rag_size", rag_size, 1)


def check_horizon(horizon):
    with mpmath.workdps(DPS):
        t = to_mpf(horizon, "horizon")
    if t < 0:
        raise ValueError(f"horizon must be >= 0; got {horizon!r}")
    return t


def check_choice(value, name, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value

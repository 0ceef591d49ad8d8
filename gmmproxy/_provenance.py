"""Provenance helpers shared by everything that saves results: the package version and JSON conversion.

One version string and one JSON policy for every saved trajectory, log, figure and
table, so results made by the same installed package say so in the same words.
"""
from __future__ import annotations

from pathlib import PurePath

import numpy as np

__all__ = ["package_version", "json_default"]


def package_version() -> str:
    """The version of the running gmmproxy, e.g. ``"0.2.0"``.

    ``gmmproxy.__version__``: the installed distribution's version, or ``"0.2.0+src"``
    when the package runs from a source tree that was never pip-installed.
    """
    from gmmproxy import __version__

    return __version__


def json_default(obj):
    """``default=`` hook of :func:`json.dumps` for the values results carry.

    Converts NumPy scalars and arrays, paths, ``numpy.random.SeedSequence`` (entropy and
    spawn key) and objects with a ``to_dict()`` method (e.g.
    :class:`gmmproxy.SimulationConfig`).

    Raises
    ------
    TypeError
        For any other object: provenance must be data that can be read back, never a
        ``repr`` that only looks like it.
    """
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, np.random.SeedSequence):
        from gmmproxy._seeding import seed_record

        return seed_record(obj)
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable "
                    "(give numbers, str, lists, dicts, NumPy arrays, paths, seeds or configs)")

"""Sweep designs: the full grid and sampled points (random, Latin hypercube, Sobol).

A design is a list of *points*, each a ``{parameter: value}`` dict over
:class:`~gmmproxy.SimulationConfig` fields. :class:`Grid` enumerates every
combination of listed values; :class:`SampledDesign` draws points in a box of
continuous and integer ranges with ``scipy.stats.qmc``. Both serialise to
JSON (``to_dict`` / :func:`design_from_dict`) for the sweep's manifest.
"""
from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from gmmproxy._names import canonical

__all__ = ["SWEEPABLE", "DESIGN_KINDS", "Grid", "SampledDesign", "sample_design", "as_design",
           "design_from_dict"]

# scalar SimulationConfig fields a sweep may vary (arrays such as means or graphs stay in the base)
SWEEPABLE = ("n_agents", "n_components", "sigma", "rag_size", "p_mirror", "n_neighbors", "eps",
             "update", "rag_replacement", "update_covariances", "volume_preserving", "min_sd")
DESIGN_KINDS = ("random", "lhs", "sobol")
_INT_PARAMS = ("n_agents", "n_components", "rag_size", "n_neighbors")


def _plain(value):
    """A JSON-friendly Python scalar (numpy scalars become int/float/bool)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"sweep values must be numbers, booleans or strings; got {value!r} "
                    f"of type {type(value).__name__}")


class Grid:
    """Every combination of the listed values (a full factorial design).

    Parameters
    ----------
    values : dict
        ``{name: [v1, v2, ...]}``; names are canonical API names or their
        aliases (``neighbors`` for ``n_neighbors``, see :mod:`gmmproxy._names`).
        Each list is non-empty and has no repeated value; the same
        parameter may not appear twice (e.g. as ``neighbors`` and
        ``n_neighbors``).
    """

    kind = "grid"

    def __init__(self, values: dict):
        if not isinstance(values, dict) or not values:
            raise ValueError("grid must be a non-empty dict {parameter name: list of values}")
        out: dict[str, list] = {}
        for raw, vals in values.items():
            name = canonical(raw, SWEEPABLE)
            if name in out:
                raise ValueError(f"grid names parameter {name!r} twice (as {raw!r} and an earlier spelling)")
            if isinstance(vals, (str, bytes)) or not hasattr(vals, "__iter__"):
                raise ValueError(f"grid[{raw!r}] must be a non-empty list of values; got {vals!r}")
            vals = [_plain(v) for v in vals]
            if not vals:
                raise ValueError(f"grid[{raw!r}] must be a non-empty list of values; got []")
            seen = set()
            for v in vals:
                key = (type(v) is str, v)
                if key in seen:
                    raise ValueError(f"grid[{raw!r}] lists the value {v!r} twice")
                seen.add(key)
            out[name] = vals
        self.values = out

    @property
    def names(self) -> list[str]:
        return list(self.values)

    def points(self) -> list[dict]:
        """All combinations, the last parameter varying fastest."""
        names = self.names
        return [dict(zip(names, combo)) for combo in itertools.product(*(self.values[n] for n in names))]

    def to_dict(self) -> dict:
        return {"kind": "grid", "values": {k: list(v) for k, v in self.values.items()}}

    def __repr__(self):
        return f"Grid({self.values!r})"


def _parse_range(name: str, spec) -> tuple:
    if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
        raise ValueError(f"range of {name!r} must be (low, high) or (low, high, 'int'|'float'); got {spec!r}")
    kind = spec[2] if len(spec) == 3 else ("int" if name in _INT_PARAMS else "float")
    if kind not in ("int", "float"):
        raise ValueError(f"range of {name!r}: type must be 'int' or 'float'; got {kind!r}")
    lo, hi = spec[0], spec[1]
    for v in (lo, hi):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise ValueError(f"range of {name!r} must have finite numeric bounds; got {spec!r}")
    if kind == "int":
        if float(lo) != int(lo) or float(hi) != int(hi):
            raise ValueError(f"integer range of {name!r} needs integer bounds; got {spec!r}")
        lo, hi = int(lo), int(hi)
        if hi < lo:
            raise ValueError(f"range of {name!r} must have low <= high; got {spec!r}")
    else:
        if name in _INT_PARAMS:
            raise ValueError(f"{name!r} is an integer parameter; give its range as (low, high, 'int')")
        lo, hi = float(lo), float(hi)
        if not hi > lo:
            raise ValueError(f"range of {name!r} must have low < high; got {spec!r}")
    return lo, hi, kind


class SampledDesign:
    """Points drawn in a box of parameter ranges.

    Parameters
    ----------
    kind : {"random", "lhs", "sobol"}
        Independent uniform points, a Latin hypercube (each of ``points``
        equal slices of every range holds one point) or a scrambled Sobol
        sequence (``points`` must be a power of 2, which keeps its balance).
    ranges : dict
        ``{name: (low, high)}`` (continuous, ``[low, high)``) or
        ``{name: (low, high, "int")}`` (integers ``low..high`` inclusive, each
        equally likely). Integer parameters (``n_agents``, ``rag_size``,
        ``n_neighbors``, ``n_components``) are integer ranges by default.
    points : int
        Number of points (>= 1).
    seed : int
        Seed of the draw (the design is a pure function of its arguments).
    """

    def __init__(self, kind: str, ranges: dict, points: int, seed: int = 0):
        if kind not in DESIGN_KINDS:
            raise ValueError(f"design must be one of {', '.join(DESIGN_KINDS)}; got {kind!r}")
        if not isinstance(ranges, dict) or not ranges:
            raise ValueError("ranges must be a non-empty dict {parameter name: (low, high[, 'int'])}")
        if isinstance(points, (bool, np.bool_)) or not isinstance(points, numbers.Integral) or points < 1:
            raise ValueError(f"points must be an integer >= 1; got {points!r}")
        if kind == "sobol" and points & (points - 1):
            lower = 1 << (int(points).bit_length() - 1)
            raise ValueError(f"points must be a power of 2 for a Sobol design (its balance needs it); "
                             f"got {points}, use {lower} or {lower * 2}")
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be a non-negative int; got {seed!r}")
        parsed: dict[str, tuple] = {}
        for raw, spec in ranges.items():
            name = canonical(raw, SWEEPABLE)
            if name in parsed:
                raise ValueError(f"ranges name parameter {name!r} twice (as {raw!r} and an earlier spelling)")
            if name in ("update", "rag_replacement", "update_covariances", "volume_preserving"):
                raise ValueError(f"{name!r} is not numeric; sweep it with a grid")
            parsed[name] = _parse_range(name, spec)
        self.kind, self.ranges, self.n_points, self.seed = kind, parsed, int(points), int(seed)
        self._points = self._draw()

    @property
    def names(self) -> list[str]:
        return list(self.ranges)

    def unit_points(self) -> np.ndarray:
        """The draw in the unit cube, shape (points, dims)."""
        d = len(self.ranges)
        rng = np.random.default_rng(np.random.SeedSequence(self.seed))
        if self.kind == "random":
            return rng.random((self.n_points, d))
        from scipy.stats import qmc

        engine_cls = qmc.Sobol if self.kind == "sobol" else qmc.LatinHypercube
        try:
            engine = engine_cls(d, rng=rng)
        except TypeError:  # SciPy < 1.15 calls it seed
            engine = engine_cls(d, seed=rng)
        return engine.random(self.n_points)

    def _draw(self) -> list[dict]:
        u = self.unit_points()
        cols = {}
        for j, (name, (lo, hi, kind)) in enumerate(self.ranges.items()):
            if kind == "int":
                # equal-width slices of [0, 1) per integer keep the stratification of lhs/sobol
                v = np.minimum(lo + np.floor(u[:, j] * (hi - lo + 1)), hi).astype(np.int64)
                cols[name] = [int(x) for x in v]
            else:
                cols[name] = [float(x) for x in lo + u[:, j] * (hi - lo)]
        pts = [{n: cols[n][i] for n in cols} for i in range(self.n_points)]
        seen = set()
        for p in pts:
            key = tuple(p.values())
            if key in seen:
                raise ValueError(
                    f"the {self.kind} design draws the point {p} twice (integer ranges hold fewer "
                    f"combinations than {self.n_points} points); use fewer points or a grid")
            seen.add(key)
        return pts

    def points(self) -> list[dict]:
        return [dict(p) for p in self._points]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "ranges": {k: list(v) for k, v in self.ranges.items()},
                "points": self.n_points, "seed": self.seed}

    def __repr__(self):
        return f"SampledDesign({self.kind!r}, {self.ranges!r}, points={self.n_points}, seed={self.seed})"


def sample_design(kind: str, ranges: dict, points: int, seed: int = 0) -> SampledDesign:
    """A :class:`SampledDesign` (see there): ``sample_design("sobol", {"sigma": (0.05, 0.5)}, 64)``."""
    return SampledDesign(kind, ranges, points, seed)


def as_design(grid_or_design):
    """A :class:`Grid` from a dict, or the design itself."""
    if isinstance(grid_or_design, (Grid, SampledDesign)):
        return grid_or_design
    if isinstance(grid_or_design, dict):
        return Grid(grid_or_design)
    raise TypeError(f"grid_or_design must be a dict {{name: values}}, a Grid or a SampledDesign; "
                    f"got {type(grid_or_design).__name__}")


def design_from_dict(d: dict):
    """Inverse of ``Grid.to_dict`` / ``SampledDesign.to_dict``."""
    if d.get("kind") == "grid":
        return Grid(d["values"])
    return SampledDesign(d["kind"], {k: tuple(v) for k, v in d["ranges"].items()}, d["points"], d["seed"])

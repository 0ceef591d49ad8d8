"""Cells of a sweep: validated configurations, their identity key and their seed.

A cell is one point of a design. Its key -- and so its seed -- is a hash of the
swept parameters' validated values (``p_mirror=0`` and ``p_mirror=0.0`` are
the same cell), never of its position in the design: inserting a value in a
grid, reordering it or sampling more points leaves every other cell's
results unchanged.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

from gmmproxy._seeding import as_seed_sequence
from gmmproxy.config import SimulationConfig

__all__ = ["cell_key", "cell_seed", "build_cells"]

# domain tag in the spawn key: cell seeds never coincide with replicate seeds of the same base seed
_CELL_TAG = 0x5357_4545  # "SWEE"


def _canonical_json(params: dict) -> str:
    # sorted names, repr-exact floats: the same values always give the same text
    return json.dumps({k: params[k] for k in sorted(params)}, sort_keys=True, separators=(",", ":"))


def cell_key(params: dict) -> str:
    """16 hex digits identifying the cell with these (validated) parameter values."""
    return hashlib.sha256(_canonical_json(params).encode()).hexdigest()[:16]


def cell_seed(seed, params: dict) -> np.random.SeedSequence:
    """The seed of the cell with parameter values ``params`` in a sweep started with ``seed``.

    ``SeedSequence(seed entropy, spawn_key = seed's spawn key + (tag, 128-bit hash of params))``;
    replicate ``r`` of the cell then uses ``replicate_seed(cell_seed, r)``.
    """
    ss = as_seed_sequence(seed)
    digest = hashlib.sha256(_canonical_json(params).encode()).digest()
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (
        _CELL_TAG, int.from_bytes(digest[:16], "little")))


def build_cells(base: SimulationConfig, points: list[dict]) -> list[dict]:
    """Validate every point against ``base`` before anything runs.

    Returns a list of ``{"cell": key, "params": typed values, "config": SimulationConfig}``.
    Raises ``ValueError`` naming the point when a configuration is invalid
    or two points are the same cell.
    """
    if not isinstance(base, SimulationConfig):
        raise TypeError(f"base_cfg must be a gmmproxy.SimulationConfig; got {type(base).__name__}")
    cells = []
    seen: dict[str, dict] = {}
    for point in points:
        if "n_agents" in point and base.init_weights is not None:
            raise ValueError("n_agents cannot be swept when the base config has explicit init_weights")
        try:
            cfg = base.replace(**point)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"sweep cell {point}: {exc}") from None
        # the config's own (validated, typed) values: 0 and 0.0 are the same p_mirror
        typed = {}
        for name in point:
            v = getattr(cfg, name)
            typed[name] = v.item() if isinstance(v, np.generic) else v
        key = cell_key(typed)
        if key in seen:
            raise ValueError(f"sweep cells {seen[key]} and {point} are the same configuration")
        seen[key] = point
        cells.append({"cell": key, "params": typed, "config": cfg})
    return cells

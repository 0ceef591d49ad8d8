"""Seeding: one ``SeedSequence`` per run, one child per replicate.

Replicate ``r`` of a batch started with ``seed`` uses the child
``SeedSequence(entropy, spawn_key=(r,))`` -- exactly what
``SeedSequence(seed).spawn(R)[r]`` returns -- so ``simulate_many`` replicate
``r`` equals ``simulate`` called with ``replicate_seed(seed, r)``.
"""
from __future__ import annotations

import numbers

import numpy as np

SeedLike = "int | numpy.random.SeedSequence | None"


def as_seed_sequence(seed, name: str = "seed") -> np.random.SeedSequence:
    """Validate ``seed`` and return it as a ``SeedSequence``.

    ``None`` draws fresh OS entropy (the run is then not reproducible, but its
    entropy is recorded in the result so it can be replayed).
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"{name} must be a non-negative int, a numpy.random.SeedSequence or None; "
            f"got {seed!r} of type {type(seed).__name__}"
        )
    if int(seed) < 0:
        raise ValueError(f"{name} must be a non-negative int; got {seed}")
    return np.random.SeedSequence(int(seed))


def replicate_seed(seed, replicate: int) -> np.random.SeedSequence:
    """The seed of replicate ``replicate`` of a batch started with ``seed``."""
    ss = as_seed_sequence(seed)
    if not isinstance(replicate, numbers.Integral) or replicate < 0:
        raise ValueError(f"replicate must be a non-negative int; got {replicate!r}")
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (int(replicate),))


def xoshiro_state(ss: np.random.SeedSequence) -> np.ndarray:
    """A 4-word uint64 xoshiro256** state derived from ``ss`` (never all zero)."""
    state = ss.generate_state(4, dtype=np.uint64)
    if not state.any():  # probability 2**-256, but the all-zero state is absorbing
        state[0] = np.uint64(0x9E3779B97F4A7C15)
    return state


def replicate_states(seed, replicates: int, start: int = 0) -> np.ndarray:
    """States (replicates, 4) of replicates ``start .. start+replicates-1``."""
    ss = as_seed_sequence(seed)
    out = np.empty((replicates, 4), dtype=np.uint64)
    for r in range(replicates):
        out[r] = xoshiro_state(replicate_seed(ss, start + r))
    return out


def seed_record(ss: np.random.SeedSequence) -> dict:
    """A JSON-friendly description of a seed, enough to rebuild it."""
    entropy = ss.entropy
    return {"entropy": str(entropy), "spawn_key": [int(k) for k in ss.spawn_key]}


def seed_from_record(rec: dict) -> np.random.SeedSequence:
    """Inverse of :func:`seed_record`."""
    return np.random.SeedSequence(int(rec["entropy"]), spawn_key=tuple(rec["spawn_key"]))

"""The xoshiro states of many jobs at once: ``replicate_states`` vectorised over the replicate index.

:func:`gmmproxy._seeding.replicate_states` builds one ``SeedSequence`` per
replicate (``SeedSequence(entropy, spawn_key=key + (b,))``) and asks it for
four 64-bit words: about 30 microseconds each in Python, 4 ms for the 128
jobs of one calibration evaluation. Replicates differ only in the last word
of the entropy that ``SeedSequence`` hashes, and its hash consumes that word
last, so the pool before it is common to all replicates: here it is computed
once, and the last word's mixing and the output hashing (NumPy's documented
``SeedSequence`` algorithm, uint32 arithmetic) run as array operations over
the replicates. The states are the same words bit for bit (tested against
``replicate_states``); seeds this module does not handle (a replicate index
of 2**32 or more, exotic entropy) fall back to ``replicate_states``.
"""
from __future__ import annotations

import numbers

import numpy as np

from gmmproxy._seeding import as_seed_sequence, replicate_states

__all__ = ["job_states"]

_MASK = 0xFFFFFFFF
_POOL = 4
_INIT_A = 0x43B0D7E5
_MULT_A = 0x931E8875
_INIT_B = 0x8B51F9DD
_MULT_B = 0x58F38DED
_MIX_L = 0xCA01F9DD
_MIX_R = 0x4973F715
_SHIFT = 16


def _words(value):
    """uint32 words of a non-negative int (little-endian, ``[0]`` for 0) or of a sequence of them."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Integral):
        v = int(value)
        if v < 0:
            return None
        out = [v & _MASK]
        v >>= 32
        while v:
            out.append(v & _MASK)
            v >>= 32
        return out
    try:
        items = list(value)
    except TypeError:
        return None
    out = []
    for item in items:
        w = _words(item) if isinstance(item, numbers.Integral) else None
        if w is None:
            return None
        out.extend(w)
    return out


class _Hash:
    """The running hash constant of ``SeedSequence``'s entropy mixing (uint32 arithmetic)."""

    def __init__(self):
        self.const = _INIT_A

    def step(self):
        """Advance the constant; return the multiplier the next hashed word is multiplied by."""
        c = self.const
        self.const = (c * _MULT_A) & _MASK
        return c, self.const


def _hashmix(value, h: _Hash):
    before, after = h.step()
    value = ((value ^ before) * after) & _MASK
    return value ^ (value >> _SHIFT)


def _mix(x, y):
    r = (_MIX_L * x - _MIX_R * y) & _MASK
    return r ^ (r >> _SHIFT)


def job_states(seed, jobs: int) -> np.ndarray:
    """States (jobs, 4) uint64 equal to ``replicate_states(seed, jobs)``."""
    ss = as_seed_sequence(seed)
    jobs = int(jobs)
    run = _words(ss.entropy)
    spawn = _words(ss.spawn_key)
    if run is None or spawn is None or jobs >= 2 ** 32 or jobs < 1:
        return replicate_states(ss, jobs)
    run = run + [0] * max(0, _POOL - len(run))  # the child's spawn key is never empty
    prefix = run + spawn
    # the pool after every word but the replicate index (common to all jobs)
    h = _Hash()
    pool = [_hashmix(prefix[i], h) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = _mix(pool[dst], _hashmix(pool[src], h))
    for word in prefix[_POOL:]:
        for dst in range(_POOL):
            pool[dst] = _mix(pool[dst], _hashmix(word, h))
    # the replicate index, as arrays over jobs (uint64 holding uint32 values, masked after products)
    idx = np.arange(jobs, dtype=np.uint64)
    mask = np.uint64(_MASK)
    shift = np.uint64(_SHIFT)
    pools = []
    for dst in range(_POOL):
        before, after = h.step()
        hashed = ((idx ^ np.uint64(before)) * np.uint64(after)) & mask
        hashed ^= hashed >> shift
        mixed = (np.uint64(_MIX_L) * np.uint64(pool[dst]) - np.uint64(_MIX_R) * hashed) & mask
        mixed ^= mixed >> shift
        pools.append(mixed)
    # generate_state(4, uint64): 8 uint32 words cycling over the pool
    const = _INIT_B
    words = []
    for q in range(8):
        v = pools[q % _POOL] ^ np.uint64(const)
        const = (const * _MULT_B) & _MASK
        v = (v * np.uint64(const)) & mask
        v ^= v >> shift
        words.append(v)
    out = np.empty((jobs, 4), dtype=np.uint64)
    for a in range(4):
        out[:, a] = words[2 * a] | (words[2 * a + 1] << np.uint64(32))
    zero = ~out.any(axis=1)
    if zero.any():  # as xoshiro_state: the all-zero state is absorbing
        out[zero, 0] = np.uint64(0x9E3779B97F4A7C15)
    return out

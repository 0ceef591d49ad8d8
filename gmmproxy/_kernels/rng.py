"""A counter-free xoshiro256** generator for Numba kernels.

Each replicate owns a 4-word ``uint64`` state array, seeded from a
``numpy.random.SeedSequence`` child (see ``gmmproxy._seeding``). Because the
state travels with the replicate and not with the thread, results do not
depend on the number of threads or on the order in which replicates run.
"""
import math

import numpy as np
from numba import njit, uint64

from gmmproxy._kernels.cache import kernel

_TWO_PI = 2.0 * math.pi
_INV_2_53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


# The generator's small functions are compiled once as separate functions
# (without reference counting) rather than inlined at Numba-IR level: LLVM
# inlines them into the rounds anyway (same per-update time, measured
# alternately), while IR-inlining re-typed the whole chain (uniform ->
# next_u64 -> _rotl) at every one of its dozen call sites, a quarter of the
# first-use compile time of the default kernel (9.4 -> 6.6 s CPU).
@kernel(_nrt=False)
def next_u64(state):
    """Advance ``state`` (uint64[4]) and return the next 64-bit output."""
    s0 = state[0]
    s1 = state[1]
    s2 = state[2]
    s3 = state[3]
    result = _rotl(s1 * uint64(5), 7) * uint64(9)
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0] = s0
    state[1] = s1
    state[2] = s2
    state[3] = s3
    return result


@kernel(_nrt=False)
def uniform(state):
    """A double uniform on [0, 1) with 53 random bits."""
    return float(next_u64(state) >> uint64(11)) * _INV_2_53


@kernel(_nrt=False)
def uniform_open(state):
    """A double uniform on (0, 1): never exactly 0, safe for ``log``."""
    return (float(next_u64(state) >> uint64(11)) + 0.5) * _INV_2_53


@kernel(_nrt=False)
def standard_normal(state):
    """One N(0, 1) draw by the Box-Muller transform (cosine branch)."""
    u1 = uniform_open(state)
    u2 = uniform(state)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)


@kernel(_nrt=False)
def randint(state, n):
    """An integer uniform on {0, ..., n-1} (Lemire's nearly-divisionless method)."""
    bound = uint64(n)
    # rejection threshold removes the modulo bias exactly
    threshold = (uint64(0) - bound) % bound
    while True:
        x = next_u64(state)
        # 128-bit product high/low words via 32-bit halves
        x_lo = x & uint64(0xFFFFFFFF)
        x_hi = x >> uint64(32)
        b_lo = bound & uint64(0xFFFFFFFF)
        b_hi = bound >> uint64(32)
        lo_lo = x_lo * b_lo
        hi_lo = x_hi * b_lo
        lo_hi = x_lo * b_hi
        hi_hi = x_hi * b_hi
        cross = (lo_lo >> uint64(32)) + (hi_lo & uint64(0xFFFFFFFF)) + lo_hi
        low = (cross << uint64(32)) | (lo_lo & uint64(0xFFFFFFFF))
        high = (hi_lo >> uint64(32)) + (cross >> uint64(32)) + hi_hi
        if low >= threshold:
            return np.int64(high)


@kernel(inline="always")
def _scan(probs, u):
    """First index whose cumulative probability exceeds u (the last positive one if none does)."""
    acc = 0.0
    last = 0
    for c in range(probs.shape[0]):
        p = probs[c]
        if p > 0.0:
            acc += p
            last = c
            if u < acc:
                return c
    return last


@kernel(inline="always")
def categorical(state, probs):
    """An index drawn with probabilities ``probs`` (need not sum exactly to 1)."""
    total = 0.0
    for c in range(probs.shape[0]):
        total += probs[c]
    return _scan(probs, uniform(state) * total)


@kernel(_nrt=False)
def categorical_row(state, P, row):
    """An index drawn with probabilities ``P[row]``, which sum to 1 up to rounding.

    Skips :func:`categorical`'s normalising pass (the rounding gap, ~1e-16,
    falls to the last index with positive mass). The row is indexed in place
    rather than sliced, which keeps the hot loops free of reference counting.
    """
    u = uniform(state)
    acc = 0.0
    last = 0
    for c in range(P.shape[1]):
        p = P[row, c]
        if p > 0.0:
            acc += p
            last = c
            if u < acc:
                return c
    return last

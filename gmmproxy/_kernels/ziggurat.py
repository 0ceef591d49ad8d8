"""Standard normal draws by the ziggurat method (Marsaglia and Tsang, 2000), for the simulation and calibration kernels.

Box-Muller (``rng.standard_normal``, still used by the theory's chain kernel)
costs a ``log``, a ``sqrt`` and a ``cos`` per draw: about a fifth of the
calibration kernel's time and a tenth of an agent update of the engine. The
ziggurat covers the half-normal density ``f(x) = exp(-x^2 / 2)`` (unnormalised)
with ``N = 256`` horizontal layers of equal area ``v``:

* layer 0 is the rectangle ``[0, r] x [0, f(r)]`` together with the tail
  ``x > r``; it is given the virtual width ``X[0] = v / f(r)``;
* layer ``i >= 1`` is the rectangle ``[0, X[i]] x [f(X[i]), f(X[i+1])]``,
  with ``X[1] = r`` and ``f(X[i+1]) = f(X[i]) + v / X[i]``; ``r`` is the
  root that makes the top layer end exactly at ``X[N] = 0``, ``f(0) = 1``.

One 64-bit word gives the layer ``i`` (its low 8 bits), the sign (bit 8) and a
53-bit uniform ``U`` (bits 11-63); ``z = U X[i]`` is accepted at once when
``z < X[i+1]`` (the point lies under the curve whatever its height): about
98.8% of draws, one generator step, one table load, one multiply. Otherwise
layer 0 samples the tail beyond ``r`` exactly (Marsaglia's method: ``a =
-log(U1) / r``, ``b = -log(U2)`` until ``2 b > a^2``, return ``r + a``), and
the other layers draw the height uniformly in the layer and accept ``z``
when it lies under ``f`` (the wedge test, one ``exp``); a rejected draw starts
again. Every accepted value therefore has exactly the half-normal
distribution, and the independent sign makes it standard normal.

The tables are computed here in float64 (``r`` by bisection on the top
layer's condition) and frozen into the compiled code as constants.
"""
import math

import numpy as np
from numba import uint64

from gmmproxy._kernels.cache import kernel
from gmmproxy._kernels.rng import next_u64, uniform, uniform_open

#: number of layers
LAYERS = 256
_INV_2_53 = 1.0 / 9007199254740992.0  # 2**-53


def _tail_mass(r):
    """Integral of exp(-x^2/2) from r to infinity."""
    return math.sqrt(math.pi / 2.0) * math.erfc(r / math.sqrt(2.0))


def _layers(r, n=LAYERS):
    """Edges X[0..n] and heights F[i] = f(X[i]) for a base edge r; also returns the top layer's residual.

    The residual ``f(X[n-1]) + v / X[n-1] - 1`` is 0 for the right r: the
    top layer then ends at height f(0) = 1. Positive residual: r too small.
    """
    f = lambda x: math.exp(-0.5 * x * x)  # noqa: E731
    v = r * f(r) + _tail_mass(r)
    X = np.zeros(n + 1)
    X[0] = v / f(r)
    X[1] = r
    for i in range(1, n - 1):
        h = f(X[i]) + v / X[i]
        if h >= 1.0:  # the layers reach the top before layer n - 1: r was too small
            return X, None, h - 1.0 + (n - 1 - i)
        X[i + 1] = math.sqrt(-2.0 * math.log(h))
    residual = f(X[n - 1]) + v / X[n - 1] - 1.0
    X[n] = 0.0
    F = np.array([f(x) for x in X])
    F[n] = 1.0
    return X, F, residual


def _solve_tables(n=LAYERS):
    lo, hi = 2.0, 5.0  # residual > 0 at lo (too many layers needed), < 0 at hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        _, _, res = _layers(mid, n)
        if res > 0.0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 4e-16 * hi:
            break
    X, F, res = _layers(hi, n)
    return hi, X, F


ZIGGURAT_R, ZIGGURAT_X, ZIGGURAT_F = _solve_tables()
# module-level constants read by the kernel (Numba freezes global arrays into the compiled code)
_X = ZIGGURAT_X
_F = ZIGGURAT_F
_R = float(ZIGGURAT_R)
_INV_R = 1.0 / _R


@kernel(_nrt=False)
def _normal_slow(state, i, z):
    """The rare branch: tail (layer 0) or wedge test (other layers) for the candidate |z| in layer i.

    Returns the accepted magnitude, or -1.0 to ask for a fresh draw.
    """
    if i == 0:
        while True:
            a = -math.log(uniform_open(state)) * _INV_R
            b = -math.log(uniform_open(state))
            if b + b > a * a:
                return _R + a
    y = _F[i] + uniform(state) * (_F[i + 1] - _F[i])
    if y < math.exp(-0.5 * z * z):
        return z
    return -1.0


@kernel(_nrt=False)
def standard_normal_ziggurat(state):
    """One N(0, 1) draw by the ziggurat method (see the module docstring)."""
    while True:
        w = next_u64(state)
        i = np.int64(w & uint64(LAYERS - 1))
        negative = (w >> uint64(8)) & uint64(1)
        z = float(w >> uint64(11)) * _INV_2_53 * _X[i]
        if z >= _X[i + 1]:
            z = _normal_slow(state, i, z)
            if z < 0.0:
                continue
        return -z if negative else z

"""Floating-point sums in one fixed order, the same on every CPU: the reference engine's distances.

Why this exists: the authors measured the distance between two agents' weight vectors with
``np.linalg.norm``, which is ``sqrt(x @ x)`` through OpenBLAS's ``ddot``. OpenBLAS picks a
``ddot`` kernel for the CPU it runs on (Prescott, Haswell/Zen, SkylakeX, ...), and the kernels
add the products in different orders, so the last bit of a distance -- and with it the order of
``argpartition``'s candidates and the whole run -- depends on the machine. The authors' published
runs (Figures 2 and 10) were made with the Haswell/Zen kernel. This module computes exactly what
that kernel computes, in plain NumPy element-wise arithmetic (no BLAS call), so the reference
engine reproduces those runs bit for bit on any CPU.

The Haswell ``ddot`` kernel (OpenBLAS ``kernel/x86_64/ddot.c`` with its Haswell micro-kernel):

* the first ``n1 = n - n % 16`` elements go through four 4-lane AVX2 accumulators: element
  ``16 b + 4 a + l`` is fused-multiply-added into lane ``l`` of accumulator ``a``;
* the accumulators are reduced as: in each accumulator lanes ``(0 + 2)`` and ``(1 + 3)``; then
  accumulators ``(0 + 1)`` and ``(2 + 3)``; then those two; then the two remaining lanes;
* the remaining ``n % 16`` elements are added one by one in index order with a separate
  multiply and add (no fusion).

This order was checked bit for bit against OpenBLAS 0.3.31 (``OPENBLAS_CORETYPE=Haswell``) on
5,040 vectors of lengths 1-300 (random, Dirichlet differences and near-one-hot differences), see
``tests/test_fixed_order.py``. The fused multiply-add of the second and later 16-blocks is
emulated exactly with error-free transformations (Dekker's product, Knuth's sum and rounding to
odd, after Boldo and Melquiond 2008).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

__all__ = ["fma", "haswell_sqnorm", "haswell_norm"]

_SPLITTER = 134217729.0  # 2**27 + 1: Veltkamp's splitting constant for binary64
# Below this magnitude the error-free product may underflow; such (rare) values take the exact
# rational path instead.
_TINY = 2.0**-450
_HUGE = 2.0**450


def _two_sum(a, b):
    """s + e == a + b exactly, with s = fl(a + b) (Knuth)."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def _split(a):
    c = _SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a, b):
    """p + e == a * b exactly, with p = fl(a * b) (Dekker), barring underflow/overflow."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def _add_round_to_odd(a, b):
    """a + b rounded to odd: the neighbouring float with an odd significand when inexact."""
    s, e = _two_sum(a, b)
    inexact_even = (e != 0) & ((s.view(np.int64) & 1) == 0)
    if np.any(inexact_even):
        toward = np.where(e > 0, np.inf, -np.inf)
        s = np.where(inexact_even, np.nextafter(s, toward), s)
    return s


def _fma_exact_scalar(a: float, b: float, c: float) -> float:
    return float(Fraction(a) * Fraction(b) + Fraction(c))


def fma(a, b, c):
    """Correctly rounded ``a * b + c`` (one rounding), element-wise, in plain float64 NumPy.

    Parameters
    ----------
    a, b, c : array_like of float64 (broadcast together)

    Returns
    -------
    ndarray of float64
    """
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
    shape = a.shape
    a, b, c = (np.array(v, dtype=np.float64).reshape(-1) for v in (a, b, c))
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        uh, ul = _two_prod(a, b)
        th, tl = _two_sum(c, uh)
        out = th + _add_round_to_odd(tl, ul)
    # where the error-free transformations are not exact (tiny or huge magnitudes, non-finite
    # values), compute the exact rational result instead
    mags = [np.abs(a), np.abs(b), np.abs(c)]
    risky = ~(np.isfinite(a) & np.isfinite(b) & np.isfinite(c))
    for m in mags:
        risky |= (m != 0) & ((m < _TINY) | (m > _HUGE))
    for idx in np.flatnonzero(risky):
        x, y, z = float(a[idx]), float(b[idx]), float(c[idx])
        if np.isfinite(x) and np.isfinite(y) and np.isfinite(z):
            out[idx] = _fma_exact_scalar(x, y, z)
        else:
            out[idx] = x * y + z
    return out.reshape(shape)


def haswell_sqnorm(x):
    """``x @ x`` along the last axis, summed exactly as OpenBLAS's Haswell ``ddot`` sums it.

    Parameters
    ----------
    x : array_like of float64, shape (..., n)

    Returns
    -------
    ndarray of float64, shape (...)
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    lead = x.shape[:-1]
    n1 = n - n % 16
    if n1:
        acc = x[..., 0:16] * x[..., 0:16]  # fma(x, x, +0) == fl(x * x)
        for b in range(16, n1, 16):
            blk = x[..., b:b + 16]
            acc = fma(blk, blk, acc)
        acc = acc.reshape(lead + (4, 4))  # [..., accumulator, lane]
        lo = acc[..., 0] + acc[..., 2]  # per accumulator: lanes 0+2 and 1+3
        hi = acc[..., 1] + acc[..., 3]
        lo = (lo[..., 0] + lo[..., 1]) + (lo[..., 2] + lo[..., 3])
        hi = (hi[..., 0] + hi[..., 1]) + (hi[..., 2] + hi[..., 3])
        dot = lo + hi
    else:
        dot = np.zeros(lead)
    for i in range(n1, n):
        dot = dot + x[..., i] * x[..., i]
    return dot


def haswell_norm(x):
    """Euclidean norm along the last axis: ``sqrt(haswell_sqnorm(x))`` (sqrt is exactly rounded)."""
    return np.sqrt(haswell_sqnorm(x))

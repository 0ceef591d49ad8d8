"""The fixed-order sums behind the reference engine's distances: exact FMA, Haswell ddot order."""
import os
import subprocess
import sys
import textwrap
from fractions import Fraction

import numpy as np
import pytest

from gmmproxy._fixed_order import fma, haswell_norm, haswell_sqnorm


def _fma_rational(a, b, c):
    return float(Fraction(a) * Fraction(b) + Fraction(c))


def _haswell_scalar(v):
    """The Haswell ddot order written out element by element, with a rational FMA."""
    n = len(v)
    n1 = n - n % 16
    acc = [[0.0] * 4 for _ in range(4)]
    for b in range(0, n1, 16):
        for a in range(4):
            for lane in range(4):
                x = float(v[b + 4 * a + lane])
                acc[a][lane] = _fma_rational(x, x, acc[a][lane])
    dot = 0.0
    if n1:
        h = [(acc[a][0] + acc[a][2], acc[a][1] + acc[a][3]) for a in range(4)]
        s0 = (h[0][0] + h[1][0]) + (h[2][0] + h[3][0])
        s1 = (h[0][1] + h[1][1]) + (h[2][1] + h[3][1])
        dot = s0 + s1
    for i in range(n1, n):
        dot = dot + float(v[i]) * float(v[i])
    return dot


def test_fma_is_correctly_rounded():
    rng = np.random.default_rng(0)
    N = 20_000
    a = rng.standard_normal(N) * 10.0 ** rng.integers(-30, 5, N)
    b = rng.standard_normal(N)
    c = rng.standard_normal(N) * 10.0 ** rng.integers(-60, 5, N)
    c[:2000] = -(a[:2000] * b[:2000])  # cancellation: the result is the product's rounding error
    got = fma(a, b, c)
    want = np.array([_fma_rational(x, y, z) for x, y, z in zip(a, b, c)])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("a,b,c", [
    (2.0**-26, 2.0**-27, 1.0),                      # 1 + 2^-53: a tie, rounds to even (1.0)
    (2.0**-26 + 2.0**-52, 2.0**-27, 1.0),           # just above the tie: rounds up
    (3 * 2.0**-27, 2.0**-26, 1.0),                  # 1 + 3 * 2^-53: tie, rounds to even upward
    (1.0 + 2.0**-30, 1.0 + 2.0**-30, -1.0),         # exact cancellation of the leading part
    (0.1, 0.1, -0.01),
    (1e-300, 1e-10, 1e-310),                        # tiny: the exact rational fallback
])
def test_fma_ties_and_edge_cases(a, b, c):
    assert fma(a, b, c)[()] == _fma_rational(a, b, c)


def test_fma_differs_from_separate_multiply_add():
    # the point of the exercise: a * b + c rounded twice is not the fused result here
    a, b, c = 1.0 + 2.0**-27, 1.0 - 2.0**-27, -1.0
    assert a * b + c == 0.0
    assert fma(a, b, c)[()] == -(2.0**-54)


def test_haswell_order_against_scalar_rederivation():
    rng = np.random.default_rng(1)
    for n in list(range(1, 70)) + [100, 129, 300]:
        for kind in range(3):
            if kind == 0:
                v = rng.standard_normal(n)
            elif kind == 1:
                v = rng.dirichlet(np.full(n, 0.1)) - rng.dirichlet(np.full(n, 0.1))
            else:
                w = np.full(n, 1e-12 / n)
                w[rng.integers(n)] = 1 - 1e-12
                v = w - rng.dirichlet(np.full(n, 0.05))
            assert haswell_sqnorm(v)[()] == _haswell_scalar(v), (n, kind)


def test_haswell_norm_batches_rows():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((7, 45))
    np.testing.assert_array_equal(haswell_norm(X), [np.sqrt(_haswell_scalar(x)) for x in X])


def test_haswell_order_is_not_pairwise_or_sequential():
    # guards against a "simplification" to np.sum or a left-to-right loop: both differ somewhere
    rng = np.random.default_rng(3)
    X = rng.dirichlet(np.full(30, 0.1), size=2000) - rng.dirichlet(np.full(30, 0.1), size=2000)
    ours = haswell_sqnorm(X)
    seq = np.zeros(len(X))
    for i in range(30):
        seq = seq + X[:, i] * X[:, i]
    assert np.any(ours != seq)
    assert np.any(ours != (X * X).sum(axis=1))


_DOT_SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    rng = np.random.default_rng(4)
    for n in (5, 16, 30, 31, 32, 47, 64, 100, 300):
        for _ in range(40):
            v = rng.dirichlet(np.full(n, 0.1)) - rng.dirichlet(np.full(n, 0.1))
            print(repr(float(np.dot(v, v))))
""")


def test_matches_openblas_haswell_kernel_where_the_cpu_has_it():
    """Where this CPU can run OpenBLAS's Haswell kernel, np.dot under it equals our emulation.

    OPENBLAS_CORETYPE is set only in this child process, to obtain the kernel's own results.
    """
    env = {**os.environ, "OPENBLAS_CORETYPE": "Haswell"}
    proc = subprocess.run([sys.executable, "-c", _DOT_SCRIPT], env=env, capture_output=True, text=True,
                          timeout=120)
    if proc.returncode < 0:
        pytest.skip(f"this CPU cannot run OpenBLAS's Haswell kernel (signal {-proc.returncode})")
    assert proc.returncode == 0, proc.stderr
    got = [float(s) for s in proc.stdout.split()]
    rng = np.random.default_rng(4)
    want = []
    for n in (5, 16, 30, 31, 32, 47, 64, 100, 300):
        for _ in range(40):
            v = rng.dirichlet(np.full(n, 0.1)) - rng.dirichlet(np.full(n, 0.1))
            want.append(haswell_sqnorm(v)[()])
    assert got == want

"""Tests of gmmproxy.polarization (spec Section 6)."""
import warnings

import mpmath
import numpy as np
import pytest

from gmmproxy.polarization import (
    in_window,
    log_thresholds,
    polarization_event,
    polarization_event_log,
    thresholds,
    well_behaved,
)


def _mp_delta(sigma, level):
    with mpmath.workdps(50):
        return 1 / (1 + mpmath.exp(level / mpmath.mpf(repr(sigma)) ** 2))


@pytest.mark.parametrize("sigma, level", [(0.4, 1), (0.4, 2), (0.3, 1), (0.2, 1), (1.0, 3), (2.0, 1)])
def test_thresholds_match_mpmath(sigma, level):
    assert thresholds(sigma, level) == pytest.approx(float(_mp_delta(sigma, level)), rel=1e-13)


def test_spec_example_values():
    assert thresholds(0.4, 1) == pytest.approx(1.92673e-3, rel=1e-5)
    assert thresholds(0.4, 2) == pytest.approx(3.72664e-6, rel=1e-5)
    assert thresholds(0.3, 1) == pytest.approx(1.49451e-5, rel=1e-5)
    assert thresholds(0.2, 1) == pytest.approx(1.38879e-11, rel=1e-5)


def test_thresholds_stable_in_the_tails():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert thresholds(0.01, 5) == 0.0  # below the smallest double, no overflow warning
        lt = log_thresholds(0.01, 5)
    assert lt == pytest.approx(-5e4, rel=1e-12)
    assert log_thresholds(0.1, 1) == pytest.approx(float(mpmath.log(_mp_delta(0.1, 1))), rel=1e-14)


def test_thresholds_broadcast_and_recursion():
    sig = np.array([0.4, 0.3, 0.2])[:, None]
    lv = np.arange(1, 4)[None, :]
    d = thresholds(sig, lv)
    assert d.shape == (3, 3)
    assert np.all(np.diff(d, axis=1) < 0)  # deeper level, smaller threshold
    # delta_l = g_sigma(delta_{l-1}, -1/2): odds multiplied by exp(-1/sigma^2)
    s = 0.4
    prev = 0.5
    for lv in range(1, 4):
        g = prev / (prev + (1 - prev) * np.exp(1 / s**2))
        assert thresholds(s, lv) == pytest.approx(g, rel=1e-12)
        prev = g


def _event_loop(w, rag, sigma, level):
    delta = float(_mp_delta(sigma, level))
    for wi, ri in zip(w, rag):
        if wi >= 1 - delta and all(0.5 <= x <= 1.5 for x in ri):
            continue
        if wi <= delta and all(-1.5 <= x <= -0.5 for x in ri):
            continue
        return False
    return True


def test_polarization_event_against_loop():
    rng = np.random.default_rng(3)
    sigma, level = 0.4, 1
    d = thresholds(sigma, level)
    w = np.where(rng.random((200, 6)) < 0.5, 1 - d * rng.random((200, 6)) * 1.2, d * rng.random((200, 6)) * 1.2)
    sign = np.where(w > 0.5, 1.0, -1.0)
    rag = sign[..., None] * (1 + rng.uniform(-0.55, 0.55, size=(200, 6, 3)))
    got = polarization_event(w, rag, sigma, level)
    assert got.shape == (200,)
    want = np.array([_event_loop(w[b], rag[b], sigma, level) for b in range(200)])
    np.testing.assert_array_equal(got, want)
    assert 0 < want.sum() < 200  # both outcomes occur
    # leading axes are kept
    assert polarization_event(w.reshape(20, 10, 6), rag.reshape(20, 10, 6, 3), sigma, level).shape == (20, 10)


def test_polarization_event_boundaries_and_consensus():
    sigma, level = 0.4, 1
    d = thresholds(sigma, level)
    rag_plus = np.array([[0.5, 1.5], [0.5, 1.5]])
    assert polarization_event([1 - d * (1 - 1e-9), 1.0], rag_plus, sigma, level)  # closed windows
    assert not polarization_event([1 - 2 * d, 1.0], rag_plus, sigma, level)
    assert not polarization_event([1.0, 1.0], [[0.5, 1.5 + 1e-9], [1, 1]], sigma, level)
    assert polarization_event([d, 0.0], [[-1.5, -0.5], [-1, -1]], sigma, level)
    assert not polarization_event([d, 0.0], [[-1.5, 0.5], [-1, -1]], sigma, level)
    # a pole at 1 with its RAG in A- is not polarized
    assert not polarization_event([1.0], [[-1.0]], sigma, level)


def test_polarization_event_log_exact_beyond_double():
    # sigma = 0.1: delta_1 ~ 3.7e-44, 1 - delta_1 == 1.0 in float64
    sigma = 0.1
    l1 = log_thresholds(sigma, 1)
    l2 = log_thresholds(sigma, 2)
    lw = np.array([[-np.exp(l1), l1], [l1, -np.exp(l1)]])
    rag = np.array([[1.0, 1.2], [-1.0, -0.7]])
    assert polarization_event_log(lw, rag, sigma, 1)
    assert not polarization_event_log(lw, rag, sigma, 2)
    lw2 = np.array([[-np.exp(l2), l2], [l2, -np.exp(l2)]])
    assert polarization_event_log(lw2, rag, sigma, 2)


def test_well_behaved():
    assert well_behaved([[0.5, 1.5, -1.5, -0.5]])
    assert not well_behaved([[0.49, 1.0]])
    assert not well_behaved([[0.0]])
    out = well_behaved(np.array([[[1.0]], [[2.0]]]))
    np.testing.assert_array_equal(out, [True, False])
    np.testing.assert_array_equal(in_window([0.4, 0.5, 1.5, 1.6], 1), [False, True, True, False])


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: thresholds(0.0, 1), ValueError, "sigma must be > 0"),
        (lambda: thresholds(-1.0, 1), ValueError, "sigma must be > 0"),
        (lambda: thresholds(0.3, 0), ValueError, "level must be an integer >= 1"),
        (lambda: thresholds(0.3, 1.5), ValueError, "level must be an integer >= 1"),
        (lambda: thresholds("a", 1), TypeError, "sigma"),
        (lambda: polarization_event([0.5, 1.2], [[1], [1]], 0.3, 1), ValueError, "weights_plus must lie in"),
        (lambda: polarization_event([0.5], [[1], [1]], 0.3, 1), ValueError, "does not match"),
        (lambda: polarization_event([1.0], [[np.nan]], 0.3, 1), ValueError, "rag must be finite"),
        (lambda: well_behaved([1.0]), ValueError, "rag must have shape"),
        (lambda: in_window([1.0], 0), ValueError, "pole must be"),
    ],
)
def test_validation(call, exc, match):
    with pytest.raises(exc, match=match):
        call()

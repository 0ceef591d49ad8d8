"""Theorem 1 / Theorem 2 bounds: exact values, monotonicity, variants, validation."""
import math

import mpmath
import pytest
from scipy import special, stats

from theory import bounds


def _float_rho(s, lv):
    return special.erf(1 / (2 * math.sqrt(2) * s)) * math.exp(-math.exp(-lv / s**2))


def test_p_window_is_probability_of_own_window():
    for s in (0.1, 0.3, 1.0):
        want = stats.norm.cdf(1.5, 1, s) - stats.norm.cdf(0.5, 1, s)
        assert float(bounds.p_window(s)) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("s, lv, T", [(0.4, 1, 204.07), (0.3, 2, 50), (0.25, 1, 10), (0.5, 3, 0)])
def test_float_rederivation(s, lv, T):
    assert float(bounds.remain_bound(s, lv, T)) == pytest.approx(_float_rho(s, lv) ** T, rel=1e-11)
    m = 20
    assert float(bounds.reach_bound(m, s, lv, T)) == pytest.approx(
        (1 - m * math.exp(-T / m)) * _float_rho(s, lv) ** T, rel=1e-10, abs=1e-300)


def test_threshold_and_rho_exact_variant():
    for s, lv in ((0.4, 1), (0.3, 2)):
        d = bounds.threshold(s, lv)
        assert bounds.rho(s, lv, "exact") == pytest.approx(bounds.p_window(s) * (1 - d), rel=1e-40)
        # exact factor is the sharper (larger) one: 1/(1+u) >= e^{-u}
        assert bounds.rho(s, lv, "exact") > bounds.rho(s, lv, "exponential")


def test_reach_at_2mlnm_has_prefactor_one_minus_one_over_m():
    with mpmath.workdps(60):
        for m in (3, 10, 30):
            T = 2 * m * mpmath.log(m)
            assert mpmath.almosteq(bounds.reach_prefactor(m, T), 1 - mpmath.mpf(1) / m, 1e-50)
            # the coupon prefactor is sharper
            assert bounds.reach_prefactor(m, T, "coupon") > bounds.reach_prefactor(m, T)


def test_monotonicity():
    sigmas = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 1.0]
    levels = [1, 2, 3, 5]
    horizons = [0, 1, 10, 204.07, 1020.36]
    for lv in levels:
        for T in horizons[1:]:
            vals = [bounds.remain_bound(s, lv, T) for s in sigmas]
            assert all(a >= b for a, b in zip(vals, vals[1:]))  # larger sigma, weaker bound
            assert vals[1] > vals[-1]
    for s in sigmas[2:]:
        for T in horizons[1:]:
            vals = [bounds.remain_bound(s, lv, T) for lv in levels]
            assert all(a <= b for a, b in zip(vals, vals[1:]))  # deeper level, stronger bound
        vals = [bounds.remain_bound(s, 1, T) for T in horizons]
        assert vals[0] == 1
        assert all(a > b for a, b in zip(vals, vals[1:]))  # longer horizon, weaker bound
    # reach: the coupon prefactor grows with T, but the product still falls once T >> m ln m
    vals = [bounds.reach_bound(30, 0.3, 1, T) for T in (204.07, 400, 1020.36)]
    assert vals[0] > vals[1] > vals[2]


def test_reach_bound_vacuous_for_short_horizon():
    assert bounds.reach_bound(30, 0.2, 1, 10) < 0
    with pytest.raises(ValueError, match="vacuous"):
        bounds.log10(bounds.reach_bound(30, 0.2, 1, 10))


@pytest.mark.parametrize(
    "m, r, s, want",
    [(4, 1, 0.1, -38.18), (10, 1, 0.1, -102.80), (30, 5, 0.2, -1602.8)],
)
def test_theorem1_q_spec_values(m, r, s, want):
    lq = bounds.log_q(m, r, s) / mpmath.log(10)
    assert float(lq) == pytest.approx(want, abs=0.006 if abs(want) < 200 else 0.06)


def test_theorem1_alternative_reading():
    lq = bounds.log_q(30, 5, 0.2, "self-sender") / mpmath.log(10)
    assert float(lq) == pytest.approx(-1583.0, abs=0.06)
    # the alternative differs by ((m-2)/m)^{(4r+2)m} exactly
    with mpmath.workdps(60):
        diff = bounds.log_q(30, 5, 0.2, "self-sender") - bounds.log_q(30, 5, 0.2)
        assert mpmath.almosteq(diff, -(22 * 30) * mpmath.log(mpmath.mpf(28) / 30), 1e-40)


def test_theorem1_q_closed_form_and_float_crosscheck():
    m, r, s = 6, 2, 0.3
    P = special.erf(1 / (2 * math.sqrt(2) * s))
    n = (5 * r + 2) * m
    log_q = (2 * math.lgamma(m + 1) - n * math.log(m) + n * math.log((m - 2) / (2 * m)) + n * math.log(P)
             - (4 * r + 2) * m * math.log(2))
    assert float(bounds.log_q(m, r, s)) == pytest.approx(log_q, rel=1e-12)
    assert float(mpmath.log(bounds.theorem1_q(m, r, s))) == pytest.approx(log_q, rel=1e-12)
    assert bounds.theorem1_q(m, r, s) == pytest.approx(bounds.lemma1(m, r, s) * bounds.lemma2(m, r, s), rel=1e-40)
    assert bounds.theorem1_horizon(m, r) == n


def test_q_tiny_value_is_representable():
    q = bounds.theorem1_q(30, 5, 0.2)
    assert q > 0
    assert float(bounds.log10(q)) == pytest.approx(-1602.8, abs=0.06)


def test_q_decreasing_in_m_and_r_and_sigma():
    assert bounds.log_q(10, 1, 0.1) < bounds.log_q(5, 1, 0.1)
    assert bounds.log_q(10, 2, 0.1) < bounds.log_q(10, 1, 0.1)
    assert bounds.log_q(10, 1, 0.5) < bounds.log_q(10, 1, 0.1)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: bounds.remain_bound(0, 1, 10), ValueError, "sigma must be > 0"),
        (lambda: bounds.remain_bound(-0.2, 1, 10), ValueError, "sigma must be > 0"),
        (lambda: bounds.remain_bound(0.2, 0, 10), ValueError, "level must be >= 1"),
        (lambda: bounds.remain_bound(0.2, 1, -1), ValueError, "horizon must be >= 0"),
        (lambda: bounds.remain_bound(0.2, 1, float("inf")), ValueError, "horizon must be finite"),
        (lambda: bounds.reach_bound(2, 0.2, 1, 10), ValueError, "n_agents must be >= 3"),
        (lambda: bounds.theorem1_q(30, 0, 0.2), ValueError, "rag_size must be >= 1"),
        (lambda: bounds.theorem1_q(30, 5, 0.2, "both"), ValueError, "reading must be one of"),
        (lambda: bounds.rho(0.2, 1, "tight"), ValueError, "factor must be one of"),
        (lambda: bounds.remain_bound(None, 1, 1), TypeError, "sigma must be a real number"),
        (lambda: bounds.remain_bound(0.2, 1.5, 1), TypeError, "level must be an integer"),
    ],
)
def test_validation(call, exc, match):
    with pytest.raises(exc, match=match):
        call()

"""Symbolic forms vs numeric bounds; horizon parsing; the function g."""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from theory import bounds, symbolic
from theory.g import em_update, g_components, g_sigma
from theory.horizon import horizon_steps, parse_horizon

# --------------------------------------------------------------- symbolic


@pytest.mark.parametrize("s, lv, T", [(0.4, 1, "2*m*ln(m)"), (0.3, 2, "10*m*ln(m)"), (0.2, 3, "57")])
def test_symbolic_theorem2_agrees_with_numeric(s, lv, T):
    m = 30
    t_num = parse_horizon(T, m)
    t_sym = sp.sympify(T.replace("ln", "log"), locals={"m": sp.Integer(m)})
    with mpmath.workdps(40):
        for name, num in [
            ("remain", bounds.remain_bound(s, lv, t_num)),
            ("remain_exact", bounds.remain_bound(s, lv, t_num, "exact")),
            ("reach", bounds.reach_bound(m, s, lv, t_num)),
            ("reach_coupon", bounds.reach_bound(m, s, lv, t_num, prefactor="coupon")),
            ("reach_exact_coupon", bounds.reach_bound(m, s, lv, t_num, "exact", "coupon")),
        ]:
            sym = symbolic.evaluate(name, 35, m=m, sigma=s, ell=lv, T=t_sym)
            assert mpmath.almosteq(mpmath.mpf(str(sym)), num, 1e-25), name


@pytest.mark.parametrize("m, r, s", [(4, 1, 0.1), (10, 1, 0.1), (30, 5, 0.2), (7, 3, 0.45)])
def test_symbolic_theorem1_agrees_with_numeric(m, r, s):
    with mpmath.workdps(40):
        for name, num in [("q", bounds.theorem1_q(m, r, s)),
                          ("q_self_sender", bounds.theorem1_q(m, r, s, "self-sender")),
                          ("lemma1", bounds.lemma1(m, r, s)),
                          ("lemma2", bounds.lemma2(m, r, s))]:
            sym = symbolic.evaluate(name, 35, m=m, r=r, sigma=s)
            assert mpmath.almosteq(mpmath.mpf(str(sym)), num, 1e-25), name


def test_symbolic_delta_matches_threshold():
    val = symbolic.evaluate("delta", 30, sigma=0.3, ell=2)
    assert mpmath.almosteq(mpmath.mpf(str(val)), bounds.threshold(0.3, 2), 1e-25)


def test_latex_output():
    tex = symbolic.latex("rho")
    assert "erf" in tex and "sigma" in tex and "ell" in tex
    assert "T" in symbolic.latex("remain")
    assert "m!" in symbolic.latex("q") or "factorial" in symbolic.latex("q")
    with pytest.raises(ValueError, match="name must be one of"):
        symbolic.latex("nope")
    with pytest.raises(ValueError, match="missing values"):
        symbolic.evaluate("remain", sigma=0.2, ell=1)


# --------------------------------------------------------------- horizon


def test_parse_horizon_values():
    assert float(parse_horizon("2*m*ln(m)", 30)) == pytest.approx(2 * 30 * math.log(30), rel=1e-15)
    assert float(parse_horizon("10*m*log(m)", 30)) == pytest.approx(1020.3592144986, rel=1e-12)
    assert parse_horizon("(5*r+2)*m", 30, rag_size=5) == 810
    assert parse_horizon("m^2/2", 10) == 50
    assert parse_horizon(204, 30) == 204
    assert parse_horizon("sqrt(m)*log2(8)+log10(100)+exp(0)+ceil(2.1)+floor(2.9)", 9) == 3 * 3 + 2 + 1 + 3 + 2
    assert horizon_steps("2*m*ln(m)", 30) == 204


@pytest.mark.parametrize(
    "text, match",
    [
        ("__import__('os').system('true')", "unknown function"),
        ("m.__class__", "unsupported syntax"),
        ("[m]", "unsupported syntax"),
        ("lambda: 1", "unsupported syntax"),
        ("x*m", "unknown name 'x'"),
        ("r*m", "unknown name 'r'"),
        ("2*m*ln(m", "not an arithmetic expression"),
        ("", "empty string"),
        ("m-100", "horizon must be >= 0"),
        ("9**9**9", "exponent larger than 1000"),
        ("exp(exp(10))", "exp\\(\\) of a number larger than 1000"),
        ("ln(-m)", "non-positive"),
        ("1/(m-m)", "division by zero"),
        ("'204'", "unsupported constant"),
        ("log(m, 2)", "takes exactly one argument"),
    ],
)
def test_parse_horizon_rejects(text, match):
    with pytest.raises(ValueError, match=match):
        parse_horizon(text, 30)


def test_horizon_needs_valid_agents():
    with pytest.raises(ValueError, match="n_agents must be >= 3"):
        parse_horizon("m", 2)


# --------------------------------------------------------------- g


def test_g_sigma_formula_and_properties():
    rng = np.random.default_rng(0)
    w = rng.uniform(0.01, 0.99, 100)
    x = rng.uniform(-2, 2, 100)
    s = 0.7
    direct = w * np.exp(-(x - 1) ** 2 / (2 * s**2)) / (
        w * np.exp(-(x - 1) ** 2 / (2 * s**2)) + (1 - w) * np.exp(-(x + 1) ** 2 / (2 * s**2)))
    np.testing.assert_allclose(g_sigma(w, x, s), direct, rtol=1e-12)
    np.testing.assert_allclose(g_sigma(1 - w, -x, s), 1 - g_sigma(w, x, s), rtol=1e-10)
    assert np.all((g_sigma(w, x, s) >= w) == (x >= 0))
    assert g_sigma(0.3, 50.0, 0.1) == 1.0 and g_sigma(0.3, -50.0, 0.1) == 0.0  # no overflow
    assert g_sigma(0.0, 3.0, 0.5) == 0.0 and g_sigma(1.0, -3.0, 0.5) == 1.0


def test_g_components_matches_two_component_and_sums_to_one():
    x = np.linspace(-2, 2, 9)[:, None]
    got = g_components([0.3, 0.7], x, [[1.0], [-1.0]], 0.6)
    np.testing.assert_allclose(got[:, 0], g_sigma(0.3, x[:, 0], 0.6), rtol=1e-12)
    rng = np.random.default_rng(1)
    means = rng.normal(size=(4, 3))
    w = rng.dirichlet(np.ones(4))
    pts = rng.normal(size=(5, 3))
    got = g_components(w, pts, means, [0.5, 1.0, 0.8, 2.0])
    np.testing.assert_allclose(got.sum(axis=-1), 1.0)
    sig = np.array([0.5, 1.0, 0.8, 2.0])
    dens = w * np.exp(-((pts[:, None, :] - means) ** 2).sum(-1) / (2 * sig**2)) / sig**3
    np.testing.assert_allclose(got, dens / dens.sum(-1, keepdims=True), rtol=1e-12)


def test_em_update_bounds_prop1():
    # Proposition 1: RAG in [a, b] -> new weight in [g(w, a), g(w, b)]
    w, s = 0.4, 0.3
    rag = [0.55, 0.9, 1.3]
    new = em_update(w, rag, s)
    assert g_sigma(w, 0.55, s) <= new <= g_sigma(w, 1.3, s)


def test_g_validation():
    with pytest.raises(ValueError, match="sigma must be > 0"):
        g_sigma(0.5, 1.0, 0.0)
    with pytest.raises(ValueError, match="w must lie in"):
        g_sigma(1.5, 1.0, 1.0)
    with pytest.raises(ValueError, match="means must have shape"):
        g_components([1.0], [[0.0]], [[0.0]], 1.0)

"""Sympy forms of the bounds: print them as LaTeX, evaluate them exactly.

Each form is a sympy expression in the symbols ``m, r, sigma, ell, T``
(agents, RAG size, standard deviation, level, horizon). They are written
independently of :mod:`theory.bounds` (which uses mpmath directly), so the
tests can check one against the other.
"""
from __future__ import annotations

import sympy as sp

from theory._validate import check_choice

m, r, sigma, ell, T = sp.symbols("m r sigma ell T", positive=True)

#: P(|N(0, sigma^2)| <= 1/2), the chance a draw lands in its own window
P_SIGMA = sp.erf(1 / (2 * sp.sqrt(2) * sigma))
#: the level threshold delta_l
DELTA = 1 / (1 + sp.exp(ell / sigma**2))


def _forms():
    rho = P_SIGMA * sp.exp(-sp.exp(-ell / sigma**2))
    rho_exact = P_SIGMA * (1 - DELTA)
    pre = 1 - m * sp.exp(-T / m)
    pre_coupon = 1 - m * (1 - 1 / m) ** T
    l1_steps = r * m
    l2_steps = (4 * r + 2) * m
    lemma1 = sp.factorial(m) / m**l1_steps * ((m - 2) / (2 * m) * P_SIGMA) ** l1_steps
    lemma2 = sp.factorial(m) / m**l2_steps * ((m - 2) / (2 * m) * P_SIGMA / 2) ** l2_steps
    lemma2_self = sp.factorial(m) / m**l2_steps * (P_SIGMA / 4) ** l2_steps
    return {
        "delta": DELTA,
        "p_window": P_SIGMA,
        "rho": rho,
        "rho_exact": rho_exact,
        "remain": rho**T,
        "remain_exact": rho_exact**T,
        "reach": pre * rho**T,
        "reach_coupon": pre_coupon * rho**T,
        "reach_exact_coupon": pre_coupon * rho_exact**T,
        "lemma1": lemma1,
        "lemma2": lemma2,
        "lemma2_self_sender": lemma2_self,
        "q": lemma1 * lemma2,
        "q_self_sender": lemma1 * lemma2_self,
    }


FORMS = _forms()


def expression(name):
    """The sympy expression called ``name`` (one of ``FORMS``).

    Names: ``delta``, ``p_window``, ``rho``, ``rho_exact``, ``remain``,
    ``remain_exact``, ``reach``, ``reach_coupon``, ``reach_exact_coupon``,
    ``lemma1``, ``lemma2``, ``lemma2_self_sender``, ``q``, ``q_self_sender``.
    """
    check_choice(name, "name", tuple(FORMS))
    return FORMS[name]


def latex(name):
    """LaTeX source of the form ``name``."""
    return sp.latex(expression(name))


def evaluate(name, digits=30, **values):
    """Evaluate the form ``name`` to ``digits`` significant digits.

    Parameters
    ----------
    name : str
        One of ``FORMS``.
    digits : int
        Working precision of sympy's ``evalf``.
    **values
        Values of the free symbols: ``m``, ``r``, ``sigma``, ``ell``, ``T``
        (floats are taken at their shortest decimal repr, 0.3 -> 3/10).

    Returns
    -------
    sympy.Float
    """
    expr = expression(name)
    sym = {"m": m, "r": r, "sigma": sigma, "ell": ell, "T": T}
    subs = {}
    for key, val in values.items():
        if key not in sym:
            raise ValueError(f"unknown symbol {key!r}; allowed: {', '.join(sym)}")
        subs[sym[key]] = sp.Rational(repr(val)) if isinstance(val, float) else sp.sympify(val)
    missing = expr.free_symbols - set(subs)
    if missing:
        raise ValueError(f"missing values for {', '.join(sorted(str(s) for s in missing))}")
    return expr.subs(subs).evalf(digits)


__all__ = ["FORMS", "expression", "latex", "evaluate", "m", "r", "sigma", "ell", "T", "P_SIGMA", "DELTA"]

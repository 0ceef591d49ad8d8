"""Theorem 1 and Theorem 2 of the paper as numbers (spec Sections 7 and 8).

Every function returns an ``mpmath.mpf`` evaluated with 60 significant
digits, so values such as 1e-45 or 1e-1600 are exact to far more digits
than are printed; ``log10_*`` companions give the order of magnitude.

Which parts are certain (spec legend):

* Theorem 2 (``rho``, ``remain_bound``, ``reach_bound`` with their default
  options) reproduces all 70 printed cells of the paper's Tables 1-3 [B].
  The general-T prefactor ``1 - m exp(-T/m)`` is our reading [C] (it equals
  the printed ``1 - 1/m`` at ``T = 2 m ln m``).
* Theorem 1's constant ``q`` = Lemma 1 x Lemma 2 is a **reconstruction** from
  the proof outline [C]: no printed number confirms it. ``lemma2(...,
  reading="self-sender")`` is the alternative reading the spec mentions.

Sharper variants (still valid lower bounds under the theorem's hypotheses,
named so the loss is visible):

* ``factor="exact"``: per-step factor ``P_sigma (1 - delta_l)`` instead of
  ``P_sigma exp(-exp(-l/sigma^2))`` (the proof's exact quantity; the paper
  prints the exponential form, which is smaller).
* ``prefactor="coupon"``: ``1 - m (1 - 1/m)^T`` instead of ``1 - m exp(-T/m)``
  (the union bound before the ``1 - x <= e^-x`` step).
"""
from __future__ import annotations

import mpmath
from mpmath import mp

from theory._validate import (
    DPS,
    check_agents,
    check_choice,
    check_horizon,
    check_level,
    check_rag_size,
    check_sigma,
)

FACTORS = ("exponential", "exact")
PREFACTORS = ("exponential", "coupon")
LEMMA2_READINGS = ("other-sender", "self-sender")


def p_window(sigma):
    """``P_sigma = P(|N(0, sigma^2)| <= 1/2) = 2 Phi(1/(2 sigma)) - 1``.

    The chance that a draw from ``N(+1, sigma^2)`` lands in ``A+ = [1/2, 3/2]``.
    """
    with mp.workdps(DPS):
        s = check_sigma(sigma)
        return +mpmath.erf(1 / (2 * mpmath.sqrt(2) * s))


def threshold(sigma, level):
    """``delta_l = 1 / (1 + exp(l / sigma^2))`` as an mpf (no underflow)."""
    with mp.workdps(DPS):
        s = check_sigma(sigma)
        lv = check_level(level)
        return 1 / (1 + mpmath.exp(lv / s**2))


def rho(sigma, level, factor="exponential"):
    """Per-step success factor of Theorem 2.

    Parameters
    ----------
    sigma : float
        Component standard deviation, > 0.
    level : int
        Polarization level l >= 1.
    factor : {"exponential", "exact"}
        ``"exponential"`` (the paper's tables): ``P_sigma exp(-exp(-l/sigma^2))``.
        ``"exact"`` (sharper): ``P_sigma (1 - delta_l) = P_sigma / (1 + exp(-l/sigma^2))``.

    Returns
    -------
    mpmath.mpf
    """
    check_choice(factor, "factor", FACTORS)
    with mp.workdps(DPS):
        s = check_sigma(sigma)
        lv = check_level(level)
        p = p_window(s)
        u = mpmath.exp(-lv / s**2)
        return p * (mpmath.exp(-u) if factor == "exponential" else 1 / (1 + u))


def remain_bound(sigma, level, horizon, factor="exponential"):
    """Theorem 2 (i): ``P(E_l at t+T | E_l at t) >= rho_l(sigma)^T``.

    Parameters
    ----------
    sigma : float
    level : int
        l >= 1.
    horizon : float
        T >= 0 chain steps (a real number is allowed: the paper uses
        ``T = 2 m ln m`` unrounded).
    factor : {"exponential", "exact"}
        See :func:`rho`.

    Returns
    -------
    mpmath.mpf
    """
    with mp.workdps(DPS):
        t = check_horizon(horizon)
        return rho(sigma, level, factor) ** t


def reach_prefactor(n_agents, horizon, prefactor="exponential"):
    """Coupon-collector factor of Theorem 2 (ii): P(every agent updated in T steps) >= this.

    ``"exponential"``: ``1 - m exp(-T/m)`` (the paper's tables, ``= 1 - 1/m`` at
    ``T = 2 m ln m``); ``"coupon"``: ``1 - m (1 - 1/m)^T`` (sharper).
    Negative values mean the bound is vacuous at that horizon; they are
    returned as computed (still true lower bounds).
    """
    check_choice(prefactor, "prefactor", PREFACTORS)
    with mp.workdps(DPS):
        m = check_agents(n_agents)
        t = check_horizon(horizon)
        if prefactor == "exponential":
            return 1 - m * mpmath.exp(-t / m)
        return 1 - m * (1 - mpmath.mpf(1) / m) ** t


def reach_bound(n_agents, sigma, level, horizon, factor="exponential", prefactor="exponential"):
    """Theorem 2 (ii): ``P(E_{l+1} at t+T | E_l at t) >= (1 - m e^{-T/m}) rho_l(sigma)^T``.

    Parameters
    ----------
    n_agents : int
        m >= 3.
    sigma, level, horizon, factor
        As in :func:`remain_bound`.
    prefactor : {"exponential", "coupon"}
        See :func:`reach_prefactor`.

    Returns
    -------
    mpmath.mpf
        May be negative (vacuous) for short horizons, ``T < m ln m``.
    """
    with mp.workdps(DPS):
        return reach_prefactor(n_agents, horizon, prefactor) * remain_bound(sigma, level, horizon, factor)


def theorem2_bound(bound, n_agents, sigma, level, horizon, factor="exponential", prefactor="exponential"):
    """Dispatch: ``bound="remain"`` -> (i), ``bound="reach"`` -> (ii)."""
    check_choice(bound, "bound", ("remain", "reach"))
    if bound == "remain":
        check_agents(n_agents)
        return remain_bound(sigma, level, horizon, factor)
    return reach_bound(n_agents, sigma, level, horizon, factor, prefactor)


# ---------------------------------------------------------------- Theorem 1


def theorem1_horizon(n_agents, rag_size):
    """The step count ``(5 r + 2) m`` of Theorem 1."""
    return (5 * check_rag_size(rag_size) + 2) * check_agents(n_agents)


def _log_lemma_block(m, steps, bracket):
    # log of (m! / m^steps) * bracket^steps
    return mpmath.loggamma(m + 1) - steps * mpmath.log(m) + steps * mpmath.log(bracket)


def log_lemma1(n_agents, rag_size, sigma):
    """Natural log of Lemma 1's constant [C, reconstruction].

    ``L1 = (m! / m^{rm}) [((m-2)/(2m)) P_sigma]^{rm}``: from any state, a
    well-behaved RAG configuration within ``r m`` steps.
    """
    with mp.workdps(DPS):
        m = check_agents(n_agents)
        r = check_rag_size(rag_size)
        p = p_window(sigma)
        return _log_lemma_block(m, r * m, mpmath.mpf(m - 2) / (2 * m) * p)


def log_lemma2(n_agents, rag_size, sigma, reading="other-sender"):
    """Natural log of Lemma 2's constant [C, reconstruction].

    ``"other-sender"`` (the spec's main reading): ``L2 = (m! / m^{(4r+2)m})
    [((m-2)/(2m)) (P_sigma/2)]^{(4r+2)m}``. ``"self-sender"`` (the alternative
    reading, sender may be the updated agent): the bracket is ``P_sigma / 4``.
    """
    check_choice(reading, "reading", LEMMA2_READINGS)
    with mp.workdps(DPS):
        m = check_agents(n_agents)
        r = check_rag_size(rag_size)
        p = p_window(sigma)
        if reading == "other-sender":
            bracket = mpmath.mpf(m - 2) / (2 * m) * p / 2
        else:
            bracket = p / 4
        return _log_lemma_block(m, (4 * r + 2) * m, bracket)


def lemma1(n_agents, rag_size, sigma):
    """Lemma 1's constant as an mpf (see :func:`log_lemma1`)."""
    with mp.workdps(DPS):
        return mpmath.exp(log_lemma1(n_agents, rag_size, sigma))


def lemma2(n_agents, rag_size, sigma, reading="other-sender"):
    """Lemma 2's constant as an mpf (see :func:`log_lemma2`)."""
    with mp.workdps(DPS):
        return mpmath.exp(log_lemma2(n_agents, rag_size, sigma, reading))


def log_q(n_agents, rag_size, sigma, reading="other-sender"):
    """Natural log of Theorem 1's ``q = L1 L2`` [C, reconstruction]."""
    with mp.workdps(DPS):
        return log_lemma1(n_agents, rag_size, sigma) + log_lemma2(n_agents, rag_size, sigma, reading)


def theorem1_q(n_agents, rag_size, sigma, reading="other-sender"):
    """Theorem 1: from any state, ``P(E_1 after (5r+2)m steps) >= q`` [C, reconstruction].

    ``q = (m!)^2 m^{-(5r+2)m} ((m-2)/(2m))^{(5r+2)m} P_sigma^{(5r+2)m} 2^{-(4r+2)m}``
    (``reading="other-sender"``), evaluated in log space; an mpf such as
    ``1e-1600`` is returned exactly (mpmath exponents do not underflow).

    Parameters
    ----------
    n_agents : int
        m >= 3.
    rag_size : int
        r >= 1.
    sigma : float
        > 0.
    reading : {"other-sender", "self-sender"}
        Which reading of Lemma 2 (see :func:`log_lemma2`).
    """
    with mp.workdps(DPS):
        return mpmath.exp(log_q(n_agents, rag_size, sigma, reading))


def log10(x):
    """``log10`` of a positive mpf (``-inf`` for 0); for the order of magnitude of a bound."""
    with mp.workdps(DPS):
        x = mpmath.mpf(x)
        if x < 0:
            raise ValueError(f"log10 needs a value >= 0; got {mpmath.nstr(x, 8)} (a vacuous bound)")
        return mpmath.log10(x) if x > 0 else mpmath.mpf("-inf")


__all__ = [
    "FACTORS",
    "PREFACTORS",
    "LEMMA2_READINGS",
    "p_window",
    "threshold",
    "rho",
    "remain_bound",
    "reach_prefactor",
    "reach_bound",
    "theorem2_bound",
    "theorem1_horizon",
    "log_lemma1",
    "log_lemma2",
    "lemma1",
    "lemma2",
    "log_q",
    "theorem1_q",
    "log10",
]

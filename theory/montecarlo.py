"""Monte-Carlo estimates of the events the theorems bound, using ``gmmproxy.chain``.

Two experiments:

* :func:`theorem2_montecarlo` -- start in a level-l polarized state (by default
  the worst case of spec 8.4: two poles, weights exactly at the thresholds
  ``1 - delta_l`` / ``delta_l``, RAG points uniform in the windows), run T steps
  of the k-restricted chain, and estimate

  - P(E_l at T)       -- bounded below by Theorem 2 (i), "remain";
  - P(E_{l+1} at T)   -- bounded below by Theorem 2 (ii), "reach";
  - P(all T draws fell in the sender's pole window) -- the event the proof
    uses (it implies both of the above once every agent has been updated).

* :func:`reach_montecarlo` -- start from the Algorithm-1-like default (agent i
  certain of component ``i mod 2``, RAG sampled from its own mixture) and
  estimate P(E_l reached within T steps) and P(E_l at T); Theorem 1's ``q``
  bounds the latter when T = (5r+2)m and l = 1 without neighbour restriction.

The chain is the exact one of the theorems: no weight clipping (``eps = 0``),
weights carried as logs so thresholds like ``1 - 1e-44`` are resolved.
Intervals are Wilson score intervals (or Clopper-Pearson on request).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from gmmproxy._seeding import as_seed_sequence, seed_record
from gmmproxy.chain import ChainConfig, _package_version, simulate_chain_many
from gmmproxy.polarization import log_thresholds
from theory import bounds
from theory._validate import check_agents, check_choice, check_int, check_level, check_rag_size, check_sigma

INTERVALS = ("wilson", "clopper-pearson")


def _check_confidence(confidence):
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    return float(confidence)


def wilson_interval(successes, trials, confidence=0.95):
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    successes, trials : int
        ``0 <= successes <= trials``, ``trials >= 1``.
    confidence : float
        Two-sided level in (0, 1).

    Returns
    -------
    (float, float)
    """
    k, n = _check_counts(successes, trials)
    # the standard normal quantile (scipy.special.ndtri: the same function as stats.norm.ppf, without
    # importing scipy.stats, which costs about a second at the start of `gmmproxy theory montecarlo`)
    z = float(special.ndtri(0.5 + _check_confidence(confidence) / 2))
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    # at k = 0 (k = n) the end is exactly 0 (1); the formula gives it only up to rounding
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


def clopper_pearson_interval(successes, trials, confidence=0.95):
    """Exact (Clopper-Pearson) interval for a binomial proportion."""
    from scipy import stats  # imported here: see wilson_interval

    k, n = _check_counts(successes, trials)
    a = 1 - _check_confidence(confidence)
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def _check_counts(successes, trials):
    n = check_int("trials", trials, 1)
    k = check_int("successes", successes, 0)
    if k > n:
        raise ValueError(f"successes must be <= trials ({n}); got {k}")
    return k, n


@dataclass(frozen=True)
class Estimate:
    """A Monte-Carlo probability with its confidence interval and, if any, the bound."""

    name: str
    successes: int
    trials: int
    low: float
    high: float
    bound: object = None  # mpmath.mpf or None
    bound_name: str = ""
    sharp_bound: object = None  # the sharper variant (exact factor, coupon prefactor), if any
    applies: bool = True  # whether the theorem's hypotheses hold for this run

    @property
    def estimate(self) -> float:
        return self.successes / self.trials

    @property
    def slack(self):
        """``estimate - bound`` (how much the bound leaves on the table); None without a bound."""
        return None if self.bound is None else self.estimate - float(self.bound)

    @property
    def consistent(self):
        """True when the interval's upper end is >= the bound (no contradiction).

        None without a bound, or when the theorem's hypotheses do not hold for
        this run (the bound is then shown for comparison only and a check
        against it would mean nothing).
        """
        if self.bound is None or not self.applies:
            return None
        return self.high >= float(self.bound)


def _interval(k, n, confidence, method):
    check_choice(method, "interval", INTERVALS)
    return (wilson_interval if method == "wilson" else clopper_pearson_interval)(k, n, confidence)


def _estimate(name, flags, confidence, method, bound=None, bound_name="", sharp_bound=None, applies=True):
    k, n = int(np.count_nonzero(flags)), int(flags.size)
    lo, hi = _interval(k, n, confidence, method)
    return Estimate(name, k, n, lo, hi, bound, bound_name, sharp_bound, applies)


@dataclass(frozen=True)
class MonteCarloResult:
    """Estimates of one Monte-Carlo cell plus everything needed to reproduce it."""

    estimates: tuple
    parameters: dict
    notes: tuple = ()
    hit_times: np.ndarray | None = field(default=None, repr=False)

    def __getitem__(self, name):
        for e in self.estimates:
            if e.name == name:
                return e
        raise KeyError(name)


def _check_interrupted(res, notes):
    """After Ctrl-C: keep the finished replicates (with a note), or re-raise when there are none."""
    if not res.interrupted:
        return
    done = res.provenance["replicates"]
    if done == 0:
        raise KeyboardInterrupt
    notes.append(f"interrupted: estimates from the {done} of {res.provenance['replicates_requested']} "
                 "replicates finished before Ctrl-C")


def worst_case_start(n_agents, sigma, level, n_plus=None):
    """Log weights of the worst-case level-l start of spec 8.4.

    Agents ``0..n_plus-1`` sit exactly at ``w = 1 - delta_l`` (the +1 pole), the
    others exactly at ``w = delta_l``. Default ``n_plus = m // 2``.

    Returns
    -------
    ndarray (m, 2)
        Log weights (index 0 = +1 component), exact even when ``delta_l``
        underflows float64.
    """
    m = check_agents(n_agents)
    check_sigma(sigma)
    lv = check_level(level)
    n_plus = m // 2 if n_plus is None else check_int("n_plus", n_plus, 0)
    if n_plus > m:
        raise ValueError(f"n_plus must be in [0, {m}]; got {n_plus}")
    ld = float(log_thresholds(float(sigma), lv))
    l1m = math.log1p(-math.exp(ld)) if ld > -745 else -math.exp(ld)
    lw = np.empty((m, 2))
    lw[:n_plus] = (l1m, ld)
    lw[n_plus:] = (ld, l1m)
    return lw


def theorem2_montecarlo(n_agents, rag_size, n_neighbors, sigma, level, steps, replicates, seed,
                        n_plus=None, start_level=None, rag_start="windows", init_log_weights=None,
                        init_rag=None, factor="exponential", prefactor="exponential",
                        confidence=0.95, interval="wilson", progress=False):
    """Estimate the probabilities Theorem 2 bounds, next to the bounds.

    Parameters
    ----------
    n_agents : int
        m >= 3.
    rag_size : int
        r >= 1.
    n_neighbors : int or None
        k in [1, m-1] (k-restricted communication, the theorem's hypothesis);
        None = sender uniform over all agents (the theorem then does not apply;
        the bound is still printed for comparison, with a note).
    sigma : float
        > 0.
    level : int
        l >= 1: the starting level (remain: E_l, reach: E_{l+1}).
    steps : int
        Horizon T >= 0 in whole chain steps.
    replicates : int
        Number of independent chains (>= 1).
    seed : int or SeedSequence
    n_plus : int, optional
        Size of the +1 pole (default m // 2: the worst case).
    start_level : int, optional
        Start the weights exactly at the thresholds of this level (default
        ``level``; a larger value starts deeper inside the poles).
    rag_start : {"windows", "means"}
        Initial RAG points uniform in their pole's window, or all at the pole's mean.
    init_log_weights, init_rag : array_like, optional
        A user-given start (overrides the options above): log weights (m, 2)
        and RAG points (m, r).
    factor, prefactor : str
        Bound variants, see :mod:`theory.bounds` (the sharper ones are printed
        alongside in any case).
    confidence : float
        Interval level (default 0.95).
    interval : {"wilson", "clopper-pearson"}
    progress : bool
        Progress bar on stderr. Ctrl-C keeps the finished replicates (a note
        says how many); with none finished it propagates.

    Returns
    -------
    MonteCarloResult
        Estimates ``remain``, ``reach``, ``draws_in_window``, each with the
        bound as printed in the paper (``bound``, using ``factor``/``prefactor``)
        and the sharper variant (``sharp_bound``: exact factor, coupon prefactor).
    """
    m = check_agents(n_agents)
    r = check_rag_size(rag_size)
    s = float(check_sigma(sigma))
    lv = check_level(level)
    steps = check_int("steps", steps, 0)
    replicates = check_int("replicates", replicates, 1)
    check_choice(rag_start, "rag_start", ("windows", "means"))
    check_choice(interval, "interval", INTERVALS)
    conf = _check_confidence(confidence)
    cfg = ChainConfig(n_agents=m, sigma=s, rag_size=r, n_neighbors=n_neighbors, eps=0.0)
    ss = as_seed_sequence(seed)
    notes = []
    if init_log_weights is None:
        sl = lv if start_level is None else check_level(start_level)
        lw = worst_case_start(m, s, sl, n_plus)
        start = {"kind": "worst-case", "n_plus": m // 2 if n_plus is None else int(n_plus),
                 "start_level": sl}
    else:
        if n_plus is not None or start_level is not None:
            raise ValueError("give either init_log_weights or n_plus/start_level, not both")
        lw = init_log_weights
        start = {"kind": "given"}
    if init_rag is None:
        if rag_start == "windows":
            rag = "windows"
        else:
            plus = np.asarray(lw)[:, 0] >= np.asarray(lw)[:, 1]
            rag = np.repeat(np.where(plus, 1.0, -1.0)[:, None], r, axis=1)
        start["rag"] = rag_start
    else:
        rag = init_rag
        start["rag"] = "given"
    res = simulate_chain_many(cfg, steps, replicates, ss, init_log_weights=lw, init_rag=rag,
                              levels=(lv, lv + 1), progress=progress)
    _check_interrupted(res, notes)
    # hypotheses of Theorem 2 on the start state
    lw_arr = np.asarray(lw, dtype=float)
    ld = float(log_thresholds(s, lv))
    m_plus = int(np.count_nonzero(lw_arr[:, 1] <= ld))
    m_minus = int(np.count_nonzero(lw_arr[:, 0] <= ld))
    start_polarized = bool(np.all(res.hit_time[:, 0] == 0))
    applies = True
    if not start_polarized:
        applies = False
        notes.append(f"the start is not level-{lv} polarized in every replicate: Theorem 2 does not apply")
    if n_neighbors is None:
        applies = False
        notes.append("no neighbour restriction (n_neighbors=None): Theorem 2 assumes k-restricted "
                     "communication; bounds shown for comparison only (consistency not checked)")
    elif min(m_plus, m_minus) <= n_neighbors and min(m_plus, m_minus) > 0:
        applies = False
        notes.append(f"pole sizes {m_plus}/{m_minus} not both > k = {n_neighbors}: Theorem 2's "
                     "hypothesis fails; bounds shown for comparison only (consistency not checked)")
    b_remain = bounds.remain_bound(s, lv, steps, factor)
    b_reach = bounds.reach_bound(m, s, lv, steps, factor, prefactor)
    b_remain_sharp = bounds.remain_bound(s, lv, steps, "exact")
    b_reach_sharp = bounds.reach_bound(m, s, lv, steps, "exact", "coupon")
    if b_reach < 0:
        notes.append(f"the reach bound is vacuous (negative) at T = {steps} < m ln m")
    est = (
        _estimate("remain", res.event_final[:, 0], conf, interval, b_remain, f"Thm 2 (i) [{factor}]",
                  b_remain_sharp, applies),
        _estimate("reach", res.event_final[:, 1], conf, interval, b_reach,
                  f"Thm 2 (ii) [{factor}, {prefactor}]", b_reach_sharp, applies),
        _estimate("draws_in_window", res.draws_in_window, conf, interval, b_remain,
                  f"Thm 2 (i) [{factor}]", b_remain_sharp, applies),
    )
    params = {
        "kind": "theorem2_montecarlo",
        "n_agents": m, "rag_size": r, "n_neighbors": n_neighbors, "sigma": s, "level": lv,
        "steps": steps, "replicates": res.provenance["replicates"], "replicates_requested": replicates,
        "interrupted": res.interrupted, "seed": seed_record(ss), "start": start,
        "pole_sizes": [m_plus, m_minus], "confidence": conf, "interval": interval,
        "factor": factor, "prefactor": prefactor, "version": _package_version(),
        "wall_time_s": res.provenance["wall_time_s"],
    }
    return MonteCarloResult(est, params, tuple(notes))


def reach_montecarlo(n_agents, rag_size, sigma, steps, replicates, seed, level=1, n_neighbors=None,
                     confidence=0.95, interval="wilson", progress=False):
    """P(level-l polarization reached within T steps) from the default start.

    The start is the Algorithm-1-like default of :mod:`gmmproxy.chain`
    (agent i certain of component ``i mod 2``, smoothed by 1e-12, RAG sampled
    from its own mixture), the chain exact (no clipping).

    Returns
    -------
    MonteCarloResult
        Estimates ``reached_within`` (hitting time <= T) and ``at_horizon``
        (E_l at step T). The latter carries Theorem 1's q [reconstruction] as
        bound when T = (5r+2)m, l = 1 and n_neighbors is None; ``hit_times``
        holds the hitting times (-1 = not reached).
    """
    m = check_agents(n_agents)
    r = check_rag_size(rag_size)
    s = float(check_sigma(sigma))
    lv = check_level(level)
    steps = check_int("steps", steps, 0)
    replicates = check_int("replicates", replicates, 1)
    conf = _check_confidence(confidence)
    cfg = ChainConfig(n_agents=m, sigma=s, rag_size=r, n_neighbors=n_neighbors, eps=0.0)
    ss = as_seed_sequence(seed)
    notes = []
    res = simulate_chain_many(cfg, steps, replicates, ss, init_rag="mixture", levels=(lv,), progress=progress)
    _check_interrupted(res, notes)
    hit = res.hit_time[:, 0]
    q = None
    if lv == 1 and n_neighbors is None and steps == bounds.theorem1_horizon(m, r):
        q = bounds.theorem1_q(m, r, s)
    else:
        notes.append(f"Theorem 1's q applies to E_1 at T = (5r+2)m = {(5 * r + 2) * m} steps without "
                     "neighbour restriction; no bound shown here")
    est = (
        _estimate("reached_within", hit >= 0, conf, interval),
        _estimate("at_horizon", res.event_final[:, 0], conf, interval, q,
                  "Thm 1 q [reconstruction]" if q is not None else ""),
    )
    reached = hit[hit >= 0]
    params = {
        "kind": "reach_montecarlo",
        "n_agents": m, "rag_size": r, "n_neighbors": n_neighbors, "sigma": s, "level": lv,
        "steps": steps, "replicates": res.provenance["replicates"], "replicates_requested": replicates,
        "interrupted": res.interrupted, "seed": seed_record(ss),
        "start": {"kind": "default", "smoothing": 1e-12, "rag": "mixture"},
        "confidence": conf, "interval": interval, "version": _package_version(),
        "median_hit_time": float(np.median(reached)) if reached.size else None,
        "wall_time_s": res.provenance["wall_time_s"],
    }
    return MonteCarloResult(est, params, tuple(notes), hit_times=hit)


__all__ = ["wilson_interval", "clopper_pearson_interval", "Estimate", "MonteCarloResult",
           "worst_case_start", "theorem2_montecarlo", "reach_montecarlo", "INTERVALS"]

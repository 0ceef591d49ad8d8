"""Analytic polarization theory of the two-component GMM chain (spec Sections 4, 6-8).

* :mod:`theory.g` -- the update function g (two-component and K-component forms);
* :mod:`gmmproxy.polarization` (re-exported here) -- windows, thresholds,
  the event E_l, the well-behaved event;
* :mod:`theory.bounds` -- Theorem 1's q (reconstruction) and Theorem 2's bounds
  with their sharper variants, in mpmath;
* :mod:`theory.tables` -- the paper's Tables 1-3 and any grid;
* :mod:`theory.symbolic` -- sympy forms printing LaTeX;
* :mod:`theory.montecarlo` -- Monte-Carlo estimates with the core's chain;
* :mod:`theory.horizon` -- safe parsing of horizons such as ``"2*m*ln(m)"``;
* :mod:`theory.cli` -- the ``gmmproxy theory`` commands.
"""
from gmmproxy.polarization import (
    A_MINUS,
    A_PLUS,
    log_thresholds,
    polarization_event,
    polarization_event_log,
    thresholds,
    well_behaved,
)
from theory.bounds import (
    lemma1,
    lemma2,
    log_lemma1,
    log_lemma2,
    log_q,
    p_window,
    reach_bound,
    reach_prefactor,
    remain_bound,
    rho,
    theorem1_horizon,
    theorem1_q,
    theorem2_bound,
)
from theory.g import em_update, g_components, g_sigma
from theory.horizon import horizon_steps, parse_horizon
from theory.montecarlo import (
    clopper_pearson_interval,
    reach_montecarlo,
    theorem2_montecarlo,
    wilson_interval,
    worst_case_start,
)
from theory.tables import BoundTable, bound_table, format_sci, paper_table

__all__ = [
    "A_MINUS", "A_PLUS", "thresholds", "log_thresholds", "polarization_event", "polarization_event_log",
    "well_behaved", "g_sigma", "g_components", "em_update", "p_window", "rho", "remain_bound",
    "reach_prefactor", "reach_bound", "theorem2_bound", "theorem1_horizon", "lemma1", "lemma2",
    "log_lemma1", "log_lemma2", "log_q", "theorem1_q", "parse_horizon", "horizon_steps",
    "wilson_interval", "clopper_pearson_interval", "worst_case_start", "theorem2_montecarlo",
    "reach_montecarlo", "BoundTable", "bound_table", "paper_table", "format_sci",
]

"""Posterior-predictive validation: observed LLM statistics against the calibrated band and the paper's proxy.

For every condition and statistic, :func:`validate` reports the observed
replicate mean (and min, max), the posterior predictive mean, the central
90% band of the posterior predictive distribution of the *replicate mean
for the observed number of replicates* (``draws`` posterior draws, each
simulated with that many replicates), and the mean of the paper's default
proxy (sigma 0.2, r 5, identity p and k, the partner answering from its
pseudo-updated weights; :data:`~gmmproxy.bridge.calibration.model.BASELINE`).

Score (lower is better): the mean over conditions and the statistics of
:data:`SCORE_STATISTICS` of ``|predicted_mean - observed_mean| / scale_s``,
``scale_s`` the pooled within-condition standard deviation of statistic s
over the observed replicates (floored; see
:func:`~gmmproxy.bridge.calibration.fit.statistic_scales`) -- an error in
units of the LLM's own replicate-to-replicate spread. The same formula with
``baseline_mean`` gives the baseline's score. N(t) of runs that end before
step t is unknown and left out, of the score and of the condition's
``statistics``.
"""
from __future__ import annotations

import numpy as np

from gmmproxy.bridge.calibration.batch import Geometry
from gmmproxy.bridge.calibration.model import BASELINE
from gmmproxy.bridge.calibration.simulator import simulate_statistics
from gmmproxy.bridge.calibration.statistics import statistic_names

__all__ = ["SCORE_STATISTICS", "headline_statistic", "validate", "loco_entry", "predictive_band"]

#: statistics the score averages over
SCORE_STATISTICS = ("silos_final", "time_to_single_silo", "n_silos_t5", "n_silos_t10", "n_silos_t20",
                    "switch_rate_mean")


def headline_statistic(n_neighbors: int) -> str:
    """silos_final for k <= 5 (runs freeze into several silos), time_to_single_silo for larger k."""
    return "silos_final" if n_neighbors <= 5 else "time_to_single_silo"


def predictive_band(result, conditions, replicates, *, draws=200, seed=0, level=0.9):
    """Posterior predictive of the replicate mean: (mean, lo, hi), each (len(conditions), n_statistics)."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1]))
    thetas = result.sample(draws, rng)
    stats = simulate_statistics(result.model, thetas, conditions, replicates, result.geometry,
                                np.random.SeedSequence([int(seed), 2]), result.times)
    means = stats.mean(axis=2)  # (draws, conditions, statistics)
    a = (1.0 - level) / 2.0
    return (stats.mean(axis=(0, 2)), np.quantile(means, a, axis=0), np.quantile(means, 1.0 - a, axis=0))


def baseline_means(conditions, geometry: Geometry, times, *, replicates=200, seed=0):
    """Mean statistics of the paper's default proxy, (len(conditions), n_statistics)."""
    stats = simulate_statistics(BASELINE, [{}], conditions, replicates, geometry,
                                np.random.SeedSequence([int(seed), 3]), times)
    return stats[0].mean(axis=1)


def _score(pred, obs, scales, names):
    cols = [names.index(s) for s in SCORE_STATISTICS if s in names]
    err = np.abs(pred[:, cols] - obs[:, cols]) / scales[cols]
    # N(t) of runs that end before t is unknown (NaN) and left out of the mean
    return float(np.mean(err[np.isfinite(err)]))


def validate(result, logs=None, *, draws=200, baseline_replicates=200, seed=0) -> dict:
    """Compare a calibration with LLM runs (default: the runs it was fitted to).

    Parameters
    ----------
    result : CalibrationResult or path of a calibration folder
    logs : paths / LLMTrajectory objects, optional
        Runs to validate against; default the calibration's own runs.
    draws : int
        Posterior draws for the predictive band.
    baseline_replicates : int
        Replicates of the paper's default proxy per condition.
    seed : int

    Returns
    -------
    dict
        The ``validate --json`` object: ``conditions`` (per condition: ``p_mirror``,
        ``n_neighbors``, ``replicates``, ``statistics`` -> name -> ``observed_mean``,
        ``observed_min``, ``observed_max``, ``predicted_mean``, ``predicted_lo``,
        ``predicted_hi``, ``baseline_mean``, ``inside``), ``score`` (``calibrated``,
        ``baseline``) and ``summary`` (headline and N(10) hits).
    """
    from gmmproxy.bridge.calibration.fit import CalibrationResult, load_logs, load_result, statistic_scales

    if not isinstance(result, CalibrationResult):
        result = load_result(result)
    observed = result.observed if logs is None else load_logs(logs, result.times)
    for oc in observed:  # before any work: a components geometry has one population size
        result.geometry.for_agents(oc.condition.n_agents)
    names = list(statistic_names(result.times))
    scales = statistic_scales(observed, names)
    out_conditions = []
    obs_all, pred_all, base_all = [], [], []
    for c, oc in enumerate(observed):
        cond = oc.condition
        mean, lo, hi = predictive_band(result, [cond], oc.replicates, draws=draws, seed=seed + 7 * c)
        base = baseline_means([cond], result.geometry, result.times, replicates=baseline_replicates,
                              seed=seed + 7 * c)
        st = {}
        obs_row = []
        for a, nm in enumerate(names):
            x = oc.statistics[nm]
            obs_row.append(x.mean())
            if not np.all(np.isfinite(x)):
                continue  # unknown for these logs (copy_switch_rate without mirror flags)
            st[nm] = {"observed_mean": float(x.mean()), "observed_min": float(x.min()),
                      "observed_max": float(x.max()), "predicted_mean": float(mean[0, a]),
                      "predicted_lo": float(lo[0, a]), "predicted_hi": float(hi[0, a]),
                      "baseline_mean": float(base[0, a]),
                      "inside": bool(lo[0, a] - 1e-9 <= x.mean() <= hi[0, a] + 1e-9)}
        st["time_to_single_silo"]["censored_runs"] = int((oc.statistics["reached_single_silo"] == 0).sum())
        st["time_to_single_silo"]["censored_value"] = int(cond.n_steps)
        out_conditions.append({"p_mirror": cond.p_mirror, "n_neighbors": cond.n_neighbors,
                               "n_agents": cond.n_agents, "n_steps": cond.n_steps, "replicates": oc.replicates,
                               "headline": headline_statistic(cond.n_neighbors), "statistics": st})
        obs_all.append(obs_row)
        pred_all.append(mean[0])
        base_all.append(base[0])
    obs_all, pred_all, base_all = np.array(obs_all), np.array(pred_all), np.array(base_all)
    headline_hits = sum(c["statistics"][c["headline"]]["inside"] for c in out_conditions)
    n10 = "n_silos_t10"
    n10_hits = sum(c["statistics"][n10]["inside"] for c in out_conditions if n10 in c["statistics"])
    return {
        "conditions": out_conditions,
        "score": {"calibrated": _score(pred_all, obs_all, scales, names),
                  "baseline": _score(base_all, obs_all, scales, names),
                  "definition": "mean over conditions and statistics " + ", ".join(SCORE_STATISTICS)
                                + " of |predicted_mean - observed_mean| / scale (pooled within-condition "
                                  "SD of the observed replicates, floored); N(t) of runs shorter than t "
                                  "is left out",
                  "scales": {nm: float(scales[a]) for a, nm in enumerate(names)}},
        "summary": {"conditions": len(out_conditions), "headline_inside": int(headline_hits),
                    "n_silos_t10_inside": int(n10_hits)},
    }


def loco_entry(sub_result, held_out, *, draws=100, seed=0) -> dict:
    """How a calibration fitted without one condition predicts it (headline statistic and N(10))."""
    names = list(statistic_names(sub_result.times))
    cond = held_out.condition
    mean, lo, hi = predictive_band(sub_result, [cond], held_out.replicates, draws=draws, seed=seed)
    out = {"p_mirror": cond.p_mirror, "n_neighbors": cond.n_neighbors, "n_agents": cond.n_agents,
           "n_steps": cond.n_steps, "headline": headline_statistic(cond.n_neighbors),
           "posterior": sub_result.summary(), "statistics": {}}
    for a, nm in enumerate(names):
        x = float(held_out.statistics[nm].mean())
        if not np.isfinite(x):
            continue
        out["statistics"][nm] = {"observed_mean": x, "predicted_mean": float(mean[0, a]),
                                 "predicted_lo": float(lo[0, a]), "predicted_hi": float(hi[0, a]),
                                 "inside": bool(lo[0, a] - 1e-9 <= x <= hi[0, a] + 1e-9)}
    return out

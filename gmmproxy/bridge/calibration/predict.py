"""Posterior-predictive runs of the calibrated proxy for an LLM setting, returned as an Ensemble."""
from __future__ import annotations

import time

import numpy as np

from gmmproxy.bridge.calibration.model import Condition, check_count
from gmmproxy.bridge.calibration.simulator import simulate_silos

__all__ = ["predict"]


def predict(result, p_mirror: float, n_neighbors: int, *, steps: int = 80, replicates: int = 500,
            seed: int = 0, n_agents: int | None = None):
    """Simulate the calibrated proxy for an LLM condition, one posterior draw per replicate.

    Parameters
    ----------
    result : CalibrationResult or path of a calibration folder
    p_mirror : float in [0, 1]
        The LLM's mirroring probability (mapped to the proxy's by the posterior).
    n_neighbors : int in [1, n_agents - 1]
        The LLM's k.
    steps : int >= 1
        Number of LLM steps T (recorded rows t = 0 .. T-1, as in a log of T steps);
        the Ensemble holds ``steps - 1`` proxy steps after its initial state.
    replicates : int >= 1
    seed : int >= 0
    n_agents : int >= 2, optional
        Population size; default the calibration's. Another size needs the
        paper's geometry (a calibration without ``components``).

    Returns
    -------
    Ensemble
        ``silos`` (replicates, T, n), ``n_silos``, ``n_switched``, ``final_silos``, and
        ``copied`` (replicates, T, n) bool: the agent copied (did not mirror) in the step
        that led to that row;
        ``config`` is the proxy at the posterior median (for provenance; replicate
        b used its own posterior draw), ``engine`` is ``"calibrated"``.
    """
    from gmmproxy import SimulationConfig
    from gmmproxy.bridge.calibration.fit import CalibrationResult, load_result
    from gmmproxy.metrics import n_silos
    from gmmproxy._simulate import _version
    from gmmproxy.trajectory import Ensemble

    if not isinstance(result, CalibrationResult):
        result = load_result(result)
    n = result.geometry.n_agents if n_agents is None else check_count("n_agents", n_agents, 2)
    geometry = result.geometry.for_agents(n)
    try:
        p = float(p_mirror)
    except (TypeError, ValueError):
        raise ValueError(f"p_mirror must be a number in [0, 1]; got {p_mirror!r}") from None
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p_mirror must be in [0, 1]; got {p_mirror}")
    k = check_count("n_neighbors", n_neighbors, 1)
    if k > n - 1:
        raise ValueError(f"n_neighbors must be in [1, {n - 1}] (n_agents - 1); got {k}")
    steps = check_count("steps", steps, 1)
    replicates = check_count("replicates", replicates, 1)
    seed = check_count("seed", seed, 0)
    cond = Condition(p, k, n, steps)
    t0 = time.perf_counter()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 11]))
    thetas = result.sample(replicates, rng)
    # one replicate per posterior draw, all in one kernel call
    runs = simulate_silos(result.model, thetas, [cond], 1, geometry, np.random.SeedSequence([seed, 12]),
                          return_copied=True)
    silos = np.concatenate([row[0][0] for row in runs], axis=0)
    copied = np.concatenate([row[0][1] for row in runs], axis=0)
    ns = n_silos(silos).astype(np.int32)
    sw = np.zeros(ns.shape, dtype=np.int32)
    sw[:, 1:] = np.count_nonzero(silos[:, 1:] != silos[:, :-1], axis=-1)
    med = {name: v["median"] for name, v in result.summary().items()}
    s = result.model.proxy_settings(med, cond)
    kw = dict(n_agents=n, p_mirror=s["p_mirror"], n_neighbors=s["n_neighbors"], rag_size=s["rag_size"],
              eps=min(s["eps"], 1e-3))
    if geometry.default:
        kw["sigma"] = s["sigma"]
    else:
        chol = geometry.chol * s["sigma"]
        kw.update(means=geometry.means, covariances=chol @ np.swapaxes(chol, 1, 2),
                  init_weights=geometry.initial_weights)
    ens = Ensemble(config=SimulationConfig(**kw), steps=steps - 1, n_silos=ns, n_switched=sw,
                   final_silos=silos[:, -1].copy(), silos=silos, replicates_requested=replicates,
                   seed={"calibration_seed": seed}, version=_version(), engine="calibrated",
                   wall_time=time.perf_counter() - t0, record="silos")
    # which agent-steps copied (not mirrored), for copy_switch_rate (statistics.copying_steps reads it)
    ens.copied = copied
    return ens

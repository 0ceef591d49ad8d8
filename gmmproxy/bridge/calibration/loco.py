"""Leave-one-condition-out posteriors by rejection ABC on one shared table of prior simulations."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from gmmproxy._outputs import atomic_write
from gmmproxy.bridge.calibration._progress import _Progress
from gmmproxy.bridge.calibration.model import ProxyModel
from gmmproxy.bridge.calibration.simulator import simulate_statistics
from gmmproxy.bridge.calibration.statistics import statistic_names


def _reference_table(path: Path, model: ProxyModel, observed, geometry, times, *, seed, size, replicates,
                     progress, chunk=50):
    """Prior draws and their simulated statistics, (thetas dict, stats (size, C, S)), kept in ``path``.

    Draw i of the prior comes from ``default_rng(SeedSequence((seed, 77)))``;
    chunk j of ``chunk`` draws is simulated in one kernel call with
    ``SeedSequence((seed, 78, j))``. The table is rewritten (atomically) after
    every chunk, so Ctrl-C keeps every finished chunk and a later call
    continues where it stopped -- only when the model, conditions, statistics,
    seed, replicates and geometry are the same (a key stored with the table).
    """
    import hashlib

    names = statistic_names(times)
    conds = [oc.condition for oc in observed]
    draws = model.sample_prior(size, np.random.default_rng(np.random.SeedSequence([int(seed), 77])))
    stats = np.full((size, len(conds), len(names)), np.nan)
    # what the table's simulations depend on besides the draws: reuse it only when all agree
    h = hashlib.sha256(json.dumps([model.to_dict(), [dataclasses.asdict(c) for c in conds], list(names),
                                   int(seed), int(replicates)], sort_keys=True).encode())
    for arr in (geometry.means, geometry.chol, geometry.initial_weights):
        h.update(np.ascontiguousarray(arr).tobytes())
    key = h.hexdigest()
    done = 0
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            same = (str(z["key"]) == key if "key" in z.files else False) and all(
                np.array_equal(z[f"theta_{k}"], draws[k][:z["stats"].shape[0]]) for k in model.free)
            if same:
                done = min(int(z["done"]), size)
                stats[:done] = z["stats"][:done]
    bar = _Progress(progress, "leave-one-out reference table", 1)
    try:
        while done < size:
            hi = min(size, done + chunk)
            thetas = [{k: float(draws[k][i]) for k in model.free} for i in range(done, hi)]
            sim = simulate_statistics(model, thetas, conds, replicates, geometry,
                                      np.random.SeedSequence([int(seed), 78, done // chunk]), times)
            stats[done:hi] = sim.mean(axis=2)
            done = hi
            atomic_write(path, lambda fh: np.savez(
                fh, stats=stats[:done], done=done, key=np.asarray(key), seed=seed, replicates=replicates,
                **{f"theta_{k}": draws[k][:done] for k in model.free}))
            bar.tick(len(thetas), force=True)
    finally:
        bar.close()
    return draws, stats


def _loco_reference(out_dir: Path, model, observed, geometry, scales, times, *, seed, size, accept, replicates,
                    progress):
    """Leave-one-condition-out posteriors by rejection ABC on one shared prior reference table.

    For held-out condition c, the ``accept`` prior draws whose statistics are
    nearest the observations of the *other* conditions (the fit's distance
    without c) form the posterior (equal weights). The table is simulated
    from the prior, so no fold ever sees its held-out condition, and one table
    serves every fold. Returns a list of (posterior DataFrame, info).
    """
    import pandas as pd

    names = statistic_names(times)
    draws, stats = _reference_table(out_dir / "loco_reference.npz", model, observed, geometry, times, seed=seed,
                                    size=size, replicates=replicates, progress=progress)
    obs = np.array([[oc.statistics[nm].mean() for nm in names] for oc in observed])
    known = np.isfinite(obs)
    z = (stats - np.where(known, obs, 0.0)[None]) / scales
    z2 = np.where(known[None], z * z, 0.0)
    out = []
    for c in range(len(observed)):
        keep = np.ones(len(observed), dtype=bool)
        keep[c] = False
        dist = np.sqrt(z2[:, keep].sum(axis=(1, 2)) / known[keep].sum())
        idx = np.argsort(dist, kind="stable")[:accept]
        post = pd.DataFrame({k: draws[k][idx] for k in model.free})
        post["weight"] = 1.0 / len(idx)
        out.append((post, {"method": "reference", "reference_size": int(size), "accepted": int(len(idx)),
                           "epsilon": float(dist[idx[-1]])}))
    return out

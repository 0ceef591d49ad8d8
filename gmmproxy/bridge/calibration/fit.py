"""Fit the proxy's parameters to logged LLM runs by ABC-SMC (pyABC), with leave-one-condition-out checks.

The observed data are the replicate means of the summary statistics
(:mod:`~gmmproxy.bridge.calibration.statistics`) of every condition (p, k, n,
T) found in the logs. One ABC particle simulates every condition with
``replicates`` runs in one batched kernel call and is accepted when

    distance = sqrt(mean over conditions c and statistics s of ((sim_cs - obs_cs) / scale_s)**2)

(over the pairs (c, s) where the observed statistic is known: ``copy_switch_rate``
needs mirror flags, which some logs lack)

is below the generation's threshold, where ``scale_s`` is the pooled
within-condition standard deviation of statistic s over the observed
replicates (floored, see :func:`statistic_scales`) -- the same normaliser
as the validation score.

pyABC's SQLite history (``history.db`` in the output folder) holds every
finished generation: Ctrl-C keeps them, and ``resume=True`` continues from
the last one. A run (or resumed run) starting at generation g seeds NumPy's
global generator (which pyABC draws its proposals from) with ``(seed, g)``
and gives its i-th simulation ``SeedSequence((seed, g, i))``: the same
seed gives the same fit, and a fit resumed at generation g gives the same
result whenever it is resumed there.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np

from gmmproxy._outputs import atomic_write
from gmmproxy.bridge.calibration.batch import Geometry
from gmmproxy.bridge.calibration.model import Condition, ProxyModel, check_count
from gmmproxy.bridge.calibration.simulator import simulate_statistics
from gmmproxy.bridge.calibration.statistics import DEFAULT_TIMES, statistic_names
from gmmproxy.bridge.calibration._progress import _Progress
from gmmproxy.bridge.calibration.loco import _loco_reference
from gmmproxy.bridge.calibration.observed import (  # noqa: F401  (re-exported: their old home)
    ObservedCondition,
    load_logs,
    statistic_scales,
)

__all__ = ["CalibrationResult", "fit", "load_logs", "load_result", "statistic_scales", "require_pyabc"]

_FORMAT = "gmmproxy-calibration/1"
INSTALL_HINT = "calibration needs the 'calibrate' extra: pip install 'gmmproxy[calibrate]'"


def require_pyabc():
    """Import pyABC or raise ImportError with the install line."""
    try:
        import pyabc  # noqa: F401
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    for name in ("ABC", "pyabc", "Sampler", "Distance", "Epsilon", "Acceptor", "Transitions"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return sys.modules["pyabc"]


# ---------------------------------------------------------------------------------------- result
@dataclasses.dataclass
class CalibrationResult:
    """A fitted calibration.

    Attributes
    ----------
    posterior : pandas.DataFrame
        One row per particle of the last generation: the free parameters and ``weight``.
    model : ProxyModel
    observed : list of ObservedCondition
    scales : ndarray
        Statistic normalisers of the distance and the score.
    loco : list of dict or None
        Leave-one-condition-out results (see :func:`gmmproxy.bridge.calibration.validate.loco`).
    info : dict
        Seed, times, replicates per particle, generations, epsilons, wall time, geometry description.
    """

    posterior: object
    model: ProxyModel
    observed: list
    scales: np.ndarray
    geometry: Geometry
    times: tuple = DEFAULT_TIMES
    loco: list | None = None
    info: dict = dataclasses.field(default_factory=dict)
    out_dir: str | None = None

    @property
    def conditions(self) -> list:
        return [oc.condition for oc in self.observed]

    def sample(self, size: int, rng) -> list:
        """``size`` parameter values drawn from the posterior (by weight), as dicts."""
        df = self.posterior
        w = df["weight"].to_numpy(float)
        w = w / w.sum()
        idx = rng.choice(len(df), size=size, p=w)
        cols = list(self.model.free)
        return [{c: float(df[c].iloc[i]) for c in cols} for i in idx]

    def summary(self) -> dict:
        """Weighted posterior mean, 5% and 95% quantiles of each free parameter."""
        df = self.posterior
        w = df["weight"].to_numpy(float)
        w = w / w.sum()
        out = {}
        for c in self.model.free:
            x = df[c].to_numpy(float)
            order = np.argsort(x)
            cw = np.cumsum(w[order])
            q = lambda a: float(x[order][min(len(x) - 1, np.searchsorted(cw, a))])  # noqa: E731
            out[c] = {"mean": float((w * x).sum()), "q05": q(0.05), "median": q(0.5), "q95": q(0.95)}
        return out

    def save(self, out_dir) -> Path:
        """Write ``posterior.csv`` and ``calibration.json`` into out_dir (atomically)."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        _atomic_text(out_dir / "posterior.csv", self.posterior.to_csv(index=False))
        meta = {
            "format": _FORMAT, "model": self.model.to_dict(), "times": list(self.times),
            "scales": self.scales.tolist(), "info": self.info, "loco": self.loco,
            "geometry": {"means": self.geometry.means.tolist(), "chol": self.geometry.chol.tolist(),
                         "initial_weights": self.geometry.initial_weights.tolist()},
            "observed": [{"condition": dataclasses.asdict(oc.condition),
                          # unknown values (NaN) as null: strict JSON; they read back as NaN
                          "statistics": {k: [x if math.isfinite(x) else None for x in v.tolist()]
                                         for k, v in oc.statistics.items()},
                          "sources": oc.sources, "mirror_fraction": oc.mirror_fraction,
                          "silos": oc.silos.tolist()} for oc in self.observed],
        }
        _atomic_text(out_dir / "calibration.json", json.dumps(meta, allow_nan=False))
        self.out_dir = str(out_dir)
        return out_dir


def _atomic_text(path: Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def load_result(out_dir) -> CalibrationResult:
    """Read a calibration written by :func:`fit` (``calibration.json`` + ``posterior.csv``)."""
    import pandas as pd

    out_dir = Path(out_dir)
    meta_path = out_dir / "calibration.json"
    if not meta_path.exists() or not (out_dir / "posterior.csv").exists():
        raise ValueError(f"calibration folder must hold calibration.json and posterior.csv; got {str(out_dir)!r}")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != _FORMAT:
        raise ValueError(f"{meta_path} is not a {_FORMAT} file")
    g = meta["geometry"]
    chol = np.asarray(g["chol"])
    geometry = Geometry(len(g["initial_weights"]), np.asarray(g["means"]), chol @ np.swapaxes(chol, 1, 2),
                        np.asarray(g["initial_weights"]))
    observed = [ObservedCondition(Condition(**o["condition"]),
                                  {k: np.asarray(v, float) for k, v in o["statistics"].items()},
                                  np.asarray(o["silos"], dtype=np.int64), o["sources"], o["mirror_fraction"])
                for o in meta["observed"]]
    return CalibrationResult(posterior=pd.read_csv(out_dir / "posterior.csv"),
                             model=ProxyModel.from_dict(meta["model"]), observed=observed,
                             scales=np.asarray(meta["scales"]), geometry=geometry, times=tuple(meta["times"]),
                             loco=meta["loco"], info=meta["info"], out_dir=str(out_dir))


# ---------------------------------------------------------------------------------------- ABC
def _run_abc(db_path: Path, model: ProxyModel, observed, geometry, scales, times, *, seed, population_size,
             max_generations, replicates, min_acceptance, resume, progress, label):
    """ABC-SMC on the given conditions; returns (posterior DataFrame, info dict, interrupted)."""
    pyabc = require_pyabc()
    import pandas as pd

    names = statistic_names(times)
    conds = [oc.condition for oc in observed]
    obs = np.array([[oc.statistics[nm].mean() for nm in names] for oc in observed])
    # statistics unknown for a condition (NaN, e.g. copy_switch_rate without mirror flags) are left out
    known = np.isfinite(obs)
    obs_dict = {"x": np.where(known, obs, 0.0).ravel()}
    w = 1.0 / scales

    def distance(x, x0):
        d = (np.asarray(x["x"]).reshape(obs.shape) - np.asarray(x0["x"]).reshape(obs.shape)) * w
        return float(np.sqrt(np.mean(d[known] ** 2)))

    # simulation i of a run started at generation g uses SeedSequence((seed, g, i))
    counter = {"gen": 0, "i": 0}
    bar = _Progress(progress, label, max_generations)

    def simulate(pars):
        ss = np.random.SeedSequence([int(seed), counter["gen"], counter["i"]])
        counter["i"] += 1
        theta = {k: float(pars[k]) for k in model.free}
        stats = simulate_statistics(model, [theta], conds, replicates, geometry, ss, times)
        bar.tick()
        return {"x": stats[0].mean(axis=1).ravel()}

    priors = {}
    for name in model.free:
        lo, hi = model.priors[name]
        if model.prior_scale(name) == "log":
            priors[name] = pyabc.RV("loguniform", lo, hi)
        else:
            priors[name] = pyabc.RV("uniform", lo, hi - lo)
    prior = pyabc.Distribution(**priors)
    abc = pyabc.ABCSMC(simulate, prior, distance, population_size=population_size,
                       sampler=pyabc.sampler.SingleCoreSampler())
    db = "sqlite:///" + str(db_path)
    if resume and db_path.exists():
        abc.load(db, 1)
    else:
        if db_path.exists():
            db_path.unlink()
        abc.new(db, obs_dict)
    history = abc.history
    interrupted = False
    t0 = time.perf_counter()
    done = 0 if history.max_t is None or history.max_t < 0 else history.max_t + 1
    counter["gen"] = done
    bar.gen = done
    bar.history = history
    try:
        if done < max_generations:
            np.random.seed([int(seed) % (2**32), done])
            abc.run(max_nr_populations=max_generations - done, min_acceptance_rate=min_acceptance)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    if history.max_t is None or history.max_t < 0:
        raise KeyboardInterrupt("interrupted before the first generation finished; nothing to keep")
    df, wts = history.get_distribution(m=0, t=history.max_t)
    post = pd.DataFrame({c: df[c].to_numpy(float) for c in model.free})
    post["weight"] = wts / wts.sum()
    pops = history.get_all_populations()
    pops = pops[pops.t >= 0]
    info = {"generations": int(history.max_t) + 1, "epsilons": [float(e) for e in pops.epsilon],
            "simulations": [int(s) for s in pops.samples], "wall_time": time.perf_counter() - t0,
            "interrupted": interrupted}
    return post, info, interrupted


def fit(logs, out=None, *, model: ProxyModel | None = None, components=None, seed: int = 0,
        population_size: int = 100, max_generations: int = 6, replicates: int = 8,
        min_acceptance: float = 0.03, times=DEFAULT_TIMES, loco: bool = True, loco_method: str = "reference",
        loco_simulations: int = 2000, loco_accept: int = 100, loco_population: int = 50,
        loco_generations: int = 3, resume: bool = False, progress: bool | None = None,
        overwrite: bool = False) -> CalibrationResult:
    """Calibrate the proxy to logged LLM runs.

    Parameters
    ----------
    logs : path, LLMTrajectory or a sequence of them
        The runs; their run records give (p_mirror, n_neighbors, n_agents, n_steps)
        and runs sharing them are replicates of one condition.
    out : path, optional
        Output folder (``history.db``, ``posterior.csv``, ``calibration.json``, LOCO
        histories). Default: a temporary folder (no resume).
    model : ProxyModel, optional
        Free parameters, priors and fixed values (default ``ProxyModel()``).
    components : path or Geometry, optional
        Component means/covariances/initial weights (.npz with ``means``,
        ``covariances``, ``initial_weights``); default the paper's 1-d topics.
    seed : int
    population_size, max_generations, min_acceptance
        ABC-SMC budget: stop after ``max_generations`` or when a generation's
        acceptance rate falls below ``min_acceptance``.
    replicates : int
        Proxy replicates per condition per particle.
    times : sequence of int
        Steps of the N(t) statistics.
    loco : bool
        Also refit without each condition in turn and record how well it is predicted.
    loco_method : {"reference", "smc"}
        ``"reference"`` (default): rejection ABC on one shared table of
        ``loco_simulations`` prior draws, keeping the ``loco_accept`` nearest
        per fold (see :func:`_loco_reference`); ``"smc"``: a separate ABC-SMC
        per fold with ``loco_population`` particles and ``loco_generations``
        generations (about 8x the cost).
    resume : bool
        Continue the histories in ``out`` instead of starting afresh.
    progress : bool, optional
        Status line on stderr (default: when stderr is a terminal).
    overwrite : bool
        Allow replacing an existing calibration in ``out`` (without ``resume``).

    Returns
    -------
    CalibrationResult
    """
    require_pyabc()
    import tempfile

    model = ProxyModel() if model is None else model
    if not isinstance(model, ProxyModel):
        raise TypeError(f"model must be a ProxyModel; got {type(model).__name__}")
    seed = check_count("seed", seed, 0)
    population_size = check_count("population_size", population_size, 10)
    max_generations = check_count("max_generations", max_generations, 1)
    replicates = check_count("replicates", replicates, 1)
    loco_population = check_count("loco_population", loco_population, 10)
    loco_generations = check_count("loco_generations", loco_generations, 1)
    loco_simulations = check_count("loco_simulations", loco_simulations, 10)
    loco_accept = check_count("loco_accept", loco_accept, 2)
    if loco_accept > loco_simulations:
        raise ValueError(f"loco_accept must be <= loco_simulations ({loco_simulations}); got {loco_accept}")
    if loco_method not in ("reference", "smc"):
        raise ValueError(f"loco_method must be 'reference' or 'smc'; got {loco_method!r}")
    if not 0.0 <= float(min_acceptance) < 1.0:
        raise ValueError(f"min_acceptance must be in [0, 1); got {min_acceptance}")
    if not model.free:
        raise ValueError("model must have at least one free parameter to fit")
    observed = load_logs(logs, times)
    ns = sorted({oc.condition.n_agents for oc in observed})
    # runs of several population sizes share one calibration on the paper's geometry (K = n topics for
    # each n); components from perspective space describe the agents of one size only
    n = max(ns, key=lambda m: (sum(oc.condition.n_agents == m for oc in observed), m))
    if components is None:
        geometry = Geometry(n)
    elif isinstance(components, Geometry):
        geometry = components
    else:
        geometry = Geometry.from_npz(components, n_agents=n)
    if not geometry.default and any(m != geometry.n_agents for m in ns):
        raise ValueError(f"components have {geometry.n_agents} agents but the logs have n_agents {ns}: with "
                         "components, all logs must come from populations of that size")
    if out is None:
        out_dir = Path(tempfile.mkdtemp(prefix="gmmproxy-calib-"))
    else:
        out_dir = Path(out)
        if out_dir.exists() and not out_dir.is_dir():
            raise ValueError(f"out must be a folder; {str(out_dir)!r} is a file")
        if (out_dir / "calibration.json").exists() and not (resume or overwrite):
            raise ValueError(f"out folder {str(out_dir)!r} already holds a calibration; pass resume=True "
                             "(--resume) to continue it or overwrite=True (--overwrite) to replace it")
        out_dir.mkdir(parents=True, exist_ok=True)
    if progress is None:
        progress = sys.stderr.isatty()
    names = statistic_names(times)
    scales = statistic_scales(observed, names)
    t0 = time.perf_counter()
    post, info, interrupted = _run_abc(
        out_dir / "history.db", model, observed, geometry, scales, times, seed=seed,
        population_size=population_size, max_generations=max_generations, replicates=replicates,
        min_acceptance=min_acceptance, resume=resume, progress=progress, label="fit")
    info.update(seed=seed, population_size=population_size, max_generations=max_generations,
                replicates=replicates, min_acceptance=min_acceptance,
                loco={"method": loco_method, "simulations": loco_simulations, "accept": loco_accept}
                if loco_method == "reference" else
                {"method": loco_method, "population": loco_population, "generations": loco_generations},
                geometry="paper 1-d topics" if geometry.default else "components")
    result = CalibrationResult(posterior=post, model=model, observed=observed, scales=scales, geometry=geometry,
                               times=tuple(times), info=info)
    result.save(out_dir)
    if loco and not interrupted and len(observed) > 1:
        from gmmproxy.bridge.calibration.validate import loco_entry

        entries = []
        try:
            if loco_method == "reference":
                folds = _loco_reference(out_dir, model, observed, geometry, scales, times, seed=seed,
                                        size=loco_simulations, accept=loco_accept, replicates=replicates,
                                        progress=progress)
            for c, oc in enumerate(observed):
                rest = [o for i, o in enumerate(observed) if i != c]
                if loco_method == "reference":
                    lpost, linfo = folds[c]
                else:
                    lpost, linfo, lint = _run_abc(
                        out_dir / f"loco_{oc.condition.key}.db", model, rest, geometry, scales, times,
                        seed=seed + 1 + c, population_size=loco_population, max_generations=loco_generations,
                        replicates=replicates, min_acceptance=min_acceptance, resume=resume, progress=progress,
                        label=f"leave out {oc.condition.key}")
                    if lint:
                        raise KeyboardInterrupt
                sub = CalibrationResult(posterior=lpost, model=model, observed=rest, scales=scales,
                                        geometry=geometry, times=tuple(times), info=linfo)
                entries.append(loco_entry(sub, oc, seed=seed + 101 + c))
        except KeyboardInterrupt:
            info["loco_interrupted"] = True
        result.loco = entries
    info["wall_time_total"] = time.perf_counter() - t0
    result.save(out_dir)
    return result

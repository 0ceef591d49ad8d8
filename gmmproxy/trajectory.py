"""Results of simulations: one run (:class:`Trajectory`) or a batch (:class:`Ensemble`).

Both are plain arrays plus the provenance that made them (config, seed,
package version, engine, wall time), and save to / load from a single
``.npz`` file whose metadata is JSON (no pickles).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from gmmproxy import metrics
from gmmproxy._outputs import atomic_write
from gmmproxy.config import SimulationConfig

__all__ = ["Trajectory", "Ensemble"]

_FORMAT = "gmmproxy-results/1"


_GRAPH_ARRAYS = ("__graph_indptr__", "__graph_indices__", "__graph_nnz__")


def _graph_arrays(config) -> dict:
    """A sparse graph's CSR arrays for the .npz (10^7 edges are 80 MB of int64, several hundred MB as
    JSON text); the JSON metadata then says only ``"stored": "arrays"``."""
    from gmmproxy._graphs import SparseGraph

    g = config.graph
    if not isinstance(g, SparseGraph):
        return {}
    flat = np.concatenate([g.indices[t, :int(g.nnz[t])] for t in range(g.n_graphs)])
    return dict(zip(_GRAPH_ARRAYS, (g.indptr, flat, g.nnz)))


def _config_of(meta: dict, arrays: dict) -> SimulationConfig:
    """The config of a loaded file, with a sparse graph rebuilt from its arrays."""
    d = dict(meta["config"])
    g = d.get("graph")
    if isinstance(g, dict) and g.get("stored") == "arrays":
        if not all(k in arrays for k in _GRAPH_ARRAYS):
            raise ValueError("the file's sparse graph arrays are missing")
        indptr, flat, nnz = (arrays.pop(k) for k in _GRAPH_ARRAYS)
        ends = np.cumsum(nnz)
        d["graph"] = dict(g, indptr=indptr, indices=np.split(flat, ends[:-1]))
    return SimulationConfig.from_dict(d)


def _save(path, kind: str, arrays: dict, meta: dict) -> Path:
    path = Path(path)
    if path.suffix != ".npz":
        # as numpy.savez: the file always ends in .npz (run.npy -> run.npy.npz), so its
        # name never promises another format
        path = path.with_name(path.name + ".npz")
    meta = dict(meta, kind=kind, format=_FORMAT)
    payload = {k: v for k, v in arrays.items() if v is not None}
    payload["__meta__"] = np.array(json.dumps(meta))
    # atomic: a crash or Ctrl-C never leaves a half-written result or a stray temp file
    return atomic_write(path, lambda fh: np.savez_compressed(fh, **payload))


def _load(path, kind: str):
    with np.load(path, allow_pickle=False) as data:
        if "__meta__" not in data:
            raise ValueError(f"{path} is not a gmmproxy result file (no metadata)")
        meta = json.loads(str(data["__meta__"]))
        if meta.get("kind") != kind:
            raise ValueError(f"{path} holds a {meta.get('kind')!r}, not a {kind!r}")
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
    return arrays, meta


@dataclasses.dataclass(eq=False)
class Trajectory:
    """One simulated run.

    Attributes
    ----------
    weights : ndarray (T+1, n, K) or None
        Beliefs of every agent at every step (``record="weights"``).
    silos : ndarray (T+1, n) of int or None
        Silo of every agent at every step (``record`` "weights" or "silos").
    n_silos : ndarray (T+1,) of int
        Number of silos N(t) (always recorded).
    n_switched : ndarray (T+1,) of int
        Agents whose silo changed since t-1 (0 at t = 0; always recorded).
    final_silos : ndarray (n,)
    final_rag : ndarray (n, r, d)
        RAG sets at the end of the run.
    covariances : ndarray (T+1, n, K, d, d) or None
        Per-agent covariances (Algorithm 2 with ``record="weights"``).
    config, seed, version, engine, wall_time, steps
        Provenance: the config, a JSON description of the seed
        (``{"entropy", "spawn_key"}`` or the reference engine's int), the
        package version, the engine name and the wall time in seconds.
    """

    config: SimulationConfig
    steps: int
    n_silos: np.ndarray
    n_switched: np.ndarray
    final_silos: np.ndarray
    final_rag: np.ndarray
    weights: np.ndarray | None = None
    silos: np.ndarray | None = None
    covariances: np.ndarray | None = None
    seed: dict | None = None
    version: str = ""
    engine: str = "numba"
    wall_time: float = float("nan")

    # -- metrics ------------------------------------------------------------
    @property
    def switch_rate(self) -> np.ndarray:
        """Fraction of agents that changed silo since t-1 (NaN at t = 0)."""
        out = self.n_switched / self.config.n_agents
        out = out.astype(float)
        out[0] = np.nan
        return out

    @property
    def time_to_single_silo(self) -> int:
        """First step from which all agents share one silo; ``metrics.NEVER`` (-1) when never.

        The same convention as :attr:`Ensemble.time_to_single_silo` (one int per
        replicate) and :func:`gmmproxy.metrics.time_to_single_silo`. Earlier
        versions returned None when never; ``summary()`` still says None there.
        """
        return int(metrics.time_to_single_silo_from_counts(self.n_silos))

    def summary(self) -> dict:
        """Final number of silos, time to a single silo, switching statistics."""
        sw = self.switch_rate
        out = {
            "n_steps": self.steps,
            "n_agents": self.config.n_agents,
            "n_silos_final": int(self.n_silos[-1]),
            "time_to_single_silo": None if self.time_to_single_silo == metrics.NEVER else self.time_to_single_silo,
            "mean_switch_rate": float(np.nanmean(sw[1:])) if self.steps > 0 else 0.0,
            "final_switch_rate": float(sw[-1]) if self.steps > 0 else 0.0,
            "largest_silo_final": int(np.bincount(self.final_silos).max()),
        }
        if self.silos is not None:
            out["final_entropy_bits"] = float(metrics.entropy(self.silos)[-1])
        return out

    # -- tidy views ---------------------------------------------------------
    def to_dataframe(self, level: str | None = None):
        """This run as a long pandas table (needs the ``tidy`` extra).

        Parameters
        ----------
        level : {"agent", "step", "weight"}, optional
            ``"agent"``: one row per (t, agent) with its ``silo`` (default when
            silos were recorded); ``"step"``: one row per t with ``n_silos``
            and ``n_switched`` (the default otherwise); ``"weight"``: one row
            per (t, agent, component) with its ``weight``.
        """
        from gmmproxy._tidy import results_frame

        return results_frame(self, level, batch=False)

    # -- persistence --------------------------------------------------------
    def provenance(self, *, graph_inline: bool = True) -> dict:
        """The config (as ``SimulationConfig.to_dict``), seed, version, engine, wall time and steps."""
        return {
            "config": self.config.to_dict(graph_inline=graph_inline),
            "steps": self.steps,
            "seed": self.seed,
            "version": self.version,
            "engine": self.engine,
            "wall_time": self.wall_time,
        }

    def save(self, path) -> Path:
        """Write to ``path`` (.npz). Returns the path written."""
        arrays = {
            "n_silos": self.n_silos, "n_switched": self.n_switched, "final_silos": self.final_silos,
            "final_rag": self.final_rag, "weights": self.weights, "silos": self.silos,
            "covariances": self.covariances, **_graph_arrays(self.config),
        }
        return _save(path, "trajectory", arrays, self.provenance(graph_inline=False))

    @classmethod
    def load(cls, path) -> "Trajectory":
        """Read a file written by :meth:`save`."""
        arrays, meta = _load(path, "trajectory")
        return cls(
            config=_config_of(meta, arrays), steps=int(meta["steps"]),
            seed=meta["seed"], version=meta["version"], engine=meta["engine"],
            wall_time=float(meta["wall_time"]),
            **{k: arrays.get(k) for k in ("n_silos", "n_switched", "final_silos", "final_rag",
                                          "weights", "silos", "covariances")},
        )


@dataclasses.dataclass(eq=False)
class Ensemble:
    """A batch of independent replicates of one configuration.

    Array attributes carry a leading replicate axis of length
    ``replicates_completed`` (fewer than requested if the batch was
    interrupted with Ctrl-C: finished replicates are kept).

    Attributes
    ----------
    silos : ndarray (R, T+1, n) or None
    weights : ndarray (R, T+1, n, K) or None
    covariances : ndarray (R, T+1, n, K, d, d) or None
        Per-agent covariances (Algorithm 2 with ``record="weights"``).
    final_rag : ndarray (R, n, r, d) or None
        Final RAG sets (``simulate_many(..., keep_final_rag=True)``).
    n_silos, n_switched : ndarray (R, T+1)
    final_silos : ndarray (R, n)
    replicates_requested : int
    interrupted : bool
    """

    config: SimulationConfig
    steps: int
    n_silos: np.ndarray
    n_switched: np.ndarray
    final_silos: np.ndarray
    silos: np.ndarray | None = None
    weights: np.ndarray | None = None
    covariances: np.ndarray | None = None
    final_rag: np.ndarray | None = None
    replicates_requested: int = 0
    interrupted: bool = False
    seed: dict | None = None
    version: str = ""
    engine: str = "numba"
    wall_time: float = float("nan")
    record: str = "silos"

    @property
    def replicates(self) -> int:
        """Number of completed replicates."""
        return int(self.n_silos.shape[0])

    @property
    def time_to_single_silo(self) -> np.ndarray:
        """Per replicate, the first step from which one silo remains (``metrics.NEVER`` if never)."""
        return metrics.time_to_single_silo_from_counts(self.n_silos)

    def summary(self) -> dict:
        """Distribution of the per-replicate summary statistics."""
        R = self.replicates
        if R == 0:
            return {"replicates": 0}
        final = self.n_silos[:, -1]
        tts = self.time_to_single_silo
        reached = tts != metrics.NEVER
        sw = self.n_switched[:, 1:] / self.config.n_agents if self.steps > 0 else np.zeros((R, 1))
        mean_sw = sw.mean(axis=1)

        def dist(x):
            x = np.asarray(x, dtype=float)
            if x.size == 0:
                return None
            return {"mean": float(x.mean()), "sd": float(x.std(ddof=1)) if x.size > 1 else 0.0,
                    "min": float(x.min()), "median": float(np.median(x)), "max": float(x.max())}

        return {
            "replicates": R,
            "n_steps": self.steps,
            "n_silos_final": dist(final),
            "share_single_silo_at_end": float(np.mean(final == 1)),
            "share_reaching_single_silo": float(reached.mean()),
            "time_to_single_silo_when_reached": dist(tts[reached]),
            "mean_switch_rate": dist(mean_sw),
        }

    # -- tidy views ---------------------------------------------------------
    def to_dataframe(self, level: str | None = None):
        """The batch as a long pandas table with a ``replicate`` column (needs the ``tidy`` extra).

        ``level`` as in :meth:`Trajectory.to_dataframe`: ``"agent"`` (replicate,
        t, agent, silo), ``"step"`` (replicate, t, n_silos, n_switched) or
        ``"weight"`` (replicate, t, agent, component, weight).
        """
        from gmmproxy._tidy import results_frame

        return results_frame(self, level, batch=True)

    def to_xarray(self):
        """An ``xarray.Dataset`` with dims replicate x t x agent (needs the ``xarray`` extra).

        Variables ``n_silos``, ``n_switched`` (replicate, t), ``final_silos``
        (replicate, agent), and when recorded ``silos`` (replicate, t, agent)
        and ``weights`` (replicate, t, agent, component); the provenance as
        JSON text in ``attrs["provenance"]``. A sparse communication graph is
        stored as the variables ``graph_indptr`` (graph_round, n+1),
        ``graph_indices`` (graph_edge) and ``graph_nnz`` (graph_round), its
        CSR arrays, rather than inline in the provenance (which then says
        ``"stored": "arrays"``).
        """
        from gmmproxy._tidy import ensemble_xarray

        return ensemble_xarray(self)

    def provenance(self, *, graph_inline: bool = True) -> dict:
        """The config (as ``SimulationConfig.to_dict``), seed, version, engine, wall time and steps."""
        return {
            "config": self.config.to_dict(graph_inline=graph_inline), "steps": self.steps, "seed": self.seed,
            "version": self.version, "engine": self.engine, "wall_time": self.wall_time,
            "replicates_requested": self.replicates_requested, "interrupted": self.interrupted,
            "record": self.record,
        }

    def save(self, path) -> Path:
        arrays = {"n_silos": self.n_silos, "n_switched": self.n_switched, "final_silos": self.final_silos,
                  "silos": self.silos, "weights": self.weights, "covariances": self.covariances,
                  "final_rag": self.final_rag, **_graph_arrays(self.config)}
        return _save(path, "ensemble", arrays, self.provenance(graph_inline=False))

    @classmethod
    def load(cls, path) -> "Ensemble":
        arrays, meta = _load(path, "ensemble")
        return cls(
            config=_config_of(meta, arrays), steps=int(meta["steps"]),
            seed=meta["seed"], version=meta["version"], engine=meta["engine"],
            wall_time=float(meta["wall_time"]), replicates_requested=int(meta["replicates_requested"]),
            interrupted=bool(meta["interrupted"]), record=meta["record"],
            **{k: arrays.get(k) for k in ("n_silos", "n_switched", "final_silos", "silos", "weights",
                                          "covariances", "final_rag")},
        )

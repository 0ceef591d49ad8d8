"""Python front of the batched kernel: many parameter sets x replicates -> silo arrays.

:func:`simulate_batch` validates per-job parameter arrays once, seeds every
job from one ``SeedSequence`` (job ``b`` gets child ``b``, so results do not
depend on threads or chunking) and runs :func:`gmmproxy._kernels.batched.run_jobs`.
"""
from __future__ import annotations

import numbers

import numpy as np

from gmmproxy.bridge.calibration._job_seeds import job_states

__all__ = ["Geometry", "simulate_batch"]


class Geometry:
    """Where the proxy's components live: means (K, d), base covariances (K, d, d), initial weights (n, K).

    The default is the paper's: K = n topics at 0, 1, ..., K-1 with unit base
    variance (the per-job ``sigma`` scales the standard deviations), agent i
    certain of topic i mod K. With ``components`` (means, covariances and
    initial weights from perspective space, see ``gmmproxy calibrate
    components``) ``sigma`` multiplies the given standard deviations.
    """

    def __init__(self, n_agents: int = 30, means=None, covariances=None, initial_weights=None, eps: float = 1e-12):
        if isinstance(n_agents, bool) or not isinstance(n_agents, numbers.Integral) or n_agents < 2:
            raise ValueError(f"n_agents must be an integer >= 2; got {n_agents!r}")
        n = int(n_agents)
        if means is None:
            mu = np.arange(n, dtype=np.float64)[:, None]
        else:
            mu = np.asarray(means, dtype=np.float64)
            if mu.ndim == 1:
                mu = mu[:, None]
            if mu.ndim != 2 or mu.shape[0] < 1 or not np.all(np.isfinite(mu)):
                raise ValueError(f"means must be a finite (K, d) array; got shape {mu.shape}")
        K, d = mu.shape
        if covariances is None:
            cov = np.broadcast_to(np.eye(d), (K, d, d)).copy()
        else:
            cov = np.asarray(covariances, dtype=np.float64)
            if cov.shape != (K, d, d):
                raise ValueError(f"covariances must have shape ({K}, {d}, {d}); got {cov.shape}")
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ValueError("covariances must be symmetric positive definite") from None
        if initial_weights is None:
            w = _paper_weights(n, K, eps)
        else:
            w = np.asarray(initial_weights, dtype=np.float64)
            if w.shape != (n, K):
                raise ValueError(f"initial_weights must have shape (n_agents, K) = ({n}, {K}); got {w.shape}")
            if np.any(w < 0) or np.any(np.abs(w.sum(axis=1) - 1.0) > 1e-6):
                raise ValueError("initial_weights rows must lie on the simplex (>= 0, summing to 1)")
        self.n_agents = n
        # own writable C copies: a read-only input would be another Numba type, another compile of the kernel
        self.means = np.array(mu, order="C")
        self.chol = np.array(chol, order="C")
        self.initial_weights = np.array(w, order="C")
        self.eps = float(eps)
        # the paper's geometry, however it was given (a calibration read back from disk passes its arrays)
        self.default = (means is None and covariances is None and initial_weights is None) or (
            K == n and d == 1 and np.array_equal(self.means[:, 0], np.arange(n, dtype=np.float64))
            and np.array_equal(self.chol, np.ones((K, 1, 1))) and np.array_equal(self.initial_weights,
                                                                                  _paper_weights(n, K, eps)))

    def for_agents(self, n_agents: int) -> "Geometry":
        """The geometry for a population of ``n_agents``: this one, or the paper's for another n.

        The paper's geometry (K = n topics at 0 .. n-1, agent i on topic i)
        exists for every n, so a calibration fitted on runs of 30 agents can
        predict runs of 50. A geometry from perspective space (``components``)
        describes its own agents only.
        """
        n = int(n_agents)
        if n == self.n_agents:
            return self
        if not self.default:
            raise ValueError(f"n_agents must be {self.n_agents}: the components of this calibration describe "
                             f"{self.n_agents} agents (got runs of {n}); refit with the default geometry, or with "
                             f"components built from runs of {n} agents")
        return Geometry(n, eps=self.eps)

    @classmethod
    def from_npz(cls, path, n_agents: int | None = None) -> "Geometry":
        """Read ``means`` (K, d), ``covariances`` (K, d, d), ``initial_weights`` (n, K) from an .npz."""
        with np.load(path, allow_pickle=False) as z:
            missing = [key for key in ("means", "covariances", "initial_weights") if key not in z.files]
            if missing:
                raise ValueError(f"components file {path} lacks the arrays {missing}")
            mu, cov, w = z["means"], z["covariances"], z["initial_weights"]
        n = w.shape[0] if n_agents is None else n_agents
        return cls(n, mu, cov, w)

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])


def _paper_weights(n, K, eps):
    """Agent i certain of topic i mod K, up to eps spread over all K topics."""
    w = np.full((n, K), eps / K)
    w[np.arange(n), np.arange(n) % K] = 1.0 - eps
    return w


def _per_job(name, value, J, dtype, lo, hi, integer=False):
    arr = np.broadcast_to(np.asarray(value), (J,))
    if integer:
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise ValueError(f"{name} must hold integers; got {arr[:3]}")
    if not np.all(np.isfinite(arr.astype(np.float64))):
        raise ValueError(f"{name} must be finite; got {arr[~np.isfinite(arr.astype(float))][:1]}")
    bad = (arr < lo) | (arr > hi)
    if np.any(bad):
        raise ValueError(f"{name} must be in [{lo}, {hi}]; got {arr[bad][0]}")
    # always a fresh writable C array: a read-only view (what broadcast_to gives) is another Numba type,
    # and every such type combination would compile the whole kernel again (about 40 s each)
    return np.array(arr, dtype=dtype, order="C")


def _relative_cost(p, k, r, m, a, answer_current, n):
    """Rough relative cost of each job (from per-update timings of the kernel): the queue starts with the costliest.

    An update costs about 1 unit, plus about 0.7 when the agent copies from one
    of its k < n - 1 nearest (the distance row and the selection), 0.2 when
    it copies from a uniform other agent, and more with a larger RAG or
    pseudo-updated answers; a job makes ``m * a`` updates per agent and step.
    """
    partner = np.where(k < n - 1, 0.7, 0.2)
    per_update = 1.0 + 0.15 * (r - 1) + np.where(answer_current, 0.0, 0.5 + 0.15 * r) + (1.0 - p) * partner
    return m * a * per_update


def simulate_batch(geometry: Geometry, steps: int, *, p_mirror, n_neighbors, sigma, rag_size,
                   rounds_per_step=1, activation=1.0, eps=1e-12, answer_current=False,
                   seed=None, job_index=None, return_copied: bool = False, return_weights: bool = False):
    """Run one replicate per entry of the (broadcast) parameter arrays.

    Parameters
    ----------
    geometry : Geometry
    steps : int
        Recorded steps after the initial state.
    p_mirror, n_neighbors, sigma, rag_size, rounds_per_step, activation, eps, answer_current
        Scalars or arrays of one common length J (one job each); see
        :mod:`gmmproxy._kernels.batched` for their meaning.
    seed : int, SeedSequence or None
        Job b uses ``replicate_seed(seed, b)``.
    job_index : array of int, optional
        Job b uses ``replicate_seed(seed, job_index[b])`` instead: for a set of
        jobs split over several calls (populations of different sizes), so
        that each job's stream does not depend on the split.
    return_copied : bool
        Also return which agents copied in each step.
    return_weights : bool
        Also return every agent's weights at every step (then the result is
        ``(silos, copied, weights)``).

    Returns
    -------
    silos : ndarray of int16, shape (J, steps + 1, n_agents)
        Silo of every agent at every recorded step.
    copied : ndarray of bool, shape (J, steps + 1, n_agents)
        Only with ``return_copied``: True where the agent acted at least once
        with a partner other than itself (did not mirror) during the step that
        ended at that row; row 0 is False.
    weights : ndarray of float64, shape (J, steps + 1, n_agents, K)
        Only with ``return_weights``.
    """
    from gmmproxy._kernels.batched import run_jobs

    if not isinstance(geometry, Geometry):
        raise TypeError(f"geometry must be a Geometry; got {type(geometry).__name__}")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0; got {steps!r}")
    arrays = [p_mirror, n_neighbors, sigma, rag_size, rounds_per_step, activation, eps, answer_current]
    J = max(np.size(a) for a in arrays)
    n = geometry.n_agents
    p = _per_job("p_mirror", p_mirror, J, np.float64, 0.0, 1.0)
    k = _per_job("n_neighbors", n_neighbors, J, np.int64, 1, n - 1, integer=True)
    s = _per_job("sigma", sigma, J, np.float64, 1e-6, 1e6)
    r = _per_job("rag_size", rag_size, J, np.int64, 1, 1000, integer=True)
    m = _per_job("rounds_per_step", rounds_per_step, J, np.int64, 1, 10000, integer=True)
    a = _per_job("activation", activation, J, np.float64, 1e-6, 1.0)
    e = _per_job("eps", eps, J, np.float64, 1e-300, 1e-3)
    ac = np.array(np.broadcast_to(np.asarray(answer_current, dtype=np.bool_), (J,)), order="C")
    if job_index is None:
        states = job_states(seed, J)  # = replicate_states(seed, J), vectorised
    else:
        idx = np.asarray(job_index)
        if idx.shape != (J,) or not np.issubdtype(idx.dtype, np.integer) or (J and idx.min() < 0):
            raise ValueError(f"job_index must hold {J} integers >= 0; got shape {idx.shape}")
        states = np.ascontiguousarray(job_states(seed, int(idx.max()) + 1)[idx])
    out = np.zeros((J, int(steps) + 1, n), dtype=np.int16)
    copied = np.zeros((J, int(steps) + 1, n), dtype=np.bool_)
    K = geometry.n_components
    weights = np.zeros((J, int(steps) + 1 if return_weights else 0, n, K))
    import numba

    # the threads share one queue of jobs, costliest first (longest-processing-time order), so that
    # they run out of work at about the same time; the order changes no result
    order = np.argsort(-_relative_cost(p, k, r, m, a, ac, n), kind="stable").astype(np.int64)
    workers = max(1, min(numba.get_num_threads(), J))
    run_jobs(states, geometry.initial_weights, geometry.means, geometry.chol, p, k, s, r, m, a, e, ac,
             int(steps), out, copied, weights, order, workers)
    if return_weights:
        return out, copied, weights
    return (out, copied) if return_copied else out

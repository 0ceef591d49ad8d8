"""Validated, immutable parameters of an interacting-GMM simulation.

:class:`SimulationConfig` is the only place where simulation inputs are
checked: every later layer (reference engine, Numba kernels) trusts it. Every
bad value raises ``ValueError`` (``TypeError`` for a wrong type) naming the
parameter, the value and the allowed range.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from gmmproxy._graphs import SparseGraph, validate_graph
from gmmproxy._validation import check_float, check_int, shown

__all__ = ["SimulationConfig", "DEFAULT_EPS"]

DEFAULT_EPS = 1e-12
# Standard deviations outside [SD_MIN, SD_MAX] make variances or squared
# distances over/underflow float64 (sigma = 1e300: inf; 1e-300: a zero
# variance), so they are refused up front rather than failing inside LAPACK.
SD_MIN, SD_MAX = 1e-100, 1e100
_UPDATES = ("synchronous", "sequential")
_REPLACEMENTS = ("farthest", "fifo")
_TIE_BREAKS = ("index", "random")


# short local names of the shared checks keep the long validation block below readable
_int, _float = check_int, check_float


def _array(name: str, value, ndim_allowed: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array; got {type(value).__name__}") from exc
    if arr.ndim not in ndim_allowed:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndim_allowed))} dimensions; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got NaN or inf")
    return arr


@dataclasses.dataclass(frozen=True, eq=False)
class SimulationConfig:
    """Parameters of a population of interacting GMM agents (Algorithms 1 and 2).

    Parameters
    ----------
    n_agents : int, default 30
        Number of agents n (>= 2).
    n_components : int, optional
        Number of mixture components K; default ``len(means)`` if means are
        given, else ``n_agents`` (one topic per agent, as in the paper).
    sigma : float, default 0.2
        Common standard deviation of every component (covariance
        ``sigma**2 * I``); ignored when ``covariances`` is given.
    rag_size : int, default 5
        Number r of points in each agent's RAG set (>= 1).
    p_mirror : float, default 0.4
        Mirroring probability p in [0, 1]: the agent talks to itself.
    n_neighbors : int or sequence of int, optional
        k in [1, n_agents - 1]: partners are drawn uniformly from the k agents
        nearest in weight space (Euclidean). Default ``n_agents - 1``: no
        neighbourhood restriction. A sequence gives one k per round (a
        schedule, e.g. :func:`gmmproxy.topology.switch_to_local`), stored as
        a tuple.
    means : array_like, shape (K,) or (K, d), optional
        Component means; default ``0, 1, ..., K-1`` in one dimension.
    covariances : array_like, optional
        ``(K,)`` per-component variances (d = 1 only), ``(K, d)`` diagonal
        variances, or ``(K, d, d)`` full covariance matrices (symmetric
        positive definite). Overrides ``sigma``.
    init_weights : array_like, shape (n_agents, K), optional
        Initial beliefs, each row on the simplex. Default: agent i certain of
        component ``i mod K``, smoothed by ``eps`` (``(1-eps) e_i + eps/K``).
    init_rag : array_like, shape (n_agents, rag_size, d), optional
        Initial RAG points; default: sampled from each agent's own mixture.
    eps : float, default 1e-12
        Weights are clipped to ``[eps, 1-eps]`` in every EM step (weights of
        exactly 0 or 1 could never move again), in (0, 1e-3].
    update : {"synchronous", "sequential"}
        Synchronous (default, as the authors' code): every read in a round
        sees the state at the end of the previous round. Sequential: agents
        act in index order and see updates made earlier in the same round.
    rag_replacement : {"farthest", "fifo"}
        Which RAG point a new point replaces: the farthest from it (default,
        the paper) or the oldest.
    update_covariances : bool, default False
        Algorithm 2: each agent also updates its own covariances by one M-step.
    volume_preserving : bool, default False
        With ``update_covariances``: rescale each updated covariance to keep its
        initial determinant (Remark 2), so components cannot collapse.
    min_sd : float, default 0.01
        Algorithm 2 floor on standard deviations (variances >= min_sd**2; in
        d >= 2 added as a ridge ``min_sd**2 I`` after the M-step).
    graph : array_like of bool, scipy.sparse matrix, networkx graph, or a sequence of these, optional
        Directed communication graph: ``graph[i, j]`` (or ``graph[t, i, j]``
        in round t) says agent i may query agent j. Combined with kNN: the
        partner is drawn among the k nearest *allowed* agents. An agent with
        no allowed partner mirrors. The diagonal (self loops) is ignored.
        Dense form: a boolean or 0/1 array of shape (n, n), or (T, n, n) for
        one graph per round (stored as a read-only ndarray). Sparse form,
        for large n: a ``scipy.sparse`` matrix or array (n, n) of 0/1 or
        bools in any format; a networkx graph with nodes 0..n-1 (an edge
        u -> v of a ``DiGraph`` lets u query v, an undirected edge works
        both ways); or a list of these, one per round. It is stored as a
        :class:`gmmproxy.topology.SparseGraph` (CSR, memory O(n + edges)) and never
        made dense; the run is bit-identical to the same graph given densely.
    tie_break : {"index", "random"}
        How agents at exactly the k-th smallest distance are chosen into the
        k-nearest set. "index" (default, the authors' rule): the lower agent
        index first -- with the default initial weights all distances are
        equal in the first round, so early partners are biased to low
        indices. "random": a uniformly random subset of the tied agents.
        Only matters when ``n_neighbors`` restricts partners.
    """

    n_agents: int = 30
    n_components: int | None = None
    sigma: float = 0.2
    rag_size: int = 5
    p_mirror: float = 0.4
    n_neighbors: int | None = None
    means: Any = None
    covariances: Any = None
    init_weights: Any = None
    init_rag: Any = None
    eps: float = DEFAULT_EPS
    update: str = "synchronous"
    rag_replacement: str = "farthest"
    update_covariances: bool = False
    volume_preserving: bool = False
    min_sd: float = 0.01
    graph: Any = None
    tie_break: str = "index"

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        n = _int("n_agents", self.n_agents, 2)
        set_("n_agents", n)

        # means and K
        if self.means is None:
            K = n if self.n_components is None else _int("n_components", self.n_components, 1)
            means = np.arange(K, dtype=np.float64)[:, None]
        else:
            means = _array("means", self.means, (1, 2))
            if means.ndim == 1:
                means = means[:, None]
            if means.shape[0] < 1 or means.shape[1] < 1:
                raise ValueError(f"means must be non-empty with shape (K,) or (K, d); got shape {means.shape}")
            K = means.shape[0]
            if self.n_components is not None:
                kk = _int("n_components", self.n_components, 1)
                if kk != K:
                    raise ValueError(f"n_components must equal len(means) = {K}; got {kk}")
        means.setflags(write=False)
        set_("means", means)
        set_("n_components", K)
        d = means.shape[1]

        sigma = _float("sigma", self.sigma)
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0; got {sigma}")
        if not SD_MIN <= sigma <= SD_MAX:
            raise ValueError(f"sigma must be in [{SD_MIN:g}, {SD_MAX:g}] (sigma**2 must be a representable "
                             f"variance); got {sigma}")
        set_("sigma", sigma)

        # covariances -> always stored as full (K, d, d)
        if self.covariances is None:
            cov = np.broadcast_to(np.eye(d) * sigma**2, (K, d, d)).copy()
        else:
            raw = _array("covariances", self.covariances, (1, 2, 3))
            if raw.ndim == 1:
                if d != 1 or raw.shape != (K,):
                    raise ValueError(
                        f"covariances of shape (K,) are variances for d = 1 only; need shape ({K},) "
                        f"with d = 1, got shape {raw.shape} with d = {d}"
                    )
                raw = raw[:, None]
            if raw.ndim == 2:
                if raw.shape != (K, d):
                    raise ValueError(f"covariances (diagonal variances) must have shape ({K}, {d}); got {raw.shape}")
                if np.any(raw <= 0):
                    raise ValueError(f"covariances (variances) must be > 0; got minimum {raw.min()}")
                cov = np.zeros((K, d, d))
                idx = np.arange(d)
                cov[:, idx, idx] = raw
            else:
                if raw.shape != (K, d, d):
                    raise ValueError(f"covariances must have shape ({K}, {d}, {d}); got {raw.shape}")
                cov = raw
                if not np.allclose(cov, np.swapaxes(cov, 1, 2), rtol=1e-10, atol=1e-12):
                    asym = float(np.abs(cov - np.swapaxes(cov, 1, 2)).max())
                    raise ValueError(f"covariances must be symmetric matrices; got max |S - S^T| = {asym:.3g}")
            for c in range(K):
                try:
                    np.linalg.cholesky(cov[c])
                except np.linalg.LinAlgError:
                    raise ValueError(
                        f"covariances[{c}] must be positive definite; its smallest eigenvalue is "
                        f"{np.linalg.eigvalsh(cov[c]).min():.3g}"
                    ) from None
            eig = np.linalg.eigvalsh(cov)
            if eig.min() < SD_MIN**2 or eig.max() > SD_MAX**2:
                raise ValueError(f"covariances must have eigenvalues in [{SD_MIN**2:g}, {SD_MAX**2:g}] "
                                 f"(standard deviations in [{SD_MIN:g}, {SD_MAX:g}]); got "
                                 f"[{eig.min():.3g}, {eig.max():.3g}]")
        cov.setflags(write=False)
        set_("covariances", cov)

        r = _int("rag_size", self.rag_size, 1)
        set_("rag_size", r)
        p = _float("p_mirror", self.p_mirror)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p_mirror must be in [0, 1]; got {p}")
        set_("p_mirror", p)
        if self.n_neighbors is None:
            k = n - 1
        elif isinstance(self.n_neighbors, (list, tuple, np.ndarray)):
            ks = np.asarray(self.n_neighbors)
            if ks.ndim != 1 or ks.size < 1 or not np.issubdtype(ks.dtype, np.integer):
                raise ValueError(
                    f"n_neighbors must be an int or a 1-d integer schedule (one k per round); got {shown(self.n_neighbors)}"
                )
            bad = ks[(ks < 1) | (ks > n - 1)]
            if bad.size:
                raise ValueError(f"n_neighbors must be in [1, {n - 1}] in every round; got {int(bad[0])}")
            k = tuple(int(v) for v in ks)
        else:
            k = _int("n_neighbors", self.n_neighbors, 1, n - 1)
        set_("n_neighbors", k)

        eps = _float("eps", self.eps)
        if not 0.0 < eps <= 1e-3:
            raise ValueError(f"eps must be in (0, 1e-3]; got {eps}")
        set_("eps", eps)

        if self.init_weights is not None:
            w = _array("init_weights", self.init_weights, (2,))
            if w.shape != (n, K):
                raise ValueError(f"init_weights must have shape (n_agents, K) = ({n}, {K}); got {w.shape}")
            if np.any(w < 0):
                raise ValueError(f"init_weights must be >= 0; got minimum {w.min()}")
            sums = w.sum(axis=1)
            bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-8)
            if bad.size:
                raise ValueError(
                    f"init_weights rows must sum to 1 (the simplex); row {bad[0]} sums to {float(sums[bad[0]]):.12g}"
                )
            w.setflags(write=False)
            set_("init_weights", w)

        if self.init_rag is not None:
            rag = _array("init_rag", self.init_rag, (2, 3))
            if rag.ndim == 2 and d == 1:
                rag = rag[:, :, None]
            if rag.shape != (n, r, d):
                raise ValueError(f"init_rag must have shape (n_agents, rag_size, d) = ({n}, {r}, {d}); got {rag.shape}")
            rag.setflags(write=False)
            set_("init_rag", rag)

        if self.update not in _UPDATES:
            raise ValueError(f"update must be one of {_UPDATES}; got {self.update!r}")
        if self.rag_replacement not in _REPLACEMENTS:
            raise ValueError(f"rag_replacement must be one of {_REPLACEMENTS}; got {self.rag_replacement!r}")
        if self.tie_break not in _TIE_BREAKS:
            raise ValueError(f"tie_break must be one of {_TIE_BREAKS}; got {self.tie_break!r}")
        for flag in ("update_covariances", "volume_preserving"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise TypeError(f"{flag} must be a bool; got {shown(getattr(self, flag))}")
            set_(flag, bool(getattr(self, flag)))
        if self.volume_preserving and not self.update_covariances:
            raise ValueError("volume_preserving=True requires update_covariances=True")
        min_sd = _float("min_sd", self.min_sd)
        if min_sd <= 0:
            raise ValueError(f"min_sd must be > 0; got {min_sd}")
        if not SD_MIN <= min_sd <= SD_MAX:
            raise ValueError(f"min_sd must be in [{SD_MIN:g}, {SD_MAX:g}]; got {min_sd}")
        set_("min_sd", min_sd)

        # dense input stays a read-only bool ndarray; scipy.sparse / networkx input becomes a SparseGraph (CSR)
        set_("graph", validate_graph(self.graph, n))

    # ------------------------------------------------------------------ helpers
    @property
    def dim(self) -> int:
        """Dimension d of the data space."""
        return self.means.shape[1]

    @property
    def isotropic_sigma(self) -> bool:
        """True when every component has covariance ``sigma**2 I`` (from ``sigma``)."""
        d = self.dim
        return bool(np.array_equal(self.covariances, np.broadcast_to(np.eye(d) * self.sigma**2, self.covariances.shape)))

    def initial_weights(self) -> np.ndarray:
        """The initial weight matrix (n, K) (a fresh, writable copy)."""
        if self.init_weights is not None:
            return np.array(self.init_weights)
        n, K, eps = self.n_agents, self.n_components, self.eps
        # As the authors' code: exactly 1-eps on the chosen component and eps/K
        # elsewhere (rows sum to 1 - eps/K, which every EM step renormalises).
        w = np.full((n, K), eps / K)
        w[np.arange(n), np.arange(n) % K] = 1.0 - eps
        return w

    def check_graph_steps(self, steps: int) -> None:
        """Raise if a per-round graph or k schedule is shorter than ``steps`` rounds."""
        if self.graph is not None and self.graph.ndim == 3 and self.graph.shape[0] < steps:
            raise ValueError(
                f"graph schedule must have at least steps = {steps} entries on its first axis; "
                f"got {self.graph.shape[0]}"
            )
        if isinstance(self.n_neighbors, tuple) and len(self.n_neighbors) < steps:
            raise ValueError(
                f"n_neighbors schedule must have at least steps = {steps} entries; got {len(self.n_neighbors)}"
            )

    def neighbors_at(self, t: int) -> int:
        """k in round t (the schedule's entry, or the constant k)."""
        return self.n_neighbors[t] if isinstance(self.n_neighbors, tuple) else self.n_neighbors

    def replace(self, **changes) -> "SimulationConfig":
        """A copy with some fields changed (validated again).

        Values that were derived from others keep following them unless set
        explicitly: k = n - 1 (no restriction) and the default means
        0..n-1 follow a new ``n_agents``; covariances built from ``sigma``
        follow a new ``sigma`` or new means.
        """
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        n_old = self.n_agents
        if "n_agents" in changes:
            if "n_neighbors" not in changes and self.n_neighbors == n_old - 1:
                fields["n_neighbors"] = None
            default_means = self.n_components == n_old and np.array_equal(
                self.means, np.arange(n_old, dtype=np.float64)[:, None])
            if default_means and "means" not in changes and "n_components" not in changes:
                fields["means"] = None
                fields["n_components"] = None
                changes_means = True
            else:
                changes_means = "means" in changes
        else:
            changes_means = "means" in changes
        if "means" in changes and "n_components" not in changes:
            fields["n_components"] = None
        if (changes_means or "sigma" in changes or "n_components" in changes) and "covariances" not in changes \
                and self.isotropic_sigma:
            fields["covariances"] = None
        if "n_components" in changes and "means" not in changes and np.array_equal(
                self.means, np.arange(self.n_components, dtype=np.float64)[:, None]):
            fields["means"] = None
        fields.update(changes)
        return SimulationConfig(**fields)

    def to_dict(self, *, graph_inline: bool = True) -> dict:
        """JSON-friendly representation (arrays as nested lists).

        A :class:`~gmmproxy.topology.SparseGraph` becomes ``{"format": "csr", "n_agents",
        "schedule", "indptr", "indices"}`` (the constructor reads it back); with
        ``graph_inline=False`` its arrays are left out (``"stored": "arrays"``: the caller stores
        them, as ``Trajectory.save`` does).
        """
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, SparseGraph):
                out[f.name] = v.to_dict() if graph_inline else {
                    "format": "csr", "stored": "arrays", "n_agents": v.n_agents, "schedule": v.is_schedule}
            else:
                out[f.name] = v.tolist() if isinstance(v, np.ndarray) else (list(v) if isinstance(v, tuple) else v)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> "SimulationConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown SimulationConfig fields: {sorted(unknown)}")
        return cls(**d)

    def __eq__(self, other):
        if not isinstance(other, SimulationConfig):
            return NotImplemented
        for f in dataclasses.fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, SparseGraph) or isinstance(b, SparseGraph):
                # the same graph in CSR or dense form is the same run
                if a is None or b is None or not (a == b if isinstance(a, SparseGraph) else b == a):
                    return False
            elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if a is None or b is None or not np.array_equal(a, b):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None

"""The single-agent-update Markov chain (spec Section 4), for any K and d.

State: ``m`` agents, each with a weight vector on the simplex over ``K``
shared Gaussian components (means ``(K, d)``, covariance ``sigma_c^2 I``) and
``r`` RAG points in ``R^d``. One step:

1. the updated agent ``i`` is uniform on ``{0..m-1}``;
2. the sender ``j`` is uniform on ``{0..m-1}`` (``j == i`` allowed), or, with
   ``n_neighbors = k``, uniform among the ``k`` agents nearest to ``i`` in
   Euclidean distance of weight vectors (``i`` excluded, ties to the lower index);
3. a point ``x`` is drawn from the sender's mixture;
4. ``x`` replaces the RAG point of ``i`` farthest from it (first index on ties);
5. ``w_i`` becomes one EM step ``(1/r) sum_h g_c(w_i, x_h)``, computed in log
   space and clipped to ``[eps, 1-eps]`` then renormalised (``eps = 0``: the
   exact chain of the theorems, no clipping).

Weights are carried as log weights so that poles as extreme as
``1 - 1e-44`` (the theory's thresholds at small sigma) are represented
exactly; ``ChainResult.weights`` gives them back as probabilities.

The paper's two-component case is ``means=None``: means ``(+1, -1)`` in one
dimension, weight index 0 is the +1 component. In that case the kernel can
also track the polarization events of spec Section 6 (``levels=...``).
"""
from __future__ import annotations

import numbers
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from gmmproxy._chunks import run_in_chunks
from gmmproxy._seeding import as_seed_sequence, replicate_states, seed_record, xoshiro_state
from gmmproxy._validation import check_int
from gmmproxy.polarization import log_thresholds
from gmmproxy._provenance import package_version as _package_version

_RECORDABLE = ("weights", "rag", "events")
_RAG_MODES = {"mixture": 1, "windows": 2}


@dataclass(frozen=True, kw_only=True)
class ChainConfig:
    """Parameters of the Markov chain (validated on construction).

    Parameters
    ----------
    n_agents : int
        Number of agents m >= 2.
    sigma : float or array_like of shape (K,)
        Component standard deviation(s), > 0. Covariance ``sigma_c^2 I``.
    rag_size : int
        RAG size r >= 1.
    means : array_like of shape (K, d), optional
        Component means, K >= 2. ``None`` (default) is the paper's case
        ``[[+1], [-1]]``.
    n_neighbors : int, optional
        k in ``[1, m-1]``: the sender is uniform among the k nearest agents
        (k-restricted communication). ``None`` (default): the sender is uniform
        over all m agents, the updated agent included.
    eps : float
        Weight clip in ``[0, 0.5)``; default 1e-12 (the paper's value).
        ``0`` disables clipping (the exact chain of the theorems).
    """

    n_agents: int
    sigma: object
    rag_size: int
    means: object = None
    n_neighbors: int | None = None
    eps: float = 1e-12
    sigmas: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        m = check_int("n_agents", self.n_agents, 2)
        r = check_int("rag_size", self.rag_size, 1)
        k = check_int("n_neighbors", self.n_neighbors, 1, m - 1, allow_none=True)
        if self.means is None:
            means = np.array([[1.0], [-1.0]])
        else:
            try:
                means = np.array(self.means, dtype=float)
            except (TypeError, ValueError):
                raise TypeError(f"means must be a (K, d) array of reals; got {self.means!r}") from None
            if means.ndim == 1:
                means = means[:, None]
            if means.ndim != 2 or means.shape[0] < 2 or means.shape[1] < 1:
                raise ValueError(f"means must have shape (K, d) with K >= 2, d >= 1; got shape {means.shape}")
            if not np.all(np.isfinite(means)):
                raise ValueError("means must be finite; found NaN or infinity")
        n_comp = means.shape[0]
        if isinstance(self.sigma, (str, bytes)):
            raise TypeError(f"sigma must be a positive number or K positive numbers; got {self.sigma!r}")
        try:
            sig = np.array(self.sigma, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f"sigma must be a positive number or K positive numbers; got {self.sigma!r}") from None
        if sig.ndim == 0:
            sig = np.full(n_comp, float(sig))
        if sig.shape != (n_comp,):
            raise ValueError(f"sigma must be a scalar or have shape ({n_comp},); got shape {sig.shape}")
        if not np.all(np.isfinite(sig)) or np.any(sig <= 0):
            raise ValueError(f"sigma must be > 0 and finite; got {self.sigma!r}")
        if isinstance(self.eps, (bool, np.bool_)) or not isinstance(self.eps, numbers.Real):
            raise TypeError(f"eps must be a real number in [0, 0.5); got {self.eps!r}")
        eps = float(self.eps)
        if not (0.0 <= eps < 0.5):
            raise ValueError(f"eps must be in [0, 0.5); got {self.eps!r}")
        means.setflags(write=False)
        sig.setflags(write=False)
        object.__setattr__(self, "n_agents", m)
        object.__setattr__(self, "rag_size", r)
        object.__setattr__(self, "n_neighbors", k)
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "sigmas", sig)
        object.__setattr__(self, "sigma", float(sig[0]) if np.all(sig == sig[0]) else sig)
        object.__setattr__(self, "eps", eps)

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def is_paper_case(self) -> bool:
        """True for the theorems' case: means (+1, -1) in 1-d with one common sigma."""
        return (
            self.means.shape == (2, 1)
            and self.means[0, 0] == 1.0
            and self.means[1, 0] == -1.0
            and self.sigmas[0] == self.sigmas[1]
        )

    def as_dict(self) -> dict:
        return {
            "n_agents": self.n_agents,
            "sigma": self.sigmas.tolist(),
            "rag_size": self.rag_size,
            "means": self.means.tolist(),
            "n_neighbors": self.n_neighbors,
            "eps": self.eps,
        }


@dataclass(frozen=True)
class ChainResult:
    """Output of :func:`simulate_chain` / :func:`simulate_chain_many`.

    Arrays of ``simulate_chain_many`` carry a leading replicate axis; those of
    ``simulate_chain`` do not.

    Attributes
    ----------
    log_weights : ndarray (..., m, K)
        Final log weights (exact near the poles).
    rag : ndarray (..., m, r, d)
        Final RAG points.
    trajectory_log_weights, trajectory_rag : ndarray or None
        States at steps 0..T when recorded (``record`` contains "weights"/"rag").
    updated, sender, draws : ndarray or None
        Per-step updated agent, sender and drawn point (``record`` contains "events").
    levels : tuple of int
        Levels whose events were tracked.
    hit_time : ndarray (..., L) of int or None
        First step t in 0..T at which E_l held, -1 if never.
    event_final : ndarray (..., L) of bool or None
        Whether E_l held after the last step.
    draws_in_window : ndarray (...) of bool or None
        Whether every one of the T draws fell in the sender's pole window
        (``A+`` if the sender's weight on +1 was >= 1/2, else ``A-``).
    interrupted : bool
        ``simulate_chain_many`` only: True when Ctrl-C stopped the batch; the
        arrays then hold the replicates finished before (``provenance
        ["replicates"]`` of the ``provenance["replicates_requested"]``).
    """

    config: ChainConfig
    steps: int
    log_weights: np.ndarray
    rag: np.ndarray
    trajectory_log_weights: np.ndarray | None
    trajectory_rag: np.ndarray | None
    updated: np.ndarray | None
    sender: np.ndarray | None
    draws: np.ndarray | None
    levels: tuple
    hit_time: np.ndarray | None
    event_final: np.ndarray | None
    draws_in_window: np.ndarray | None
    provenance: dict
    interrupted: bool = False

    @property
    def weights(self) -> np.ndarray:
        """Final weights as probabilities (``exp(log_weights)``)."""
        return np.exp(self.log_weights)


def _check_record(record):
    if record is None:
        return set()
    if isinstance(record, str):
        record = (record,)
    out = set()
    for item in record:
        if item not in _RECORDABLE:
            raise ValueError(f"record entries must be among {_RECORDABLE}; got {item!r}")
        out.add(item)
    return out


def _check_levels(levels, cfg):
    if levels is None:
        return ()
    if isinstance(levels, numbers.Integral):
        levels = (levels,)
    out = tuple(check_int("levels", lv, 1) for lv in levels)
    if out and not cfg.is_paper_case:
        raise ValueError(
            "levels (polarization tracking) need the paper's two-component case: "
            "means=None (i.e. (+1, -1) in 1-d) and one common sigma"
        )
    return out


def default_log_weights(cfg: ChainConfig) -> np.ndarray:
    """The default start: agent i certain of component ``i mod K``, smoothed.

    Weights ``(1 - e) e_c + (e / K) 1`` with ``e = cfg.eps`` (or 1e-12 when
    ``eps = 0``, since a weight of exactly 0 could never move).
    """
    e = cfg.eps if cfg.eps > 0 else 1e-12
    m, n_comp = cfg.n_agents, cfg.n_components
    lw = np.full((m, n_comp), np.log(e / n_comp))
    lw[np.arange(m), np.arange(m) % n_comp] = np.log1p(-e + e / n_comp)
    return lw


def _check_init_log_weights(cfg, init_weights, init_log_weights):
    m, n_comp = cfg.n_agents, cfg.n_components
    if init_weights is not None and init_log_weights is not None:
        raise ValueError("give init_weights or init_log_weights, not both")
    if init_weights is None and init_log_weights is None:
        return default_log_weights(cfg)
    if init_weights is not None:
        w = np.asarray(init_weights, dtype=float)
        if w.shape != (m, n_comp):
            raise ValueError(f"init_weights must have shape ({m}, {n_comp}); got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("init_weights must be finite and >= 0")
        sums = w.sum(axis=1)
        if np.any(np.abs(sums - 1.0) > 1e-9):
            bad = int(np.argmax(np.abs(sums - 1.0)))
            raise ValueError(f"init_weights rows must sum to 1 (within 1e-9); row {bad} sums to {float(sums[bad]):.12g}")
        with np.errstate(divide="ignore"):
            lw = np.log(w)
    else:
        lw = np.array(init_log_weights, dtype=float)
        if lw.shape != (m, n_comp):
            raise ValueError(f"init_log_weights must have shape ({m}, {n_comp}); got {lw.shape}")
        if np.any(np.isnan(lw)) or np.any(lw > 0) or np.any(lw == np.inf):
            raise ValueError("init_log_weights must be <= 0 (log of weights in [0, 1]) and not NaN")
        with np.errstate(divide="ignore"):
            # sum of exp written as logsumexp so a row (-1e-44, -100) checks correctly
            lse = np.logaddexp.reduce(lw, axis=1)
        if np.any(np.abs(lse) > 1e-9):
            bad = int(np.argmax(np.abs(lse)))
            raise ValueError(
                f"init_log_weights rows must be log weights summing to 1 (logsumexp within 1e-9 of 0); "
                f"row {bad} has logsumexp {float(lse[bad]):.6g}"
            )
    if np.any(np.all(lw == -np.inf, axis=1)):
        raise ValueError("every agent needs a positive weight on some component")
    return np.ascontiguousarray(lw)


def _check_init_rag(cfg, init_rag, lw):
    m, r, d = cfg.n_agents, cfg.rag_size, cfg.dim
    if init_rag is None:
        init_rag = "mixture"
    if isinstance(init_rag, str):
        if init_rag not in _RAG_MODES:
            raise ValueError(f"init_rag must be an array or one of {sorted(_RAG_MODES)}; got {init_rag!r}")
        if init_rag == "windows" and not cfg.is_paper_case:
            raise ValueError("init_rag='windows' needs the paper's two-component case (means=None)")
        return np.zeros((m, r, d)), _RAG_MODES[init_rag]
    rag = np.array(init_rag, dtype=float)
    if d == 1 and rag.shape == (m, r):
        rag = rag[:, :, None]
    if rag.shape != (m, r, d):
        raise ValueError(f"init_rag must have shape ({m}, {r}, {d}); got {rag.shape}")
    if not np.all(np.isfinite(rag)):
        raise ValueError("init_rag must be finite; found NaN or infinity")
    return np.ascontiguousarray(rag), 0


def _run(cfg, steps, states, seed_ss, init_weights, init_log_weights, init_rag, record, levels):
    from gmmproxy._kernels.chain import run_many

    if not isinstance(cfg, ChainConfig):
        raise TypeError(f"cfg must be a ChainConfig; got {type(cfg).__name__}")
    steps = check_int("steps", steps, 0)
    rec = _check_record(record)
    levels = _check_levels(levels, cfg)
    lw0 = _check_init_log_weights(cfg, init_weights, init_log_weights)
    rag0, rag_mode = _check_init_rag(cfg, init_rag, lw0)
    n_rep = states.shape[0]
    m, n_comp, r, d = cfg.n_agents, cfg.n_components, cfg.rag_size, cfg.dim
    n_lev = len(levels)
    track = n_lev > 0
    log_deltas = np.array([log_thresholds(cfg.sigmas[0], lv) for lv in levels], dtype=float)
    if cfg.eps > 0:
        # Once updated, an agent's minority weight is clipped to at least eps, so with
        # eps >= delta_l the event E_l can never hold after the first update: the result
        # would read "probability 0" for a reason that has nothing to do with the dynamics.
        for lv, ld in zip(levels, log_deltas):
            if np.log(cfg.eps) >= ld:
                shown = f"{np.exp(ld):.3g}" if ld > -700 else f"exp({ld:.6g})"
                raise ValueError(
                    f"eps = {cfg.eps:g} is >= delta_{lv} = {shown} (the level-{lv} threshold at "
                    f"sigma = {cfg.sigmas[0]:g}): weights clipped to [eps, 1-eps] can never be level-{lv} "
                    f"polarized; use ChainConfig(eps=0) (the exact chain of the theorems) or eps < delta_{lv}"
                )
    ts = steps + 1
    out_lw = np.empty((n_rep, m, n_comp))
    out_rag = np.empty((n_rep, m, r, d))
    rec_lw = np.empty((n_rep, ts if "weights" in rec else 0, m, n_comp))
    rec_rag = np.empty((n_rep, ts if "rag" in rec else 0, m, r, d))
    ne = steps if "events" in rec else 0
    rec_i = np.empty((n_rep, ne), dtype=np.int64)
    rec_j = np.empty((n_rep, ne), dtype=np.int64)
    rec_x = np.empty((n_rep, ne, d))
    hit = np.full((n_rep, n_lev), -1, dtype=np.int64)
    fin = np.zeros((n_rep, n_lev), dtype=np.bool_)
    inwin = np.zeros(n_rep, dtype=np.bool_)
    log_eps = np.log(cfg.eps) if cfg.eps > 0 else -np.inf
    log_1m_eps = np.log1p(-cfg.eps)
    t0 = time.perf_counter()
    compile_s = run_many(states, lw0, rag0, np.ascontiguousarray(cfg.means), np.ascontiguousarray(cfg.sigmas),
                         steps, cfg.n_neighbors or 0, log_eps, log_1m_eps, rag_mode, log_deltas, track,
                         out_lw, out_rag, rec_lw, rec_rag, rec_i, rec_j, rec_x, hit, fin, inwin)
    # compiling the kernel (first run only) is not part of the wall time
    wall = time.perf_counter() - t0 - compile_s
    prov = {
        "config": cfg.as_dict(),
        "steps": steps,
        "seed": seed_record(seed_ss),
        "replicates": n_rep,
        "init": "default" if init_weights is None and init_log_weights is None else "given",
        "init_rag": init_rag if isinstance(init_rag, str) or init_rag is None else "given",
        "version": _package_version(),
        "wall_time_s": wall,
    }
    return dict(
        config=cfg, steps=steps, log_weights=out_lw, rag=out_rag,
        trajectory_log_weights=rec_lw if "weights" in rec else None,
        trajectory_rag=rec_rag if "rag" in rec else None,
        updated=rec_i if "events" in rec else None,
        sender=rec_j if "events" in rec else None,
        draws=rec_x if "events" in rec else None,
        levels=levels,
        hit_time=hit if track else None,
        event_final=fin if track else None,
        draws_in_window=inwin if track else None,
        provenance=prov,
    )


def simulate_chain(cfg, steps, seed, init_weights=None, init_rag=None, *, init_log_weights=None,
                   record=(), levels=None) -> ChainResult:
    """Run one chain for ``steps`` steps.

    Parameters
    ----------
    cfg : ChainConfig
    steps : int
        Number of chain steps T >= 0 (one agent updated per step).
    seed : int or numpy.random.SeedSequence
        The run's seed. ``simulate_chain_many(cfg, T, R, s)`` replicate r equals
        ``simulate_chain(cfg, T, replicate_seed(s, r))``.
    init_weights : array_like (m, K), optional
        Initial weights (rows on the simplex). Default: agent i certain of
        component ``i mod K``, smoothed by eps (see :func:`default_log_weights`).
    init_rag : array_like (m, r, d) or str, optional
        Initial RAG points; ``"mixture"`` (default) samples each agent's RAG
        from its own mixture; ``"windows"`` (paper case only) draws them
        uniformly in the window (``A+`` or ``A-``) of the agent's pole.
    init_log_weights : array_like (m, K), optional
        Initial weights given as logs (for poles closer to 1 than float64 resolves).
    record : iterable of {"weights", "rag", "events"}
        What to keep per step; by default only the final state (memory O(m r d)).
    levels : int or iterable of int, optional
        Track the polarization events E_l (paper case only): hitting times,
        final-state events and whether every draw fell in the sender's window.

    Returns
    -------
    ChainResult
    """
    ss = as_seed_sequence(seed)
    states = xoshiro_state(ss)[None, :].copy()
    res = _run(cfg, steps, states, ss, init_weights, init_log_weights, init_rag, record, levels)
    for key in ("log_weights", "rag", "trajectory_log_weights", "trajectory_rag", "updated",
                "sender", "draws", "hit_time", "event_final", "draws_in_window"):
        if res[key] is not None:
            res[key] = res[key][0]
    return ChainResult(**res)


def simulate_chain_many(cfg, steps, replicates, seed, init_weights=None, init_rag=None, *,
                        init_log_weights=None, record=(), levels=None, progress=None,
                        chunk_size=None) -> ChainResult:
    """Run ``replicates`` independent chains in parallel (blocks of replicates on threads).

    Replicate r uses the seed ``replicate_seed(seed, r)``; results do not depend
    on the number of threads. All replicates start from the same weights; RAGs
    drawn by ``init_rag="mixture"``/``"windows"`` are drawn per replicate.
    Parameters as in :func:`simulate_chain`; outputs carry a leading axis of
    length ``replicates``. ``progress`` shows a bar on stderr (default: when
    stderr is a terminal); ``chunk_size`` replicates run per kernel call (the
    granularity of the bar and of Ctrl-C, which keeps the finished chunks and
    sets ``interrupted``; results do not depend on it).
    """
    replicates = check_int("replicates", replicates, 1)
    if progress is None:
        progress = sys.stderr.isatty()
    ss = as_seed_sequence(seed)
    if chunk_size is None:
        # about 2e5 agent updates per kernel call (a fraction of a second), so the bar
        # moves and Ctrl-C is answered promptly; the result does not depend on it
        chunk_size = max(1, min(replicates, 200_000 // max(1, int(steps) if isinstance(steps, int) else 1)))
    else:
        chunk_size = check_int("chunk_size", chunk_size, 1)
    # validate everything once before any work (the first chunk would, but only after seeding)
    _run(cfg, steps, replicate_states(ss, 1)[:0], ss, init_weights, init_log_weights, init_rag, record, levels)
    parts, done, interrupted = run_in_chunks(
        replicates, chunk_size,
        lambda start, count: _run(cfg, steps, replicate_states(ss, count, start=start), ss, init_weights,
                                  init_log_weights, init_rag, record, levels),
        label="chains", progress=progress, what="simulate_chain_many")
    if not parts:
        parts.append(_run(cfg, steps, replicate_states(ss, 1)[:0], ss, init_weights, init_log_weights,
                          init_rag, record, levels))
    out = dict(parts[0])
    for key in ("log_weights", "rag", "trajectory_log_weights", "trajectory_rag", "updated", "sender",
                "draws", "hit_time", "event_final", "draws_in_window"):
        if out[key] is not None:
            out[key] = np.concatenate([p[key] for p in parts], axis=0)
    prov = dict(out["provenance"])
    prov["replicates"] = done
    prov["replicates_requested"] = replicates
    prov["wall_time_s"] = sum(p["provenance"]["wall_time_s"] for p in parts)
    out["provenance"] = prov
    return ChainResult(**out, interrupted=interrupted)


__all__ = ["ChainConfig", "ChainResult", "simulate_chain", "simulate_chain_many", "default_log_weights"]

"""Run simulations: :func:`simulate` (one run) and :func:`simulate_many` (a batch).

Private module (the package root re-exports both functions), so that the function
``gmmproxy.simulate`` shadows no module.

The Python front validates, seeds and allocates; the Numba kernels in
``gmmproxy._kernels.sweep`` do the work. Replicate ``r`` of
``simulate_many(cfg, T, R, seed)`` equals ``simulate(cfg, T,
seed=replicate_seed(seed, r))`` exactly, whatever the thread count.
"""
from __future__ import annotations

import numbers
import sys
import time
import warnings

import numpy as np

from gmmproxy._seeding import as_seed_sequence, replicate_states, seed_record, xoshiro_state
from gmmproxy.config import SimulationConfig
from gmmproxy.trajectory import Ensemble, Trajectory
from gmmproxy._provenance import package_version as _version

__all__ = ["simulate", "simulate_many", "RECORD_MODES"]

RECORD_MODES = ("weights", "silos", "metrics")
_ENGINES = ("numba", "reference")


def _check_common(cfg, steps, record, weights_dtype):
    if not isinstance(cfg, SimulationConfig):
        raise TypeError(f"cfg must be a gmmproxy.SimulationConfig; got {type(cfg).__name__}")
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, numbers.Integral):
        raise TypeError(f"steps must be an integer; got {steps!r}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0; got {steps}")
    if record not in RECORD_MODES:
        raise ValueError(f"record must be one of {RECORD_MODES}; got {record!r}")
    dt = np.dtype(weights_dtype)
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"weights_dtype must be float64 or float32; got {dt}")
    cfg.check_graph_steps(int(steps))
    return int(steps), dt


def _kernel_inputs(cfg: SimulationConfig):
    """Arrays the kernels need, derived once from the validated config."""
    chol = np.linalg.cholesky(cfg.covariances)
    half_logdet = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    W0 = cfg.initial_weights()
    if cfg.init_rag is not None:
        R0 = np.array(cfg.init_rag, dtype=np.float64)
        sample_rag = False
    else:
        R0 = np.zeros((cfg.n_agents, cfg.rag_size, cfg.dim))
        sample_rag = True
    if cfg.graph is None:
        graph = np.ones((1, cfg.n_agents, cfg.n_agents), dtype=np.bool_)
        use_graph = False
    else:
        graph = cfg.graph if cfg.graph.ndim == 3 else cfg.graph[None]
        graph = np.ascontiguousarray(graph, dtype=np.bool_)
        use_graph = True
    return dict(
        W0=W0, R0=R0, sample_rag=sample_rag, mu=np.ascontiguousarray(cfg.means), chol=chol,
        half_logdet=half_logdet, p=cfg.p_mirror,
        k=np.atleast_1d(np.asarray(cfg.n_neighbors, dtype=np.int64)), eps=cfg.eps,
        sequential=cfg.update == "sequential", fifo=cfg.rag_replacement == "fifo",
        use_graph=use_graph, graph=graph,
    )


def _silo_dtype(cfg):
    return np.int16 if cfg.n_components <= np.iinfo(np.int16).max else np.int32


def _alloc(cfg, steps, R, record, wdt):
    n, K, r, d = cfg.n_agents, cfg.n_components, cfg.rag_size, cfg.dim
    T1 = steps + 1
    rec_w = np.zeros((R, T1, n, K) if record == "weights" else (1, 1, 1, 1), dtype=wdt)
    rec_s = np.zeros((R, T1, n) if record in ("weights", "silos") else (1, 1, 1), dtype=_silo_dtype(cfg))
    alg2 = cfg.update_covariances
    rec_sd = np.zeros((R, T1, n, K, d, d) if (alg2 and record == "weights") else (1, 1, 1, 1, 1, 1))
    nsil = np.zeros((R, T1), dtype=np.int32)
    nsw = np.zeros((R, T1), dtype=np.int32)
    fs = np.zeros((R, n), dtype=_silo_dtype(cfg))
    frag = np.zeros((R, n, r, d))
    return rec_w, rec_s, rec_sd, nsil, nsw, fs, frag


def _run_kernel(cfg, steps, states, record, wdt, parallel):
    from gmmproxy._kernels import sweep

    kin = _kernel_inputs(cfg)
    R = states.shape[0]
    rec_w, rec_s, rec_sd, nsil, nsw, fs, frag = _alloc(cfg, steps, R, record, wdt)
    mode = {"weights": sweep.REC_WEIGHTS, "silos": sweep.REC_SILOS, "metrics": sweep.REC_METRICS}[record]
    common = (kin["W0"], kin["R0"], kin["sample_rag"], kin["mu"], kin["chol"], kin["half_logdet"],
              kin["p"], kin["k"], kin["eps"], kin["sequential"], kin["fifo"], kin["use_graph"],
              kin["graph"], steps)
    if cfg.update_covariances:
        extra = (cfg.min_sd**2, cfg.volume_preserving)
        if parallel:
            sweep.run_batch_alg2(states, *common, *extra, mode, rec_w, rec_s, rec_sd, nsil, nsw, fs, frag)
        else:
            for b in range(R):
                sweep.run_alg2(states[b], *common, *extra, mode, rec_w[b if mode == 0 else 0],
                               rec_s[b if mode <= 1 else 0], rec_sd[b if mode == 0 else 0],
                               nsil[b], nsw[b], fs[b], frag[b])
    else:
        if parallel:
            sweep.run_batch_alg1(states, *common, mode, rec_w, rec_s, nsil, nsw, fs, frag)
        else:
            for b in range(R):
                sweep.run_alg1(states[b], *common, mode, rec_w[b if mode == 0 else 0],
                               rec_s[b if mode <= 1 else 0], nsil[b], nsw[b], fs[b], frag[b])
    cov = None
    if cfg.update_covariances and record == "weights":
        cov = rec_sd @ np.swapaxes(rec_sd, -1, -2)
    return dict(
        weights=rec_w if record == "weights" else None,
        silos=rec_s if record in ("weights", "silos") else None,
        covariances=cov, n_silos=nsil, n_switched=nsw, final_silos=fs, final_rag=frag,
    )


def simulate(cfg: SimulationConfig, steps: int = 100, seed=None, *, record: str = "weights",
             weights_dtype=np.float64, engine: str = "numba") -> Trajectory:
    """Simulate one run of interacting GMM agents (Algorithm 1, or 2 with ``update_covariances``).

    Parameters
    ----------
    cfg : SimulationConfig
        The population and the model variant.
    steps : int, default 100
        Number of rounds T (every agent acts once per round).
    seed : int, numpy.random.SeedSequence or None
        ``None`` draws fresh entropy (recorded in ``Trajectory.seed``).
    record : {"weights", "silos", "metrics"}
        What to keep per step: all weights (and silos); silo labels only; or
        only N(t) and the number of switching agents.
    weights_dtype : {numpy.float64, numpy.float32}
        Storage type of recorded weights (computation is always float64).
    engine : {"numba", "reference"}
        ``"reference"`` runs the plain-NumPy engine that consumes
        ``numpy.random.default_rng(seed)`` in the authors' order (slow; no
        graphs; always records weights).

    Returns
    -------
    Trajectory
    """
    steps, wdt = _check_common(cfg, steps, record, weights_dtype)
    if engine not in _ENGINES:
        raise ValueError(f"engine must be one of {_ENGINES}; got {engine!r}")
    ss = as_seed_sequence(seed)
    t0 = time.perf_counter()
    if engine == "reference":
        from gmmproxy.metrics import silo_ids
        from gmmproxy.reference import simulate_reference

        ref_seed = seed if seed is not None else ss
        out = simulate_reference(cfg, steps, ref_seed)
        silos = silo_ids(out["weights"]).astype(_silo_dtype(cfg))
        changed = np.zeros(steps + 1, dtype=np.int32)
        changed[1:] = (silos[1:] != silos[:-1]).sum(axis=1)
        from gmmproxy.metrics import n_silos

        res = dict(weights=out["weights"].astype(wdt), silos=silos, covariances=out["covariances"],
                   n_silos=n_silos(silos).astype(np.int32), n_switched=changed,
                   final_silos=silos[-1].copy(), final_rag=out["rag"])
        seed_rec = {"reference_seed": seed if isinstance(seed, numbers.Integral) else None,
                    **seed_record(ss)}
    else:
        states = xoshiro_state(ss)[None, :].copy()
        res = _run_kernel(cfg, steps, states, record, wdt, parallel=False)
        res = {k: (v[0] if v is not None else None) for k, v in res.items()}
        seed_rec = seed_record(ss)
    wall = time.perf_counter() - t0
    return Trajectory(config=cfg, steps=steps, seed=seed_rec, version=_version(), engine=engine,
                      wall_time=wall, **res)


def _default_chunk(cfg, steps, replicates):
    # aim at ~2e6 agent updates (about half a second) per chunk, so that the
    # progress bar moves and Ctrl-C is honoured promptly
    per_rep = max(1, steps * cfg.n_agents * (4 if cfg.update_covariances else 1))
    return int(max(1, min(replicates, 2_000_000 // per_rep)))


def simulate_many(cfg: SimulationConfig, steps: int = 80, replicates: int = 100, seed=None, *,
                  record: str = "silos", weights_dtype=np.float64, progress: bool | None = None,
                  chunk_size: int | None = None, n_threads: int | None = None) -> Ensemble:
    """Simulate independent replicates of one configuration, in parallel.

    Replicate ``r`` uses the seed ``gmmproxy.replicate_seed(seed, r)``, so it
    equals ``simulate(cfg, steps, replicate_seed(seed, r), record=...)`` and
    the results do not depend on the number of threads.

    Parameters
    ----------
    cfg : SimulationConfig
    steps : int, default 80
        Rounds per replicate.
    replicates : int, default 100
        Number of replicates (>= 1).
    seed : int, numpy.random.SeedSequence or None
    record : {"silos", "weights", "metrics"}
        Per-step storage; "metrics" keeps only N(t) and switch counts
        (memory O(R T)) for very large batches.
    weights_dtype : {numpy.float64, numpy.float32}
    progress : bool, optional
        Show a progress bar on stderr (default: when stderr is a terminal).
    chunk_size : int, optional
        Replicates per kernel call (the granularity of progress and Ctrl-C).
    n_threads : int, optional
        Numba threads to use (default: Numba's setting, ``NUMBA_NUM_THREADS``).

    Returns
    -------
    Ensemble
        If interrupted with Ctrl-C, the replicates finished so far, with
        ``interrupted=True`` (a warning says how many).
    """
    steps, wdt = _check_common(cfg, steps, record, weights_dtype)
    if isinstance(replicates, (bool, np.bool_)) or not isinstance(replicates, numbers.Integral):
        raise TypeError(f"replicates must be an integer; got {replicates!r}")
    if replicates < 1:
        raise ValueError(f"replicates must be >= 1; got {replicates}")
    replicates = int(replicates)
    if chunk_size is None:
        chunk_size = _default_chunk(cfg, steps, replicates)
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an integer >= 1; got {chunk_size!r}")
    import numba

    if n_threads is not None:
        if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral) or not (
            1 <= n_threads <= numba.config.NUMBA_NUM_THREADS
        ):
            raise ValueError(
                f"n_threads must be an integer in [1, {numba.config.NUMBA_NUM_THREADS}]; got {n_threads!r}"
            )
    ss = as_seed_sequence(seed)
    if progress is None:
        progress = sys.stderr.isatty()

    t0 = time.perf_counter()
    parts = []
    done = 0
    interrupted = False
    old_threads = numba.get_num_threads()
    bar = None
    try:
        if n_threads is not None:
            numba.set_num_threads(int(n_threads))
        if progress:
            import click

            bar = click.progressbar(length=replicates, label="replicates", file=sys.stderr)
            bar.__enter__()
        while done < replicates:
            m = min(chunk_size, replicates - done)
            states = replicate_states(ss, m, start=done)
            parts.append(_run_kernel(cfg, steps, states, record, wdt, parallel=True))
            done += m
            if bar is not None:
                bar.update(m)
    except KeyboardInterrupt:
        interrupted = True
        warnings.warn(
            f"simulate_many interrupted: keeping the {done} of {replicates} replicates already finished",
            RuntimeWarning, stacklevel=2,
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        numba.set_num_threads(old_threads)
    wall = time.perf_counter() - t0

    def cat(key):
        if not parts or parts[0][key] is None:
            return None
        return np.concatenate([p[key] for p in parts], axis=0)

    n = cfg.n_agents
    empty = not parts
    return Ensemble(
        config=cfg, steps=steps,
        n_silos=cat("n_silos") if not empty else np.zeros((0, steps + 1), np.int32),
        n_switched=cat("n_switched") if not empty else np.zeros((0, steps + 1), np.int32),
        final_silos=cat("final_silos") if not empty else np.zeros((0, n), _silo_dtype(cfg)),
        silos=cat("silos"), weights=cat("weights"), replicates_requested=replicates,
        interrupted=interrupted, seed=seed_record(ss), version=_version(), engine="numba",
        wall_time=wall, record=record,
    )

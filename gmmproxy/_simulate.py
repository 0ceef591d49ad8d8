"""Run simulations: :func:`simulate` (one run) and :func:`simulate_many` (a batch).

Private module (the package root re-exports both functions), so that the function
``gmmproxy.simulate`` shadows no module.

The Python front validates, seeds and allocates; the Numba kernels in
``gmmproxy._kernels`` (``runner.py`` picks the variant) do the work. Replicate ``r`` of
``simulate_many(cfg, T, R, seed)`` equals ``simulate(cfg, T,
seed=replicate_seed(seed, r))`` exactly, whatever the thread count.
"""
from __future__ import annotations

import numbers
import sys
import time

import numpy as np

from gmmproxy._memory import check_simulation_memory
from gmmproxy._chunks import run_in_chunks
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


def _silo_dtype(cfg):
    from gmmproxy._kernels.runner import silo_dtype

    return silo_dtype(cfg)


def _run_kernel(cfg, steps, states, record, wdt, n_threads=1):
    """Run the replicates of ``states`` on the Numba kernels; returns (arrays, seconds spent compiling)."""
    from gmmproxy._kernels.runner import run_replicates

    return run_replicates(cfg, steps, states, record, wdt, n_threads)


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
    check_simulation_memory(cfg, steps, 1, record if engine == "numba" else "weights", wdt.itemsize)
    ss = as_seed_sequence(seed)
    t0 = time.perf_counter()
    compile_s = 0.0
    if engine == "reference":
        if cfg.tie_break != "index":
            raise ValueError(f"engine='reference' implements tie_break='index' only; got tie_break={cfg.tie_break!r}")
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
        res, compile_s = _run_kernel(cfg, steps, states, record, wdt)
        res = {k: (v[0] if v is not None else None) for k, v in res.items()}
        seed_rec = seed_record(ss)
    # compiling the kernels (first run only) is not part of the run's wall time
    wall = time.perf_counter() - t0 - compile_s
    return Trajectory(config=cfg, steps=steps, seed=seed_rec, version=_version(), engine=engine,
                      wall_time=wall, **res)


def _default_chunk(cfg, steps, replicates):
    # aim at ~2e6 agent updates (about half a second) per chunk, so that the
    # progress bar moves and Ctrl-C is honoured promptly
    per_rep = max(1, steps * cfg.n_agents * (4 if cfg.update_covariances else 1))
    return int(max(1, min(replicates, 2_000_000 // per_rep)))


def simulate_many(cfg: SimulationConfig, steps: int = 100, replicates: int = 100, seed=None, *,
                  record: str = "silos", weights_dtype=np.float64, progress: bool | None = None,
                  chunk_size: int | None = None, n_threads: int | None = None,
                  keep_final_rag: bool = False) -> Ensemble:
    """Simulate independent replicates of one configuration, in parallel.

    Replicate ``r`` uses the seed ``gmmproxy.replicate_seed(seed, r)``, so it
    equals ``simulate(cfg, steps, replicate_seed(seed, r), record=...)`` and
    the results do not depend on the number of threads.

    Parameters
    ----------
    cfg : SimulationConfig
    steps : int, default 100
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
        Threads to run replicates on (default: Numba's setting,
        ``numba.get_num_threads()``, i.e. ``NUMBA_NUM_THREADS``).
    keep_final_rag : bool, default False
        Keep every replicate's final RAG sets (``Ensemble.final_rag``, R x n
        x r x d floats). With ``update_covariances`` and ``record="weights"``
        the per-agent covariances are always kept (``Ensemble.covariances``).

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
    check_simulation_memory(cfg, steps, replicates, record, wdt.itemsize,
                            concurrent=min(chunk_size, n_threads or numba.config.NUMBA_NUM_THREADS))
    ss = as_seed_sequence(seed)
    if progress is None:
        progress = sys.stderr.isatty()

    if not isinstance(keep_final_rag, (bool, np.bool_)):
        raise TypeError(f"keep_final_rag must be True or False; got {keep_final_rag!r}")
    threads = int(n_threads) if n_threads is not None else numba.get_num_threads()

    t0 = time.perf_counter()
    compile_s = 0.0

    def run_chunk(start, count):
        nonlocal compile_s
        part, secs = _run_kernel(cfg, steps, replicate_states(ss, count, start=start), record, wdt, threads)
        compile_s += secs
        if not keep_final_rag:
            part["final_rag"] = None
        return part

    parts, done, interrupted = run_in_chunks(replicates, chunk_size, run_chunk, label="replicates",
                                             progress=progress, what="simulate_many")
    # compiling the kernels (first run only) is not part of the batch's wall time
    wall = time.perf_counter() - t0 - compile_s

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
        silos=cat("silos"), weights=cat("weights"), covariances=cat("covariances"),
        final_rag=cat("final_rag"), replicates_requested=replicates,
        interrupted=interrupted, seed=seed_record(ss), version=_version(), engine="numba",
        wall_time=wall, record=record,
    )

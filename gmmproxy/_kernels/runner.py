"""Python side of the simulation kernels: picks the model variant, reports compilation, runs replicates on threads.

:func:`run_replicates` turns a validated ``SimulationConfig`` into the named
structures of ``state.py``, compiles (or loads from the on-disk cache) the
one block function of ``rounds.py`` that the configuration needs -- saying
so on stderr when it really compiles, which happens once per machine and
package version -- and runs contiguous blocks of replicates on Python
threads (the block functions release the GIL). Each replicate owns its
random stream and its output rows, so the result is the same for any number
of threads. No Numba ``parallel=True`` (OpenMP) loop is involved, so nothing
here stops a later ``fork()``.
"""
from __future__ import annotations

import math
import sys
import threading
import time
import weakref
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from gmmproxy._graphs import SparseGraph, graph_mean_degree
from gmmproxy._kernels import rounds
from gmmproxy._kernels.em import EM_HULL_MIN_K
from gmmproxy._kernels.state import (
    Mixture,
    Records,
    Rules,
    Start,
    new_cov_population,
    new_cov_scratch,
    new_population,
    new_record_scratch,
    new_scratch,
)

RECORD_CODES = {"weights": rounds.REC_WEIGHTS, "silos": rounds.REC_SILOS, "metrics": rounds.REC_METRICS}

_notice_lock = threading.Lock()


class CompileNotice:
    """Context manager: while active, the start and the duration of every Numba compilation of a
    gmmproxy kernel are reported on stderr (cache loads are silent); ``seconds`` is the time spent."""

    def __init__(self, what: str, stream=None):
        self.what = what
        self.stream = stream if stream is not None else sys.stderr
        self.seconds = 0.0
        self._depth = 0
        self._t0 = 0.0

    def _on_start(self, event):
        disp = event.data.get("dispatcher") if isinstance(event.data, dict) else None
        mod = getattr(getattr(disp, "py_func", None), "__module__", "") or ""
        if not mod.startswith("gmmproxy"):
            return
        if self._depth == 0:
            self._t0 = time.perf_counter()
            print(f"gmmproxy: compiling the {self.what} kernels (first run only; later runs load them from "
                  f"the cache) ...", file=self.stream, flush=True)
        self._depth += 1

    def _on_end(self, event):
        disp = event.data.get("dispatcher") if isinstance(event.data, dict) else None
        mod = getattr(getattr(disp, "py_func", None), "__module__", "") or ""
        if not mod.startswith("gmmproxy") or self._depth == 0:
            return
        self._depth -= 1
        if self._depth == 0:
            dt = time.perf_counter() - self._t0
            self.seconds += dt
            print(f"gmmproxy: compiled in {dt:.1f} s", file=self.stream, flush=True)

    def __enter__(self):
        from numba.core import event

        outer = self

        class _Listener(event.Listener):
            def on_start(self, ev):
                outer._on_start(ev)

            def on_end(self, ev):
                outer._on_end(ev)

        self._listener = _Listener()
        event.register("numba:compile", self._listener)
        return self

    def __exit__(self, *exc):
        from numba.core import event

        event.unregister("numba:compile", self._listener)
        return False


def ensure_compiled(disp, args, what: str) -> float:
    """Compile ``disp`` for the types of ``args`` (or load it from the cache); returns the seconds spent."""
    return compiled_entry(disp, args, what)[1]


def compiled_entry(disp, args, what: str, key=None):
    """(entry point of ``disp`` for the types of ``args``, seconds spent compiling or loading it).

    The entry point is the compiled function for exactly that signature:
    calling it skips Numba's per-call type dispatch, which for the named
    structures (tuples of a dozen arrays) costs about half a millisecond.
    ``key``: a cheap hashable that determines the argument types, to skip
    computing them again on later calls.
    """
    import numba

    if key is not None and (disp, key) in _ENTRIES:
        return _ENTRIES[(disp, key)], 0.0
    sig = tuple(numba.typeof(a) for a in args)
    if sig in disp.overloads:
        entry, secs = disp.overloads[sig].entry_point, 0.0
    else:
        t0 = time.perf_counter()
        with _notice_lock, CompileNotice(what):
            entry = disp.compile(sig)
        secs = time.perf_counter() - t0
    if key is not None:
        _ENTRIES[(disp, key)] = entry
    return entry, secs


_ENTRIES: dict = {}


#: a graph whose mean out-degree is at most this fraction of n runs on the
#: sparse (CSR) path: per update it costs O(degree), not O(n), and the round
#: needs no n x n distance matrix
SPARSE_GRAPH_MAX_DENSITY = 0.125


def per_config(cfg, name: str, compute):
    """``compute(cfg)``, computed once per configuration object and kept while the object lives.

    A ``SimulationConfig`` is frozen and its arrays are read-only, so what the
    kernels need from it never changes; caching it takes the set-up (variant
    checks, Cholesky factors, the initial weights: about a third of a short
    run's cost) off every call after the first. The cache is keyed by the
    object's identity, removed when the object is collected, and never pickled
    (a Dask worker or a forked process builds its own). What is cached is only
    ever read by the kernels.
    """
    key = id(cfg)
    entry = _PER_CONFIG.get(key)
    if entry is None:
        try:
            # runs when cfg is collected, before its id can be reused
            weakref.finalize(cfg, _PER_CONFIG.pop, key, None)
        except TypeError:  # an object without weak references: nothing is cached
            return compute(cfg)
        entry = _PER_CONFIG.setdefault(key, {})
    try:
        return entry[name]
    except KeyError:
        value = entry[name] = compute(cfg)
        return value


_PER_CONFIG: dict[int, dict] = {}


def partner_of(cfg) -> int:
    """The partner kind of ``rounds`` that a configuration needs (all, kNN, dense graph, sparse graph)."""
    return per_config(cfg, "partner", _partner_of)


def _partner_of(cfg) -> int:
    graph = getattr(cfg, "graph", None)
    if graph is not None:
        # chosen from the graph, never from the form it was given in (dense array or SparseGraph):
        # the same graph must give the same run
        return rounds.PARTNER_SPARSE if graph_mean_degree(graph) <= SPARSE_GRAPH_MAX_DENSITY * cfg.n_agents \
            else rounds.PARTNER_GRAPH
    if np.min(np.atleast_1d(cfg.n_neighbors)) < cfg.n_agents - 1:
        return rounds.PARTNER_KNN
    return rounds.PARTNER_ALL


def variant_of(cfg) -> tuple[int, int]:
    """(density kind, partner kind) of ``rounds`` that a configuration needs."""
    return per_config(cfg, "variant", _variant_of)


def _variant_of(cfg) -> tuple[int, int]:
    K, d = cfg.n_components, cfg.dim
    partner = partner_of(cfg)
    if cfg.update_covariances or d > 1:
        return rounds.DENS_ND, partner
    sd = np.sqrt(np.asarray(cfg.covariances)[:, 0, 0])
    mu1 = np.asarray(cfg.means)[:, 0]
    banded = bool(np.all(sd == sd[0]) and (K == 1 or np.all(np.diff(mu1) >= 0)))
    return (rounds.DENS_BANDED if banded else rounds.DENS_1D), partner


def csr_of(graph: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indptr (G, n+1), indices (G, max nnz)) of a (G, n, n) boolean graph; columns ascending per row."""
    G, n, _ = graph.shape
    nnz = [int(np.count_nonzero(graph[t])) for t in range(G)]
    indptr = np.zeros((G, n + 1), dtype=np.int64)
    indices = np.zeros((G, max(1, max(nnz))), dtype=np.int64)
    for t in range(G):
        rows, cols = np.nonzero(graph[t])  # row-major: ascending columns within a row
        indptr[t, 1:] = np.cumsum(np.bincount(rows, minlength=n))
        indices[t, :cols.size] = cols
    return indptr, indices


def describe(cfg, variant=None) -> str:
    dens, partner = variant_of(cfg) if variant is None else variant
    alg = "Algorithm-2" if cfg.update_covariances else "Algorithm-1"
    wide = ", many components" if not cfg.update_covariances and wide_em(cfg) else ""
    return f"{alg} {rounds.DENSITY_NAMES[dens]} {rounds.PARTNER_NAMES[partner]}{wide}"


def mixture(cfg, dens=None) -> tuple[Mixture, np.ndarray]:
    """The shared-mixture structure of a configuration, and its half log-determinants.

    ``dens``: the density kind of ``variant_of(cfg)`` when already known.
    Vectorised (no Python loop over K): this runs on every ``simulate`` call,
    and at K = 300 the loops cost more than a short run's kernel.
    """
    chol = np.linalg.cholesky(cfg.covariances)
    half_logdet = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    K = chol.shape[0]
    # fresh writable copies: a read-only array would be a different Numba type (another compile)
    mu = np.array(cfg.means, dtype=np.float64, order="C")
    mu1 = mu[:, 0].copy()
    sd = np.ascontiguousarray(chol[:, 0, 0])
    inv_sd = 1.0 / sd  # IEEE division: the same bits as a scalar loop
    # math.log, not numpy.log (whose SIMD loop may differ in the last bit): the same libm call the kernels make
    log_sd = np.array([math.log(v) for v in sd.tolist()])
    inv_spacing = 0.0
    if dens is None:
        dens = variant_of(cfg)[0]
    if dens == rounds.DENS_BANDED and K > 1 and mu1[K - 1] > mu1[0]:
        # evenly spaced grid (to rounding): nearest mean by a division, not a search
        step = (mu1[K - 1] - mu1[0]) / (K - 1)
        if np.all(np.abs(mu1 - (mu1[0] + np.arange(K) * step)) <= 1e-9 * step):
            inv_spacing = 1.0 / step
    cutoff = 2.0 * math.log(cfg.eps) - 40.0  # gmm.density_cutoff
    return Mixture(mu, np.ascontiguousarray(chol), half_logdet, mu1, inv_sd, log_sd, float(inv_spacing),
                   float(cutoff), float(cfg.eps)), half_logdet


def rules_of(cfg, half_logdet, partner=None) -> Rules:
    n = cfg.n_agents
    kvec = np.atleast_1d(np.asarray(cfg.n_neighbors, dtype=np.int64))
    graph = getattr(cfg, "graph", None)
    dense = np.zeros((1, 1, 1), dtype=np.bool_)
    indptr = np.zeros((1, 2), dtype=np.int64)
    indices = np.zeros((1, 1), dtype=np.int64)
    if partner is None:
        partner = partner_of(cfg)
    if isinstance(graph, SparseGraph):
        if partner == rounds.PARTNER_SPARSE:
            # writable copies: a read-only array is another Numba type (another compile)
            indptr, indices = np.array(graph.indptr), np.array(graph.indices)
        else:
            # a graph this dense (mean degree > n/8) has n x n = O(n * degree) entries anyway
            dense = np.array(graph.to_dense().reshape(-1, n, n), dtype=np.bool_, order="C")
    elif graph is not None:
        g = np.array(graph if graph.ndim == 3 else graph[None], dtype=np.bool_, order="C")
        if partner == rounds.PARTNER_SPARSE:
            indptr, indices = csr_of(g)
        else:
            dense = g
    return Rules(float(cfg.p_mirror), kvec, cfg.update == "sequential", cfg.rag_replacement == "fifo",
                 getattr(cfg, "tie_break", "index") == "random", dense, indptr, indices,
                 float(cfg.min_sd) ** 2, bool(cfg.volume_preserving), 2.0 * half_logdet)


def start_of(cfg) -> Start:
    W0 = np.array(cfg.initial_weights(), dtype=np.float64, order="C")
    if cfg.init_rag is not None:
        return Start(W0, np.array(cfg.init_rag, dtype=np.float64, order="C"), False)
    return Start(W0, np.zeros((cfg.n_agents, cfg.rag_size, cfg.dim)), True)


def silo_dtype(cfg):
    return np.int16 if cfg.n_components <= 32767 else np.int32  # 32767: the largest int16


def allocate_outputs(cfg, steps, R, record, wdt) -> dict:
    n, K, r, d = cfg.n_agents, cfg.n_components, cfg.rag_size, cfg.dim
    T1 = steps + 1
    alg2 = cfg.update_covariances
    return dict(
        weights=np.zeros((R, T1, n, K) if record == "weights" else (1, 1, 1, 1), dtype=wdt),
        silos=np.zeros((R, T1, n) if record in ("weights", "silos") else (1, 1, 1), dtype=silo_dtype(cfg)),
        covs=np.zeros((R, T1, n, K, d, d) if (alg2 and record == "weights") else (1, 1, 1, 1, 1, 1)),
        n_silos=np.zeros((R, T1), dtype=np.int32),
        n_switched=np.zeros((R, T1), dtype=np.int32),
        final_silos=np.zeros((R, n), dtype=silo_dtype(cfg)),
        final_rag=np.zeros((R, n, r, d)),
    )


def _block_args(cfg, states, lo, hi, start, mix, rules, steps, mode, out, knn):
    n, K, r, d = cfg.n_agents, cfg.n_components, cfg.rag_size, cfg.dim
    prev, cur, seen = new_record_scratch(n, K)
    rec = Records(mode, out["weights"], out["silos"], out["covs"], out["n_silos"], out["n_switched"],
                  out["final_silos"], out["final_rag"], prev, cur, seen)
    scr = new_scratch(n, K, d, knn)
    if cfg.update_covariances:
        pop, nxt = new_cov_population(n, K, r, d), new_cov_population(n, K, r, d)
        return (states, lo, hi, start, mix, rules, steps, rec, pop, nxt, scr, new_cov_scratch(K, r, d))
    pop, nxt = new_population(n, K, r, d), new_population(n, K, r, d)
    return (states, lo, hi, start, mix, rules, steps, rec, pop, nxt, scr)


def wide_em(cfg) -> bool:
    """Whether Algorithm 1 takes its EM step for many components (``em.em_weights_wide``, same numbers)."""
    return cfg.n_components >= EM_HULL_MIN_K


def kernel_for(cfg):
    """The block function of ``rounds`` that runs a configuration."""
    dens, partner = variant_of(cfg)
    return rounds.alg2_kernel(partner) if cfg.update_covariances else \
        rounds.alg1_kernel(dens, partner, wide_em(cfg))


#: What the kernels take from a configuration, whatever the run: the variant
#: (density kind, partner kind), its block function ``fn`` and description
#: ``what``, the read-only ``Mixture``, ``Rules`` and ``Start``, and ``knn``
#: (whether the round needs the n x n distance scratch).
KernelInputs = namedtuple("KernelInputs", "variant fn what mix rules start knn")


def _kernel_inputs(cfg) -> KernelInputs:
    dens, partner = variant_of(cfg)
    fn = kernel_for(cfg)
    mix, half_logdet = mixture(cfg, dens)
    rules = rules_of(cfg, half_logdet, partner)
    return KernelInputs((dens, partner), fn, describe(cfg, (dens, partner)), mix, rules, start_of(cfg),
                        partner in (rounds.PARTNER_KNN, rounds.PARTNER_GRAPH))


def run_replicates(cfg, steps: int, states: np.ndarray, record: str, wdt, n_threads: int = 1):
    """Run ``states.shape[0]`` replicates; returns (outputs dict, seconds spent compiling or loading kernels).

    Replicate ``b`` uses the xoshiro state ``states[b]``. ``n_threads``
    contiguous blocks of replicates run concurrently.
    """
    R = states.shape[0]
    inputs = per_config(cfg, "kernel_inputs", _kernel_inputs)
    dens, partner = inputs.variant
    fn, mix, rules, start, knn = inputs.fn, inputs.mix, inputs.rules, inputs.start, inputs.knn
    mode = RECORD_CODES[record]
    out = allocate_outputs(cfg, steps, R, record, wdt)
    n_blocks = max(1, min(R, int(n_threads)))
    bounds = [(R * q) // n_blocks for q in range(n_blocks + 1)]
    first = _block_args(cfg, states, bounds[0], bounds[1], start, mix, rules, steps, mode, out, knn)
    # everything else about the argument types is fixed by the variant
    key = (out["weights"].dtype.str, out["silos"].dtype.str)
    entry, compile_s = compiled_entry(fn, first, inputs.what, key)
    if n_blocks == 1:
        entry(*first)
    else:
        def task(q):
            args = first if q == 0 else _block_args(cfg, states, bounds[q], bounds[q + 1], start, mix, rules,
                                                    steps, mode, out, knn)
            entry(*args)

        with ThreadPoolExecutor(max_workers=n_blocks, thread_name_prefix="gmmproxy") as pool:
            for f in [pool.submit(task, q) for q in range(n_blocks)]:
                f.result()
    if cfg.update_covariances and record == "weights":
        out["covariances"] = out["covs"] @ np.swapaxes(out["covs"], -1, -2)
    else:
        out["covariances"] = None
    del out["covs"]
    if record != "weights":
        out["weights"] = None
    if record not in ("weights", "silos"):
        out["silos"] = None
    return out, compile_s

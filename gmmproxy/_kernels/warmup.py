"""Ahead-of-time compilation of the kernel variants (``gmmproxy warmup``).

Each model variant (see ``rounds.py``) compiles the first time it is used
and is then loaded from Numba's on-disk cache (``cache.py``). Containers and
cluster workers that start from a fresh image can compile everything once,
at build time, with :func:`warmup`.
"""
from __future__ import annotations

import time

import numpy as np

from gmmproxy._kernels.em import EM_HULL_MIN_K

#: (name, SimulationConfig keyword arguments, record weights dtype) of the variants
#: compiled by default: what ``gmmproxy simulate`` / ``simulate --replicates``
#: and the paper's figures use
_DEFAULT = [
    ("Algorithm 1, 1-d, unrestricted (Figure 2, default)", {"n_agents": 6}, np.float64),
    ("Algorithm 1, 1-d, kNN (Figure 3)", {"n_agents": 6, "n_neighbors": 2}, np.float64),
]


def _ring(n: int) -> np.ndarray:
    """A ring of n agents: mean degree 2, so it runs on the sparse-graph (CSR) path once n >= 16."""
    g = np.zeros((n, n), dtype=bool)
    for i in range(n):
        g[i, (i - 1) % n] = g[i, (i + 1) % n] = True
    return g


def _all_variants():
    rs = np.random.default_rng(0)
    dims = [
        ("1-d banded", {}),
        ("1-d", {"means": [0.0, 1.0, 3.0], "covariances": [0.1, 0.2, 0.3]}),
        ("d-dimensional", {"means": [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]}),
    ]
    # one configuration per partner kind that ``runner.partner_of`` can select; the dense graph
    # (mean degree about 3 of 6) is too dense for the sparse path, the ring of 16 sparse enough
    partners = [
        ("unrestricted", {"n_agents": 6}),
        ("kNN", {"n_agents": 6, "n_neighbors": 2}),
        ("dense graph", {"n_agents": 6, "graph": rs.random((6, 6)) < 0.5}),
        ("sparse graph", {"n_agents": 16, "graph": _ring(16)}),
    ]
    out = []
    for dname, dkw in dims:
        for pname, pkw in partners:
            out.append((f"Algorithm 1, {dname}, {pname}", {**dkw, **pkw}, np.float64))
    # many components (K >= em.EM_HULL_MIN_K) take another EM step: a variant of each of the above
    K = EM_HULL_MIN_K
    wide_dims = [("1-d banded", {"n_components": K}),
                 ("1-d", {"means": np.arange(K, dtype=float) ** 1.5, "covariances": np.linspace(0.1, 1.0, K)}),
                 ("d-dimensional", {"means": np.stack([np.arange(K), np.arange(K) % 7], axis=1).astype(float)})]
    for dname, dkw in wide_dims:
        for pname, pkw in partners:
            out.append((f"Algorithm 1, {dname}, {pname}, K >= {K}", {**dkw, **pkw}, np.float64))
    for pname, pkw in partners:
        out.append((f"Algorithm 2, {pname}", {"update_covariances": True, **pkw}, np.float64))
    out.append(("Algorithm 1, 1-d, unrestricted, float32 records", {"n_agents": 6}, np.float32))
    return out


def variants(all_variants: bool = False) -> list[tuple[str, dict, type]]:
    """(name, ``SimulationConfig`` keyword arguments, record weights dtype) of what :func:`warmup` compiles."""
    return _all_variants() if all_variants else list(_DEFAULT)


#: the line ``warmup`` reports for the calibration kernel
CALIBRATION_NAME = "Calibration kernel (gmmproxy calibrate)"


def warm_calibration_kernel() -> None:
    """Compile (or load) the batched kernel of ``gmmproxy calibrate`` (``_kernels/batched.py``).

    One compiled function serves every calibration: its arguments are arrays
    of fixed dtype and rank whatever the parameters, the population size or
    the dimension of the components (checked by the tests against the calls
    a calibration makes), so a tiny batch of two jobs compiles it.
    """
    from gmmproxy.bridge.calibration.batch import Geometry, simulate_batch

    simulate_batch(Geometry(n_agents=4), 1, p_mirror=[0.0, 0.5], n_neighbors=2, sigma=0.3, rag_size=2,
                   rounds_per_step=2, activation=0.5, seed=0)


def warmup(all_variants: bool = False, chain: bool = True, calibration: bool | None = None,
           echo=None) -> list[tuple[str, float]]:
    """Compile (or load from the cache) the kernel variants; returns (variant, seconds) pairs.

    Parameters
    ----------
    all_variants : bool
        Every variant (1-d banded, 1-d, d-dimensional densities x
        unrestricted, kNN, dense-graph and sparse-graph partners; Algorithm 2
        with each partner kind; float32 records; the calibration kernel),
        not only the defaults (the paper's 1-d set-up with and without kNN,
        and the Markov chain of ``gmmproxy theory montecarlo``).
    chain : bool
        Include the Markov-chain kernels (uniform and k-nearest senders).
    calibration : bool, optional
        Include the batched kernel of ``gmmproxy calibrate`` (its first
        compile is the longest of all: about 40 s of CPU). Default: with
        ``all_variants`` only.
    echo : callable, optional
        Called with one line per variant as it finishes.
    """
    if calibration is None:
        calibration = all_variants
    from gmmproxy.config import SimulationConfig
    from gmmproxy._simulate import simulate

    done = []
    for name, kw, wdt in variants(all_variants):
        cfg = SimulationConfig(**kw)
        t0 = time.perf_counter()
        # the record mode is a value, not a type: one compiled function serves all three
        simulate(cfg, steps=1, seed=0, record="weights", weights_dtype=wdt)
        done.append((name, time.perf_counter() - t0))
        if echo:
            echo(f"{name}: {done[-1][1]:.1f} s")
    if chain:
        from gmmproxy.chain import ChainConfig, simulate_chain_many

        # the two sender rules of the chain compile separately (``_kernels/chain.block_kernel``)
        for name, kw in (("Markov chain (theory montecarlo)", {}),
                         ("Markov chain, k nearest senders (theory montecarlo --neighbors)", {"n_neighbors": 2})):
            t0 = time.perf_counter()
            simulate_chain_many(ChainConfig(n_agents=4, sigma=0.3, rag_size=2, **kw), steps=1, replicates=1,
                                seed=0)
            done.append((name, time.perf_counter() - t0))
            if echo:
                echo(f"{name}: {done[-1][1]:.1f} s")
    if calibration:
        t0 = time.perf_counter()
        warm_calibration_kernel()
        done.append((CALIBRATION_NAME, time.perf_counter() - t0))
        if echo:
            echo(f"{CALIBRATION_NAME}: {done[-1][1]:.1f} s")
    return done

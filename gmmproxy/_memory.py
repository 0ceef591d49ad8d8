"""Memory estimate of a simulation, checked against the machine before anything is allocated.

A run that cannot fit should fail at once with one line naming the sizes
that drive the estimate, not after minutes with a ``MemoryError`` traceback
(or with the machine swapping). The estimate counts the recorded arrays
(per step x agent x component x replicate, by record mode) and each running
replicate's working buffers (the n x n distance matrix of kNN and dense-graph
runs -- none for unrestricted runs and sparse graphs --, the cached RAG
densities n x r x K, the weights) and the communication graph.
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["available_memory", "simulation_bytes", "check_simulation_memory", "format_bytes"]


def available_memory() -> int | None:
    """Bytes the OS says are available (Linux ``MemAvailable``), or None when unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} EB"  # pragma: no cover


def distance_matrix_entries(cfg) -> int:
    """Entries of the per-round n x n weight-distance matrix (and its sparse row form): 1 unless a run
    restricts partners by kNN or by a dense graph; sparse graphs (CSR path) and unrestricted runs
    have none."""
    from gmmproxy._kernels import rounds
    from gmmproxy._kernels.runner import partner_of

    n, K = int(cfg.n_agents), int(cfg.n_components)
    if partner_of(cfg) in (rounds.PARTNER_KNN, rounds.PARTNER_GRAPH):
        return n * n + n * K
    return 1


def graph_bytes(cfg) -> int:
    """Bytes of the graph handed to the kernels: CSR arrays, or the dense (G, n, n) booleans."""
    from gmmproxy._graphs import SparseGraph
    from gmmproxy._kernels import rounds
    from gmmproxy._kernels.runner import partner_of

    g = cfg.graph
    if g is None:
        return 0
    G = g.shape[0] if g.ndim == 3 else 1
    n = int(cfg.n_agents)
    if partner_of(cfg) == rounds.PARTNER_GRAPH:
        return G * n * n
    if isinstance(g, SparseGraph):
        return 2 * g.nbytes()  # the config's arrays and the kernels' writable copy
    return 8 * (G * (n + 1) + int(np.count_nonzero(g)))


def simulation_bytes(cfg, steps: int, replicates: int, record: str, weights_itemsize: int = 8,
                     concurrent: int = 1) -> int:
    """Estimated peak bytes of ``replicates`` runs of ``steps`` rounds (Python ints: no overflow).

    Parameters
    ----------
    cfg : SimulationConfig
    steps, replicates : int
    record : {"weights", "silos", "metrics"}
    weights_itemsize : int
        8 (float64) or 4 (float32) for recorded weights.
    concurrent : int
        Replicates whose working buffers exist at the same time (threads).
    """
    n, K, r, d = int(cfg.n_agents), int(cfg.n_components), int(cfg.rag_size), int(cfg.dim)
    T1, R = int(steps) + 1, int(replicates)
    silo_size = 2 if K <= 32767 else 4
    per_rep = 2 * T1 * 4 + n * silo_size + n * r * d * 8  # N(t), switches, final silos, final RAG
    if record == "weights":
        per_rep += T1 * n * K * weights_itemsize
        if cfg.update_covariances:
            per_rep += 2 * T1 * n * K * d * d * 8  # Cholesky factors and the covariances made from them
    if record in ("weights", "silos"):
        per_rep += T1 * n * silo_size
    work = 8 * (distance_matrix_entries(cfg) + 4 * n * K + 2 * n * r * (K + d) + 2 * n * r + 3 * n)
    if cfg.update_covariances:
        work += 8 * 2 * n * K * (d * d + 1)
    return R * per_rep + max(1, int(concurrent)) * work + graph_bytes(cfg)


def _lighter(record, itemsize):
    if record == "weights":
        tip = ", record='silos' or 'metrics' (--record)"
        return tip + (", or float32 weights (--float32)" if itemsize == 8 else "")
    return ", or record='metrics' (--record)" if record == "silos" else ""


#: estimates below this many bytes are not checked against the available memory
_NOT_WORTH_ASKING = 16 * 2**20


def check_simulation_memory(cfg, steps: int, replicates: int, record: str, weights_itemsize: int = 8,
                            concurrent: int = 1) -> int:
    """Raise ValueError naming the sizes when the estimate exceeds the available memory; return it."""
    need = simulation_bytes(cfg, steps, replicates, record, weights_itemsize, concurrent)
    if need < _NOT_WORTH_ASKING:
        return need  # reading /proc/meminfo would cost more than such a run (short runs in a loop)
    avail = available_memory()
    if avail is not None and need > avail:
        raise ValueError(
            f"this run needs about {format_bytes(need)} of memory but {format_bytes(avail)} is available: "
            f"n_agents={cfg.n_agents} x n_components={cfg.n_components} x steps={steps} x "
            f"replicates={replicates} with record={record!r}. Use fewer agents, components, steps or "
            f"replicates{_lighter(record, weights_itemsize)}"
        )
    return need

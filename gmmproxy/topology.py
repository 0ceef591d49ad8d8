"""Who may talk to whom: communication graphs and neighbourhood schedules.

A graph is a boolean adjacency matrix ``A`` of shape (n, n) with ``A[i, j]``
meaning *agent i may query agent j* (information flows from j to i), or a
schedule of shape (T, n, n) with one matrix per round. Large populations
pass a ``scipy.sparse`` matrix, a networkx graph or a list of them instead
(kept in CSR form as a :class:`SparseGraph`, never made dense; see
:func:`random_graph`). Pass it as ``SimulationConfig(graph=...)``; it combines with the k-nearest-neighbour
rule (the partner is drawn among the k nearest *allowed* agents) and an
agent with no allowed partner talks to itself. The diagonal is ignored.

The paper's own restriction is the kNN rule in weight space; the graphs here
are the communication structures of Helm et al. (2024): fully connected,
intra-class only, an adversary attacking target agents on a schedule, and a
switch from unrestricted to local-only communication at a time t*.
"""
from __future__ import annotations

import numbers

import numpy as np

from gmmproxy._graphs import SparseGraph

__all__ = ["fully_connected", "intra_class", "adversarial_schedule", "switch_to_local", "constant_schedule",
           "k_nearest", "random_graph", "SparseGraph"]


def _n(n_agents) -> int:
    if isinstance(n_agents, bool) or not isinstance(n_agents, numbers.Integral) or n_agents < 2:
        raise ValueError(f"n_agents must be an integer >= 2; got {n_agents!r}")
    return int(n_agents)


def _steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1; got {steps!r}")
    return int(steps)


def fully_connected(n_agents: int) -> np.ndarray:
    """Everybody may query everybody else: (n, n) True off the diagonal."""
    n = _n(n_agents)
    return ~np.eye(n, dtype=bool)


def intra_class(classes) -> np.ndarray:
    """Agents may only query agents of their own class.

    Parameters
    ----------
    classes : array_like of int, shape (n,)
        Class label of each agent.
    """
    c = np.asarray(classes)
    if c.ndim != 1 or c.size < 2:
        raise ValueError(f"classes must be a 1-d array of at least 2 labels; got shape {c.shape}")
    A = c[:, None] == c[None, :]
    np.fill_diagonal(A, False)
    return A


def adversarial_schedule(n_agents: int, adversary: int, targets, period: int, steps: int,
                         phase: int = 0) -> np.ndarray:
    """Helm et al.'s case study 2: an adversary reaches target agents every ``period`` rounds.

    Base state: the non-adversarial agents are fully connected; nobody talks
    to or hears from the adversary. Vulnerable state (rounds t with
    ``(t - phase) % period == 0``): targets hear only the adversary, the
    other agents hear each other and the targets; the adversary hears nobody
    (it only mirrors itself).

    Returns
    -------
    numpy.ndarray of bool, shape (steps, n, n)
    """
    n = _n(n_agents)
    T = _steps(steps)
    if isinstance(adversary, bool) or not isinstance(adversary, numbers.Integral) or not 0 <= adversary < n:
        raise ValueError(f"adversary must be an agent index in [0, {n - 1}]; got {adversary!r}")
    tg = np.unique(np.asarray(targets, dtype=int).ravel())
    if tg.size and (tg.min() < 0 or tg.max() >= n or adversary in tg):
        raise ValueError(f"targets must be agent indices in [0, {n - 1}] other than the adversary; got {list(tg)}")
    if isinstance(period, bool) or not isinstance(period, numbers.Integral) or period < 1:
        raise ValueError(f"period must be an integer >= 1; got {period!r}")
    others = np.ones(n, dtype=bool)
    others[adversary] = False
    base = others[:, None] & others[None, :]
    np.fill_diagonal(base, False)
    nontarget = others.copy()
    nontarget[tg] = False
    vuln = np.zeros((n, n), dtype=bool)
    vuln[np.ix_(nontarget, nontarget)] = True
    vuln[np.ix_(nontarget, tg)] = True  # targets -> non-targets
    vuln[tg, adversary] = True  # adversary -> targets, and nothing else into targets
    np.fill_diagonal(vuln, False)
    out = np.empty((T, n, n), dtype=bool)
    for t in range(T):
        out[t] = vuln if (t - phase) % period == 0 else base
    return out


def switch_to_local(n_agents: int, t_star: int, steps: int, k_local: int = 1) -> tuple:
    """Helm et al.'s case study 1: unrestricted communication before t*, local-only after.

    "Local" means each agent talks only to its nearest agent(s) in belief
    space, so this is a schedule for ``SimulationConfig(n_neighbors=...)``:
    ``n - 1`` in rounds ``t < t_star``, ``k_local`` from ``t_star`` on.
    """
    n = _n(n_agents)
    T = _steps(steps)
    if isinstance(t_star, bool) or not isinstance(t_star, numbers.Integral) or not 0 <= t_star <= T:
        raise ValueError(f"t_star must be an integer in [0, steps={T}]; got {t_star!r}")
    if isinstance(k_local, bool) or not isinstance(k_local, numbers.Integral) or not 1 <= k_local <= n - 1:
        raise ValueError(f"k_local must be an integer in [1, {n - 1}]; got {k_local!r}")
    return tuple([n - 1] * int(t_star) + [int(k_local)] * (T - int(t_star)))


def constant_schedule(graph, steps: int) -> np.ndarray:
    """Repeat one (n, n) graph for ``steps`` rounds: (steps, n, n)."""
    g = np.asarray(graph, dtype=bool)
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"graph must be a square (n, n) matrix; got shape {g.shape}")
    return np.repeat(g[None], _steps(steps), axis=0)


def k_nearest(distances, n_neighbors: int) -> np.ndarray:
    """The ``n_neighbors`` nearest others of every point, from a distance matrix.

    The one k-nearest rule outside the kernels (the LLM runner's partner choice and the
    iso-mirror's neighbourhood graph use it); the Numba kernels select the same set in
    weight space without allocating (with their default tie rule) (:mod:`gmmproxy._kernels.neighbors`).

    Parameters
    ----------
    distances : array_like, shape (n, n)
        Non-negative, finite distances; the diagonal is ignored.
    n_neighbors : int
        ``1 <= n_neighbors <= n - 1``.

    Returns
    -------
    ndarray of int, shape (n, n_neighbors)
        Row ``i``: the points ``j != i`` nearest to ``i``, nearest first, ties broken by
        the smaller index (so coincident points are each other's nearest, never ``i``
        itself).
    """
    from gmmproxy._validation import check_int

    D = np.array(distances, dtype=np.float64, copy=True)
    if D.ndim != 2 or D.shape[0] != D.shape[1] or D.shape[0] < 2:
        raise ValueError(f"distances must be a square (n, n) matrix with n >= 2; got shape {D.shape}")
    off = ~np.eye(D.shape[0], dtype=bool)
    if not np.all(np.isfinite(D[off])) or np.any(D[off] < 0):
        raise ValueError("distances must be finite and >= 0 off the diagonal")
    k = check_int("n_neighbors", n_neighbors, 1, D.shape[0] - 1)
    np.fill_diagonal(D, np.inf)
    return np.argsort(D, axis=1, kind="stable")[:, :k]


def _distinct_per_row(rng, rows: np.ndarray, high: int, n_cols: int) -> np.ndarray:
    """For each entry of ``rows`` a value in [0, high) (``high``: scalar or per entry), distinct within a row.

    Draws with replacement, then redraws the repeats until none is left: the
    procedure commutes with relabelling the columns, so each row's set is a
    uniformly random subset of its size.
    """
    high = np.broadcast_to(np.asarray(high, dtype=np.int64), rows.shape)
    cols = rng.integers(0, high)
    while True:
        key = rows * np.int64(n_cols) + cols
        order = np.argsort(key, kind="stable")
        dup = np.zeros(rows.size, dtype=bool)
        dup[order[1:]] = key[order[1:]] == key[order[:-1]]
        if not dup.any():
            return cols
        cols[dup] = rng.integers(0, high[dup])


def random_graph(n_agents: int, mean_degree: float, seed=None, *, directed: bool = True):
    """An Erdos-Renyi random communication graph as a ``scipy.sparse.csr_array``, in O(n * degree).

    Every ordered pair (i, j), i != j (``directed``), or every unordered pair
    (undirected: i may query j and j may query i), is an edge independently
    with probability ``mean_degree / (n_agents - 1)``, so an agent's number
    of allowed partners is Binomial(n - 1, p) with mean ``mean_degree``.
    Nothing n x n is built: for n = 10^6 and mean degree 10 it takes about
    a second and 120 MB.

    Parameters
    ----------
    n_agents : int
        n >= 2.
    mean_degree : float
        In [0, n_agents - 1].
    seed : int, numpy.random.Generator, SeedSequence or None
        Same seed, same graph.
    directed : bool, default True

    Returns
    -------
    scipy.sparse.csr_array of bool, shape (n, n)
        Columns ascending within each row; pass it as ``SimulationConfig(graph=...)``.
    """
    from scipy import sparse

    n = _n(n_agents)
    if isinstance(mean_degree, bool) or not isinstance(mean_degree, numbers.Real) or \
            not 0 <= mean_degree <= n - 1:
        raise ValueError(f"mean_degree must be a number in [0, n_agents - 1 = {n - 1}]; got {mean_degree!r}")
    if not isinstance(directed, (bool, np.bool_)):
        raise TypeError(f"directed must be True or False; got {directed!r}")
    rng = np.random.default_rng(seed)
    p = float(mean_degree) / (n - 1)
    if directed:
        deg = rng.binomial(n - 1, p, size=n)
        rows = np.repeat(np.arange(n, dtype=np.int64), deg)
        cols = _distinct_per_row(rng, rows, n - 1, n)
        cols += cols >= rows  # skip the diagonal: j in [0, n-1) -> the n - 1 others of i
    else:
        # neighbours of i among j > i: Binomial(n - 1 - i, p) each, then both directions
        deg = rng.binomial(np.arange(n - 1, -1, -1), p)
        lo = np.repeat(np.arange(n, dtype=np.int64), deg)
        off = lo + 1 + _distinct_per_row(rng, lo, n - 1 - lo, n)
        rows = np.concatenate([lo, off])
        cols = np.concatenate([off, lo])
    m = sparse.coo_array((np.ones(rows.size, dtype=bool), (rows, cols)), shape=(n, n)).tocsr()
    m.sort_indices()
    return m

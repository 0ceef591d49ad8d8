"""Communication graphs in every accepted form, validated into a dense boolean array or a :class:`SparseGraph`.

``SimulationConfig(graph=...)`` calls :func:`validate_graph`. A graph says
who may query whom: entry ``[i, j]`` true (or 1) means agent i may query
agent j. It may be given

- densely, as a NumPy boolean / 0-1 array of shape (n, n), or (T, n, n) for
  one graph per round (kept as a read-only ``numpy.ndarray``);
- sparsely, as a ``scipy.sparse`` matrix or array of shape (n, n) in any
  format, or a networkx graph whose nodes are the integers 0..n-1 (an edge
  u -> v of a ``DiGraph`` means u may query v; an undirected edge both ways),
  or a list / tuple of these, one per round. These are kept as a
  :class:`SparseGraph` in CSR form: memory O(n + edges), nothing n x n.

Both forms mean exactly the same run: the same graph given densely or
sparsely gives bit-identical trajectories (the kernels choose their partner
code from the graph's mean degree, not from the form it was given in).
Self loops are allowed and ignored, as the diagonal of a dense graph is (an
agent talks to itself only through the mirroring probability, or when it
has no allowed partner). networkx is not a dependency: a graph is recognised
as networkx by its type's module and converted with networkx's own
``to_scipy_sparse_array``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["SparseGraph", "validate_graph", "graph_mean_degree", "is_sparse_input"]

_FORMS = ("a boolean (or 0/1) adjacency matrix: a NumPy array (n, n) or (T, n, n), a scipy.sparse matrix "
          "or array (n, n), a networkx graph with nodes 0..n-1, or a list of these (one per round)")


def _is_scipy_sparse(value) -> bool:
    mod = type(value).__module__ or ""
    if not mod.startswith("scipy.sparse"):
        return False
    from scipy import sparse

    return sparse.issparse(value)


def _is_networkx(value) -> bool:
    # duck-typed: networkx is not a dependency, so never import it to find out
    mod = type(value).__module__ or ""
    return mod.split(".")[0] == "networkx" and hasattr(value, "adj") and hasattr(value, "nodes")


def _is_json_form(value) -> bool:
    # (a scipy.sparse DOK matrix is a dict too)
    return isinstance(value, dict) and not _is_scipy_sparse(value) and value.get("format") == "csr"


def is_sparse_input(value) -> bool:
    """True for a value that :func:`validate_graph` keeps in CSR form."""
    if isinstance(value, SparseGraph) or _is_scipy_sparse(value) or _is_networkx(value) or _is_json_form(value):
        return True
    if isinstance(value, (list, tuple)) and len(value) > 0:
        return any(isinstance(v, SparseGraph) or _is_scipy_sparse(v) or _is_networkx(v) for v in value)
    return False


class SparseGraph:
    """A communication graph, or one graph per round, in CSR form (read only).

    What ``SimulationConfig.graph`` holds when the graph was given as a
    ``scipy.sparse`` matrix, a networkx graph or a list of them. It mimics the
    dense form's ``shape`` and ``ndim``: (n, n) and 2 for one graph for
    every round, (T, n, n) and 3 for a schedule.

    Attributes
    ----------
    n_agents : int
    indptr : ndarray of int64, shape (G, n + 1)
        Row pointers of graph g (G = 1 for one fixed graph).
    indices : ndarray of int64, shape (G, max(1, max nnz))
        Columns of graph g, ascending within each row, in
        ``indices[g, :nnz[g]]``; self loops removed.
    nnz : ndarray of int64, shape (G,)
        Number of edges of each graph (self loops excluded).
    """

    __slots__ = ("n_agents", "indptr", "indices", "nnz", "is_schedule")

    def __init__(self, n_agents: int, indptr: np.ndarray, indices: np.ndarray, nnz: np.ndarray,
                 is_schedule: bool):
        self.n_agents = int(n_agents)
        for a in (indptr, indices, nnz):
            a.setflags(write=False)
        self.indptr, self.indices, self.nnz = indptr, indices, nnz
        self.is_schedule = bool(is_schedule)

    # the dense form's shape, so that code asking for the number of rounds works on both
    @property
    def ndim(self) -> int:
        return 3 if self.is_schedule else 2

    @property
    def shape(self) -> tuple:
        n = self.n_agents
        return (self.indptr.shape[0], n, n) if self.is_schedule else (n, n)

    @property
    def n_graphs(self) -> int:
        """Number of graphs G stored (1 for a fixed graph)."""
        return self.indptr.shape[0]

    @property
    def mean_degree(self) -> float:
        """Mean out-degree (allowed partners per agent), averaged over the graphs."""
        return float(self.nnz.sum()) / (self.n_graphs * self.n_agents)

    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.indices.nbytes + self.nnz.nbytes)

    def to_scipy(self, t: int = 0):
        """Graph ``t`` (of a schedule; 0 for a fixed graph) as a ``scipy.sparse.csr_array`` of bools."""
        from scipy import sparse

        g = int(t)
        if not 0 <= g < self.n_graphs:
            raise IndexError(f"t must be in [0, {self.n_graphs - 1}]; got {t}")
        m = int(self.nnz[g])
        n = self.n_agents
        return sparse.csr_array((np.ones(m, dtype=bool), self.indices[g, :m].copy(), self.indptr[g].copy()),
                                shape=(n, n))

    def to_dense(self) -> np.ndarray:
        """The dense boolean form, (n, n) or (T, n, n): n x n memory, for small graphs only."""
        n = self.n_agents
        out = np.zeros((self.n_graphs, n, n), dtype=bool)
        for g in range(self.n_graphs):
            m = int(self.nnz[g])
            rows = np.repeat(np.arange(n), np.diff(self.indptr[g]))
            out[g, rows, self.indices[g, :m]] = True
        return out if self.is_schedule else out[0]

    def to_dict(self) -> dict:
        """JSON-friendly form (``SimulationConfig.to_dict``); ``validate_graph`` reads it back."""
        return {"format": "csr", "n_agents": self.n_agents, "schedule": self.is_schedule,
                "indptr": self.indptr.tolist(),
                "indices": [self.indices[g, :int(self.nnz[g])].tolist() for g in range(self.n_graphs)]}

    def __eq__(self, other):
        if isinstance(other, np.ndarray):
            try:
                other = _from_dense(other, self.n_agents)
            except ValueError:
                return False
        if not isinstance(other, SparseGraph):
            return NotImplemented
        if (self.n_agents, self.is_schedule, self.n_graphs) != (other.n_agents, other.is_schedule, other.n_graphs):
            return False
        if not np.array_equal(self.nnz, other.nnz) or not np.array_equal(self.indptr, other.indptr):
            return False
        return all(np.array_equal(self.indices[g, :m], other.indices[g, :m]) for g, m in enumerate(self.nnz))

    __hash__ = None

    def __repr__(self):
        kind = f"{self.n_graphs} rounds" if self.is_schedule else "fixed"
        return (f"SparseGraph(n_agents={self.n_agents}, {kind}, edges={int(self.nnz.sum())}, "
                f"mean_degree={self.mean_degree:.3g})")

    def __getstate__(self):
        return {s: getattr(self, s) for s in self.__slots__}

    def __setstate__(self, state):
        for s in self.__slots__:
            object.__setattr__(self, s, state[s])


def _pack(n: int, rows: list, is_schedule: bool) -> SparseGraph:
    """SparseGraph from a list of (indptr (n+1,), indices (nnz,)) pairs, one per round."""
    G = len(rows)
    nnz = np.array([ix.size for _, ix in rows], dtype=np.int64)
    indptr = np.zeros((G, n + 1), dtype=np.int64)
    indices = np.zeros((G, max(1, int(nnz.max()))), dtype=np.int64)
    for g, (ip, ix) in enumerate(rows):
        indptr[g] = ip
        indices[g, :ix.size] = ix
    return SparseGraph(n, indptr, indices, nnz, is_schedule)


def _csr_rows(m, n: int, where: str, structure_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, indices) of one validated scipy.sparse (n, n) 0/1 matrix, self loops dropped, columns sorted."""
    from scipy import sparse

    if m.ndim != 2 or m.shape != (n, n):
        raise ValueError(f"graph{where} must have shape (n_agents, n_agents) = ({n}, {n}); got {m.shape}")
    dt = m.dtype
    if not (dt == np.bool_ or np.issubdtype(dt, np.integer) or np.issubdtype(dt, np.floating)):
        raise ValueError(f"graph{where} must be {_FORMS}; got a scipy.sparse matrix of dtype {dt}")
    csr = sparse.csr_array(m, copy=True)
    csr.sum_duplicates()  # also sorts the columns of each row
    if not structure_only:
        data = csr.data
        bad = ~((data == 0) | (data == 1))
        if np.any(bad):
            pos = int(np.flatnonzero(bad)[0])
            row = int(np.searchsorted(csr.indptr, pos, side="right") - 1)
            raise ValueError(
                f"graph{where} must be a boolean (or 0/1) adjacency matrix; got value {data[pos].item()!r} at "
                f"({row}, {int(csr.indices[pos])}) (a COO matrix sums duplicate entries)")
    # keep the stored ones, drop explicit zeros and self loops (the diagonal is ignored)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(csr.indptr))
    keep = (csr.data != 0) & (csr.indices != rows)
    cols = csr.indices[keep].astype(np.int64)
    counts = np.bincount(rows[keep], minlength=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, cols


def _from_networkx(g, n: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    import networkx as nx  # present: the object is a networkx graph

    nodes = g.number_of_nodes()
    ok = nodes == n and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v < n
                            for v in g.nodes)
    if not ok:
        sample = list(g.nodes)[:5]
        raise ValueError(f"graph{where}: a networkx graph must have exactly the nodes 0, 1, ..., n_agents-1 = {n - 1} "
                         f"(node i is agent i); got {nodes} nodes, the first {sample}")
    m = nx.to_scipy_sparse_array(g, nodelist=range(n), weight=None, format="csr")
    return _csr_rows(m, n, where, structure_only=True)  # edges are the structure; multi-edges mean one edge


def _from_dense(value, n: int) -> SparseGraph:
    g = np.asarray(value, dtype=bool)
    is_schedule = g.ndim == 3
    g3 = g if is_schedule else g[None]
    if g3.ndim != 3 or g3.shape[1:] != (n, n):
        raise ValueError("shape mismatch")
    from scipy import sparse

    return _pack(n, [_csr_rows(sparse.csr_array(g3[t]), n, "", True) for t in range(g3.shape[0])], is_schedule)


def _from_json(value: dict, n: int) -> SparseGraph:
    if value.get("stored") == "arrays" and "indptr" not in value:
        raise ValueError("graph: this CSR dict says its arrays are stored elsewhere (a saved result's "
                         "metadata); load the result file with Trajectory.load / Ensemble.load")
    try:
        if int(value["n_agents"]) != n:
            raise ValueError(f"graph is for n_agents = {value['n_agents']}; the config has n_agents = {n}")
        ip = [np.asarray(p, dtype=np.int64) for p in value["indptr"]]
        ix = [np.asarray(p, dtype=np.int64) for p in value["indices"]]
        schedule = bool(value["schedule"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"graph: a CSR dict needs the keys format, n_agents, schedule, indptr, indices; {exc}") from None
    if len(ip) != len(ix) or not ip or (not schedule and len(ip) != 1):
        raise ValueError("graph: a CSR dict must have one indptr and one indices list per round")
    rows = []
    for p, c in zip(ip, ix):
        if p.shape != (n + 1,) or p[0] != 0 or np.any(np.diff(p) < 0) or p[-1] != c.size or \
                (c.size and (c.min() < 0 or c.max() >= n)):
            raise ValueError(f"graph: a CSR dict's indptr must have {n + 1} non-decreasing entries from 0 to "
                             f"len(indices), and its indices lie in [0, {n - 1}]")
        from scipy import sparse

        m = sparse.csr_array((np.ones(c.size, dtype=np.int8), c, p), shape=(n, n))
        rows.append(_csr_rows(m, n, "", structure_only=False))
    return _pack(n, rows, schedule)


def _one_sparse(v, n: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, indices) of one round's graph in any accepted form."""
    if isinstance(v, SparseGraph):
        if v.is_schedule or v.n_agents != n:
            raise ValueError(f"graph{where} must be one graph for n_agents = {n}; got {v!r}")
        m = int(v.nnz[0])
        return np.array(v.indptr[0]), np.array(v.indices[0, :m])
    if _is_scipy_sparse(v):
        return _csr_rows(v, n, where, structure_only=False)
    if _is_networkx(v):
        return _from_networkx(v, n, where)
    try:
        arr = np.asarray(v)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype == object or arr.ndim != 2:
        raise ValueError(f"graph{where} must be {_FORMS}; got {type(v).__name__}")
    dense = _dense(arr, n, where)
    from scipy import sparse

    return _csr_rows(sparse.csr_array(dense), n, where, structure_only=True)


def _dense(value, n: int, where: str = "") -> np.ndarray:
    """The dense form's validation (unchanged semantics): a bool array (n, n) or (T, n, n)."""
    g = np.array(value)
    if g.dtype != bool:
        if not np.issubdtype(g.dtype, np.number) or not np.all(np.isin(g, (0, 1))):
            bad = g.ravel()[0] if not np.issubdtype(g.dtype, np.number) else g[~np.isin(g, (0, 1))].ravel()[0].item()
            raise ValueError(
                f"graph{where} must be a boolean (or 0/1) adjacency matrix; got dtype {g.dtype} with value {bad!r}")
        g = g.astype(bool)
    if g.ndim == 2:
        if g.shape != (n, n):
            raise ValueError(f"graph{where} must have shape (n_agents, n_agents) = ({n}, {n}); got {g.shape}")
    elif g.ndim == 3 and not where:
        if g.shape[1:] != (n, n) or g.shape[0] < 1:
            raise ValueError(f"graph schedule must have shape (T, {n}, {n}); got {g.shape}")
    else:
        raise ValueError(f"graph{where} must have shape (n, n){'' if where else ' or (T, n, n)'}; got {g.shape}")
    return g


def validate_graph(value, n: int):
    """``graph`` in any accepted form -> a read-only bool ndarray (dense input) or a :class:`SparseGraph`.

    Raises ValueError naming ``graph`` and the accepted forms for anything else.
    """
    if value is None:
        return None
    if isinstance(value, SparseGraph):
        if value.n_agents != n:
            raise ValueError(f"graph must be for n_agents = {n}; got {value!r}")
        return value
    if _is_json_form(value):
        return _from_json(value, n)
    if _is_scipy_sparse(value) or _is_networkx(value):
        return _pack(n, [_one_sparse(value, n, "")], False)
    if isinstance(value, (list, tuple)) and is_sparse_input(value):
        return _pack(n, [_one_sparse(v, n, f"[{t}]") for t, v in enumerate(value)], True)
    if isinstance(value, dict) and not _is_scipy_sparse(value):
        raise ValueError(f"graph must be {_FORMS}; got a dict without format='csr'")
    g = _dense(value, n)
    g.setflags(write=False)
    return g


def graph_mean_degree(graph) -> float:
    """Mean number of allowed partners per agent and round (self loops not counted), either form."""
    if isinstance(graph, SparseGraph):
        return graph.mean_degree
    g = graph if graph.ndim == 3 else graph[None]
    n = g.shape[1]
    loops = int(np.count_nonzero(np.diagonal(g, axis1=1, axis2=2)))
    return (np.count_nonzero(g) - loops) / (g.shape[0] * n)

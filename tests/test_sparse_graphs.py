"""Sparse communication graphs: scipy.sparse / networkx input, CSR storage, the same runs as dense graphs."""
import json
import pickle
import tracemalloc

import numpy as np
import pytest
from scipy import sparse, stats

import gmmproxy
from gmmproxy import SimulationConfig, simulate, simulate_many
from gmmproxy._graphs import SparseGraph
from gmmproxy._kernels import rounds, runner
from gmmproxy._memory import simulation_bytes
from gmmproxy.topology import random_graph


def _dense_er(rs, n, deg, T=None):
    shape = (n, n) if T is None else (T, n, n)
    return rs.random(shape) < deg / n


FORMATS = ["csr_array", "csc_array", "coo_array", "lil_array", "dok_array", "bsr_array", "csr_matrix",
           "coo_matrix"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_scipy_format_becomes_the_same_csr(fmt):
    rs = np.random.default_rng(1)
    n = 12
    A = _dense_er(rs, n, 4)
    np.fill_diagonal(A, True)  # self loops: allowed and ignored, as the dense diagonal
    cfg = SimulationConfig(n_agents=n, graph=getattr(sparse, fmt)(A.astype(np.int8)))
    g = cfg.graph
    assert isinstance(g, SparseGraph) and g.ndim == 2 and g.shape == (n, n)
    # independent reference: row i lists exactly the j != i with A[i, j], ascending
    for i in range(n):
        cols = g.indices[0, g.indptr[0, i]:g.indptr[0, i + 1]]
        np.testing.assert_array_equal(cols, [j for j in range(n) if A[i, j] and j != i])
    off = A & ~np.eye(n, dtype=bool)
    assert g.nnz[0] == off.sum() and g.mean_degree == pytest.approx(off.sum() / n)
    np.testing.assert_array_equal(g.to_dense(), off)
    assert cfg == SimulationConfig(n_agents=n, graph=A)  # the same graph in either form


def test_bool_float_and_explicit_zero_entries():
    A = np.zeros((5, 5))
    A[0, 1] = A[2, 3] = 1.0
    m = sparse.csr_array(A)
    m.data = np.append(m.data, 0.0)  # an explicit stored zero is no edge
    m.indices = np.append(m.indices, 4)
    m.indptr[-1] += 1
    g = SimulationConfig(n_agents=5, graph=m).graph
    np.testing.assert_array_equal(g.to_dense(), A.astype(bool))
    g2 = SimulationConfig(n_agents=5, graph=sparse.csr_array(A.astype(bool))).graph
    assert g2 == g


@pytest.mark.parametrize("bad, match", [
    (sparse.csr_array(np.ones((4, 5))), r"graph must have shape \(n_agents, n_agents\) = \(5, 5\); got \(4, 5\)"),
    (sparse.csr_array(np.full((5, 5), 2.0)), r"graph must be a boolean \(or 0/1\) adjacency matrix; got value 2"),
    (sparse.csr_array(-np.eye(5, k=1)), r"graph must be a boolean \(or 0/1\).*got value -1"),
    (sparse.coo_array((np.ones(2), ([0, 0], [1, 1])), shape=(5, 5)), r"got value 2.* at \(0, 1\).*duplicate"),
    (sparse.csr_array(np.eye(5, k=1) * 1j), r"graph must be a boolean.*scipy.sparse matrix of dtype complex"),
    ([sparse.csr_array(np.eye(5, k=1)), np.ones((4, 4))], r"graph\[1\] must have shape .*\(5, 5\)"),
    ([sparse.csr_array(np.eye(5, k=1)), "x"], r"graph\[1\] must be a boolean .* scipy.sparse .* networkx"),
    ({"a": 1}, r"graph must be .* got a dict"),
])
def test_bad_sparse_graphs_are_refused_naming_graph(bad, match):
    with pytest.raises(ValueError, match=match):
        SimulationConfig(n_agents=5, graph=bad)


def test_sparse_schedule_shorter_than_steps_is_refused():
    g = random_graph(10, 3, seed=0)
    cfg = SimulationConfig(n_agents=10, graph=[g, g])
    assert cfg.graph.ndim == 3 and cfg.graph.shape == (2, 10, 10)
    with pytest.raises(ValueError, match="graph schedule must have at least steps = 3"):
        simulate(cfg, steps=3, seed=0)


def test_json_pickle_and_saved_trajectory_round_trip(tmp_path):
    rs = np.random.default_rng(2)
    T, n = 3, 20
    sched = [sparse.csr_array(a) for a in _dense_er(rs, n, 3, T)]
    cfg = SimulationConfig(n_agents=n, n_components=4, graph=sched, n_neighbors=2)
    back = SimulationConfig.from_dict(json.loads(cfg.to_json()))
    assert back == cfg and isinstance(back.graph, SparseGraph) and back.graph.shape == (T, n, n)
    assert pickle.loads(pickle.dumps(cfg)) == cfg
    assert cfg.replace(p_mirror=0.1).graph == cfg.graph
    tr = simulate(cfg, steps=T, seed=4, record="silos")
    loaded = gmmproxy.Trajectory.load(tr.save(tmp_path / "run.npz"))
    assert loaded.config == cfg
    np.testing.assert_array_equal(loaded.silos, tr.silos)
    with np.load(tmp_path / "run.npz") as f:  # the graph is stored as arrays, not as JSON lists
        meta = json.loads(str(f["__meta__"]))
        assert meta["config"]["graph"] == {"format": "csr", "stored": "arrays", "n_agents": n, "schedule": True}
        np.testing.assert_array_equal(f["__graph_indptr__"], cfg.graph.indptr)
    ens = simulate_many(cfg, steps=T, replicates=2, seed=1, progress=False)
    assert gmmproxy.Ensemble.load(ens.save(tmp_path / "ens.npz")).config == cfg
    # a CSR dict with a column out of range is refused
    d = cfg.graph.to_dict()
    d["indices"][0][0] = n
    with pytest.raises(ValueError, match=r"indices lie in \[0, 19\]"):
        SimulationConfig(n_agents=n, graph=d)


# ---------------------------------------------------------------- same runs as the dense form

@pytest.mark.parametrize("update", ["synchronous", "sequential"])
@pytest.mark.parametrize("deg", [3, 12])  # 3 <= n/8: the CSR path; 12 > n/8: the dense-graph path for both
def test_sparse_input_gives_the_dense_inputs_trajectory_bit_for_bit(update, deg):
    rs = np.random.default_rng(deg)
    n, T = 40, 6
    A = _dense_er(rs, n, deg)
    sched = _dense_er(rs, n, deg, T)
    for graph_dense, graph_sparse in [(A, sparse.coo_array(A)), (sched, [sparse.csc_array(a) for a in sched])]:
        # k = 2 below every degree: the partner comes from the distances to the allowed agents
        kw = dict(n_agents=n, n_components=6, p_mirror=0.2, n_neighbors=2, update=update)
        cd, cs = SimulationConfig(graph=graph_dense, **kw), SimulationConfig(graph=graph_sparse, **kw)
        assert isinstance(cs.graph, SparseGraph) and isinstance(cd.graph, np.ndarray)
        assert runner.variant_of(cs) == runner.variant_of(cd)
        want = rounds.PARTNER_SPARSE if deg <= n / 8 else rounds.PARTNER_GRAPH
        assert runner.variant_of(cs)[1] == want
        for seed in (0, 1, 7):
            a, b = simulate(cd, steps=T, seed=seed), simulate(cs, steps=T, seed=seed)
            np.testing.assert_array_equal(a.weights, b.weights)
            np.testing.assert_array_equal(a.final_rag, b.final_rag)


def test_batch_with_a_sparse_graph_equals_single_runs():
    g = random_graph(50, 4, seed=3)
    cfg = SimulationConfig(n_agents=50, n_components=5, graph=g, n_neighbors=2)
    ens = simulate_many(cfg, steps=5, replicates=3, seed=9, record="silos", n_threads=2, progress=False)
    for r in range(3):
        tr = simulate(cfg, steps=5, seed=gmmproxy.replicate_seed(9, r), record="silos")
        np.testing.assert_array_equal(ens.silos[r], tr.silos)


def test_empty_sparse_graph_means_everybody_mirrors():
    # independent reference: with no allowed partner an agent talks to itself and draws no partner,
    # so p = 0 on an empty graph consumes the random stream exactly as p = 1 without a graph
    n = 25
    empty = SimulationConfig(n_agents=n, n_components=5, p_mirror=0.0, graph=sparse.csr_array((n, n)))
    assert empty.graph.mean_degree == 0
    alone = SimulationConfig(n_agents=n, n_components=5, p_mirror=1.0)
    np.testing.assert_array_equal(simulate(empty, steps=4, seed=5).weights,
                                  simulate(alone, steps=4, seed=5).weights)


def test_partners_only_along_edges():
    # two groups that may only query inside their group (directed ring within each): with p = 0 and
    # components 0..4 held by group 0 and 5..9 by group 1, no agent ever moves to the other group's
    # components -- the weight of the other group's components stays at the clip floor.
    n, K = 20, 10
    rows = np.arange(n)
    nxt = np.where(rows < 10, (rows + 1) % 10, 10 + (rows - 10 + 1) % 10)
    g = sparse.csr_array((np.ones(n, bool), (rows, nxt)), shape=(n, n))
    w0 = np.full((n, K), 1e-6)
    w0[rows, np.where(rows < 10, rows % 5, 5 + rows % 5)] = 1.0
    w0 /= w0.sum(axis=1, keepdims=True)
    cfg = SimulationConfig(n_agents=n, n_components=K, p_mirror=0.0, graph=g, init_weights=w0, sigma=0.2)
    W = simulate(cfg, steps=15, seed=2).weights
    assert W[-1, :10, 5:].max() < 1e-6 and W[-1, 10:, :5].max() < 1e-6
    # the silos did mix inside each group
    assert W[-1, :10, :5].max() > 0.5


# ---------------------------------------------------------------- networkx

def test_networkx_graphs_are_converted_by_their_edges():
    nx = pytest.importorskip("networkx")
    n = 15
    D = nx.gnp_random_graph(n, 0.2, seed=3, directed=True)
    A = np.zeros((n, n), bool)
    for u, v in D.edges:
        A[u, v] = True  # u -> v: u may query v
    assert SimulationConfig(n_agents=n, graph=D).graph == SimulationConfig(n_agents=n, graph=A).graph
    U = nx.gnp_random_graph(n, 0.2, seed=4)
    U.add_edge(2, 2)  # a self loop is ignored
    S = np.zeros((n, n), bool)
    for u, v in U.edges:
        S[u, v] = S[v, u] = u != v
    cu = SimulationConfig(n_agents=n, graph=U, n_neighbors=3)
    assert cu.graph == SimulationConfig(n_agents=n, graph=S).graph
    np.testing.assert_array_equal(simulate(cu, steps=3, seed=1).weights,
                                  simulate(cu.replace(graph=S), steps=3, seed=1).weights)
    M = nx.MultiDiGraph([(0, 1), (0, 1)])
    M.add_nodes_from(range(n))
    assert SimulationConfig(n_agents=n, graph=M).graph.nnz[0] == 1  # a multi-edge is one edge
    assert SimulationConfig(n_agents=n, graph=[D, U]).graph.shape == (2, n, n)


@pytest.mark.parametrize("nodes", [range(1, 16), range(14), ["a"] + list(range(1, 15))])
def test_networkx_graph_needs_nodes_zero_to_n_minus_one(nodes):
    nx = pytest.importorskip("networkx")
    G = nx.Graph()
    G.add_nodes_from(nodes)
    with pytest.raises(ValueError, match=r"graph: a networkx graph must have exactly the nodes 0, 1, \.\.\., "
                                         r"n_agents-1 = 14"):
        SimulationConfig(n_agents=15, graph=G)


# ---------------------------------------------------------------- memory: nothing n x n

def test_sparse_graph_run_allocates_nothing_n_by_n():
    n = 30_000  # n x n booleans would be 900 MB, float64 distances 7.2 GB
    g = random_graph(n, 5, seed=1)
    # the kernel compiled (or loaded) first: the compiler's own Python objects are not the run's memory
    simulate(SimulationConfig(n_agents=50, n_components=5, graph=random_graph(50, 3, seed=1), n_neighbors=3),
             steps=1, seed=0, record="metrics")
    tracemalloc.start()
    try:
        cfg = SimulationConfig(n_agents=n, n_components=5, graph=g, n_neighbors=3)
        tr = simulate(cfg, steps=2, seed=0, record="metrics")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert runner.variant_of(cfg)[1] == rounds.PARTNER_SPARSE
    assert tr.n_silos.shape == (3,)
    # O(n (K + r + degree)): population x 2, graph, records -- about 32 MB here
    assert peak < 60e6, peak
    assert simulation_bytes(cfg, 2, 1, "metrics") < 60e6
    knn = SimulationConfig(n_agents=n, n_components=5, n_neighbors=3)
    assert simulation_bytes(knn, 2, 1, "metrics") > 8 * n * n  # the kNN path does need its matrix


# ---------------------------------------------------------------- random_graph

@pytest.mark.parametrize("directed", [True, False])
def test_random_graph_is_erdos_renyi(directed):
    n, deg = 2000, 6.0
    g = random_graph(n, deg, seed=11, directed=directed)
    assert isinstance(g, sparse.csr_array) and g.shape == (n, n) and g.dtype == bool
    c = g.tocoo()
    assert not np.any(c.row == c.col)  # no self loops
    assert np.unique(c.row.astype(np.int64) * n + c.col).size == g.nnz  # no repeated edge
    if directed:
        assert (g != g.T).nnz > 0
    else:
        assert (g != g.T).nnz == 0
    # out-degrees are Binomial(n - 1, deg / (n - 1)): chi-square over pooled counts
    d = np.diff(g.indptr)
    p = deg / (n - 1)
    edges = np.arange(0, 14)
    obs = np.array([np.sum(d == k) for k in edges[:-1]] + [np.sum(d >= edges[-1])])
    pk = stats.binom.pmf(edges[:-1], n - 1, p)
    exp = n * np.append(pk, 1 - pk.sum())
    assert stats.chisquare(obs, exp).pvalue > 1e-3
    # the partners of one agent are uniform over the others: column counts of many graphs pooled
    cols = np.concatenate([random_graph(50, 5, seed=s, directed=directed).tocsr()[[0], :].indices
                           for s in range(400)])
    counts = np.bincount(cols, minlength=50)
    assert counts[0] == 0 and stats.chisquare(counts[1:]).pvalue > 1e-3
    assert (random_graph(n, deg, seed=11, directed=directed) != g).nnz == 0  # seeded


@pytest.mark.parametrize("kw, match", [
    (dict(n_agents=1, mean_degree=1), "n_agents must be an integer >= 2"),
    (dict(n_agents=10, mean_degree=10), r"mean_degree must be a number in \[0, n_agents - 1 = 9\]"),
    (dict(n_agents=10, mean_degree=-1), "mean_degree must be"),
    (dict(n_agents=10, mean_degree="3"), "mean_degree must be"),
])
def test_random_graph_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        random_graph(**kw)


# ---------------------------------------------------------------- CLI

def test_cli_graph_npz_equals_npy(tmp_path):
    from click.testing import CliRunner

    from gmmproxy.cli import main

    n = 40
    A = random_graph(n, 4, seed=5)
    sparse.save_npz(tmp_path / "g.npz", A)
    np.save(tmp_path / "g.npy", A.toarray())
    outs = {}
    for name in ("g.npz", "g.npy"):
        out = tmp_path / f"run-{name}.npz"
        res = CliRunner().invoke(main, ["simulate", "--n-agents", str(n), "--n-components", "5", "--n-neighbors", "2",
                                        "--graph", str(tmp_path / name), "--steps", "4", "--out", str(out)])
        assert res.exit_code == 0, res.output
        outs[name] = gmmproxy.Trajectory.load(out)
    assert isinstance(outs["g.npz"].config.graph, SparseGraph)
    np.testing.assert_array_equal(outs["g.npz"].weights, outs["g.npy"].weights)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    res = CliRunner().invoke(main, ["simulate", "--n-agents", str(n), "--graph", str(tmp_path / "bad.npz")])
    assert res.exit_code == 2 and "--graph: cannot read" in res.stderr and "scipy.sparse" in res.stderr


def test_sweep_cell_with_a_sparse_graph_runs_from_its_json_spec():
    # a sweep ships each cell's config as JSON-like to its task: the CSR dict must rebuild the same run
    from gmmproxy.sweeps._worker import run_cell

    cfg = SimulationConfig(n_agents=30, n_components=5, graph=random_graph(30, 3, seed=2), n_neighbors=2)
    spec = {"config": json.loads(json.dumps(cfg.to_dict())), "steps": 4, "replicates": 2,
            "seed": {"entropy": 5, "spawn_key": []}, "n_threads": 1, "record_n_silos": True}
    out = run_cell(spec)
    ens = simulate_many(cfg, steps=4, replicates=2, seed=np.random.SeedSequence(5), progress=False)
    np.testing.assert_array_equal(out["n_silos"], ens.n_silos)

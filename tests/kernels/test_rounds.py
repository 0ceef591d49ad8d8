"""The rounds of Algorithms 1 and 2 through ``simulate`` / ``simulate_many``: variants, threads,
tie-breaking, what an Ensemble keeps."""
import numpy as np
import pytest

import gmmproxy
from gmmproxy import SimulationConfig, replicate_seed, simulate, simulate_many
from gmmproxy._kernels import rounds, runner


def test_each_config_compiles_only_its_variant():
    assert runner.variant_of(SimulationConfig()) == (rounds.DENS_BANDED, rounds.PARTNER_ALL)
    assert runner.variant_of(SimulationConfig(n_neighbors=3)) == (rounds.DENS_BANDED, rounds.PARTNER_KNN)
    assert runner.variant_of(SimulationConfig(n_agents=4, n_neighbors=(3, 1))) == (rounds.DENS_BANDED,
                                                                                  rounds.PARTNER_KNN)
    assert runner.variant_of(SimulationConfig(n_agents=3, means=[0, 2, 1])) == (rounds.DENS_1D, rounds.PARTNER_ALL)
    assert runner.variant_of(SimulationConfig(n_agents=3, covariances=[1, 2, 1])) == (rounds.DENS_1D,
                                                                                     rounds.PARTNER_ALL)
    assert runner.variant_of(SimulationConfig(n_agents=3, means=np.eye(3))) == (rounds.DENS_ND, rounds.PARTNER_ALL)
    g = np.ones((3, 3), bool)
    assert runner.variant_of(SimulationConfig(n_agents=3, graph=g))[1] == rounds.PARTNER_GRAPH


@pytest.mark.parametrize("kw", [dict(), dict(p_mirror=0.0, n_neighbors=4), dict(update_covariances=True)])
def test_same_arrays_at_any_thread_count(kw):
    cfg = SimulationConfig(n_agents=10, n_components=6, **kw)
    a = simulate_many(cfg, steps=6, replicates=5, seed=11, record="weights", n_threads=1)
    b = simulate_many(cfg, steps=6, replicates=5, seed=11, record="weights", n_threads=2, chunk_size=3)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.n_silos, b.n_silos)
    # replicate r of a batch is simulate() with the replicate's seed
    one = simulate(cfg, steps=6, seed=replicate_seed(11, 3))
    np.testing.assert_array_equal(one.weights, a.weights[3])


def test_ensemble_keeps_algorithm2_covariances_and_final_rag(tmp_path):
    cfg = SimulationConfig(n_agents=6, n_components=3, update_covariances=True)
    ens = simulate_many(cfg, steps=4, replicates=3, seed=2, record="weights", keep_final_rag=True)
    assert ens.covariances.shape == (3, 5, 6, 3, 1, 1)
    assert ens.final_rag.shape == (3, 6, cfg.rag_size, 1)
    for r in range(3):
        tr = simulate(cfg, steps=4, seed=replicate_seed(2, r))
        np.testing.assert_array_equal(ens.covariances[r], tr.covariances)
        np.testing.assert_array_equal(ens.final_rag[r], tr.final_rag)
    back = gmmproxy.Ensemble.load(ens.save(tmp_path / "e.npz"))
    np.testing.assert_array_equal(back.covariances, ens.covariances)
    np.testing.assert_array_equal(back.final_rag, ens.final_rag)
    lean = simulate_many(cfg, steps=4, replicates=2, seed=2, record="silos")
    assert lean.covariances is None and lean.final_rag is None


def test_tie_break_is_validated():
    with pytest.raises(ValueError, match="tie_break"):
        SimulationConfig(tie_break="lowest")
    with pytest.raises(ValueError, match="tie_break"):
        simulate(SimulationConfig(n_agents=4, tie_break="random"), steps=1, seed=0, engine="reference")


def _share_in_silo0(tie_break, replicates=120):
    cfg = SimulationConfig(n_agents=30, n_neighbors=1, p_mirror=0.0, tie_break=tie_break)
    ens = simulate_many(cfg, steps=80, replicates=replicates, seed=2024, record="metrics")
    return float(np.mean(ens.final_silos == 0))


def test_tie_break_index_biases_low_indices_random_does_not():
    # issue 7's example: with the authors' rule ~30% of agents end in silo 0, ~1/30 with random ties
    index = _share_in_silo0("index")
    rand = _share_in_silo0("random")
    assert 0.2 < index < 0.4
    assert abs(rand - 1 / 30) < 0.03


def test_warmup_compiles_the_default_variants_and_reports_them():
    from gmmproxy._kernels.warmup import warmup

    lines = []
    done = warmup(chain=False, echo=lines.append)
    assert [name for name, _ in done] == [line.split(":")[0] for line in lines]
    assert len(done) == 2 and all(secs >= 0 for _, secs in done)
    # afterwards the default variants run without compiling
    for kw in ({}, {"n_neighbors": 2}):
        cfg = SimulationConfig(n_agents=6, **kw)
        fn = runner.kernel_for(cfg)
        assert len(fn.overloads) >= 1


def test_warmup_all_covers_every_variant_the_dispatcher_can_select():
    # every (algorithm, density kind, partner kind) that run_replicates can pick must be compiled by
    # `gmmproxy warmup --all`, or a cluster worker started from a warmed image compiles it anyway
    from gmmproxy._kernels.warmup import variants

    selectable = {("Algorithm 1", dens, part, wide) for dens in rounds.DENSITY_NAMES for part in rounds.PARTNER_NAMES
                  for wide in (False, True)}
    selectable |= {("Algorithm 2", rounds.DENS_ND, part, False) for part in rounds.PARTNER_NAMES}
    warmed = set()
    dtypes = set()
    for _, kw, wdt in variants(all_variants=True):
        cfg = SimulationConfig(**kw)
        alg2 = cfg.update_covariances
        warmed.add(("Algorithm 2" if alg2 else "Algorithm 1",) + runner.variant_of(cfg)
                   + (not alg2 and runner.wide_em(cfg),))
        dtypes.add(np.dtype(wdt))
    assert warmed == selectable
    assert dtypes == {np.dtype(np.float64), np.dtype(np.float32)}
    # the defaults: the paper's 1-d set-up with and without kNN
    default = {runner.variant_of(SimulationConfig(**kw)) for _, kw, _ in variants()}
    assert default == {(rounds.DENS_BANDED, rounds.PARTNER_ALL), (rounds.DENS_BANDED, rounds.PARTNER_KNN)}


def test_wall_time_excludes_compilation(monkeypatch):
    # make "compiling" take one extra second: the reported wall time must not contain it
    import time

    real = runner.compiled_entry

    def slow(*a, **k):
        entry, _ = real(*a, **k)
        time.sleep(1.0)
        return entry, 1.0

    monkeypatch.setattr(runner, "compiled_entry", slow)
    t0 = time.perf_counter()
    tr = simulate(SimulationConfig(n_agents=5), steps=3, seed=1)
    assert 0 <= tr.wall_time <= time.perf_counter() - t0 - 0.9
    t0 = time.perf_counter()
    ens = simulate_many(SimulationConfig(n_agents=5), steps=3, replicates=2, seed=1, progress=False)
    assert 0 <= ens.wall_time <= time.perf_counter() - t0 - 0.9


def test_csr_of_matches_scipy():
    from scipy import sparse

    rs = np.random.default_rng(4)
    g = rs.random((3, 9, 9)) < 0.3
    indptr, indices = runner.csr_of(g)
    for t in range(3):
        ref = sparse.csr_array(g[t])
        ref.sort_indices()
        np.testing.assert_array_equal(indptr[t], ref.indptr)
        np.testing.assert_array_equal(indices[t, :ref.nnz], ref.indices)


@pytest.mark.parametrize("update", ["synchronous", "sequential"])
def test_sparse_graph_path_equals_dense_graph_path(update, monkeypatch):
    # a graph of mean degree ~3 among 40 agents runs on the CSR path; with k at least the largest
    # degree no distance is needed, so both paths must give the same arrays bit for bit
    rs = np.random.default_rng(8)
    n, T = 40, 6
    g = rs.random((T, n, n)) < 3 / n
    cfg = SimulationConfig(n_agents=n, n_components=5, graph=g, n_neighbors=n - 1, p_mirror=0.2, update=update)
    assert runner.variant_of(cfg)[1] == rounds.PARTNER_SPARSE
    sparse_run = simulate(cfg, steps=T, seed=3)
    monkeypatch.setattr(runner, "SPARSE_GRAPH_MAX_DENSITY", 0.0)
    cfg = cfg.replace()  # the same values in a new object: the variant is cached per configuration object
    assert runner.variant_of(cfg)[1] == rounds.PARTNER_GRAPH
    dense_run = simulate(cfg, steps=T, seed=3)
    np.testing.assert_array_equal(sparse_run.weights, dense_run.weights)
    np.testing.assert_array_equal(sparse_run.final_rag, dense_run.final_rag)


def test_fork_based_pool_works_after_a_parallel_batch():
    # batches run on Python threads, not on an OpenMP team, so forking afterwards is safe
    import multiprocessing

    simulate_many(SimulationConfig(n_agents=5), steps=2, replicates=4, seed=0, n_threads=2, progress=False)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.map_async(abs, [-1, -2, -3]).get(timeout=120) == [1, 2, 3]


def test_same_arrays_at_any_thread_count_with_own_group_partners():
    # n >= 16 and k small: after a few rounds most agents pick their partner inside their own group
    # (knn_groups.own_group_partner); still one stream per replicate
    cfg = SimulationConfig(n_agents=30, n_components=8, p_mirror=0.0, n_neighbors=4)
    a = simulate_many(cfg, steps=12, replicates=4, seed=5, record="weights", n_threads=1)
    b = simulate_many(cfg, steps=12, replicates=4, seed=5, record="weights", n_threads=2, chunk_size=1)
    np.testing.assert_array_equal(a.weights, b.weights)
    one = simulate(cfg, steps=12, seed=replicate_seed(5, 2))
    np.testing.assert_array_equal(one.weights, a.weights[2])


def _partners_through_choose_partner(W, k, sequential, stale, draws, seed=3):
    """Partners of every agent drawn by ``rounds.choose_partner`` as a kNN round calls it (p = 0)."""
    import numba

    from gmmproxy._kernels import state
    from gmmproxy._seeding import xoshiro_state

    n, K = W.shape
    scr = state.new_scratch(n, K, 1, True)
    rules = state.Rules(0.0, np.array([k]), sequential, False, False, np.zeros((1, 1, 1), bool),
                        np.zeros((1, 2), np.int64), np.zeros((1, 1), np.int64), 0.0, False, np.zeros(K))
    KNN = rounds.PARTNER_KNN

    @numba.njit
    def go(st, W, scr, rules, k, sequential, stale, out):
        rounds.round_distances(W, scr, rules, k, sequential, KNN)
        if stale:  # what an earlier round may have left behind: must not be read
            for t in range(scr.grp.shape[0]):
                scr.grp[t] = 0
        for s in range(out.shape[0]):
            for i in range(out.shape[1]):
                out[s, i] = rounds.choose_partner(st, i, W, scr, rules, k, 0, sequential, KNN)

    out = np.zeros((draws, n), np.int64)
    go(xoshiro_state(np.random.SeedSequence(seed)).copy(), W, scr, rules, k, sequential, stale, out)
    return out


@pytest.mark.parametrize("sequential, k, stale", [(False, 4, False), (True, 4, True), (False, 70, True)])
def test_choose_partner_is_uniform_over_the_k_nearest(sequential, k, stale):
    # a population of silos (rows shared bit for bit by the agents of a silo, as after a few rounds):
    # each agent's partner is uniform over its k nearest by (distance, index), whichever path picks
    # it -- and a round that did not build the own-group table (sequential rounds, k above the
    # heap's range) must not read a stale one
    from weight_rows import clipped_rows

    from gmmproxy._kernels import neighbors

    rs = np.random.default_rng(1)
    n, K = 90, 12
    base = clipped_rows(rs, 4, K, 1e-12, 2)
    W = base[rs.integers(0, 4, n)]
    W[3] = clipped_rows(rs, 1, K, 1e-12, 3)[0]  # a group of one: the heap pass
    draws = 300 if k < 10 else 80
    got = _partners_through_choose_partner(W, k, sequential, stale, draws)
    D = np.zeros((n, n))
    neighbors.weight_distances_sparse(W, D, np.zeros((n, K), np.int64), np.zeros(n, np.int64), np.zeros(n))
    for i in range(n):
        want = sorted((j for j in range(n) if j != i), key=lambda j: (D[i, j], j))[:k]
        assert set(got[:, i]) <= set(want), i
        if k < 10:
            counts = np.array([np.sum(got[:, i] == j) for j in want])
            assert counts.min() > 0.4 * draws / k, (i, counts)


def _first_strict_max(row):
    """The scan record_step's silo assignment is defined by: the first strict maximum from entry 0."""
    best, arg = row[0], 0
    for c in range(1, row.size):
        if row[c] > best:
            best, arg = row[c], c
    return arg


@pytest.mark.parametrize("K", [1, 2, 3, 4, 5, 8, 9, 30, 31, 300])
def test_row_argmax_is_the_first_maximum(K):
    # rounds.row_argmax (two passes: running maxima, then the first equal entry) against the scan,
    # on rows with ties (one-hot rows at a floor, repeated maxima), NaNs and the engine's kind of rows
    rs = np.random.default_rng(K)
    rows = [rs.random(K), np.full(K, 1e-12), rs.integers(0, 3, K).astype(float)]
    one_hot = np.full(K, 1e-12)
    one_hot[rs.integers(K)] = 1 - (K - 1) * 1e-12
    rows.append(one_hot)
    tied = rs.random(K)
    tied[rs.integers(K, size=2)] = 2.0  # two equal maxima (or one, if the indices coincide)
    rows.append(tied)
    for _ in range(40):
        rows.append(rs.random(K).round(1))  # many ties
    for row in rows:
        W = np.stack([rs.random(K), row])
        assert rounds.row_argmax(W, 1) == _first_strict_max(row) == int(np.argmax(row))
    nan_rows = [np.full(K, np.nan)]
    if K > 2:
        r1 = rs.random(K)
        r1[0] = np.nan  # the scan never leaves entry 0
        r2 = rs.random(K)
        r2[K // 2] = np.nan  # passed over
        nan_rows += [r1, r2]
    for row in nan_rows:
        assert rounds.row_argmax(row[None, :], 0) == _first_strict_max(row)


def test_silos_are_the_argmax_of_the_recorded_weights():
    # what record_step stores per step against np.argmax of the weights it recorded (K = 300: the wide path)
    for kw in (dict(), dict(n_components=300), dict(n_components=7, sigma=0.6)):
        tr = simulate(SimulationConfig(n_agents=12, **kw), steps=15, seed=4, record="weights")
        np.testing.assert_array_equal(tr.silos, np.argmax(tr.weights, axis=2))
        np.testing.assert_array_equal(tr.n_silos, [len(np.unique(s)) for s in tr.silos])

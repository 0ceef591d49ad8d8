"""The calibration kernel's speed-ups change no result: job seeds, job queue, distance rows, partner ranks."""
import numpy as np
import pytest

from gmmproxy._seeding import replicate_states
from gmmproxy.bridge.calibration._job_seeds import job_states
from gmmproxy.bridge.calibration.batch import Geometry, simulate_batch


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**32 - 1, 2**32, 2**64 + 7, 2**200 + 3, "tuple", "spawned", "deep"])
def test_job_states_are_replicate_states(seed):
    # the vectorised SeedSequence hashing against NumPy's own, bit for bit, for int entropies of one
    # to seven words, tuple entropy and parents that are themselves spawned children
    ss = {"tuple": np.random.SeedSequence((3, 1, 7)), "spawned": np.random.SeedSequence(5, spawn_key=(2, 3)),
          "deep": np.random.SeedSequence(2**40, spawn_key=(2**33, 0, 9))}.get(seed, seed)
    for jobs in (1, 7, 130):
        np.testing.assert_array_equal(job_states(ss, jobs), replicate_states(ss, jobs))


def test_job_states_of_fresh_entropy_and_bad_seeds():
    ss = np.random.SeedSequence()  # 128-bit OS entropy
    np.testing.assert_array_equal(job_states(ss, 40), replicate_states(ss, 40))
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        job_states(-1, 3)
    with pytest.raises(TypeError, match="seed must be"):
        job_states(1.5, 3)


def test_results_do_not_depend_on_threads_or_job_assignment():
    # the same jobs on one and on two workers, and in an arbitrary assignment, give the same arrays
    import numba

    from gmmproxy._kernels.batched import run_jobs

    g = Geometry(12)
    kw = dict(p_mirror=np.linspace(0.0, 0.9, 9), n_neighbors=[1, 2, 3, 5, 11, 4, 6, 1, 2], sigma=0.15,
              rag_size=[1, 2, 1, 3, 1, 1, 2, 1, 1], answer_current=[1, 1, 0, 1, 1, 0, 1, 1, 1],
              rounds_per_step=2, activation=0.8, seed=4)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate_batch(g, 12, return_weights=True, **kw)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = simulate_batch(g, 12, return_weights=True, **kw)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    # the kernel with a shuffled job queue served by three workers
    J, n, K = 9, 12, 12
    states = job_states(4, J)
    silos = np.zeros((J, 13, n), dtype=np.int16)
    copied = np.zeros((J, 13, n), dtype=np.bool_)
    weights = np.zeros((J, 13, n, K))
    order = np.random.default_rng(1).permutation(J).astype(np.int64)
    f = np.float64
    run_jobs(states, g.initial_weights, g.means, g.chol, kw["p_mirror"].astype(f), np.array(kw["n_neighbors"]),
             np.full(J, 0.15), np.array(kw["rag_size"]), np.full(J, 2), np.full(J, 0.8), np.full(J, 1e-12),
             np.array(kw["answer_current"], dtype=np.bool_), 12, silos, copied, weights, order, 3)
    np.testing.assert_array_equal(silos, one[0])
    np.testing.assert_array_equal(copied, one[1])
    np.testing.assert_array_equal(weights, one[2])


def _sparse_rows(rng, n, K, eps=1e-12):
    """Weight rows as the kernel keeps them: a span of explicit values, one floor value elsewhere."""
    W = np.full((n, K), np.nan)  # entries outside a span are stale: never read
    lo = rng.integers(0, K - 3, size=n)
    width = rng.integers(0, 4, size=n)
    hi = lo + width
    floor = rng.choice([eps, eps / 3, 2e-9], size=n)
    for i in range(n):
        W[i, lo[i]:hi[i]] = rng.uniform(0.0, 1.0, size=width[i]) + floor[i]
    return W, lo.astype(np.int64), hi.astype(np.int64), floor


def _distance_tables(W, lo, hi, floor):
    """norm2, excess, excess table ET and jitter ramp of the sparse rows, as the kernel keeps them."""
    from gmmproxy._kernels.span_rows import _excess_column, _jitter_ramp, _row_features

    n, K = W.shape
    norm2, excess, ET = np.zeros(n), np.zeros(n), np.zeros((K, n))
    for i in range(n):
        _row_features(W, i, lo, hi, floor, norm2, excess)
        _excess_column(W, i, 0, 0, lo, hi, floor, ET)
    ramp = np.empty(2 * n)
    _jitter_ramp(n, ramp)
    return norm2, excess, ET, ramp


def test_distance_row_is_the_dense_squared_distance_plus_jitter():
    # float64 re-derivation from dense rows: |w_i - w_b|^2 + TIE_JITTER * ((b - offset) mod n) / n,
    # out[i] = inf; spans that overlap, touch, nest or are empty
    from gmmproxy._kernels.span_rows import TIE_JITTER, _excess_column, _jittered_distances

    rng = np.random.default_rng(3)
    n, K = 23, 17
    for _ in range(20):
        W, lo, hi, floor = _sparse_rows(rng, n, K)
        dense = np.where((np.arange(K) >= lo[:, None]) & (np.arange(K) < hi[:, None]), W, floor[:, None])
        norm2, excess, ET, ramp = _distance_tables(W, lo, hi, floor)
        out = np.empty(n)
        for i in range(n):
            offset = int(rng.integers(n))
            _jittered_distances(W, i, lo, hi, floor, norm2, excess, ET, ramp, offset, out)
            want = ((dense - dense[i]) ** 2).sum(axis=1) + TIE_JITTER * ((np.arange(n) - offset) % n) / n
            want[i] = np.inf
            np.testing.assert_allclose(out, want, rtol=0, atol=1e-14)
    # the excess table is exactly 0 outside each span after a row moves
    _excess_column(W, 0, lo[0], hi[0], np.array([K - 2] + [0] * (n - 1)), np.array([K] + [0] * (n - 1)),
                   floor, ET)
    assert np.all(ET[:K - 2, 0] == 0.0)


def test_partner_rank_extraction_is_the_sorted_order():
    # the u-th agent of the order (distance, index) -- ties to the smaller index -- found by taking the
    # nearest u + 1 times, against NumPy's lexsort
    from gmmproxy._kernels.span_rows import _first_argmin

    rng = np.random.default_rng(5)
    for n in (2, 3, 5, 8, 30, 33):
        for _ in range(30):
            v = rng.choice([0.0, 1e-12, 2e-12, 0.5, 2.0], size=n) + (rng.random() < 0.5) * rng.random(n)
            v[rng.integers(n)] = np.inf  # the agent itself
            order = np.lexsort((np.arange(n), v))
            for u in range(n - 1):
                work = v.copy()
                for _ in range(u):
                    work[_first_argmin(work)] = np.inf
                assert _first_argmin(work) == order[u], (n, u, v)


def test_cached_distance_rows_give_the_partners_of_fresh_ones():
    # _copy_partner with its distance cache (a row reused while the epoch is unchanged, recomputed after
    # it moves) against the same calls with the cache off: the same partner and generator state at
    # every call, for rank extraction (small k) and rejection (large k); and a cache left stale
    # across a change of the rows would not be (checked by changing the rows without a new epoch)
    from numba import njit

    from gmmproxy._kernels.span_rows import _copy_partner

    @njit(cache=False)
    def partners(state, W, lo, hi, floor, norm2, excess, ET, ramp, k, DC, dc_epoch, epochs, agents):
        n = W.shape[0]
        drow = np.empty(n)
        out = np.empty(agents.shape[0], dtype=np.int64)
        for t in range(agents.shape[0]):
            out[t] = _copy_partner(state, agents[t], n, k, W, lo, hi, floor, norm2, excess, ET, ramp, drow, DC,
                                   dc_epoch, epochs[t])
        return out

    rng = np.random.default_rng(8)
    n, K = 30, 12
    W, lo, hi, floor = _sparse_rows(rng, n, K)
    norm2, excess, ET, ramp = _distance_tables(W, lo, hi, floor)
    agents = rng.integers(0, n, size=400)
    epochs = np.repeat(np.arange(8), 50)  # each agent's row computed afresh once per epoch, else reused
    for k in (1, 3, 5, 12, 29):
        s_fresh = np.random.default_rng(k).integers(1, 2**63, size=4, dtype=np.uint64)
        s_cached = s_fresh.copy()
        fresh = partners(s_fresh, W, lo, hi, floor, norm2, excess, ET, ramp, k, np.empty((1, n)),
                         np.full(n, -1), epochs, agents)
        cached = partners(s_cached, W, lo, hi, floor, norm2, excess, ET, ramp, k, np.empty((n, n)),
                          np.full(n, -1), epochs, agents)
        np.testing.assert_array_equal(cached, fresh)
        np.testing.assert_array_equal(s_cached, s_fresh)
    # the epoch is what keeps the cache honest: rows changed under an unchanged epoch give other partners
    k = 3
    DC, dc_epoch = np.empty((n, n)), np.full(n, -1)
    first = partners(np.arange(1, 5, dtype=np.uint64), W, lo, hi, floor, norm2, excess, ET, ramp, k, DC,
                     dc_epoch, np.zeros(400, dtype=np.int64), agents)
    W2, lo2, hi2, floor2 = _sparse_rows(np.random.default_rng(9), n, K)
    norm2b, excessb, ETb, _ = _distance_tables(W2, lo2, hi2, floor2)
    stale = partners(np.arange(1, 5, dtype=np.uint64), W2, lo2, hi2, floor2, norm2b, excessb, ETb, ramp, k, DC,
                     dc_epoch, np.zeros(400, dtype=np.int64), agents)
    fresh2 = partners(np.arange(1, 5, dtype=np.uint64), W2, lo2, hi2, floor2, norm2b, excessb, ETb, ramp, k,
                      np.empty((1, n)), np.full(n, -1), np.zeros(400, dtype=np.int64), agents)
    np.testing.assert_array_equal(stale, first)
    assert not np.array_equal(fresh2, first)


def test_one_hot_em_shortcut_is_the_general_em_step():
    # the EM step of a one-point RAG for a one-hot row, by the shortcut (no density band) and by the
    # general path (banded densities + _sparse_em with one point): the same span, floor and values bit for bit
    # wherever the shortcut applies; and it applies to most points drawn near the agent's own topic
    from numba import njit

    from gmmproxy._kernels.gmm import banded_densities_1d, density_cutoff
    from gmmproxy._kernels.span_rows import _one_hot_em_1d, _sparse_em, one_hot_limits

    @njit(cache=False)
    def both(xs, W, T, wf, sd, eps):
        K = W.shape[1]
        mu1 = np.arange(K, dtype=np.float64)
        inv_sd = np.full(K, 1.0 / sd)
        cutoff = density_cutoff(eps)
        v_max, wf_max = one_hot_limits(K, eps)
        fast = np.zeros((xs.shape[0], K))
        slow = np.zeros((xs.shape[0], K))
        meta = np.zeros((xs.shape[0], 7))
        DD = np.zeros((1, K))
        BL = np.zeros(1, dtype=np.int64)
        BH = np.zeros(1, dtype=np.int64)
        BS = np.zeros(1)
        slot_row = np.zeros((1, 1), dtype=np.int64)
        acc = np.zeros(K)
        for t in range(xs.shape[0]):
            lo, hi, f = _one_hot_em_1d(xs[t], mu1, inv_sd, np.log(sd), 1.0, cutoff, W, 0, T, wf, eps, v_max,
                                       wf_max, fast, t)
            BL[0], BH[0], BS[0] = banded_densities_1d(xs[t], mu1, inv_sd, np.log(sd), 1.0, cutoff, DD[0])
            slo, shi, sf = _sparse_em(W, 0, T, T + 1, wf, DD, BL, BH, BS, slot_row, 0, 0, 0, eps, acc, slow, t)
            ok = True
            meta[t, 0] = lo
            meta[t, 1] = hi
            meta[t, 2] = f
            meta[t, 3] = slo
            meta[t, 4] = shi
            meta[t, 5] = sf
            meta[t, 6] = 1.0 if ok else 0.0
        return fast, slow, meta

    rng = np.random.default_rng(21)
    K = 30
    taken_near = []
    for sd, eps, T in [(0.114, 1e-12, 7), (0.15, 1e-12, 0), (0.3, 1e-12, 29), (0.05, 1e-3, 12), (0.114, 1e-300, 3),
                       (0.6, 1e-8, 15)]:
        wT = 1.0 - eps
        total = wT + (K - 1) * eps
        W = np.full((1, K), eps / total)
        W[0, T] = wT / total
        wf = eps / total
        # near the agent's topic; anywhere; and just inside the midpoints to the neighbours, where a
        # neighbour's density approaches T's and the shortcut must give way to the general path
        near_mid = T + np.array([-0.5, 0.5])[:, None] * (1 - np.logspace(-12, -1, 200))[None, :]
        xs = np.r_[T + sd * rng.standard_normal(3000), rng.uniform(-2, K + 1, 1000), near_mid.ravel()]
        fast, slow, meta = both(xs, W, T, wf, sd, eps)
        used = meta[:, 0] >= 0
        assert np.all(meta[used, 6] == 1)
        np.testing.assert_array_equal(meta[used, :3], meta[used, 3:6])
        for t in np.flatnonzero(used):
            lo, hi = int(meta[t, 0]), int(meta[t, 1])
            np.testing.assert_array_equal(fast[t, lo:hi], slow[t, lo:hi])
        taken_near.append(used[:3000].mean())
    # typical calibrated spreads: the shortcut covers most draws near the agent's topic
    assert taken_near[0] > 0.99 and taken_near[1] > 0.95 and taken_near[2] > 0.5, taken_near

"""Numba kernels against independent float64 NumPy/SciPy re-derivations.

The kernels are plain ``njit`` functions, callable from Python with NumPy
arrays, so every primitive is checked in isolation here: densities, the EM
weight step (bands, replacement slot, clipping), sampling (goodness of fit),
the RNG, RAG replacement and partner choice.
"""
import math

import numpy as np
import pytest
from scipy import stats

from gmmproxy._kernels import em, gmm, knn_groups, neighbors, rng

ALPHA = 1e-3  # significance level of the distributional tests (fixed seeds: deterministic)



def _em(w, dens, blo, bhi, best, slot, dens_new, lo_new, hi_new, best_new, eps, out):
    """The kernels' EM step on one agent given as 1-d / 2-d arrays (the kernel indexes rows in place)."""
    OUT = np.empty((1, len(w)))
    em.em_weights(np.asarray(w)[None], 0, np.asarray(dens)[None], 0, np.asarray(blo)[None],
                   np.asarray(bhi)[None], np.asarray(best, dtype=float)[None], slot, dens_new, lo_new, hi_new,
                   best_new, eps, OUT, 0)
    out[:] = OUT[0]

def _state(seed):
    """A fresh xoshiro state from an int, as the package derives it."""
    from gmmproxy._seeding import xoshiro_state

    return xoshiro_state(np.random.SeedSequence(seed)).copy()


def _scaled(logpdf_rows):
    """Rows rescaled so that the largest entry is 1 (the kernels' representation)."""
    lp = np.atleast_2d(logpdf_rows)
    return np.exp(lp - lp.max(axis=1, keepdims=True))


def _ref_em(rag_pts, w_prior, mu, sd, eps):
    """EM weight step from scipy.stats.norm responsibilities (1-d), clipped and renormalised."""
    dens = stats.norm.pdf(rag_pts[:, None], loc=mu[None, :], scale=sd[None, :])  # (r, K)
    num = w_prior[None, :] * dens
    gamma = num / num.sum(axis=1, keepdims=True)
    new = gamma.mean(axis=0)
    new = np.clip(new, eps, 1 - eps)
    return new / new.sum()


# ---------------------------------------------------------------- densities
def test_log_density_1d_and_scaling_match_scipy():
    rs = np.random.default_rng(1)
    K = 7
    mu = np.sort(rs.normal(0, 3, K))
    sd = rs.uniform(0.3, 2.0, K)
    inv_sd, log_sd = 1 / sd, np.log(sd)
    out = np.empty(K)
    sc = np.empty(K)
    for x in rs.normal(0, 4, 25):
        best = gmm.log_density_1d(x, mu, inv_sd, log_sd, out)
        ref = stats.norm.logpdf(x, mu, sd)
        # equal up to the constant -log(sqrt(2 pi)) dropped by the kernel
        np.testing.assert_allclose(out - ref, 0.5 * math.log(2 * math.pi), rtol=0, atol=1e-12)
        assert best == pytest.approx(out.max(), abs=0)
        gmm.scale_densities(out, best, -1e9, sc)
        np.testing.assert_allclose(sc, _scaled(ref)[0], rtol=1e-12, atol=1e-300)


def test_log_density_nd_matches_multivariate_normal():
    rs = np.random.default_rng(2)
    K, d = 5, 3
    mu = rs.normal(0, 2, (K, d))
    covs = []
    for _ in range(K):
        A = rs.normal(size=(d, d))
        covs.append(A @ A.T + 0.5 * np.eye(d))
    covs = np.array(covs)
    chol = np.linalg.cholesky(covs)
    half_logdet = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    out = np.empty(K)
    work = np.empty(d)
    sc = np.empty(K)
    for x in rs.normal(0, 3, (20, d)):
        best = gmm.log_density_nd(x, mu, chol, half_logdet, out, work)
        ref = np.array([stats.multivariate_normal.logpdf(x, mu[c], covs[c]) for c in range(K)])
        np.testing.assert_allclose(out - ref, 0.5 * d * math.log(2 * math.pi), rtol=0, atol=1e-10)
        gmm.scale_densities(out, best, -1e9, sc)
        np.testing.assert_allclose(sc, _scaled(ref)[0], rtol=1e-10, atol=1e-300)


def test_scale_densities_cutoff_gives_exact_zeros():
    logd = np.array([0.0, -10.0, -50.0, -95.0, -96.0, -300.0])
    out = np.full(6, np.nan)
    gmm.scale_densities(logd, 0.0, -95.5, out)
    np.testing.assert_array_equal(out[4:], 0.0)
    np.testing.assert_allclose(out[:4], np.exp(logd[:4]), rtol=1e-15)
    # the documented cutoff: 2 log(eps) - 40
    assert gmm.density_cutoff(1e-12) == pytest.approx(2 * math.log(1e-12) - 40)


@pytest.mark.parametrize("even", [True, False])
def test_banded_densities_1d_matches_scipy(even):
    rs = np.random.default_rng(3 + even)
    K = 30
    sd = 0.2
    if even:
        mu = np.arange(K, dtype=float) * 0.7 - 3.0
        inv_spacing = 1 / 0.7
    else:
        mu = np.sort(rs.uniform(-5, 15, K))
        inv_spacing = 0.0
    inv_sd = np.full(K, 1 / sd)
    cutoff = gmm.density_cutoff(1e-12)
    out = np.empty(K)
    xs = np.concatenate([rs.uniform(mu[0] - 2, mu[-1] + 2, 200), [mu[0] - 10, mu[-1] + 10, mu[3], mu[0], mu[-1]]])
    for x in xs:
        out[:] = np.nan  # entries outside the band are documented as stale
        lo, hi, ulog = gmm.banded_densities_1d(x, mu, inv_sd, math.log(sd), inv_spacing, cutoff, out)
        ref_log = stats.norm.logpdf(x, mu, sd)
        rel = ref_log - ref_log.max()
        assert 0 <= lo < hi <= K
        # the underflow log-scale: scipy's largest log-density, or -inf when even the nearest
        # kernel exp(-z^2/2) underflows (scipy's norm.pdf is then 0 for every component)
        kmax = np.max(-0.5 * ((x - mu) / sd) ** 2)
        if kmax < gmm.LOG_UNDERFLOW:
            assert ulog == -np.inf
        else:
            assert ulog == pytest.approx(ref_log.max(), abs=1e-9)
        np.testing.assert_allclose(out[lo:hi], np.exp(rel[lo:hi]), rtol=1e-9, atol=1e-300)
        # the band holds the densest component and everything above the cutoff
        assert np.argmax(rel) in range(lo, hi)
        outside = np.r_[rel[:lo], rel[hi:]]
        assert np.all(outside <= cutoff + 1e-9)


# ---------------------------------------------------------------- EM step
def _em_setup(seed, K=6, r=4, eps=1e-12):
    rs = np.random.default_rng(seed)
    mu = np.arange(K, dtype=float)
    sd = np.full(K, 0.6)
    w = rs.dirichlet(np.ones(K))
    w = np.clip(w, eps, 1 - eps)
    w /= w.sum()
    pts = rs.uniform(-0.5, K - 0.5, r)
    dens = _scaled(stats.norm.logpdf(pts[:, None], mu[None], sd[None]))
    return rs, mu, sd, w, pts, dens


def test_em_weights_full_rows_no_replacement_matches_scipy():
    for seed in range(5):
        rs, mu, sd, w, pts, dens = _em_setup(seed)
        K, r = dens.shape[1], dens.shape[0]
        out = np.empty(K)
        _em(w, dens, np.zeros(r, np.int64), np.full(r, K, np.int64), np.zeros(r), -1, np.zeros(K),
                       0, K, 0.0, 1e-12, out)
        np.testing.assert_allclose(out, _ref_em(pts, w, mu, sd, 1e-12), rtol=1e-12, atol=1e-15)
        assert out.sum() == pytest.approx(1.0, abs=1e-14)


def test_em_weights_replacement_slot_uses_new_row():
    rs, mu, sd, w, pts, dens = _em_setup(11, r=5)
    K, r = dens.shape[1], dens.shape[0]
    xnew = 2.3
    dnew = _scaled(stats.norm.logpdf(xnew, mu, sd))[0]
    for slot in range(r):
        out = np.empty(K)
        _em(w, dens, np.zeros(r, np.int64), np.full(r, K, np.int64), np.zeros(r), slot, dnew, 0, K,
                       0.0, 1e-12, out)
        pts2 = pts.copy()
        pts2[slot] = xnew
        np.testing.assert_allclose(out, _ref_em(pts2, w, mu, sd, 1e-12), rtol=1e-12, atol=1e-15)


def test_em_weights_bands_ignore_stale_entries():
    """Band rows from banded_densities_1d; entries outside each band hold garbage and must be ignored."""
    rs = np.random.default_rng(5)
    K, r, sd, eps = 20, 5, 0.2, 1e-12
    mu = np.arange(K, dtype=float)
    inv_sd = np.full(K, 1 / sd)
    cutoff = gmm.density_cutoff(eps)
    w = rs.dirichlet(np.ones(K) * 0.5)
    w = np.clip(w, eps, 1 - eps)
    w /= w.sum()
    pts = rs.uniform(0, K - 1, r)
    dens = np.full((r, K), 1e300)  # garbage outside the bands
    blo = np.empty(r, np.int64)
    bhi = np.empty(r, np.int64)
    best = np.empty(r)
    for h in range(r):
        blo[h], bhi[h], best[h] = gmm.banded_densities_1d(pts[h], mu, inv_sd, math.log(sd), 1.0, cutoff, dens[h])
    xnew = 7.9
    dnew = np.full(K, 1e300)
    lo_n, hi_n, best_n = gmm.banded_densities_1d(xnew, mu, inv_sd, math.log(sd), 1.0, cutoff, dnew)
    out = np.empty(K)
    _em(w, dens, blo, bhi, best, 1, dnew, lo_n, hi_n, best_n, eps, out)
    pts2 = pts.copy()
    pts2[1] = xnew
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, _ref_em(pts2, w, mu, np.full(K, sd), eps), rtol=1e-9, atol=1e-15)


def test_em_weights_clips_to_eps_and_one_minus_eps():
    eps = 1e-3
    K, r = 4, 3
    mu = np.arange(K, dtype=float)
    sd = np.full(K, 0.1)
    w = np.array([0.97, 0.01, 0.01, 0.01])
    pts = np.array([0.0, 0.01, -0.02])  # all at component 0: raw update ~ (1, 1e-20, ...)
    dens = _scaled(stats.norm.logpdf(pts[:, None], mu[None], sd[None]))
    out = np.empty(K)
    _em(w, dens, np.zeros(r, np.int64), np.full(r, K, np.int64), np.zeros(r), -1, np.zeros(K), 0, K,
                   0.0, eps, out)
    raw = np.array([1 - eps, eps, eps, eps])
    np.testing.assert_allclose(out, raw / raw.sum(), rtol=1e-13)
    np.testing.assert_allclose(out, _ref_em(pts, w, mu, sd, eps), rtol=1e-12)
    assert out.min() >= eps * (1 - K * eps) and out.max() <= 1 - eps


def test_clip_normalise_guards_nan():
    eps = 1e-6
    w = np.array([np.nan, 0.0, 2.0, 0.5])
    out = np.empty(4)
    gmm.clip_normalise(w, eps, out)
    raw = np.array([eps, eps, 1 - eps, 0.5])
    np.testing.assert_allclose(out, raw / raw.sum(), rtol=1e-14)


# ---------------------------------------------------------------- sampling
def test_sample_point_1d_goodness_of_fit():
    st = _state(21)
    w = np.array([0.2, 0.5, 0.3])
    mu = np.array([[-5.0], [0.0], [5.0]])
    sd = np.array([0.5, 1.0, 2.0])
    chol = sd.reshape(3, 1, 1).copy()
    N = 30000
    xs = np.empty(N)
    cs = np.empty(N, np.int64)
    out = np.empty(1)
    for s in range(N):
        cs[s] = gmm.sample_point(st, w[None], 0, mu, chol, out)
        xs[s] = out[0]
    counts = np.bincount(cs, minlength=3)
    assert stats.chisquare(counts, w * N).pvalue > ALPHA
    for c in range(3):
        z = (xs[cs == c] - mu[c, 0]) / sd[c]
        assert stats.kstest(z, "norm").pvalue > ALPHA
    # the mixture CDF as a whole
    mix_cdf = lambda x: sum(w[c] * stats.norm.cdf(x, mu[c, 0], sd[c]) for c in range(3))  # noqa: E731
    assert stats.kstest(xs, mix_cdf).pvalue > ALPHA


def test_sample_point_2d_full_covariance_goodness_of_fit():
    st = _state(122)
    w = np.array([0.6, 0.4])
    mu = np.array([[0.0, 0.0], [4.0, -1.0]])
    covs = np.array([[[1.0, 0.8], [0.8, 2.0]], [[0.5, -0.3], [-0.3, 0.4]]])
    chol = np.linalg.cholesky(covs)
    N = 20000
    xs = np.empty((N, 2))
    cs = np.empty(N, np.int64)
    out = np.empty(2)
    for s in range(N):
        cs[s] = gmm.sample_point(st, w[None], 0, mu, chol, out)
        xs[s] = out
    assert stats.chisquare(np.bincount(cs, minlength=2), w * N).pvalue > ALPHA
    for c in range(2):
        pts = xs[cs == c] - mu[c]
        z = np.linalg.solve(chol[c], pts.T).T  # whitened: i.i.d. N(0, 1) coordinates
        assert stats.kstest(z[:, 0], "norm").pvalue > ALPHA
        assert stats.kstest(z[:, 1], "norm").pvalue > ALPHA
        # Mahalanobis distance^2 ~ chi2(2) checks the full covariance, incl. correlation
        m2 = np.einsum("ij,jk,ik->i", pts, np.linalg.inv(covs[c]), pts)
        assert stats.kstest(m2, "chi2", args=(2,)).pvalue > ALPHA
        np.testing.assert_allclose(np.cov(pts.T), covs[c], atol=0.08)


def test_sample_point_wrong_covariance_is_detected():
    """Power check of the 2-d test: samples from the true law fail against a wrong covariance."""
    st = _state(23)
    w = np.array([1.0])
    mu = np.zeros((1, 2))
    cov = np.array([[[1.0, 0.8], [0.8, 2.0]]])
    chol = np.linalg.cholesky(cov)
    out = np.empty(2)
    xs = np.empty((5000, 2))
    for s in range(5000):
        gmm.sample_point(st, w[None], 0, mu, chol, out)
        xs[s] = out
    wrong = np.array([[1.0, 0.0], [0.0, 2.0]])
    m2 = np.einsum("ij,jk,ik->i", xs, np.linalg.inv(wrong), xs)
    assert stats.kstest(m2, "chi2", args=(2,)).pvalue < ALPHA


def test_standard_normal_goodness_of_fit():
    st = _state(31)
    z = np.array([rng.standard_normal(st) for _ in range(40000)])
    assert stats.kstest(z, "norm").pvalue > ALPHA
    ad = stats.anderson(z, dist="norm", method="interpolate")
    assert ad.pvalue > 0.01  # the interpolation table's lower end
    assert abs(z.mean()) < 4 / math.sqrt(len(z))


def test_uniform_range_and_fit():
    st = _state(32)
    u = np.array([rng.uniform(st) for _ in range(20000)])
    uo = np.array([rng.uniform_open(st) for _ in range(20000)])
    assert u.min() >= 0 and u.max() < 1
    assert uo.min() > 0 and uo.max() < 1
    assert stats.kstest(u, "uniform").pvalue > ALPHA
    assert stats.kstest(uo, "uniform").pvalue > ALPHA


@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_randint_uniform(n):
    st = _state(40 + n)
    N = 20000 if n < 1000 else 100000
    draws = np.array([rng.randint(st, n) for _ in range(N)])
    assert draws.min() >= 0 and draws.max() <= n - 1
    if n == 1:
        assert np.all(draws == 0)
        return
    counts = np.bincount(draws, minlength=n)
    assert stats.chisquare(counts).pvalue > ALPHA


def test_randint_huge_bound_is_unbiased():
    # 2**64 / n ~ 2.67: a plain modulo reduction would put 56% of the mass below n/2
    n = 3 * 2**61 - 1
    st = _state(49)
    draws = [rng.randint(st, n) for _ in range(20000)]
    assert all(0 <= x < n for x in draws)
    below = np.mean([x < n // 2 for x in draws])
    assert stats.binomtest(int(below * 20000), 20000, 0.5).pvalue > ALPHA


def test_categorical_frequencies():
    st = _state(50)
    probs = np.array([1.0, 0.0, 3.0, 6.0])  # unnormalised on purpose
    N = 30000
    draws = np.array([rng.categorical(st, probs) for _ in range(N)])
    counts = np.bincount(draws, minlength=4)
    assert counts[1] == 0
    keep = [0, 2, 3]
    assert stats.chisquare(counts[keep], probs[keep] / probs.sum() * N).pvalue > ALPHA
    p2 = np.array([0.25, 0.25, 0.5])
    d2 = np.array([rng.categorical_row(st, np.stack([p2[::-1], p2]), 1) for _ in range(N)])
    assert stats.chisquare(np.bincount(d2, minlength=3), p2 * N).pvalue > ALPHA


def _first_crossing(q, u):
    """float64 re-derivation of a categorical scan: the first positive entry whose running
    (sequential) sum exceeds u, else the last positive entry; and the distance from u to the
    nearest running sum (the rounding of the sums decides draws closer than that)."""
    cs = np.cumsum(q)
    pos = np.flatnonzero(q > 0)
    hit = pos[u < cs[pos]]
    idx = int(hit[0]) if hit.size else (int(pos[-1]) if pos.size else 0)
    return idx, float(np.min(np.abs(cs - u)))


@pytest.mark.parametrize("K", [1, 5, 7, 8, 9, 16, 30, 61, 300])
def test_categorical_row_is_the_cumulative_search(K):
    # categorical_row against the plain sequential search (a NumPy cumsum), draw by draw,
    # with the same uniform: rows with zeros, NaNs, near-one-hot rows (the engine's kind: most
    # entries at a tiny floor) and rows summing to less than 1 (u beyond the total: the last
    # positive entry).
    rs = np.random.default_rng(K)
    st = _state(K + 1000)
    checked = 0
    for trial in range(400):
        kind = trial % 4
        if kind == 0:
            p = rs.random(K)
        elif kind == 1:
            p = np.full(K, 1e-12)
            p[rs.integers(K)] = 1.0
        elif kind == 2:
            p = rs.random(K) * (rs.random(K) < 0.5)
            p[rs.integers(K)] = np.nan if K > 1 else 0.3
        else:
            p = rs.random(K)
        if kind != 3:
            p = p / np.nansum(p) if np.nansum(p) > 0 else p
        else:
            p = 0.6 * p / p.sum()  # total 0.6: u beyond it in ~40% of draws
        q = np.where(p > 0, p, 0.0)
        P = np.stack([rs.random(K), p])
        copy = st.copy()
        u = rng.uniform(copy)
        ref, gap = _first_crossing(q, u)
        got = rng.categorical_row(st, P, 1)
        assert np.array_equal(st, copy), "one uniform per draw"
        if gap > 1e-12:  # not within rounding of a boundary
            assert got == ref, (K, trial, u, p)
            checked += 1
        assert q[got] > 0 or not np.any(q > 0)
    assert checked > 390


def test_categorical_row_frequencies_many_components():
    # K = 300, near one-hot rows plus a band of mass near the end: the draw frequencies
    st = _state(51)
    K = 300
    p = np.full(K, 1e-4)
    p[[3, 150, 297, 299]] = [0.2, 0.3, 0.25, 0.2]
    p /= p.sum()
    P = p[None, :]
    N = 40000
    counts = np.bincount([rng.categorical_row(st, P, 0) for _ in range(N)], minlength=K)
    big = [3, 150, 297, 299]
    rest = np.setdiff1d(np.arange(K), big)
    obs = np.append(counts[big], counts[rest].sum())
    exp = np.append(p[big], p[rest].sum()) * N
    assert stats.chisquare(obs, exp).pvalue > ALPHA


def test_rng_same_state_same_stream():
    a, b = _state(7), _state(7)
    xa = [rng.next_u64(a) for _ in range(10)]
    xb = [rng.next_u64(b) for _ in range(10)]
    assert xa == xb
    assert len(set(xa)) == 10


# ---------------------------------------------------------------- RAG replacement
def test_farthest_index_matches_numpy():
    rs = np.random.default_rng(60)
    for d in (1, 2, 3):
        for _ in range(50):
            rag = rs.normal(size=(5, d))
            x = rs.normal(size=d)
            assert gmm.farthest_index(rag[None], 0, x) == int(np.argmax(np.linalg.norm(rag - x, axis=1)))


def test_farthest_index_first_on_ties():
    rag = np.array([[0.0], [3.0], [-3.0], [3.0], [1.0]])
    assert gmm.farthest_index(rag[None], 0, np.array([0.0])) == 1
    rag2 = np.array([[1.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, -2.0]])
    assert gmm.farthest_index(rag2[None], 0, np.zeros(2)) == 1
    assert gmm.farthest_index(np.zeros((1, 4, 1)), 0, np.zeros(1)) == 0


# ---------------------------------------------------------------- partner choice
def _k_nearest(drow, i, k, allowed=None):
    """The k nearest agents j != i (allowed only) ordered by (distance, index)."""
    n = len(drow)
    cand = [j for j in range(n) if j != i and (allowed is None or allowed[j])]
    cand.sort(key=lambda j: (drow[j], j))
    return cand[:k]


def _partner_draws(seed, i, n, p, k, drow, use_graph, allowed, N, random_ties=False):
    """Partner draws as a round of the kernels makes them: mirror with probability p, else
    uniform over all others (no restriction) or among the k nearest allowed (``rounds``)."""
    from gmmproxy._kernels import rounds, state

    st = _state(seed)
    graph = np.ones((1, n, n), dtype=bool)
    if allowed is not None:
        graph[0, i] = allowed
    scr = state.new_scratch(n, 2, 1, True)
    scr.D[i] = drow
    # a round that filled the distance matrix (synchronous kNN rounds with grouped rows read
    # their group table instead: tests/kernels/test_neighbors.py)
    scr.nsupp[0] = knn_groups.ROUND_MATRIX
    rules = state.Rules(p, np.array([k]), False, False, random_ties, graph, np.zeros((1, 2), np.int64),
                        np.zeros((1, 1), np.int64), 0.0, False, np.zeros(2))
    kind = rounds.PARTNER_GRAPH if use_graph else rounds.PARTNER_KNN
    W = np.zeros((n, 2))
    out = []
    for _ in range(N):
        if rng.uniform(st) < p:
            out.append(i)
        elif not use_graph and k >= n - 1:
            out.append(rounds.other_uniform(st, i, n))
        else:
            out.append(rounds.choose_restricted(st, i, W, scr, rules, k, 0, True, kind))
    return np.array(out)


def test_choose_partner_mirror_rate_and_uniform_over_k_nearest():
    n, i, p, k = 9, 4, 0.3, 3
    # ties in distance: agents 1, 6 and 7 share 0.5; by index 1 and 6 come first
    drow = np.array([0.9, 0.5, 0.8, 0.2, 0.0, 1.5, 0.5, 0.5, 0.3])
    allowed = np.ones(n, bool)
    N = 30000
    draws = _partner_draws(70, i, n, p, k, drow, False, allowed, N)
    n_self = int(np.sum(draws == i))
    assert stats.binomtest(n_self, N, p).pvalue > ALPHA
    others = draws[draws != i]
    expected = _k_nearest(drow, i, k)
    assert expected == [3, 8, 1]
    assert set(np.unique(others)) == set(expected)
    counts = np.array([np.sum(others == j) for j in expected])
    assert stats.chisquare(counts).pvalue > ALPHA


def test_choose_partner_unrestricted_is_uniform_over_others():
    n, i = 6, 2
    drow = np.zeros(n)
    draws = _partner_draws(71, i, n, 0.0, n - 1, drow, False, np.ones(n, bool), 24000)
    assert not np.any(draws == i)
    assert stats.chisquare(np.bincount(draws, minlength=n)[[0, 1, 3, 4, 5]]).pvalue > ALPHA


def test_choose_partner_respects_graph_and_k():
    n, i, k = 8, 0, 2
    rs = np.random.default_rng(72)
    drow = rs.uniform(0, 1, n)
    allowed = np.array([True, False, True, True, False, True, True, False])
    allowed_noself = allowed.copy()
    allowed_noself[i] = True  # the diagonal is ignored
    draws = _partner_draws(73, i, n, 0.0, k, drow, True, allowed_noself, 20000)
    expected = _k_nearest(drow, i, k, allowed)
    assert set(np.unique(draws)) == set(expected)
    assert stats.chisquare(np.array([np.sum(draws == j) for j in expected])).pvalue > ALPHA
    # k larger than the allowed set: uniform over all allowed agents
    draws = _partner_draws(74, i, n, 0.0, n - 1, drow, True, allowed, 20000)
    exp_all = [j for j in range(n) if j != i and allowed[j]]
    assert set(np.unique(draws)) == set(exp_all)
    assert stats.chisquare(np.array([np.sum(draws == j) for j in exp_all])).pvalue > ALPHA


def test_choose_partner_isolated_agent_mirrors():
    n, i = 5, 3
    allowed = np.zeros(n, bool)
    allowed[i] = True  # only itself: no allowed partner
    draws = _partner_draws(75, i, n, 0.0, 2, np.arange(n, dtype=float), True, allowed, 2000)
    assert np.all(draws == i)


@pytest.mark.parametrize("seed", range(5))
def test_select_rank_matches_sorting(seed):
    rs = np.random.default_rng(80 + seed)
    n = 25
    drow = rs.integers(0, 6, n).astype(float)  # many ties
    cnt = 17
    base = rs.permutation(n).astype(np.int64)
    order = sorted(base[:cnt].tolist(), key=lambda j: (drow[j], j))
    for q in range(cnt):
        cand = base.copy()
        assert neighbors.select_rank(cand, cnt, drow, q) == order[q]
        # only the first cnt entries are permuted
        assert sorted(cand[:cnt].tolist()) == sorted(base[:cnt].tolist())
        np.testing.assert_array_equal(cand[cnt:], base[cnt:])
    # sorted and reverse-sorted input (pivot worst cases)
    srt = np.array(order, dtype=np.int64)
    for arr in (srt, srt[::-1].copy()):
        for q in (0, cnt // 2, cnt - 1):
            assert neighbors.select_rank(arr.copy(), cnt, drow, q) == order[q]


def test_weight_distances_and_distance_row():
    rs = np.random.default_rng(90)
    W = rs.dirichlet(np.ones(6), size=7)
    D = np.empty((7, 7))
    neighbors.weight_distances(W, D)
    ref = np.linalg.norm(W[:, None, :] - W[None, :, :], axis=2)
    np.testing.assert_allclose(D, ref, rtol=1e-14, atol=1e-16)
    row = np.empty(7)
    neighbors.distance_row(W, 3, row)
    np.testing.assert_allclose(row, ref[3], rtol=1e-14, atol=1e-16)
    assert row[3] == 0.0


# ---------------------------------------------------------------- underflowing points
def _authors_em_1d(pts, w, mu, sd, eps):
    """The authors' EM step: scipy norm.pdf densities; a point whose total w . pdf is 0.0 in
    float64 keeps a zero responsibility column but still counts in the 1/r average."""
    num = w[None, :] * stats.norm.pdf(pts[:, None], mu[None, :], sd[None, :])
    tot = num.sum(axis=1, keepdims=True)
    gamma = np.where(tot > 0, num / np.where(tot > 0, tot, 1.0), 0.0)
    new = np.clip(gamma.mean(axis=0), eps, 1 - eps)
    return new / new.sum()


def _kernel_em_1d(pts, w, mu, sd, eps):
    K, r = len(mu), len(pts)
    logd = np.empty(K)
    dens = np.empty((r, K))
    best = np.empty(r)
    for h in range(r):
        b = gmm.log_density_1d(pts[h], mu, 1 / sd, np.log(sd), logd)
        gmm.scale_densities(logd, b, gmm.density_cutoff(eps), dens[h])
        best[h] = gmm.underflow_log_scale(logd, np.log(sd), b, 1)
    out = np.empty(K)
    _em(w, dens, np.zeros(r, np.int64), np.full(r, K, np.int64), best, -1, np.zeros(K), 0, K, 0.0,
                   eps, out)
    return out


def _point_at_logpdf(target, sd):
    """x < 0 whose log N(x; 0, sd^2) equals target."""
    z = math.sqrt(2 * (-target - math.log(sd) - 0.5 * math.log(2 * math.pi)))
    return -z * sd


@pytest.mark.parametrize("target", [-700.0, -760.0, -5000.0])
def test_em_weights_drops_points_whose_density_underflows(target):
    """Far outside the float64 range both rules agree: the point is ignored (and the result
    is not NaN); well inside it, the point counts."""
    eps = 1e-12
    mu, sd = np.array([0.0, 1.0]), np.array([0.01, 0.01])
    w = np.array([1 - eps, eps])
    w = w / w.sum()
    pts = np.array([_point_at_logpdf(target, 0.01), 0.0, 1.0])
    got = _kernel_em_1d(pts, w, mu, sd, eps)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, _authors_em_1d(pts, w, mu, sd, eps), rtol=1e-9)
    if target < -750:
        np.testing.assert_allclose(got, [0.5, 0.5], rtol=1e-9)  # dropped: 1/3 + 0 + 1/3, normalised


def test_em_weights_underflow_boundary_matches_authors_rule():
    eps = 1e-12
    mu, sd = np.array([0.0, 1.0]), np.array([0.01, 0.01])
    w = np.array([1 - eps, eps])
    w = w / w.sum()
    pts = np.array([_point_at_logpdf(-744.0, 0.01), 0.0, 1.0])
    # the reference engine's own EM step agrees with the re-derived authors' rule here
    from gmmproxy.config import SimulationConfig
    from gmmproxy.reference import _Model

    cfg = SimulationConfig(n_agents=2, means=mu, covariances=sd**2, eps=eps)
    ref = _Model(cfg).em_weights(pts[:, None], w, cfg.covariances)
    np.testing.assert_allclose(ref, _authors_em_1d(pts, w, mu, sd, eps), rtol=1e-12)
    np.testing.assert_allclose(_kernel_em_1d(pts, w, mu, sd, eps), ref, rtol=1e-9)


# ---------------------------------------------------------------- Algorithm 2 EM step
@pytest.mark.parametrize("d,vp", [(1, False), (2, False), (2, True), (3, True)])
def test_em_cov_kernel_matches_rederivation(d, vp):
    from gmmproxy._kernels import state

    rs = np.random.default_rng(100 + d + 10 * vp)
    K, r, eps, min_sd = 3, 5, 1e-12, 0.01
    mu = rs.normal(0, 1.0, (K, d))
    A = rs.normal(size=(K, d, d))
    cov = A @ np.swapaxes(A, 1, 2) + 0.3 * np.eye(d)
    chol = np.linalg.cholesky(cov)
    hld = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    cov_ref = cov * 1.3
    logdet_ref = np.linalg.slogdet(cov_ref)[1]
    rag = rs.normal(0, 1.0, (r, d))
    xnew = rs.normal(0, 1.0, d)
    slot = 2
    w = rs.dirichlet(np.ones(K))
    w_out, chol_out, hld_out = np.empty((1, K)), np.empty((K, d, d)), np.empty(K)
    mix = state.Mixture(mu, chol, hld, mu[:, 0].copy(), np.ones(K), np.zeros(K), 0.0, gmm.density_cutoff(eps), eps)
    rules = state.Rules(0.0, np.ones(1, np.int64), False, False, False, np.zeros((1, 1, 1), bool),
                        np.zeros((1, 2), np.int64), np.zeros((1, 1), np.int64), min_sd**2, vp, logdet_ref)
    scr = state.new_scratch(2, K, d, False)
    cs = state.new_cov_scratch(K, r, d)
    # the agent is row 1 of a two-agent population (row 0 is noise): rows are indexed, not sliced
    W = np.stack([rs.dirichlet(np.ones(K)), w])
    R = np.stack([rs.normal(size=(r, d)), rag])
    CH = np.stack([chol * 2.0, chol])
    HL = np.stack([hld + d * np.log(2.0), hld])
    gmm.em_cov(W, 1, R, 1, slot, xnew, mu, CH, HL, 1, mix, rules, scr, cs, w_out, 0, chol_out, hld_out)
    w_out = w_out[0]
    pts = rag.copy()
    pts[slot] = xnew
    dens = np.array([[stats.multivariate_normal.pdf(x, mu[c], cov[c]) for c in range(K)] for x in pts])
    g = w * dens
    g /= g.sum(axis=1, keepdims=True)
    ref_w = np.clip(g.mean(axis=0), eps, 1 - eps)
    np.testing.assert_allclose(w_out, ref_w / ref_w.sum(), rtol=1e-10)
    new_cov = chol_out @ np.swapaxes(chol_out, 1, 2)
    for c in range(K):
        diff = pts - mu[c]
        S = (g[:, c, None, None] * diff[:, :, None] * diff[:, None, :]).sum(axis=0) / (g[:, c].sum() + eps)
        S = np.maximum(S, min_sd**2) if d == 1 else S + min_sd**2 * np.eye(d)
        if vp:
            S = S * np.exp((logdet_ref[c] - np.linalg.slogdet(S)[1]) / d)
        np.testing.assert_allclose(new_cov[c], S, rtol=1e-9, atol=1e-14)
        assert hld_out[c] == pytest.approx(0.5 * np.linalg.slogdet(S)[1], abs=1e-9)

"""The EM weight step's exact summation shortcut (``em.add_repeated``) against plain sequential float64 sums."""
import math

import numpy as np
import pytest

from gmmproxy._kernels import em, gmm


def _sequential(x, e, m):
    for _ in range(m):
        x = x + e
    return x


@pytest.mark.parametrize("kind", ["from zero", "near one", "exact ties", "wide range"])
def test_add_repeated_is_the_sequential_sum_bit_for_bit(kind):
    rs = np.random.default_rng(["from zero", "near one", "exact ties", "wide range"].index(kind))
    for _ in range(3000):
        m = int(rs.integers(0, 700))
        if kind == "from zero":
            x, e = 0.0, 10.0 ** rs.uniform(-16, -1)
        elif kind == "near one":  # the EM step's case: a total close to 1, crossing it
            x = 1.0 + float(rs.integers(-3000, 3000)) * 2.0**-53
            e = 1e-12 * rs.uniform(0.5, 2.0)
        elif kind == "exact ties":  # e mod ulp = ulp / 2: rounds to even, the step alternates once
            x = rs.uniform(0.5, 2.0)
            e = np.spacing(x) * (int(rs.integers(0, 3000)) + 0.5)
        else:  # outside the range of the ufp formula too
            x = 10.0 ** rs.uniform(-310, 300) * int(rs.integers(0, 2))
            e = 10.0 ** rs.uniform(-310, 300)
        want = _sequential(x, e, m)
        got = em.add_repeated(x, e, m)
        assert got == want or (math.isnan(got) and math.isnan(want)), (x, e, m)


def test_add_repeated_is_fewer_dependent_additions():
    # the point of the shortcut: 10^8 terms in a few jumps per binade (about 27 binades), not 10^8
    # dependent additions (over 0.1 s)
    import time

    em.add_repeated(0.0, 1e-12, 10)
    t0 = time.process_time()
    got = em.add_repeated(0.0, 1e-12, 10**8)
    elapsed = time.process_time() - t0
    assert got == pytest.approx(1e-4, rel=1e-9)
    assert elapsed < 0.02


def _em_reference(w, dens, blo, bhi, slot, dens_new, lo_new, hi_new, eps):
    """The EM weight step as sequential float64 Python (no shortcut): zero, accumulate bands, clip, sum, scale."""
    K = len(w)
    r = len(blo)
    out = [0.0] * K
    for h in range(r):
        row, lo, hi = (dens_new, lo_new, hi_new) if h == slot else (dens[h], blo[h], bhi[h])
        tot = 0.0
        for c in range(lo, hi):
            tot += float(w[c]) * float(row[c])
        inv = 1.0 / (tot * r)
        for c in range(lo, hi):
            out[c] += float(row[c]) * inv
    total = 0.0
    for c in range(K):
        v = out[c] * float(w[c])
        v = v if v > eps else eps
        v = v if v < 1.0 - eps else 1.0 - eps
        out[c] = v
        total += v
    inv_total = 1.0 / total
    return np.array([v * inv_total for v in out])


@pytest.mark.parametrize("step", ["em_weights", "em_weights_wide"])
@pytest.mark.parametrize("K", [60, 96, 300])
def test_em_weights_many_components_bit_for_bit(K, step):
    # both entry points (the wide one sums the clipped run outside the bands with add_repeated)
    # must equal the plain sequential step exactly
    rs = np.random.default_rng(K)
    eps, r, sd = 1e-12, 5, 0.2
    mu = np.arange(K, dtype=float)
    inv_sd = np.full(K, 1 / sd)
    cutoff = gmm.density_cutoff(eps)
    for trial in range(40):
        centre = rs.uniform(0, K - 1)
        w = np.full(K, eps)
        w[int(centre)] = 1.0
        w[rs.integers(0, K, 3)] += rs.random(3)
        w /= w.sum()
        pts = centre + rs.normal(0, 3 * sd, r) if trial % 2 else rs.uniform(0, K - 1, r)
        dens = np.full((r, K), np.nan)  # stale entries outside the bands must never be read
        blo = np.empty(r, np.int64)
        bhi = np.empty(r, np.int64)
        best = np.empty(r)
        for h in range(r):
            blo[h], bhi[h], best[h] = gmm.banded_densities_1d(pts[h], mu, inv_sd, math.log(sd), 1.0, cutoff, dens[h])
        dnew = np.full(K, np.nan)
        lo_n, hi_n, best_n = gmm.banded_densities_1d(rs.uniform(0, K - 1), mu, inv_sd, math.log(sd), 1.0, cutoff,
                                                     dnew)
        slot = int(rs.integers(-1, r))
        OUT = np.full((1, K), np.nan)
        getattr(em, step)(w[None], 0, dens[None], 0, blo[None], bhi[None], np.zeros((1, r)), slot, dnew, lo_n, hi_n,
                       0.0, eps, OUT, 0)
        want = _em_reference(w, dens, blo, bhi, slot, dnew, lo_n, hi_n, eps)
        np.testing.assert_array_equal(OUT[0], want)

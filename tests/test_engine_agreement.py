"""The fast Numba engine agrees with the reference engine *in distribution*.

The two engines use different generators (xoshiro256** vs NumPy's PCG64), so
runs cannot be compared one by one. Instead, over many replicates of a small
configuration, these statistics are compared with two-sample tests:

* the number of silos at T (chi-square test of homogeneity on the counts,
  sparse categories pooled so every expected count is >= 5);
* the number of silos N(t) at the early rounds t = 1, 2, 3, 5, the same way
  (Bonferroni over the four): a wrong partner rule or an update read from
  the wrong buffer shows in the first rounds and is often washed out by T;
* the time to a single silo (Mann-Whitney U; runs that never reach one silo
  are censored at T + 1, which keeps the ordering of the times).

Reference replicates are seeded 0..R-1 and the Numba batch has a fixed seed,
so the tests are deterministic. The power check shows the same tests reject a
Numba batch run with a different mirroring probability.
"""
import numpy as np
import pytest
from scipy import stats

import gmmproxy
from gmmproxy import SimulationConfig, metrics
from gmmproxy.reference import simulate_reference

ALPHA = 1e-3
T = 30
EARLY = (1, 2, 3, 5)
BASE = dict(n_agents=8, n_components=8, sigma=0.3, rag_size=3, p_mirror=0.3, n_neighbors=3)


def _reference_stats(cfg, steps, R):
    final, tts = np.empty(R, int), np.empty(R, int)
    early = np.empty((R, len(EARLY)), int)
    for s in range(R):
        silos = metrics.silo_ids(simulate_reference(cfg, steps, s)["weights"])
        ns = metrics.n_silos(silos)
        final[s] = ns[-1]
        early[s] = ns[list(EARLY)]
        tts[s] = metrics.time_to_single_silo(silos)
    return final, tts, early


def _numba_stats(cfg, steps, R, seed):
    ens = gmmproxy.simulate_many(cfg, steps, R, seed=seed, record="metrics", progress=False)
    return ens.n_silos[:, -1], ens.time_to_single_silo, ens.n_silos[:, list(EARLY)]


def _pooled_table(a, b, min_expected=5.0):
    """2 x m contingency table of the values of a and b, merging sparse upper/lower categories."""
    vals = np.union1d(a, b)
    table = np.array([[np.sum(x == v) for v in vals] for x in (a, b)], dtype=float)
    # merge adjacent columns from the sparse ends until every expected count is large enough
    while table.shape[1] > 1:
        expected = table.sum(axis=0)[None, :] * table.sum(axis=1)[:, None] / table.sum()
        small = np.flatnonzero(expected.min(axis=0) < min_expected)
        if small.size == 0:
            break
        c = small[0]
        other = c + 1 if c + 1 < table.shape[1] else c - 1
        table[:, other] += table[:, c]
        table = np.delete(table, c, axis=1)
    return table


def _homogeneity_pvalue(a, b):
    table = _pooled_table(a, b)
    return 1.0 if table.shape[1] < 2 else stats.chi2_contingency(table, correction=False).pvalue


def _agreement_pvalues(ref, nb, steps):
    """p-values: N(T), time to one silo, and the early N(t) (smallest, Bonferroni-corrected)."""
    (f_ref, t_ref, e_ref), (f_nb, t_nb, e_nb) = ref, nb
    p_silos = _homogeneity_pvalue(f_ref, f_nb)
    cens = lambda t: np.where(t == metrics.NEVER, steps + 1, t)  # noqa: E731
    p_time = stats.mannwhitneyu(cens(t_ref), cens(t_nb), alternative="two-sided").pvalue
    p_each = [_homogeneity_pvalue(e_ref[:, c], e_nb[:, c]) for c in range(len(EARLY))]
    p_early = min(1.0, len(EARLY) * min(p_each))
    return p_silos, p_time, p_early


@pytest.fixture(scope="module")
def reference_base():
    # ~0.08-0.12 s per reference run on this machine: 240 runs ~ 20-25 s
    return _reference_stats(SimulationConfig(**BASE), T, 240)


def test_pooled_table_keeps_totals_and_expected_counts():
    a = np.array([1] * 50 + [2] * 40 + [3] * 3 + [5])
    b = np.array([1] * 45 + [2] * 50 + [4] * 2)
    t = _pooled_table(a, b)
    assert t.sum(axis=1).tolist() == [len(a), len(b)]
    exp = t.sum(axis=0)[None] * t.sum(axis=1)[:, None] / t.sum()
    assert exp.min() >= 5


def test_numba_agrees_with_reference_in_distribution(reference_base):
    nb = _numba_stats(SimulationConfig(**BASE), T, 2000, seed=20240)
    p_silos, p_time, p_early = _agreement_pvalues(reference_base, nb, T)
    assert p_silos > ALPHA, f"N(T) distributions differ: p = {p_silos:.2e}"
    assert p_time > ALPHA, f"time-to-one-silo distributions differ: p = {p_time:.2e}"
    assert p_early > ALPHA, f"early N(t), t in {EARLY}, distributions differ: p = {p_early:.2e}"
    # and the means are close in absolute terms (a sanity check on the test itself)
    assert abs(reference_base[0].mean() - nb[0].mean()) < 0.25


@pytest.mark.parametrize("p_other", [0.9, 0.5])
def test_agreement_test_has_power(reference_base, p_other):
    """The same tests reject a Numba batch with a different mirroring probability."""
    nb = _numba_stats(SimulationConfig(**{**BASE, "p_mirror": p_other}), T, 2000, seed=20241)
    p_silos, p_time, p_early = _agreement_pvalues(reference_base, nb, T)
    assert min(p_silos, p_time) < ALPHA
    assert p_early < ALPHA


def _slow_configs():
    ang = 2 * np.pi * np.arange(6) / 6
    circle = np.c_[np.cos(ang), np.sin(ang)] * 1.2
    return {
        "k=n-1": (SimulationConfig(**{**BASE, "n_neighbors": 7}), 30),
        "sequential": (SimulationConfig(**{**BASE, "update": "sequential"}), 30),
        "fifo": (SimulationConfig(**{**BASE, "rag_replacement": "fifo"}), 30),
        "d=2": (SimulationConfig(n_agents=6, means=circle, sigma=0.5, rag_size=3, p_mirror=0.3,
                                 n_neighbors=3), 30),
        "alg2": (SimulationConfig(**{**BASE, "update_covariances": True}), 30),
        # Figure-10-like: sds shrink/explode, points whose density underflows are dropped
        "alg2-fig10": (SimulationConfig(n_agents=8, n_components=8, sigma=0.2, rag_size=5, p_mirror=0.4,
                                        update_covariances=True), 40),
        "alg2-d2-vp": (SimulationConfig(n_agents=6, means=circle, sigma=0.5, rag_size=3, p_mirror=0.3,
                                        n_neighbors=3, update_covariances=True, volume_preserving=True), 30),
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", list(_slow_configs()))
def test_numba_agrees_with_reference_more_configs(name):
    cfg, steps = _slow_configs()[name]
    ref = _reference_stats(cfg, steps, 300)
    nb = _numba_stats(cfg, steps, 3000, seed=777)
    p_silos, p_time, p_early = _agreement_pvalues(ref, nb, steps)
    assert p_silos > ALPHA, f"{name}: N(T) distributions differ: p = {p_silos:.2e}"
    assert p_early > ALPHA, f"{name}: early N(t) distributions differ: p = {p_early:.2e}"
    assert p_time > ALPHA, f"{name}: time-to-one-silo distributions differ: p = {p_time:.2e}"

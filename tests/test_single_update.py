"""One round of Algorithms 1 and 2 against a SciPy re-derivation of its distribution.

With p_mirror = 0 and tiny populations, the answer ``y`` that agent 0 stores
after the first round has a law that can be written down by hand:

* agent 0 draws a query ``x`` from its mixture ``sum_c w0_c N(mu_c, s^2)``;
* its partner ``j`` pseudo-updates: ``x`` replaces the point of *j's* RAG
  farthest from ``x``, and one EM weight step gives ``w_j'(x)`` (Algorithm 2:
  also covariances ``S_c(x)``);
* ``y`` is drawn from the partner's *pseudo-updated* mixture.

So ``y`` has the CDF ``E_x[sum_c w_j'_c(x) Phi((y - mu_c) / sd_c(x))]``, which
these tests evaluate with ``scipy.integrate.quad`` and compare with the
engine's draws (Kolmogorov-Smirnov). Each test was checked to fail against
one deliberate bug (see docs/testing.md): the partner's replaced slot chosen
on the querying agent's RAG; the answer drawn from the partner's weights
before its pseudo-update; a k or graph schedule read one round late;
Algorithm 2's answer drawn with the partner's old covariances.
"""
import numpy as np
import pytest
from scipy import integrate, stats

from gmmproxy import SimulationConfig, simulate

EPS = 1e-12
MEANS = np.array([-1.0, 1.0])
N_RUNS = 2500


def _clipnorm(w):
    v = np.clip(np.asarray(w, dtype=float), EPS, 1.0 - EPS)
    return v / v.sum()


def _posterior(prior, x, sd):
    logp = np.log(prior) + stats.norm.logpdf(x, MEANS, sd)
    logp -= logp.max()
    p = np.exp(logp)
    return p / p.sum()


def _pseudo_update(prior, rag, x, sd):
    """Weights of an agent whose 1-d RAG ``rag`` gets x in place of its farthest point (first on ties)."""
    pts = np.array(rag, dtype=float)
    pts[int(np.argmax(np.abs(pts - x)))] = x
    return _clipnorm(np.mean([_posterior(prior, p, sd) for p in pts], axis=0))


def _query_expectation(f, w_query, sd, breaks=()):
    """E[f(x)] for x ~ sum_c w_query_c N(MEANS_c, sd^2), f scalar."""
    lo, hi = MEANS.min() - 12 * sd, MEANS.max() + 12 * sd
    pts = sorted(b for b in breaks if lo < b < hi)
    total = 0.0
    for c in range(2):
        g = lambda x, c=c: f(x) * stats.norm.pdf(x, MEANS[c], sd)  # noqa: E731
        total += w_query[c] * integrate.quad(g, lo, hi, points=pts or None, limit=200)[0]
    return total


def _answer_mixture_weights(w_query, w_partner, rag_partner, sd):
    """a_c = E_x[w_partner'_c(x)]: y ~ sum_c a_c N(MEANS_c, sd^2) (Algorithm 1)."""
    prior = _clipnorm(w_partner)
    rag = np.asarray(rag_partner, dtype=float)
    mids = [(a + b) / 2 for a in rag for b in rag if a != b]
    a0 = _query_expectation(lambda x: _pseudo_update(prior, rag, x, sd)[0], _clipnorm(w_query), sd, mids)
    return np.array([a0, 1.0 - a0])


def _answers(cfg, n_runs=N_RUNS, agent=0):
    """Agent ``agent``'s answer y of round 1 in each run, and the trajectories."""
    init = np.asarray(cfg.init_rag)[agent, :, 0]
    ys, trajs = np.empty(n_runs), []
    for s in range(n_runs):
        tr = simulate(cfg, steps=1, seed=s)
        fin = tr.final_rag[agent, :, 0]
        changed = np.flatnonzero(fin != init)
        # the replaced slot holds y (if y fell exactly on the old point, any slot is y)
        ys[s] = fin[changed[0]] if changed.size else fin[0]
        trajs.append(tr)
    return ys, trajs


def _ks_mixture(ys, a, sd):
    cdf = lambda y: a[0] * stats.norm.cdf(y, MEANS[0], sd) + a[1] * stats.norm.cdf(y, MEANS[1], sd)  # noqa: E731
    return stats.kstest(ys, cdf).pvalue


def test_alg1_answer_law_and_update_two_agents():
    """n=2, p=0, r=2: the partner replaces *its own* farthest slot and answers from its pseudo-update."""
    sd = 0.8
    w0, w1 = [0.8, 0.2], [0.3, 0.7]
    # the two agents hold the same points in opposite slots, so choosing the
    # replaced slot on the wrong agent's RAG changes which point the partner keeps
    rag = np.array([[[-1.0], [1.0]], [[1.0], [-1.0]]])
    cfg = SimulationConfig(n_agents=2, means=MEANS, sigma=sd, rag_size=2, p_mirror=0.0,
                           init_weights=[w0, w1], init_rag=rag)
    a = _answer_mixture_weights(w0, w1, rag[1, :, 0], sd)
    # the test has power: the buggy laws are far from the right one
    assert abs(a[0] - 0.3) > 0.1  # answer drawn before the pseudo-update
    ys, trajs = _answers(cfg)
    assert _ks_mixture(ys, a, sd) > 1e-3
    # agent 0's own EM step, given its answer, to rounding
    for y, tr in zip(ys[:200], trajs[:200]):
        want = _pseudo_update(_clipnorm(w0), rag[0, :, 0], y, sd)
        np.testing.assert_allclose(tr.weights[1, 0], want, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("schedule", ["graph", "n_neighbors"])
def test_schedule_applies_from_round_zero(schedule):
    """A time-varying graph or k schedule: round t uses entry t (not t - 1)."""
    sd = 0.5
    w = [[0.6, 0.4], [0.9, 0.1], [0.02, 0.98]]
    # partners' RAGs sit at their poles, so their answers differ clearly
    rag = np.array([[[0.0]] * 3, [[-1.0]] * 3, [[1.0]] * 3])
    kw = dict(n_agents=3, means=MEANS, sigma=sd, rag_size=3, p_mirror=0.0, init_weights=w, init_rag=rag)
    if schedule == "graph":
        only1 = np.zeros((3, 3), dtype=bool)
        only1[0, 1] = True
        only2 = np.zeros((3, 3), dtype=bool)
        only2[0, 2] = True
        cfg = SimulationConfig(**kw, graph=np.stack([only1, only2, only2]))
    else:
        # agent 1 is agent 0's nearest neighbour in weight space: k = 1 in round 0 means partner 1
        cfg = SimulationConfig(**kw, n_neighbors=(1, 2, 2))
    ys, _ = _answers(cfg, n_runs=1500)
    a = _answer_mixture_weights(w[0], w[1], rag[1, :, 0], sd)
    a_wrong = _answer_mixture_weights(w[0], w[2], rag[2, :, 0], sd)
    assert abs(a[0] - a_wrong[0]) > 0.3
    assert _ks_mixture(ys, a, sd) > 1e-3


def _alg2_partner(prior, x, sd, min_var):
    """Algorithm 2 pseudo-update of a partner with r = 1: weights and variances given the query x."""
    g = _posterior(prior, x, sd)
    w = _clipnorm(g)
    var = g * (x - MEANS) ** 2 / (g + EPS)
    return w, np.maximum(var, min_var)


def test_alg2_answer_uses_pseudo_updated_covariances():
    """n=2, p=0, r=1, Algorithm 2: y ~ sum_c w'_c(x) N(mu_c, S_c(x)) with the partner's new S."""
    sd, min_sd = 0.6, 0.05
    w0, w1 = [0.7, 0.3], [0.4, 0.6]
    rag = np.array([[[0.3]], [[-0.2]]])
    cfg = SimulationConfig(n_agents=2, means=MEANS, sigma=sd, rag_size=1, p_mirror=0.0,
                           init_weights=[w0, w1], init_rag=rag, update_covariances=True, min_sd=min_sd)
    prior = _clipnorm(w1)
    breaks = list(MEANS - min_sd) + list(MEANS + min_sd) + list(MEANS)

    def cdf(y):
        def f(x):
            w, var = _alg2_partner(prior, x, sd, min_sd**2)
            return float(np.sum(w * stats.norm.cdf(y, MEANS, np.sqrt(var))))

        return _query_expectation(f, _clipnorm(w0), sd, breaks)

    ys, trajs = _answers(cfg, n_runs=2000)
    # the law is compared on 12 bins (quad per bin edge instead of per sample)
    edges = np.quantile(ys, np.linspace(0, 1, 13)[1:-1])
    probs = np.diff(np.concatenate([[0.0], [cdf(e) for e in edges], [1.0]]))
    counts = np.histogram(ys, np.concatenate([[-np.inf], edges, [np.inf]]))[0]
    chi2 = stats.chisquare(counts, probs * len(ys))
    assert chi2.pvalue > 1e-3
    # the partner's old covariances (sd^2) would give a visibly different law
    old = np.diff(np.concatenate([[0.0], [_query_expectation(
        lambda x, e=e: float(np.sum(_alg2_partner(prior, x, sd, min_sd**2)[0] * stats.norm.cdf(e, MEANS, sd))),
        _clipnorm(w0), sd, breaks) for e in edges], [1.0]]))
    assert stats.chisquare(counts, old * len(ys)).pvalue < 1e-6
    # agent 0's covariances after its own update, given its answer
    for y, tr in zip(ys[:100], trajs[:100]):
        w, var = _alg2_partner(_clipnorm(w0), y, sd, min_sd**2)
        np.testing.assert_allclose(tr.weights[1, 0], w, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(tr.covariances[1, 0, :, 0, 0], var, rtol=1e-9)

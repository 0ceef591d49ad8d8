"""Tests of the single-agent-update Markov chain (gmmproxy.chain)."""
import os
import subprocess
import sys

import mpmath
import numpy as np
import pytest
from scipy import stats

from gmmproxy._seeding import replicate_seed
from gmmproxy.chain import ChainConfig, default_log_weights, simulate_chain, simulate_chain_many
from gmmproxy.polarization import log_thresholds, polarization_event_log

MEANS3 = np.array([[0.0, 0.0], [1.5, 0.0], [0.0, 1.0]])
SIG3 = np.array([0.7, 1.0, 0.5])


def _ref_em(w, rag, means, sigmas, eps):
    """Float64 re-derivation of one EM weight step with scipy densities."""
    dens = np.stack(
        [w[c] * stats.multivariate_normal(means[c], sigmas[c] ** 2 * np.eye(means.shape[1])).pdf(rag)
         for c in range(len(w))], axis=1)
    gam = dens / dens.sum(axis=1, keepdims=True)
    new = gam.mean(axis=0)
    if eps > 0:
        new = np.clip(new, eps, 1 - eps)
        new = new / new.sum()
    return new


@pytest.mark.parametrize("eps", [1e-12, 0.0, 0.05])
def test_one_step_matches_numpy_reference(eps):
    rng = np.random.default_rng(1)
    m, r = 5, 4
    cfg = ChainConfig(n_agents=m, sigma=SIG3, rag_size=r, means=MEANS3, eps=eps)
    w0 = rng.dirichlet(np.ones(3), size=m)
    rag0 = rng.normal(size=(m, r, 2))
    for seed in range(6):
        res = simulate_chain(cfg, 1, seed, init_weights=w0, init_rag=rag0, record=("events", "rag"))
        i, x = int(res.updated[0]), res.draws[0]
        # farthest-point replacement, first index on ties
        d2 = ((rag0[i] - x) ** 2).sum(axis=1)
        h = int(np.argmax(d2))
        expected_rag = rag0.copy()
        expected_rag[i, h] = x
        np.testing.assert_array_equal(res.rag, expected_rag)
        expected_w = w0.copy()
        expected_w[i] = _ref_em(w0[i], expected_rag[i], MEANS3, SIG3, eps)
        np.testing.assert_allclose(res.weights, expected_w, rtol=1e-10, atol=1e-15)


def test_farthest_point_ties_take_first_index():
    # all RAG points equidistant from any x on the line x = 0 ... use identical points
    cfg = ChainConfig(n_agents=2, sigma=0.5, rag_size=3)
    rag0 = np.full((2, 3, 1), 0.25)
    res = simulate_chain(cfg, 1, 3, init_weights=np.full((2, 2), 0.5), init_rag=rag0, record="events")
    i = int(res.updated[0])
    assert res.rag[i, 0, 0] == res.draws[0, 0]
    assert np.all(res.rag[i, 1:] == 0.25)


def test_two_component_log_space_exact_near_pole():
    """From w = 1 - delta_1 (sigma 0.1: delta ~ 3.7e-44), an update with the RAG in A+
    lands at >= 1 - delta_2; checked against an mpmath evaluation of (1/r) sum g."""
    sigma, r = 0.1, 3
    cfg = ChainConfig(n_agents=2, sigma=sigma, rag_size=r, eps=0.0)
    ld = float(log_thresholds(sigma, 1))
    lw0 = np.array([[-np.exp(ld), ld], [-np.exp(ld), ld]])
    rag0 = np.array([[0.6, 0.9, 1.4], [0.7, 0.8, 1.2]])[:, :, None]
    res = simulate_chain(cfg, 1, 11, init_log_weights=lw0, init_rag=rag0, record="events")
    i = int(res.updated[0])
    with mpmath.workdps(300):
        s2 = mpmath.mpf(sigma) ** 2
        v = 1 / (1 + mpmath.exp(1 / s2))  # 1 - w
        w = 1 - v
        pts = [mpmath.mpf(float(p)) for p in res.rag[i, :, 0]]
        one_minus = sum(v * mpmath.exp(-2 * p / s2) / (w + v * mpmath.exp(-2 * p / s2)) for p in pts) / r
    assert abs(float(mpmath.log(one_minus)) - res.log_weights[i, 1]) < 1e-9 * abs(res.log_weights[i, 1])
    assert abs(float(-one_minus) - res.log_weights[i, 0]) <= 1e-9 * float(one_minus)
    if np.all((res.rag[i] >= 0.5) & (res.rag[i] <= 1.5)):
        assert res.log_weights[i, 1] <= log_thresholds(sigma, 2)


def test_k_restricted_sender_is_among_k_nearest():
    m, k = 8, 3
    cfg = ChainConfig(n_agents=m, sigma=0.6, rag_size=2, means=MEANS3, n_neighbors=k)
    res = simulate_chain(cfg, 200, 5, record=("weights", "events"))
    w_traj = np.exp(res.trajectory_log_weights)
    for t in range(200):
        i, j = res.updated[t], res.sender[t]
        d = np.linalg.norm(w_traj[t] - w_traj[t, i], axis=1)
        d[i] = np.inf
        order = np.lexsort((np.arange(m), d))  # by distance, ties to the lower index
        assert j != i
        assert j in order[:k]


def test_k_restricted_sender_uniform_over_neighbours():
    m, k = 6, 3
    cfg = ChainConfig(n_agents=m, sigma=0.5, rag_size=2, n_neighbors=k)
    w0 = np.array([[0.1, 0.9], [0.2, 0.8], [0.35, 0.65], [0.5, 0.5], [0.7, 0.3], [0.95, 0.05]])
    res = simulate_chain_many(cfg, 1, 6000, 2, init_weights=w0, record="events")
    i, j = res.updated[:, 0], res.sender[:, 0]
    sel = i == 3  # nearest to agent 3 (w=0.5): agents 2 (0.15), 4 (0.2), 1 (0.3)
    counts = np.bincount(j[sel], minlength=m)
    assert set(np.flatnonzero(counts)) == {1, 2, 4}
    assert stats.chisquare(counts[[1, 2, 4]]).pvalue > 1e-3


def test_one_step_distribution():
    """Updated agent and sender uniform on {0..m-1}; x from the sender's mixture (KS)."""
    m = 5
    cfg = ChainConfig(n_agents=m, sigma=[0.4, 0.8], rag_size=3, means=[[1.0], [-1.0]])
    w0 = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [0.99, 0.01], [0.3, 0.7]])
    res = simulate_chain_many(cfg, 1, 8000, 7, init_weights=w0, record="events")
    i, j, x = res.updated[:, 0], res.sender[:, 0], res.draws[:, 0, 0]
    assert stats.chisquare(np.bincount(i, minlength=m)).pvalue > 1e-3
    assert stats.chisquare(np.bincount(j, minlength=m)).pvalue > 1e-3
    # conditional on the sender: x ~ w N(1, 0.4^2) + (1-w) N(-1, 0.8^2)
    u = w0[j, 0] * stats.norm.cdf(x, 1, 0.4) + w0[j, 1] * stats.norm.cdf(x, -1, 0.8)
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # a wrong sender model (the updated agent's mixture) must be detected
    u_wrong = w0[i, 0] * stats.norm.cdf(x, 1, 0.4) + w0[i, 1] * stats.norm.cdf(x, -1, 0.8)
    assert stats.kstest(u_wrong, "uniform").pvalue < 1e-6


def test_default_start_and_mixture_rag():
    cfg = ChainConfig(n_agents=6, sigma=0.05, rag_size=400, means=MEANS3)
    lw = default_log_weights(cfg)
    np.testing.assert_allclose(np.exp(lw).sum(axis=1), 1.0)
    assert np.all(np.argmax(lw, axis=1) == np.arange(6) % 3)
    res = simulate_chain(cfg, 0, 1)
    for i in range(6):
        # each agent's RAG sampled from its own (almost pure) component
        np.testing.assert_allclose(res.rag[i].mean(axis=0), MEANS3[i % 3], atol=0.02)


def test_replicate_equals_single_run():
    cfg = ChainConfig(n_agents=7, sigma=0.3, rag_size=3, n_neighbors=2)
    many = simulate_chain_many(cfg, 50, 4, 123, levels=(1, 2), record="weights")
    for r in range(4):
        one = simulate_chain(cfg, 50, replicate_seed(123, r), levels=(1, 2), record="weights")
        np.testing.assert_array_equal(many.log_weights[r], one.log_weights)
        np.testing.assert_array_equal(many.rag[r], one.rag)
        np.testing.assert_array_equal(many.trajectory_log_weights[r], one.trajectory_log_weights)
        np.testing.assert_array_equal(many.hit_time[r], one.hit_time)


def test_tracking_matches_recomputation():
    sigma, m, r = 0.3, 6, 3
    cfg = ChainConfig(n_agents=m, sigma=sigma, rag_size=r, n_neighbors=2, eps=0.0)
    res = simulate_chain_many(cfg, 60, 30, 4, init_rag="mixture", levels=(1, 2),
                              record=("weights", "rag", "events"))
    for b in range(30):
        traj = [polarization_event_log(res.trajectory_log_weights[b, t], res.trajectory_rag[b, t, :, :, 0],
                                       sigma, 1) for t in range(61)]
        hits = np.flatnonzero(traj)
        assert res.hit_time[b, 0] == (hits[0] if hits.size else -1)
        assert res.event_final[b, 0] == traj[-1]
        assert res.event_final[b, 1] == polarization_event_log(res.log_weights[b], res.rag[b, :, :, 0], sigma, 2)
        lw = res.trajectory_log_weights[b]
        ok = True
        for t in range(60):
            j = res.sender[b, t]
            centre = 1.0 if lw[t, j, 0] >= lw[t, j, 1] else -1.0
            ok &= abs(res.draws[b, t, 0] - centre) <= 0.5
        assert res.draws_in_window[b] == ok


def _digest_script():
    return (
        "import hashlib, numpy as np\n"
        "from gmmproxy.chain import ChainConfig, simulate_chain_many\n"
        "cfg = ChainConfig(n_agents=9, sigma=0.3, rag_size=3, n_neighbors=3, eps=0.0)\n"
        "res = simulate_chain_many(cfg, 40, 16, 99, levels=(1,))\n"
        "h = hashlib.sha256(res.log_weights.tobytes() + res.rag.tobytes() + res.hit_time.tobytes())\n"
        "print(h.hexdigest())\n"
    )


def test_independent_of_thread_count():
    digests = []
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        out = subprocess.run([sys.executable, "-c", _digest_script()], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        digests.append(out.stdout.strip())
    assert digests[0] == digests[1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_agents=1, sigma=1.0, rag_size=2), "n_agents must be >= 2"),
        (dict(n_agents=3, sigma=0.0, rag_size=2), "sigma must be > 0"),
        (dict(n_agents=3, sigma=-1.0, rag_size=2), "sigma must be > 0"),
        (dict(n_agents=3, sigma=1.0, rag_size=0), "rag_size must be >= 1"),
        (dict(n_agents=3, sigma=1.0, rag_size=2, n_neighbors=3), r"n_neighbors must be in \[1, 2\]"),
        (dict(n_agents=3, sigma=1.0, rag_size=2, n_neighbors=0), r"n_neighbors must be in \[1, 2\]"),
        (dict(n_agents=3, sigma=1.0, rag_size=2, eps=0.5), r"eps must be in \[0, 0.5\)"),
        (dict(n_agents=3, sigma=[1.0, 2.0, 3.0], rag_size=2), "sigma must be a scalar or have shape"),
        (dict(n_agents=3, sigma=1.0, rag_size=2, means=[[np.nan], [1.0]]), "means must be finite"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ChainConfig(**kwargs)


def test_run_validation():
    cfg = ChainConfig(n_agents=3, sigma=1.0, rag_size=2)
    with pytest.raises(ValueError, match="steps must be >= 0"):
        simulate_chain(cfg, -1, 0)
    with pytest.raises(TypeError, match="n_agents must be an int"):
        ChainConfig(n_agents=3.5, sigma=1.0, rag_size=2)
    with pytest.raises(ValueError, match="rows must sum to 1"):
        simulate_chain(cfg, 1, 0, init_weights=np.full((3, 2), 0.4))
    with pytest.raises(ValueError, match="init_weights must be finite"):
        simulate_chain(cfg, 1, 0, init_weights=np.array([[np.nan, 1], [0.5, 0.5], [0.5, 0.5]]))
    with pytest.raises(ValueError, match=r"init_rag must have shape \(3, 2, 1\)"):
        simulate_chain(cfg, 1, 0, init_rag=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="init_rag must be finite"):
        simulate_chain(cfg, 1, 0, init_rag=np.full((3, 2), np.inf))
    with pytest.raises(ValueError, match="replicates must be >= 1"):
        simulate_chain_many(cfg, 1, 0, 0)
    with pytest.raises(ValueError, match="record entries"):
        simulate_chain(cfg, 1, 0, record="everything")
    cfg3 = ChainConfig(n_agents=3, sigma=1.0, rag_size=2, means=MEANS3)
    with pytest.raises(ValueError, match="levels"):
        simulate_chain(cfg3, 1, 0, levels=1)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        simulate_chain(cfg, 1, -4)

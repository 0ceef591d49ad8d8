"""Silo metrics against hand-computed values and brute-force loops."""
import math

import numpy as np
import pytest

from gmmproxy import metrics

# 4 agents, 5 steps, written out by hand
S = np.array([
    [0, 1, 2, 3],  # 4 silos
    [0, 1, 1, 3],  # agent 2 switched: 3 silos
    [1, 1, 1, 3],  # agent 0 switched: 2 silos
    [1, 1, 1, 1],  # agent 3 switched: 1 silo
    [2, 2, 2, 2],  # everyone switched, still 1 silo
])


def test_hand_computed_values():
    assert metrics.n_silos(S).tolist() == [4, 3, 2, 1, 1]
    st = metrics.stability(S)
    assert math.isnan(st[0])
    np.testing.assert_allclose(st[1:], [0.75, 0.75, 0.75, 0.0])
    sw = metrics.switch_rate(S)
    assert math.isnan(sw[0])
    np.testing.assert_allclose(sw[1:], [0.25, 0.25, 0.25, 1.0])
    H = metrics.entropy(S)
    h3 = -(0.25 * math.log2(0.25) * 2 + 0.5 * math.log2(0.5))
    h2 = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    np.testing.assert_allclose(H, [2.0, h3, h2, 0.0, 0.0], atol=1e-15)
    sizes = metrics.silo_sizes(S)
    assert sizes.shape == (5, 4)
    assert sizes[1].tolist() == [1, 2, 0, 1]
    assert sizes[4].tolist() == [0, 0, 4, 0]
    assert metrics.silo_sizes(S, n_labels=6).shape == (5, 6)
    with pytest.raises(ValueError, match="n_labels"):
        metrics.silo_sizes(S, n_labels=2)
    assert int(metrics.time_to_single_silo(S)) == 3


def _brute(silos):
    """Per-step metrics by explicit loops over steps and agents."""
    T1, n = silos.shape
    ns, st, H = [], [np.nan], []
    for t in range(T1):
        labels = {}
        for i in range(n):
            labels[silos[t, i]] = labels.get(silos[t, i], 0) + 1
        ns.append(len(labels))
        H.append(-sum((c / n) * math.log2(c / n) for c in labels.values()))
        if t:
            st.append(sum(silos[t, i] == silos[t - 1, i] for i in range(n)) / n)
    tts = metrics.NEVER
    for t0 in range(T1):
        if all(ns[t] == 1 for t in range(t0, T1)):
            tts = t0
            break
    return np.array(ns), np.array(st), np.array(H), tts


def test_against_brute_force_with_replicate_axes():
    rs = np.random.default_rng(0)
    R, T1, n = 6, 12, 5
    silos = rs.integers(0, 3, (R, T1, n))
    silos[0, 5:] = 1  # settles from t = 5
    silos[1, 4:] = 2
    silos[1, 8, 0] = 0  # leaves one silo again at t = 8, settles from t = 9
    silos[2, -1] = [0, 0, 0, 0, 1]  # ends with two silos
    ns, st, H, tts = metrics.n_silos(silos), metrics.stability(silos), metrics.entropy(silos), \
        metrics.time_to_single_silo(silos)
    assert ns.shape == (R, T1) and tts.shape == (R,)
    for r in range(R):
        b = _brute(silos[r])
        np.testing.assert_array_equal(ns[r], b[0])
        np.testing.assert_allclose(st[r], b[1], equal_nan=True)
        np.testing.assert_allclose(H[r], b[2], atol=1e-12)
        assert tts[r] == b[3]
    assert tts[0] == 5 and tts[1] == 9 and tts[2] == metrics.NEVER
    np.testing.assert_array_equal(metrics.time_to_single_silo_from_counts(ns), tts)
    np.testing.assert_array_equal(metrics.silo_sizes(silos).sum(axis=-1), n)


def test_time_to_single_silo_edge_cases():
    # one silo from the start
    assert int(metrics.time_to_single_silo(np.zeros((4, 3), int))) == 0
    # reaches one silo, leaves it, never returns
    assert int(metrics.time_to_single_silo_from_counts([3, 1, 1, 2, 2])) == metrics.NEVER
    # reaches one silo, leaves it, returns: counts from the return
    assert int(metrics.time_to_single_silo_from_counts([3, 1, 2, 1, 1])) == 3
    # one silo only at the very last step
    assert int(metrics.time_to_single_silo_from_counts([2, 2, 1])) == 2
    assert metrics.NEVER == -1


def test_entropy_all_distinct_is_log2_n():
    s = np.arange(8)[None, :]
    assert metrics.entropy(s)[0] == pytest.approx(3.0)


def test_silo_ids_ties_to_smaller_index():
    w = np.array([[0.4, 0.4, 0.2], [0.1, 0.3, 0.3], [0.2, 0.1, 0.7]])
    assert metrics.silo_ids(w).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="finite"):
        metrics.silo_ids([[np.nan, 1.0]])


def test_silo_regimes_constructed():
    # steps 0..7 of 3 agents
    s = np.array([
        [0, 1, 2],
        [0, 1, 1],  # agent 2 switches, N 3 -> 2
        [0, 1, 1],  # nothing moves
        [0, 1, 1],
        [1, 0, 0],  # N stays 2 but everybody switches
        [1, 0, 0],
        [1, 1, 1],  # N 2 -> 1
        [1, 1, 1],
    ])
    reg = metrics.silo_regimes(s, window=1)
    U, D, St, Un = (metrics.REGIME_UNDEFINED, metrics.REGIME_DECAYING, metrics.REGIME_STABLE,
                    metrics.REGIME_UNSTABLE)
    # t: window {t, t+1}; N = [3, 2, 2, 2, 2, 2, 1, 1]; switches at t = 1, 4, 6
    assert reg.tolist() == [U, Un, St, Un, Un, D, Un, U]
    reg0 = metrics.silo_regimes(s, window=0)
    assert reg0[0] == U and reg0[1] == Un and reg0[2] == St and reg0[4] == Un
    # a window longer than the run leaves everything undefined
    assert np.all(metrics.silo_regimes(s, window=10) == U)
    with pytest.raises(ValueError, match="window"):
        metrics.silo_regimes(s, window=-1)
    assert metrics.REGIME_NAMES[St] == "stable"


def test_silo_regimes_brute_force():
    rs = np.random.default_rng(3)
    s = rs.integers(0, 2, (20, 3))
    L = 2
    reg = metrics.silo_regimes(s, L)
    ns = metrics.n_silos(s)
    for t in range(20):
        if t == 0 or t + L > 19:
            assert reg[t] == metrics.REGIME_UNDEFINED
            continue
        win = range(t, t + L + 1)
        const = len({ns[u] for u in win}) == 1
        switch = any(np.any(s[u] != s[u - 1]) for u in win)
        expect = (metrics.REGIME_DECAYING if not const else
                  metrics.REGIME_UNSTABLE if switch else metrics.REGIME_STABLE)
        assert reg[t] == expect, t


def test_summarize():
    out = metrics.summarize(S)
    assert out == {
        "n_steps": 4, "n_agents": 4, "n_silos_final": 1, "time_to_single_silo": 3,
        "mean_switch_rate": pytest.approx((0.25 * 3 + 1.0) / 4), "final_switch_rate": 1.0,
        "final_entropy_bits": 0.0, "largest_silo_final": 4,
    }
    never = metrics.summarize(np.array([[0, 1], [0, 1]]))
    assert never["time_to_single_silo"] is None and never["n_silos_final"] == 2
    with pytest.raises(ValueError, match="one run"):
        metrics.summarize(S[None])


@pytest.mark.parametrize("bad,exc,part", [
    (np.array([0, 1, 2]), ValueError, "silos"),
    (np.array([[0, -1]]), ValueError, "-1"),
    (np.array([[0.5, 1.0]]), TypeError, "integer"),
    (np.array([["a", "b"]]), TypeError, "integer"),
])
def test_bad_silo_arrays(bad, exc, part):
    with pytest.raises(exc, match=part):
        metrics.n_silos(bad)


def test_integer_valued_floats_accepted():
    assert metrics.n_silos(np.array([[0.0, 1.0, 1.0]])).tolist() == [2]

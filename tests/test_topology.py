"""Communication graphs and k schedules: definitions, validation, effect in simulations."""
import numpy as np
import pytest

import gmmproxy
from gmmproxy import SimulationConfig, topology


def test_fully_connected():
    for n in (2, 5):
        A = topology.fully_connected(n)
        assert A.dtype == bool and A.shape == (n, n)
        for i in range(n):
            for j in range(n):
                assert A[i, j] == (i != j)


def test_intra_class_matches_definition():
    classes = np.array([0, 1, 0, 2, 1, 1])
    A = topology.intra_class(classes)
    for i in range(6):
        for j in range(6):
            assert A[i, j] == (i != j and classes[i] == classes[j])


def _adv_ref(n, adversary, targets, period, steps, phase):
    """Adjacency built entry by entry from the docstring of adversarial_schedule."""
    out = np.zeros((steps, n, n), bool)
    for t in range(steps):
        vulnerable = (t - phase) % period == 0
        for i in range(n):
            for j in range(n):
                if i == j or i == adversary:
                    continue  # no self edges; the adversary hears nobody
                if not vulnerable:
                    out[t, i, j] = j != adversary
                elif i in targets:
                    out[t, i, j] = j == adversary  # targets hear only the adversary
                else:
                    out[t, i, j] = j != adversary  # others hear each other and the targets
    return out


@pytest.mark.parametrize("phase", [0, 2])
def test_adversarial_schedule_matches_definition(phase):
    n, adv, targets, period, steps = 7, 3, [0, 5], 3, 10
    A = topology.adversarial_schedule(n, adv, targets, period, steps, phase=phase)
    assert A.shape == (steps, n, n) and A.dtype == bool
    np.testing.assert_array_equal(A, _adv_ref(n, adv, set(targets), period, steps, phase))
    assert not A[:, adv, :].any()  # the adversary only mirrors itself
    assert A[phase, 0, adv] and not A[phase + 1, 0, adv]


def test_switch_to_local_and_constant_schedule():
    assert topology.switch_to_local(5, 3, 6) == (4, 4, 4, 1, 1, 1)
    assert topology.switch_to_local(5, 0, 2, k_local=2) == (2, 2)
    assert topology.switch_to_local(5, 2, 2) == (4, 4)
    g = topology.fully_connected(3)
    cs = topology.constant_schedule(g, 4)
    assert cs.shape == (4, 3, 3) and all(np.array_equal(cs[t], g) for t in range(4))


@pytest.mark.parametrize("call,part", [
    (lambda: topology.fully_connected(1), "n_agents"),
    (lambda: topology.intra_class([1]), "classes"),
    (lambda: topology.adversarial_schedule(4, 4, [0], 2, 5), "adversary"),
    (lambda: topology.adversarial_schedule(4, 0, [0], 2, 5), "targets"),
    (lambda: topology.adversarial_schedule(4, 0, [5], 2, 5), "targets"),
    (lambda: topology.adversarial_schedule(4, 0, [1], 0, 5), "period"),
    (lambda: topology.adversarial_schedule(4, 0, [1], 2, 0), "steps"),
    (lambda: topology.switch_to_local(4, 7, 5), "t_star"),
    (lambda: topology.switch_to_local(4, 2, 5, k_local=4), "k_local"),
    (lambda: topology.constant_schedule(np.ones((2, 3)), 3), "square"),
])
def test_bad_topology_inputs(call, part):
    with pytest.raises(ValueError, match=part):
        call()


def _two_class_cfg(graph):
    # components 0-2 and 10-12: far apart, so only a conversation across classes can move beliefs over
    n = 6
    means = np.array([0.0, 1.0, 2.0, 10.0, 11.0, 12.0])
    return SimulationConfig(n_agents=n, means=means, sigma=0.3, rag_size=3, p_mirror=0.0, graph=graph)


def test_intra_class_graph_keeps_classes_apart():
    classes = np.array([0, 0, 0, 1, 1, 1])
    cfg = _two_class_cfg(topology.intra_class(classes))
    for seed in range(3):
        s = gmmproxy.simulate(cfg, 40, seed=seed, record="silos").silos
        assert np.all(s[:, :3] <= 2) and np.all(s[:, 3:] >= 3)
        # and within each class agents do interact
        assert np.any(s[-1, :3] != np.arange(3)) or np.any(s[-1, 3:] != np.arange(3, 6))
    # control (the check has power): fully connected, beliefs cross the class boundary
    crossed = False
    for seed in range(3):
        s = gmmproxy.simulate(_two_class_cfg(None), 40, seed=seed, record="silos").silos
        crossed |= bool(np.any(s[:, :3] >= 3) or np.any(s[:, 3:] <= 2))
    assert crossed


def test_adversary_schedule_in_simulation_adversary_never_moves():
    n = 5
    g = topology.adversarial_schedule(n, adversary=4, targets=[0], period=2, steps=20)
    cfg = SimulationConfig(n_agents=n, n_components=n, sigma=0.4, rag_size=3, p_mirror=0.1, graph=g)
    s = gmmproxy.simulate(cfg, 20, seed=2, record="silos").silos
    assert np.all(s[:, 4] == 4)  # hears nobody, so keeps its own belief


def test_switch_to_local_schedule_prefix_equals_unrestricted_run():
    n, T, t_star = 8, 20, 8
    base = SimulationConfig(n_agents=n, n_components=n, sigma=0.35, rag_size=3, p_mirror=0.2)
    sched = base.replace(n_neighbors=topology.switch_to_local(n, t_star, T, k_local=1))
    a = gmmproxy.simulate(base, T, seed=17)
    b = gmmproxy.simulate(sched, T, seed=17)
    # identical before t*: same k, same random numbers
    np.testing.assert_array_equal(a.weights[: t_star + 1], b.weights[: t_star + 1])
    assert not np.array_equal(a.weights, b.weights)
    # an all-(n-1) schedule is the unrestricted model
    c = gmmproxy.simulate(base.replace(n_neighbors=(n - 1,) * T), T, seed=17)
    np.testing.assert_array_equal(a.weights, c.weights)
    # the reference engine honours schedules too (prefix equality again)
    ra = gmmproxy.simulate(base, 6, seed=3, engine="reference")
    rb = gmmproxy.simulate(base.replace(n_neighbors=topology.switch_to_local(n, 3, 6)), 6, seed=3,
                           engine="reference")
    np.testing.assert_array_equal(ra.weights[:4], rb.weights[:4])


def test_k_nearest_against_brute_force_with_ties_and_coincident_points():
    from scipy.spatial.distance import cdist

    from gmmproxy.topology import k_nearest

    rng = np.random.default_rng(3)
    X = rng.integers(0, 3, size=(20, 2)).astype(float)  # many exact ties and coincident points
    D = cdist(X, X)
    got = k_nearest(D, 6)
    for i in range(20):
        ref = sorted((j for j in range(20) if j != i), key=lambda j: (D[i, j], j))[:6]
        assert got[i].tolist() == ref
    assert not np.any(got == np.arange(20)[:, None])
    with pytest.raises(ValueError, match=r"n_neighbors must be in \[1, 19\]; got 20"):
        k_nearest(D, 20)
    with pytest.raises(ValueError, match="square"):
        k_nearest(D[:3], 1)
    D[0, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        k_nearest(D, 1)

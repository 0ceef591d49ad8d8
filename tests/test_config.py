"""SimulationConfig: defaults, derived quantities and validation of every input."""
import numpy as np
import pytest

import gmmproxy
from gmmproxy import SimulationConfig


def test_defaults_are_the_paper_setup():
    cfg = SimulationConfig()
    assert (cfg.n_agents, cfg.n_components, cfg.rag_size, cfg.p_mirror, cfg.n_neighbors) == (30, 30, 5, 0.4, 29)
    assert cfg.dim == 1
    np.testing.assert_array_equal(cfg.means[:, 0], np.arange(30.0))
    np.testing.assert_array_equal(cfg.covariances, np.full((30, 1, 1), 0.2**2))
    assert cfg.isotropic_sigma
    w = cfg.initial_weights()
    # the authors' initial weights: exactly 1-eps on the diagonal and eps/K elsewhere
    ref = np.full((30, 30), 1e-12 / 30)
    np.fill_diagonal(ref, 1 - 1e-12)
    np.testing.assert_array_equal(w, ref)


def test_initial_weights_when_fewer_components_than_agents():
    cfg = SimulationConfig(n_agents=5, n_components=3)
    w = cfg.initial_weights()
    assert np.argmax(w, axis=1).tolist() == [0, 1, 2, 0, 1]


def test_covariance_forms_are_normalised_to_full():
    c1 = SimulationConfig(n_agents=3, means=[0.0, 1.0, 2.0], covariances=[0.1, 0.2, 0.3])
    np.testing.assert_array_equal(c1.covariances[:, 0, 0], [0.1, 0.2, 0.3])
    m2 = np.zeros((2, 2))
    c2 = SimulationConfig(n_agents=3, means=m2, covariances=[[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(c2.covariances[1], np.diag([3.0, 4.0]))
    full = np.array([[[1.0, 0.5], [0.5, 2.0]], [[1.0, 0.0], [0.0, 1.0]]])
    c3 = SimulationConfig(n_agents=3, means=m2, covariances=full)
    np.testing.assert_array_equal(c3.covariances, full)
    assert c3.dim == 2 and not c3.isotropic_sigma


def test_schedule_and_neighbors_at():
    cfg = SimulationConfig(n_agents=4, n_neighbors=[3, 3, 1])
    assert cfg.n_neighbors == (3, 3, 1)
    assert [cfg.neighbors_at(t) for t in range(3)] == [3, 3, 1]
    cfg.check_graph_steps(3)
    with pytest.raises(ValueError, match="n_neighbors schedule"):
        cfg.check_graph_steps(4)


def test_json_round_trip_and_equality():
    g = np.ones((4, 4), bool)
    cfg = SimulationConfig(n_agents=4, n_components=4, sigma=0.3, rag_size=2, p_mirror=0.1, n_neighbors=2,
                           graph=g, update="sequential", rag_replacement="fifo")
    import json

    back = SimulationConfig.from_dict(json.loads(cfg.to_json()))
    assert back == cfg
    assert back != cfg.replace(p_mirror=0.2)
    assert cfg.replace(sigma=0.5).covariances[0, 0, 0] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="unknown"):
        SimulationConfig.from_dict({"bogus": 1})


def test_config_is_immutable():
    cfg = SimulationConfig(n_agents=3)
    with pytest.raises(Exception):
        cfg.p_mirror = 0.9
    with pytest.raises(ValueError):
        cfg.means[0, 0] = 5.0  # read-only array


# (kwargs, exception, substrings the message must contain: parameter, value, allowed range)
BAD = [
    (dict(p_mirror=-0.1), ValueError, ["p_mirror", "-0.1", "[0, 1]"]),
    (dict(p_mirror=1.5), ValueError, ["p_mirror", "1.5", "[0, 1]"]),
    (dict(p_mirror=float("nan")), ValueError, ["p_mirror", "nan"]),
    (dict(p_mirror="0.3"), TypeError, ["p_mirror", "'0.3'"]),
    (dict(n_neighbors=0), ValueError, ["n_neighbors", "0", "[1, 4]"]),
    (dict(n_neighbors=5), ValueError, ["n_neighbors", "5", "[1, 4]"]),
    (dict(n_neighbors=2.5), TypeError, ["n_neighbors", "2.5"]),
    (dict(n_neighbors=[4, 0, 2]), ValueError, ["n_neighbors", "0", "[1, 4]"]),
    (dict(n_neighbors=[[1, 2]]), ValueError, ["n_neighbors"]),
    (dict(rag_size=0), ValueError, ["rag_size", "0", ">= 1"]),
    (dict(sigma=0.0), ValueError, ["sigma", "0.0", "> 0"]),
    (dict(sigma=-1.0), ValueError, ["sigma", "-1.0", "> 0"]),
    (dict(sigma=float("inf")), ValueError, ["sigma", "inf"]),
    (dict(n_agents=1), ValueError, ["n_agents", "1", ">= 2"]),
    (dict(n_agents=True), TypeError, ["n_agents", "True"]),
    (dict(n_components=0), ValueError, ["n_components", "0", ">= 1"]),
    (dict(eps=0.0), ValueError, ["eps", "0.0", "(0, 1e-3]"]),
    (dict(eps=0.1), ValueError, ["eps", "0.1", "(0, 1e-3]"]),
    (dict(min_sd=0.0), ValueError, ["min_sd", "0.0", "> 0"]),
    (dict(update="parallel"), ValueError, ["update", "parallel", "synchronous", "sequential"]),
    (dict(rag_replacement="random"), ValueError, ["rag_replacement", "random", "farthest", "fifo"]),
    (dict(update_covariances=1), TypeError, ["update_covariances", "1"]),
    (dict(volume_preserving=True), ValueError, ["volume_preserving", "update_covariances"]),
    (dict(init_weights=np.full((5, 5), 0.2)[:4]), ValueError, ["init_weights", "(5, 5)", "(4, 5)"]),
    (dict(init_weights=np.full((5, 5), 0.3)), ValueError, ["init_weights", "sum to 1", "1.5"]),
    (dict(init_weights=np.eye(5) * 2 - np.full((5, 5), 0.2)), ValueError, ["init_weights", ">= 0", "-0.2"]),
    (dict(init_weights=np.where(np.eye(5) > 0, np.nan, 0.0)), ValueError, ["init_weights", "finite"]),
    (dict(init_weights=np.full(5, 0.2)), ValueError, ["init_weights", "dimensions", "(5,)"]),
    (dict(means=[[0.0], [1.0]], n_components=3), ValueError, ["n_components", "3", "2"]),
    (dict(means=[0.0, np.inf]), ValueError, ["means", "finite"]),
    (dict(means=np.zeros((2, 2, 2))), ValueError, ["means", "(2, 2, 2)"]),
    (dict(means=[0.0, 1.0], covariances=[1.0, -1.0]), ValueError, ["covariances", "-1"]),
    (dict(means=[0.0, 1.0], covariances=[1.0, 1.0, 1.0]), ValueError, ["covariances", "(3,)", "(2,)"]),
    (dict(means=np.zeros((2, 2)), covariances=[[1.0, 1.0], [1.0, 0.0]]), ValueError, ["covariances", "> 0", "0.0"]),
    (dict(means=np.zeros((2, 2)), covariances=np.array([[[1.0, 0.5], [0.0, 1.0]]] * 2)), ValueError,
     ["covariances", "symmetric"]),
    (dict(means=np.zeros((2, 2)), covariances=np.array([[[1.0, 2.0], [2.0, 1.0]]] * 2)), ValueError,
     ["covariances[0]", "positive definite", "-1"]),
    (dict(means=np.zeros((2, 2)), covariances=np.ones((2, 3, 3))), ValueError, ["covariances", "(2, 2, 2)", "(2, 3, 3)"]),
    (dict(init_rag=np.zeros((5, 2, 1))), ValueError, ["init_rag", "(5, 5, 1)", "(5, 2, 1)"]),
    (dict(graph=np.ones((4, 5), bool)), ValueError, ["graph", "(5, 5)", "(4, 5)"]),
    (dict(graph=np.ones((3, 4, 4), bool)), ValueError, ["graph", "(T, 5, 5)", "(3, 4, 4)"]),
    (dict(graph=np.full((5, 5), 2)), ValueError, ["graph", "boolean"]),
    (dict(graph=np.ones((2, 2, 5, 5), bool)), ValueError, ["graph", "(2, 2, 5, 5)"]),
]


@pytest.mark.parametrize("kwargs,exc,parts", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_names_parameter_value_and_range(kwargs, exc, parts):
    base = dict(n_agents=5)
    base.update(kwargs)
    with pytest.raises(exc) as info:
        SimulationConfig(**base)
    msg = str(info.value)
    for part in parts:
        assert part in msg, f"{part!r} not in {msg!r}"


def test_valid_edge_values_accepted():
    SimulationConfig(n_agents=2, p_mirror=0.0, n_neighbors=1)
    SimulationConfig(n_agents=2, p_mirror=1.0, n_neighbors=1)
    SimulationConfig(n_agents=3, eps=1e-3, rag_size=1)
    SimulationConfig(n_agents=3, graph=np.eye(3, dtype=int))  # 0/1 integers are accepted
    SimulationConfig(n_agents=3, init_weights=np.full((3, 3), 1 / 3))


def test_bad_simulate_arguments_are_rejected_before_any_kernel(monkeypatch):
    """steps, record, seed, replicates, schedules: ValueError/TypeError naming the parameter."""
    import importlib

    sim = importlib.import_module("gmmproxy._simulate")

    def boom(*a, **k):  # any kernel call would be a failure of early validation
        raise AssertionError("kernel ran before validation")

    monkeypatch.setattr(sim, "_run_kernel", boom)
    cfg = SimulationConfig(n_agents=4, n_components=4)
    cases = [
        (lambda: gmmproxy.simulate(cfg, -1), ValueError, ["steps", "-1", ">= 0"]),
        (lambda: gmmproxy.simulate(cfg, 2.5), TypeError, ["steps", "2.5"]),
        (lambda: gmmproxy.simulate(cfg, 5, seed=-3), ValueError, ["seed", "-3"]),
        (lambda: gmmproxy.simulate(cfg, 5, seed="abc"), TypeError, ["seed", "'abc'"]),
        (lambda: gmmproxy.simulate(cfg, 5, seed=1.5), TypeError, ["seed", "1.5"]),
        (lambda: gmmproxy.simulate(cfg, 5, record="all"), ValueError, ["record", "'all'", "weights"]),
        (lambda: gmmproxy.simulate(cfg, 5, engine="gpu"), ValueError, ["engine", "'gpu'", "numba"]),
        (lambda: gmmproxy.simulate(cfg, 5, weights_dtype=np.int32), ValueError, ["weights_dtype", "int32"]),
        (lambda: gmmproxy.simulate("cfg", 5), TypeError, ["cfg", "str"]),
        (lambda: gmmproxy.simulate_many(cfg, 5, 0), ValueError, ["replicates", "0", ">= 1"]),
        (lambda: gmmproxy.simulate_many(cfg, 5, 2.0), TypeError, ["replicates", "2.0"]),
        (lambda: gmmproxy.simulate_many(cfg, 5, 3, chunk_size=0), ValueError, ["chunk_size", "0", ">= 1"]),
        (lambda: gmmproxy.simulate_many(cfg, 5, 3, n_threads=0), ValueError, ["n_threads", "0"]),
        (lambda: gmmproxy.simulate_many(cfg, -2, 3), ValueError, ["steps", "-2"]),
        (lambda: gmmproxy.simulate_many(cfg, 5, 3, record="x"), ValueError, ["record", "'x'"]),
        (lambda: gmmproxy.simulate(cfg.replace(n_neighbors=(3, 3)), 3), ValueError,
         ["n_neighbors", "steps = 3", "2"]),
        (lambda: gmmproxy.simulate(cfg.replace(graph=np.ones((2, 4, 4), bool)), 5), ValueError,
         ["graph", "steps = 5", "2"]),
        (lambda: gmmproxy.simulate(cfg.replace(graph=np.ones((4, 4), bool)), 5, engine="reference"),
         ValueError, ["graph", "reference"]),
    ]
    for call, exc, parts in cases:
        with pytest.raises(exc) as info:
            call()
        msg = str(info.value)
        for part in parts:
            assert part in msg, f"{part!r} not in {msg!r}"


def test_replace_n_agents_keeps_default_neighbourhood():
    cfg = SimulationConfig().replace(n_agents=10)
    assert cfg.n_neighbors == 9

"""The kernel inputs cached per configuration object (``runner.per_config``).

They are shared by every later call with the same object, so the kernels
must only ever read them, and the cache must let go of a configuration once
the user does.
"""
import gc
import pickle

import numpy as np
import pytest
from scipy import sparse

from gmmproxy import SimulationConfig, simulate, simulate_many
from gmmproxy._kernels import runner

CONFIGS = {
    "banded unrestricted": dict(n_agents=8, p_mirror=0.3),
    "kNN": dict(n_agents=10, n_components=6, n_neighbors=3, p_mirror=0.2),
    "sparse graph": dict(n_agents=40, n_components=5,
                         graph=sparse.random(40, 40, density=0.08, random_state=1, format="csr") > 0),
    "Algorithm 2": dict(n_agents=6, n_components=3, update_covariances=True),
    "given RAG and weights": dict(n_agents=5, n_components=4, rag_size=2,
                                  init_rag=np.linspace(0, 3, 10).reshape(5, 2, 1),
                                  init_weights=np.full((5, 4), 0.25)),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_repeated_calls_with_one_config_equal_calls_with_fresh_configs(name):
    # if a kernel wrote into a cached input (initial weights, RAG, mixture, graph), the second
    # call on the same object would start from a different state than a fresh object does
    kw = CONFIGS[name]
    cfg = SimulationConfig(**kw)
    runs = [simulate(cfg, steps=4, seed=s) for s in (1, 2, 1)]
    fresh = simulate(SimulationConfig(**kw), steps=4, seed=1)
    for run in (runs[0], runs[2]):
        np.testing.assert_array_equal(run.weights, fresh.weights)
        np.testing.assert_array_equal(run.final_rag, fresh.final_rag)
    batch = simulate_many(cfg, steps=4, replicates=3, seed=5, record="weights", n_threads=2)
    again = simulate_many(SimulationConfig(**kw), steps=4, replicates=3, seed=5, record="weights", n_threads=1)
    np.testing.assert_array_equal(batch.weights, again.weights)


def test_inputs_are_computed_once_per_object_and_released_with_it():
    calls = []

    def compute(c):
        calls.append(c.n_agents)
        return np.arange(c.n_agents)

    cfg = SimulationConfig(n_agents=7)
    first = runner.per_config(cfg, "test-value", compute)
    assert runner.per_config(cfg, "test-value", compute) is first
    assert calls == [7]
    other = SimulationConfig(n_agents=7)  # equal values, another object: its own entry
    runner.per_config(other, "test-value", compute)
    assert calls == [7, 7]
    key = id(cfg)
    assert key in runner._PER_CONFIG
    del cfg, first
    gc.collect()
    assert key not in runner._PER_CONFIG


def test_cache_is_not_part_of_a_pickled_config():
    cfg = SimulationConfig(n_agents=6, n_neighbors=2)
    simulate(cfg, steps=2, seed=0)  # fills the cache
    clone = pickle.loads(pickle.dumps(cfg))
    assert id(clone) not in runner._PER_CONFIG
    assert clone == cfg
    np.testing.assert_array_equal(simulate(clone, steps=3, seed=4).weights, simulate(cfg, steps=3, seed=4).weights)

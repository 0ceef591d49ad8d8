"""Algorithm 1 with many components runs its EM step through ``em.em_weights_wide``: same numbers."""
import numpy as np
import pytest

from gmmproxy import SimulationConfig, simulate, simulate_many
from gmmproxy._kernels import em, rounds, runner


@pytest.mark.parametrize("kw", [
    dict(n_agents=12, n_components=em.EM_HULL_MIN_K, p_mirror=0.3, sigma=0.3),
    # kNN partners, FIFO replacement, a wider band: one more compiled variant, not three (suite time)
    dict(n_agents=10, n_components=130, n_neighbors=3, rag_size=3, sigma=0.8, rag_replacement="fifo"),
])
def test_wide_variant_gives_the_plain_em_steps_numbers(kw, monkeypatch):
    cfg = SimulationConfig(**kw)
    assert runner.wide_em(cfg)
    assert runner.kernel_for(cfg) is rounds.alg1_kernel(*runner.variant_of(cfg), True)
    wide = simulate(cfg, steps=25, seed=7)
    wide_batch = simulate_many(cfg, steps=10, replicates=3, seed=1, record="weights")
    # the same configuration through the plain EM step (a new object: kernel inputs are cached per object)
    monkeypatch.setattr(runner, "EM_HULL_MIN_K", 10**9)
    plain_cfg = cfg.replace()
    assert not runner.wide_em(plain_cfg)
    assert runner.kernel_for(plain_cfg) is rounds.alg1_kernel(*runner.variant_of(plain_cfg), False)
    plain = simulate(plain_cfg, steps=25, seed=7)
    plain_batch = simulate_many(plain_cfg, steps=10, replicates=3, seed=1, record="weights")
    np.testing.assert_array_equal(wide.weights, plain.weights)
    np.testing.assert_array_equal(wide.final_rag, plain.final_rag)
    np.testing.assert_array_equal(wide_batch.weights, plain_batch.weights)
    # the runs move: weights change between the first and the last step
    assert np.abs(wide.weights[-1] - wide.weights[0]).max() > 0.1


def test_fewer_components_keep_the_default_kernel():
    cfg = SimulationConfig(n_agents=30)
    assert not runner.wide_em(cfg)
    assert runner.kernel_for(cfg) is rounds.alg1_kernel(rounds.DENS_BANDED, rounds.PARTNER_ALL)

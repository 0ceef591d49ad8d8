"""The rounds of Algorithms 1 and 2 through ``simulate`` / ``simulate_many``: variants, threads,
tie-breaking, what an Ensemble keeps."""
import numpy as np
import pytest

import gmmproxy
from gmmproxy import SimulationConfig, replicate_seed, simulate, simulate_many
from gmmproxy._kernels import rounds, runner


def test_each_config_compiles_only_its_variant():
    assert runner.variant_of(SimulationConfig()) == (rounds.DENS_BANDED, rounds.PARTNER_ALL)
    assert runner.variant_of(SimulationConfig(n_neighbors=3)) == (rounds.DENS_BANDED, rounds.PARTNER_KNN)
    assert runner.variant_of(SimulationConfig(n_agents=4, n_neighbors=(3, 1))) == (rounds.DENS_BANDED,
                                                                                  rounds.PARTNER_KNN)
    assert runner.variant_of(SimulationConfig(n_agents=3, means=[0, 2, 1])) == (rounds.DENS_1D, rounds.PARTNER_ALL)
    assert runner.variant_of(SimulationConfig(n_agents=3, covariances=[1, 2, 1])) == (rounds.DENS_1D,
                                                                                     rounds.PARTNER_ALL)
    assert runner.variant_of(SimulationConfig(n_agents=3, means=np.eye(3))) == (rounds.DENS_ND, rounds.PARTNER_ALL)
    g = np.ones((3, 3), bool)
    assert runner.variant_of(SimulationConfig(n_agents=3, graph=g))[1] == rounds.PARTNER_GRAPH


@pytest.mark.parametrize("kw", [dict(), dict(p_mirror=0.0, n_neighbors=4), dict(update_covariances=True)])
def test_same_arrays_at_any_thread_count(kw):
    cfg = SimulationConfig(n_agents=10, n_components=6, **kw)
    a = simulate_many(cfg, steps=6, replicates=5, seed=11, record="weights", n_threads=1)
    b = simulate_many(cfg, steps=6, replicates=5, seed=11, record="weights", n_threads=2, chunk_size=3)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.n_silos, b.n_silos)
    # replicate r of a batch is simulate() with the replicate's seed
    one = simulate(cfg, steps=6, seed=replicate_seed(11, 3))
    np.testing.assert_array_equal(one.weights, a.weights[3])


def test_ensemble_keeps_algorithm2_covariances_and_final_rag(tmp_path):
    cfg = SimulationConfig(n_agents=6, n_components=3, update_covariances=True)
    ens = simulate_many(cfg, steps=4, replicates=3, seed=2, record="weights", keep_final_rag=True)
    assert ens.covariances.shape == (3, 5, 6, 3, 1, 1)
    assert ens.final_rag.shape == (3, 6, cfg.rag_size, 1)
    for r in range(3):
        tr = simulate(cfg, steps=4, seed=replicate_seed(2, r))
        np.testing.assert_array_equal(ens.covariances[r], tr.covariances)
        np.testing.assert_array_equal(ens.final_rag[r], tr.final_rag)
    back = gmmproxy.Ensemble.load(ens.save(tmp_path / "e.npz"))
    np.testing.assert_array_equal(back.covariances, ens.covariances)
    np.testing.assert_array_equal(back.final_rag, ens.final_rag)
    lean = simulate_many(cfg, steps=4, replicates=2, seed=2, record="silos")
    assert lean.covariances is None and lean.final_rag is None


def test_tie_break_is_validated():
    with pytest.raises(ValueError, match="tie_break"):
        SimulationConfig(tie_break="lowest")
    with pytest.raises(ValueError, match="tie_break"):
        simulate(SimulationConfig(n_agents=4, tie_break="random"), steps=1, seed=0, engine="reference")


def _share_in_silo0(tie_break, replicates=120):
    cfg = SimulationConfig(n_agents=30, n_neighbors=1, p_mirror=0.0, tie_break=tie_break)
    ens = simulate_many(cfg, steps=80, replicates=replicates, seed=2024, record="metrics")
    return float(np.mean(ens.final_silos == 0))


def test_tie_break_index_biases_low_indices_random_does_not():
    # issue 7's example: with the authors' rule ~30% of agents end in silo 0, ~1/30 with random ties
    index = _share_in_silo0("index")
    rand = _share_in_silo0("random")
    assert 0.2 < index < 0.4
    assert abs(rand - 1 / 30) < 0.03

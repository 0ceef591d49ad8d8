"""Summary statistics on hand-made logs, and identical results for every input type."""
import numpy as np
import pytest

from gmmproxy.bridge.calibration.statistics import statistic_names, summary_statistics
from gmmproxy.bridge.calibration.simulator import write_proxy_logs
from gmmproxy.bridge.trajectory import from_log


def _hand_runs():
    # 4 agents, 6 steps. Run A: reaches one silo at t = 3 and keeps it.
    a = np.array([[0, 1, 2, 3],
                  [0, 0, 2, 3],
                  [0, 0, 2, 2],
                  [2, 2, 2, 2],
                  [2, 2, 2, 2],
                  [2, 2, 2, 2]])
    # Run B: one silo at t = 2, splits again at t = 4, ends in two silos (censored).
    b = np.array([[0, 1, 2, 3],
                  [1, 1, 1, 3],
                  [1, 1, 1, 1],
                  [1, 1, 1, 1],
                  [1, 0, 1, 1],
                  [1, 0, 1, 0]])
    return np.stack([a, b])


def test_statistics_of_hand_made_logs(tmp_path):
    silos = _hand_runs()
    paths = write_proxy_logs(silos, tmp_path, p_mirror=0.5, n_neighbors=2)
    trajs = [from_log(p, extractor=None) for p in paths]
    st = summary_statistics(trajs, times=(1, 2, 4))
    # N(t): A = 4,3,2,1,1,1 ; B = 4,2,1,1,2,2
    np.testing.assert_array_equal(st["n_silos_t1"], [3, 2])
    np.testing.assert_array_equal(st["n_silos_t2"], [2, 1])
    np.testing.assert_array_equal(st["n_silos_t4"], [1, 2])
    np.testing.assert_array_equal(st["silos_final"], [1, 2])
    # A: one silo from t = 3 on; B never ends in one silo -> censored at T = 6 steps
    np.testing.assert_array_equal(st["time_to_single_silo"], [3, 6])
    np.testing.assert_array_equal(st["reached_single_silo"], [1, 0])
    assert st["n_steps"] == 6
    # switches per step (t = 1..5): A = 1,1,2,0,0 ; B = 2,1,0,1,1 -> mean fraction of 4 agents
    np.testing.assert_allclose(st["switch_rate_mean"], [4 / 5 / 4, 5 / 5 / 4])
    # final entropy: A one silo = 0 bits; B two silos of 2 = 1 bit
    np.testing.assert_allclose(st["entropy_final"], [0.0, 1.0], atol=1e-12)


def test_same_statistics_for_arrays_trajectories_and_ensembles(tmp_path):
    import gmmproxy

    cfg = gmmproxy.SimulationConfig(n_agents=8, p_mirror=0.3, n_neighbors=3)
    ens = gmmproxy.simulate_many(cfg, steps=12, replicates=3, seed=4, record="silos")
    times = (2, 5, 10)
    from_ens = summary_statistics(ens, times)
    from_arr = summary_statistics(ens.silos, times)
    paths = write_proxy_logs(ens.silos, tmp_path, p_mirror=0.3, n_neighbors=3)
    from_logs = summary_statistics([from_log(p, extractor=None) for p in paths], times)
    ens_metrics = gmmproxy.simulate_many(cfg, steps=12, replicates=3, seed=4, record="metrics")
    from_metrics = summary_statistics(ens_metrics, times)
    for nm in statistic_names(times):
        np.testing.assert_allclose(from_ens[nm], from_arr[nm], err_msg=nm)
        np.testing.assert_allclose(from_logs[nm], from_arr[nm], err_msg=nm)
        np.testing.assert_allclose(from_metrics[nm], from_arr[nm], err_msg=nm)


def test_bad_times_are_rejected():
    silos = _hand_runs()
    with pytest.raises(ValueError, match="times must be < the number of steps T = 6"):
        summary_statistics(silos, times=(10,))
    with pytest.raises(ValueError, match="times must be non-negative integers"):
        summary_statistics(silos, times=(-1,))

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


def test_copy_switch_rate_on_hand_made_logs_with_and_without_mirror_flags(tmp_path):
    from gmmproxy.bridge.calibration.statistics import copying_steps

    silos = _hand_runs()
    # copying[r, t, i]: agent i copied in the update that led to step t (row 0 unused)
    copying = np.zeros(silos.shape, dtype=bool)
    copying[0, 1] = [False, True, False, False]   # A t=1: agent 1 copies and switches (1 -> 0)
    copying[0, 2] = [True, True, False, True]     # A t=2: 3 copies, one switch (agent 3: 3 -> 2)
    copying[0, 3] = [True, True, True, True]      # A t=3: 4 copies, two switches (agents 0, 1)
    copying[0, 4] = [False, False, False, False]  # A t=4: none
    copying[0, 5] = [True, False, False, False]   # A t=5: one copy, no switch
    # B: 2 + 1 + 0 + 1 + 1 switches in 3 + 4 + 2 + 2 + 2 copying agent-steps
    copying[1, 1] = [True, False, True, True]     # switches: agents 0, 2 (0 -> 1, 2 -> 1); 3 stays
    copying[1, 2] = [True, True, True, True]      # one switch (agent 3)
    copying[1, 3] = [True, True, False, False]    # none
    copying[1, 4] = [True, True, False, False]    # agent 1 switches
    copying[1, 5] = [False, False, True, True]    # agent 3 switches
    expected = [(1 + 1 + 2 + 0) / (1 + 3 + 4 + 1), (2 + 1 + 0 + 1 + 1) / (3 + 4 + 2 + 2 + 2)]
    # a mirrored update never changes the silo in these runs (as in the LLM logs)
    changed = silos[:, 1:] != silos[:, :-1]
    assert not np.any(changed & ~copying[:, 1:])

    (tmp_path / "flags").mkdir()
    (tmp_path / "plain").mkdir()
    with_flags = write_proxy_logs(silos, tmp_path / "flags", p_mirror=0.5, n_neighbors=2, copied=copying)
    trajs = [from_log(p, extractor=None) for p in with_flags]
    assert all(t.mirrors_known for t in trajs)
    np.testing.assert_array_equal(copying_steps(trajs)[:, 1:], copying[:, 1:])
    st = summary_statistics(trajs, times=(1, 2))
    np.testing.assert_allclose(st["copy_switch_rate"], expected)
    # the same from the arrays, and the plain switch rate is unchanged by the flags
    np.testing.assert_allclose(summary_statistics(silos, (1, 2), copying=copying)["copy_switch_rate"], expected)
    np.testing.assert_allclose(st["switch_rate_mean"], [4 / 5 / 4, 5 / 5 / 4])

    # logs without flags: the statistic is unknown (NaN), every other one is unchanged
    plain = [from_log(p, extractor=None) for p in write_proxy_logs(silos, tmp_path / "plain", p_mirror=0.5,
                                                                   n_neighbors=2)]
    st0 = summary_statistics(plain, times=(1, 2))
    assert np.all(np.isnan(st0["copy_switch_rate"]))
    for nm in statistic_names((1, 2)):
        if nm != "copy_switch_rate":
            np.testing.assert_array_equal(st0[nm], st[nm], err_msg=nm)
    # a run without any copying step has rate 0
    none = summary_statistics(silos[:1, :1].repeat(3, axis=1), (1,), copying=np.zeros((1, 3, 4), bool))
    np.testing.assert_array_equal(none["copy_switch_rate"], [0.0])

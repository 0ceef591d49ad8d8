"""Recovering the mirror flags of the published flower runs from the authors' seeded draws."""
import numpy as np
import pytest

from gmmproxy.bridge.importer import published_mirror_draws, recover_published_mirrors
from gmmproxy.bridge.trajectory import from_log
from gmmproxy.llm.log import read_log


def _script_draws(p, n_draws, n=30):
    # what the authors' script did, written independently of the package: the global
    # legacy generator, seeded with 2024, one binomial(1, p, 30) per step
    np.random.seed(2024)
    return np.array([np.random.binomial(1, p, n) for _ in range(n_draws)], dtype=bool)


def test_draws_are_the_scripts_global_legacy_draws():
    for p in (0.2, 0.7):
        np.testing.assert_array_equal(published_mirror_draws(p, 30, 40).astype(bool),
                                      _script_draws(p, 40))
    # a few fixed values of the frozen legacy stream, so a silent change of generator fails
    assert published_mirror_draws(0.2, 30, 1)[0, :10].tolist() == \
        _script_draws(0.2, 1)[0, :10].astype(int).tolist()
    assert published_mirror_draws(0.7, 30, 40).sum() == _script_draws(0.7, 40).sum()


def test_every_published_run_has_its_mirror_flags_recovered(imported_logs):
    assert len(imported_logs) == 32
    for (P, K, V), path in imported_logs.items():
        log = read_log(path)
        rec = log.meta["mirror_recovery"]
        assert rec["status"] == "recovered", (P, K, V, rec)
        # the flags are the script's draws: file 1 gives steps 0..39, file 2 (seeded
        # again) steps 40..78; the last step's update is not in the data -> unknown
        D = _script_draws(P / 10, 40)
        want = np.concatenate([D, D])
        np.testing.assert_array_equal(log.mirrored[:79], want[:79])
        assert log.mirrored_known[:79].all() and not log.mirrored_known[79].any()
        assert log.mirrors_known and not log.interactions_known
        assert rec["violations"] == 0 and rec["chance_probability"] <= rec["alpha"]
        # the check has teeth on every run: misaligned by one step it fails
        assert rec["violations_if_shifted"]["+1"] > 0


def test_a_mirrored_step_never_changes_the_flower_on_any_run(imported_logs):
    n_mirror = n_changes = 0
    for key, path in imported_logs.items():
        traj = from_log(path, extractor=None)
        assert traj.mirrors_known
        changed = traj.silos[1:] != traj.silos[:-1]
        mirrored = traj.mirrored[:-1]
        assert not (changed & mirrored).any(), key
        n_mirror += int(mirrored.sum())
        n_changes += int(changed.sum())
    # 16 runs x 496 and 16 runs x 1636 mirrored transitions; thousands of flower changes
    assert n_mirror == 16 * 496 + 16 * 1636
    assert n_changes > 3000


def test_no_answer_names_a_flower_absent_the_step_before(imported_logs):
    for key, path in imported_logs.items():
        labels = read_log(path).labels
        for t in range(1, labels.shape[0]):
            assert set(labels[t]) <= set(labels[t - 1]), (key, t)


def test_a_flagged_change_fails_the_run_and_leaves_flags_unknown():
    # labels that change only where the script's draws say "mirror": the check must fail
    T, n, p = 10, 30, 0.2
    D = _script_draws(p, 5, n)
    D = np.concatenate([D, D])
    labels = np.empty((T, n), dtype=object)
    labels[0] = "rose"
    for t in range(T - 1):
        labels[t + 1] = np.where(D[t], "tulip" if t % 2 == 0 else "rose", labels[t])
    flags, rec = recover_published_mirrors(labels, p, (5, 5))
    assert rec["status"] == "failed" and rec["violations"] > 0
    assert all(f is None for f in flags.ravel())


def test_consistent_labels_are_recovered_only_with_enough_changes():
    T, n, p = 10, 30, 0.2
    D = _script_draws(p, 5, n)
    D = np.concatenate([D, D])
    # agents change flower exactly at copying transitions: consistent with the flags
    labels = np.empty((T, n), dtype=object)
    labels[0] = [f"f{i}" for i in range(n)]
    for t in range(T - 1):
        labels[t + 1] = [labels[t, i] if D[t, i] else f"g{t}_{i}" for i in range(n)]
    flags, rec = recover_published_mirrors(labels, p, (5, 5))
    assert rec["status"] == "recovered" and rec["violations"] == 0
    assert rec["flower_changes"] == int((~D[:T - 1]).sum())
    np.testing.assert_array_equal(flags[:-1].astype(bool), D[:T - 1])
    assert all(f is None for f in flags[-1])
    # one change only: flags unrelated to the data would pass with probability 0.8
    few = np.full((T, n), "rose", dtype=object)
    i = int(np.flatnonzero(~D[3])[0])
    few[4:, i] = "tulip"
    flags, rec = recover_published_mirrors(few, p, (5, 5))
    assert rec["status"] == "inconclusive" and rec["chance_probability"] == pytest.approx(0.8)
    assert all(f is None for f in flags.ravel())
    # unlabelled answers are not checked (not counted as a change)
    few[5, i] = None
    _, rec = recover_published_mirrors(few, p, (5, 5))
    assert rec["checked_transitions"] == (T - 1) * n - 2 and rec["flower_changes"] == 1


def test_bad_inputs_are_named():
    labels = np.full((4, 3), "rose", dtype=object)
    with pytest.raises(ValueError, match="file_steps must add up"):
        recover_published_mirrors(labels, 0.2, (2, 3))
    with pytest.raises(ValueError, match=r"p_mirror must be in \[0.0, 1.0\]"):
        recover_published_mirrors(labels, 1.5, (2, 2))
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\)"):
        recover_published_mirrors(labels, 0.2, (2, 2), alpha=0.0)
    with pytest.raises(ValueError, match="n_agents must be >= 1"):
        published_mirror_draws(0.2, 0, 3)


def test_log_reader_tells_known_mirror_flags_from_known_interactions(tmp_path):
    from gmmproxy.llm.log import LogWriter

    def write(name, steps):
        path = tmp_path / name
        with LogWriter(path, meta=dict(n_agents=2)) as w:
            for t, recs in enumerate(steps):
                w.append_step(t, [dict(agent=i, partner=pa, mirrored=m, text="x", label="rose")
                                  for i, (pa, m) in enumerate(recs)])
        return read_log(path)

    # flags of every transition, partners unknown, last step unknown: mirrors known only
    log = write("flags.jsonl", [[(None, True), (None, False)], [(None, False), (None, None)]])
    assert log.mirrors_known and not log.interactions_known
    np.testing.assert_array_equal(log.mirrored_known, [[True, True], [True, False]])
    np.testing.assert_array_equal(log.mirrored, [[True, False], [False, False]])
    # a flag missing before the last step: not known
    log = write("gap.jsonl", [[(None, None), (None, False)], [(None, False), (None, True)]])
    assert not log.mirrors_known and not log.interactions_known
    # a live run: partners and flags everywhere
    log = write("live.jsonl", [[(0, True), (0, False)], [(1, False), (1, True)]])
    assert log.mirrors_known and log.interactions_known
    # nothing recorded (the old import)
    log = write("none.jsonl", [[(None, None), (None, None)]])
    assert not log.mirrors_known and not log.interactions_known

"""Output files: checked before work, written atomically, no stale temporary files."""
import os
import signal
import stat

import numpy as np
import pytest

from gmmproxy._memory import simulation_bytes
from gmmproxy._outputs import atomic_write, check_output


def test_check_output_rules(tmp_path):
    assert check_output(tmp_path / "new.npz", option="--out") == tmp_path / "new.npz"
    with pytest.raises(ValueError, match=r"--out: folder .*missing.* does not exist"):
        check_output(tmp_path / "missing" / "x.npz", option="--out")
    (tmp_path / "old.npz").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"--plot: .*old.npz.* already exists; pass --force"):
        check_output(tmp_path / "old.npz", option="--plot")
    assert check_output(tmp_path / "old.npz", option="--plot", force=True).name == "old.npz"
    with pytest.raises(ValueError, match="is a folder"):
        check_output(tmp_path, option="--save")
    # the probe file used to test writability is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.npz"]


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True,
                    reason="root can write into read-only folders")
def test_check_output_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="cannot write in folder"):
            check_output(ro / "x.png", option="--plot")
    finally:
        ro.chmod(0o700)


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old contents")
    atomic_write(target, lambda fh: fh.write(b"new"))
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


@pytest.mark.parametrize("exc", [KeyboardInterrupt, OSError])
def test_interrupted_write_keeps_old_file_and_leaves_no_part(tmp_path, exc):
    target = tmp_path / "a.npz"
    target.write_bytes(b"old contents")

    def write(fh):
        fh.write(b"half")
        raise exc()

    with pytest.raises(exc):
        atomic_write(target, write)
    assert target.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]


def test_ctrl_c_during_the_rename_is_held_until_the_file_is_complete(tmp_path, monkeypatch):
    """A SIGINT arriving inside the final flush/rename completes the save, then raises."""
    target = tmp_path / "r.npz"
    real_replace = os.replace

    def replace_with_signal(src, dst):
        os.kill(os.getpid(), signal.SIGINT)  # a (second) Ctrl-C at the worst moment
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_with_signal)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, lambda fh: np.save(fh, np.arange(5)))
    np.testing.assert_array_equal(np.load(target), np.arange(5))
    assert [p.name for p in tmp_path.iterdir()] == ["r.npz"]


def test_trajectory_save_is_atomic(tmp_path, monkeypatch):
    import gmmproxy.trajectory as tj

    def failing(fh, **payload):
        fh.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(tj.np, "savez_compressed", failing)
    with pytest.raises(KeyboardInterrupt):
        tj._save(tmp_path / "x.npz", "trajectory", {"a": np.zeros(2)}, {})
    assert list(tmp_path.iterdir()) == []


def test_memory_estimate_counts_the_recorded_arrays():
    from gmmproxy import SimulationConfig

    cfg = SimulationConfig(n_agents=30, rag_size=5)
    T, R = 100, 50
    w = simulation_bytes(cfg, T, R, "weights")
    s = simulation_bytes(cfg, T, R, "silos")
    m = simulation_bytes(cfg, T, R, "metrics")
    # weights add exactly R (T+1) n K float64 to the silo record, silos R (T+1) n int16 to metrics
    assert w - s == R * (T + 1) * 30 * 30 * 8
    assert s - m == R * (T + 1) * 30 * 2
    assert simulation_bytes(cfg, T, R, "weights", 4) == w - R * (T + 1) * 30 * 30 * 4
    # Python ints: no overflow at absurd sizes
    assert simulation_bytes(cfg, 10**12, 10**6, "metrics") > 10**18


def test_atomic_write_gives_new_files_the_umask_mode_and_keeps_a_replaced_files_mode(tmp_path):
    # the temporary file behind atomic_write is private (0600); the output must not be, or a
    # shared results folder becomes unreadable to the rest of a group
    old = os.umask(0o027)
    try:
        new = atomic_write(tmp_path / "new.bin", lambda fh: fh.write(b"x"))
        assert stat.S_IMODE(os.stat(new).st_mode) == 0o640
        os.umask(0o002)
        new2 = atomic_write(tmp_path / "new2.bin", lambda fh: fh.write(b"x"))
        assert stat.S_IMODE(os.stat(new2).st_mode) == 0o664
        kept = tmp_path / "kept.bin"
        kept.write_bytes(b"old")
        os.chmod(kept, 0o604)
        atomic_write(kept, lambda fh: fh.write(b"new"))
        assert stat.S_IMODE(os.stat(kept).st_mode) == 0o604
        assert kept.read_bytes() == b"new"
    finally:
        os.umask(old)

"""Where the kernels' Numba cache lives (a folder named by a digest of every kernel source) and the
compile notice on stderr."""
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np

from gmmproxy._kernels import cache, runner


def test_digest_changes_when_any_kernel_source_changes(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    d0 = cache.kernel_digest(tmp_path)
    assert cache.kernel_digest(tmp_path) == d0
    (tmp_path / "a.py").write_text("x = 3\n")  # a helper another file inlines changed
    d1 = cache.kernel_digest(tmp_path)
    assert d1 != d0
    (tmp_path / "c.txt").write_text("not a source")
    assert cache.kernel_digest(tmp_path) == d1


def test_cache_folder_is_named_by_the_digest_and_nothing_is_deleted(tmp_path, monkeypatch):
    monkeypatch.setattr(cache._numba_config, "CACHE_DIR", str(tmp_path))
    stale = tmp_path / "gmmproxy-kernels-0000"
    stale.mkdir()
    (stale / "x.nbi").write_bytes(b"old")
    folder = cache.cache_dir()
    assert folder == tmp_path / f"gmmproxy-kernels-{cache._DIGEST[:20]}"
    assert folder.is_dir()
    assert (stale / "x.nbi").read_bytes() == b"old"


def test_read_only_package_falls_back_to_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(cache._numba_config, "CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    real = cache._writable_dir
    monkeypatch.setattr(cache, "_writable_dir", lambda p: False if cache._HERE in p.parents else real(p))
    folder = cache.cache_dir()
    assert folder == tmp_path / "xdg" / "gmmproxy" / f"gmmproxy-kernels-{cache._DIGEST[:20]}"
    monkeypatch.setattr(cache, "_writable_dir", lambda p: False)
    assert cache.cache_dir() is None


def test_numba_cache_dir_is_respected_in_a_fresh_process(tmp_path):
    code = ("import numpy as np; from gmmproxy._kernels import gmm, cache; "
            "gmm.density_cutoff(1e-12); print(cache._CACHE_DIR)")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    where = Path(out.stdout.strip())
    assert where.parent == tmp_path and where.name.startswith("gmmproxy-kernels-")
    assert any(where.glob("gmm.density_cutoff-*.nbi"))


def test_compile_notice_on_stderr_only_when_compiling(capsys):
    def plus_one(x):
        return x + 1

    plus_one.__module__ = "gmmproxy._kernels.example"
    disp = numba.njit(plus_one)
    secs = runner.ensure_compiled(disp, (np.float64(1.0),), "example")
    err = capsys.readouterr().err
    assert "compiling the example kernels" in err and "compiled in" in err
    assert secs > 0
    assert runner.ensure_compiled(disp, (np.float64(2.0),), "example") == 0.0
    assert capsys.readouterr().err == ""

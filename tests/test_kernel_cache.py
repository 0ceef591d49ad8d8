"""The kernels' on-disk Numba cache is cleared when any kernel source changes."""
import gmmproxy._kernels as kernels


def test_cache_cleared_only_when_a_kernel_source_changes(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    (cache / "b.f-1.py311.nbi").write_bytes(b"old index")
    (cache / "b.f-1.py311.1.nbc").write_bytes(b"old code")
    (cache / "a.cpython-311.pyc").write_bytes(b"bytecode")
    monkeypatch.setattr(kernels, "_HERE", tmp_path)

    kernels._clear_stale_numba_cache()  # no stamp yet: clear
    assert sorted(p.name for p in cache.iterdir()) == ["a.cpython-311.pyc", "gmmproxy-kernels.sha256"]

    (cache / "b.f-1.py311.nbi").write_bytes(b"fresh index")
    kernels._clear_stale_numba_cache()  # sources unchanged: keep
    assert (cache / "b.f-1.py311.nbi").exists()

    (tmp_path / "a.py").write_text("x = 3\n")  # a helper another file inlines changed
    kernels._clear_stale_numba_cache()
    assert not (cache / "b.f-1.py311.nbi").exists()
    assert (cache / "a.cpython-311.pyc").exists()

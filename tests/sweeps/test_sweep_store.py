"""The sweep folder's cell writes: a Ctrl-C while a cell is being written leaves no partial file and no finished cell."""
import numpy as np
import pytest

from gmmproxy.sweeps._store import SweepStore

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")


def test_cell_written_whole_and_read_back(tmp_path):
    store = SweepStore(tmp_path / "s")
    store.cells_dir.mkdir(parents=True)
    frame = pd.DataFrame({"replicate": [0, 1], "silos_final": [3, 1]})
    store.write_cell("abc", frame, np.array([[5, 3], [5, 1]], dtype=np.int32))
    assert store.finished() == {"abc"}
    pd.testing.assert_frame_equal(store.read_cell("abc"), frame)
    np.testing.assert_array_equal(store.read_n_silos("abc"), [[5, 3], [5, 1]])


@pytest.mark.parametrize("interrupted", ["n_silos", "rows"])
def test_ctrl_c_during_a_cell_write_leaves_nothing_behind(tmp_path, monkeypatch, interrupted):
    store = SweepStore(tmp_path / "s")
    store.cells_dir.mkdir(parents=True)
    frame = pd.DataFrame({"replicate": [0], "silos_final": [2]})

    def half_then_ctrl_c(fh, *args, **kwargs):
        fh.write(b"PAR1 half a file")
        raise KeyboardInterrupt

    if interrupted == "rows":
        monkeypatch.setattr(pd.DataFrame, "to_parquet", lambda self, fh, **kw: half_then_ctrl_c(fh))
    else:
        monkeypatch.setattr(np, "save", half_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        store.write_cell("abc", frame, np.array([[4, 2]], dtype=np.int32))
    assert store.finished() == set()  # the cell is not done: a resume recomputes it
    leftovers = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert not [n for n in leftovers if n.endswith(".part") or n.startswith(".")], leftovers

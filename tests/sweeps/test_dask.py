"""Sweeps on a Dask cluster: a LocalCluster of 2 worker processes gives the in-process rows."""
import socket

import pytest

import gmmproxy
from gmmproxy.sweeps import connect_dask, load_sweep, local_dask_client, sweep

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
pytest.importorskip("distributed")

BASE = gmmproxy.SimulationConfig(n_agents=6, sigma=0.3, rag_size=2, p_mirror=0.2)


def test_local_cluster_of_two_workers_gives_identical_rows(tmp_path):
    grid = {"p_mirror": [0, 0.3, 0.6], "neighbors": [1, 5]}
    ref = sweep(BASE, grid, steps=10, replicates=5, seed=8)
    client = local_dask_client(2)
    try:
        info = client.scheduler_info()["workers"]
        assert len(info) == 2 and all(w["host"] == "127.0.0.1" and w["nthreads"] == 1 for w in info.values())
        got = sweep(BASE, grid, steps=10, replicates=5, seed=8, executor=client, out=tmp_path / "d")
        # one Numba thread in every worker process
        threads = client.run(lambda: __import__("numba").config.NUMBA_NUM_THREADS)
        assert set(threads.values()) == {1}
    finally:
        client.close()
        client.cluster.close()
    pd.testing.assert_frame_equal(ref, got)
    pd.testing.assert_frame_equal(ref, load_sweep(tmp_path / "d"))
    assert load_sweep(tmp_path / "d").attrs["manifest"]["runs"][0]["executor"]["kind"] == "dask"


def test_scheduler_that_is_down_gives_one_clear_error():
    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionError, match=rf"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} "
                                              r"within 1 s .*is it running\?"):
        connect_dask(f"tcp://127.0.0.1:{port}", timeout=1)


def test_workers_of_another_version_or_none_are_refused():
    from gmmproxy.sweeps._executors import check_dask_workers

    class FakeClient:
        def __init__(self, versions):
            self.versions = versions
            self.scheduler = type("S", (), {"address": "tcp://10.0.0.1:8786"})()

        def run(self, fn):
            return self.versions

    check_dask_workers(FakeClient({"tcp://a:1": gmmproxy.__version__}))
    with pytest.raises(ValueError, match=r"1 of 2 Dask workers run gmmproxy 0.0.1 \(e.g. tcp://b:1\)"):
        check_dask_workers(FakeClient({"tcp://a:1": gmmproxy.__version__, "tcp://b:1": "0.0.1"}))
    with pytest.raises(ConnectionError, match="has no workers"):
        check_dask_workers(FakeClient({}))

"""Where sweep cells run: in this process, on a ``concurrent.futures`` executor or a Dask cluster.

Every executor runs the same task, :func:`gmmproxy.sweeps._worker.run_cell`,
and hands each result back to the caller's process, which alone writes the
store; so the rows do not depend on the executor, on the number of workers
or on the order in which cells finish, and workers need no shared disk.

Thread policy: in-process, a cell uses every Numba thread of this process;
under an external executor each task runs with one Numba thread (a local
Dask cluster is also started with ``NUMBA_NUM_THREADS=1`` and one thread per
worker process), so ``workers`` processes use ``workers`` cores.
"""
from __future__ import annotations

import concurrent.futures as cf
import uuid

from gmmproxy._extras import require
from gmmproxy._provenance import package_version
from gmmproxy.sweeps._worker import run_cell

__all__ = ["is_dask_client", "describe_executor", "run_cells", "local_dask_client", "connect_dask"]


def is_dask_client(obj) -> bool:
    """True for a ``distributed.Client`` (checked without importing distributed)."""
    return type(obj).__module__.split(".")[0] == "distributed" and hasattr(obj, "submit") \
        and hasattr(obj, "scheduler_info")


def describe_executor(executor) -> dict:
    """A JSON description of the executor for the manifest's run log."""
    if executor is None:
        return {"kind": "in-process"}
    if is_dask_client(executor):
        try:
            workers = executor.scheduler_info().get("workers", {})
            return {"kind": "dask", "scheduler": executor.scheduler.address, "workers": len(workers)}
        except Exception:  # provenance only; never fail the sweep over it
            return {"kind": "dask"}
    return {"kind": type(executor).__name__, "workers": getattr(executor, "_max_workers", None)}


def check_executor(executor) -> None:
    """Reject what cannot run cells, before any work starts."""
    if isinstance(executor, cf.ProcessPoolExecutor):
        ctx = getattr(executor, "_mp_context", None)
        if ctx is not None and ctx.get_start_method() == "fork":
            # a forked child of a process whose Numba threading layer (OpenMP/TBB) is running
            # aborts; spawned workers start clean and load the kernels from the disk cache
            raise ValueError("executor: a ProcessPoolExecutor must not fork (Numba's thread pool "
                             "does not survive fork); use ProcessPoolExecutor(mp_context="
                             "multiprocessing.get_context('spawn'))")
    if executor is None or is_dask_client(executor) or isinstance(executor, cf.Executor):
        return
    raise TypeError(f"executor must be None, a concurrent.futures.Executor or a dask.distributed.Client; "
                    f"got {type(executor).__name__}")


def run_cells(executor, items, on_result, *, window: int | None = None) -> None:
    """Run ``(key, spec)`` items, calling ``on_result(key, result)`` in this process as each finishes.

    At most ``window`` tasks are in flight (bounding the memory of results
    waiting to be written). Any exception -- a failing cell, Ctrl-C --
    cancels the tasks not yet finished and propagates; results already
    passed to ``on_result`` stay written.
    """
    items = list(items)
    if executor is None:
        for key, spec in items:
            on_result(key, run_cell(spec))
        return
    if is_dask_client(executor):
        from distributed import wait

        check_dask_workers(executor)

        def submit(key, spec):
            # pure=False: the same spec submitted again (a resumed sweep) runs again
            return executor.submit(run_cell, spec, pure=False, key=f"gmmproxy-cell-{key}-{uuid.uuid4().hex[:8]}")

        window = window or 1024
    else:
        wait = cf.wait

        def submit(key, spec):
            return executor.submit(run_cell, spec)

        window = window or max(4, 4 * (getattr(executor, "_max_workers", 1) or 1))
    pending: dict = {}
    queue = iter(items)

    def fill():
        while len(pending) < window:
            try:
                key, spec = next(queue)
            except StopIteration:
                return
            pending[submit(key, spec)] = key

    try:
        fill()
        while pending:
            done, _ = wait(list(pending), return_when="FIRST_COMPLETED")
            for fut in done:
                key = pending.pop(fut)
                on_result(key, fut.result())
            fill()
    except BaseException:
        for fut in pending:
            fut.cancel()
        raise


def check_dask_workers(client) -> None:
    """Refuse a cluster without workers, or whose workers run another gmmproxy version."""
    from gmmproxy import __version__

    versions = client.run(package_version)  # the version installed on each worker
    if not versions:
        raise ConnectionError(f"the Dask cluster at {client.scheduler.address} has no workers")
    other = {addr: v for addr, v in versions.items() if v != __version__}
    if other:
        addr, v = next(iter(other.items()))
        raise ValueError(f"executor: {len(other)} of {len(versions)} Dask workers run gmmproxy {v} "
                         f"(e.g. {addr}), this process {__version__}; install the same version everywhere")


def local_dask_client(workers: int):
    """A ``Client`` of a new ``LocalCluster`` of ``workers`` processes on 127.0.0.1, one thread each.

    Closing the client (``client.close()``) does not stop the cluster; use
    ``client.cluster.close()`` too, or the pair as context managers.
    """
    distributed = require("distributed", "distributed", "sweeps on a Dask cluster")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1; got {workers!r}")
    import logging

    cluster = distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, env={"NUMBA_NUM_THREADS": "1"},
        # the cluster's own chatter (e.g. workers slow to stop on a loaded machine) is not the user's
        silence_logs=logging.ERROR)
    return distributed.Client(cluster)


def connect_dask(address: str, timeout: float = 10.0):
    """A ``Client`` of the running Dask scheduler at ``address``; one clear error when unreachable."""
    distributed = require("distributed", "distributed", "sweeps on a Dask cluster")
    try:
        return distributed.Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConnectionError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
                              f"({reason}); is it running?") from None

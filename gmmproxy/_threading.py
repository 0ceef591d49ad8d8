"""Choice of Numba's threading layer: a fork-safe one unless the user chose.

Numba prefers TBB, then OpenMP, then its own workqueue. On Linux the OpenMP
it finds is GNU's libgomp, which cannot survive ``fork()``: once a parallel
batch has run, every fork-based pool started afterwards (``multiprocessing``
with the fork start method, pyABC's multicore samplers, Mesa's
``batch_run``) kills its workers with "fork() called from a process already
using GNU OpenMP". We therefore ask Numba for its ``"forksafe"`` layer (TBB
when installed, else workqueue; OpenMP only off Linux), unless the user set
``NUMBA_THREADING_LAYER`` or assigned ``numba.config.THREADING_LAYER`` before
importing gmmproxy.

The workqueue layer aborts the process when two threads launch parallel
kernels at once (Numba releases the GIL while a parallel region runs), as a
thread-pool sweep executor does. :func:`parallel_launch` therefore
serialises parallel launches whenever the layer may be workqueue; each
launch already uses every Numba thread, so little is lost.
"""
from __future__ import annotations

import contextlib
import os
import threading

#: what gmmproxy asks for when the user did not choose a layer
DEFAULT_LAYER = "forksafe"


def choose_threading_layer() -> str:
    """Select the fork-safe layer unless the user chose one; return the requested layer name.

    Must run before the first parallel kernel launches (Numba fixes the layer
    then); ``gmmproxy/__init__.py`` calls it on import.
    """
    import numba

    if os.environ.get("NUMBA_THREADING_LAYER"):
        return str(numba.config.THREADING_LAYER)
    if str(numba.config.THREADING_LAYER).lower() != "default":
        return str(numba.config.THREADING_LAYER)
    numba.config.THREADING_LAYER = DEFAULT_LAYER
    return DEFAULT_LAYER


_LAUNCH_LOCK = threading.RLock()


def _layer_needs_lock() -> bool:
    import numba

    try:
        return numba.threading_layer() == "workqueue"
    except ValueError:  # no parallel launch yet: the first one picks the layer; be safe
        return str(numba.config.THREADING_LAYER).lower() in ("default", "forksafe", "workqueue")


@contextlib.contextmanager
def parallel_launch():
    """Context for one parallel kernel call: one at a time across threads under workqueue."""
    if _layer_needs_lock():
        with _LAUNCH_LOCK:
            yield
    else:
        yield

"""Private Numba kernels. Callers must validate inputs first (see ``gmmproxy.config``).

Numba's on-disk cache (``cache=True``) keys each compiled function on the
modification time of the file that defines it, not of the helpers it inlines
from the other files here, so editing ``gmm.py`` alone would leave stale
machine code for ``sweep.py``. On import we therefore hash all kernel sources
and clear this package's cache when the hash changes.
"""
import hashlib
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _clear_stale_numba_cache() -> None:
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(_HERE.glob("*.py")))).hexdigest()
    cache = _HERE / "__pycache__"
    stamp = cache / "gmmproxy-kernels.sha256"
    try:
        if stamp.read_text() == digest:
            return
    except OSError:
        pass
    try:
        cache.mkdir(exist_ok=True)
        for f in cache.glob("*.nb[ic]"):
            f.unlink()
        stamp.write_text(digest)
    except OSError:
        # read-only install: Numba then caches in its user directory instead
        pass


_clear_stale_numba_cache()

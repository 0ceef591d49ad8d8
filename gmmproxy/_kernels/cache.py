"""Numba's on-disk cache for the kernels, kept in a folder named by a digest of all kernel sources.

Numba keys a cached function on the source of the file that defines it only,
not on the helpers it inlines from the other files here: editing ``gmm.py``
alone would leave stale machine code for ``rounds.py``. Instead of deleting
files, every kernel caches into ``<base>/gmmproxy-kernels-<digest>``, where
the digest covers every kernel source of this package: a changed helper simply
means a new folder (old folders are never read again and may be deleted by
hand). Nothing is ever removed, so concurrent imports cannot race, and a
read-only installation works. ``<base>`` is, in order of preference,
``NUMBA_CACHE_DIR`` when set (as Numba itself does), the package's own
``__pycache__`` when writable, or the user's cache folder
(``~/.cache/gmmproxy`` or ``$XDG_CACHE_HOME/gmmproxy``). When none is
writable the kernels compile in every process (correct, only slower).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba
from numba.core import config as _numba_config
from numba.core.caching import CompileResultCacheImpl, FunctionCache, _CacheLocator

_HERE = Path(__file__).resolve().parent


# pure-Python modules of this package: they compile nothing, so editing them
# must not invalidate the cache
_NOT_KERNELS = frozenset({"__init__.py", "runner.py", "warmup.py"})


def kernel_digest(folder: Path = _HERE) -> str:
    """SHA-256 of the kernel sources (every ``*.py`` of ``folder`` except the pure-Python ones, in name order)."""
    h = hashlib.sha256()
    for p in sorted(folder.glob("*.py")):
        if p.name in _NOT_KERNELS:
            continue
        h.update(p.name.encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


_DIGEST = kernel_digest()


def _writable_dir(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def cache_bases() -> list[Path]:
    """Candidate parent folders of the kernel cache, best first."""
    bases = []
    if _numba_config.CACHE_DIR:
        bases.append(Path(_numba_config.CACHE_DIR))
    bases.append(_HERE / "__pycache__")
    xdg = os.environ.get("XDG_CACHE_HOME")
    bases.append((Path(xdg) if xdg else Path.home() / ".cache") / "gmmproxy")
    return bases


def cache_dir() -> Path | None:
    """The folder the kernels cache into in this process (``None``: no writable place)."""
    for base in cache_bases():
        folder = base / f"gmmproxy-kernels-{_DIGEST[:20]}"
        if _writable_dir(folder):
            return folder
    return None


_CACHE_DIR = cache_dir()


class _DigestLocator(_CacheLocator):
    """Locates every kernel's cache in the digest-named folder; its source stamp is the digest."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno

    def ensure_cache_path(self):
        path = self.get_cache_path()
        os.makedirs(path, exist_ok=True)

    def get_cache_path(self):
        return str(_CACHE_DIR)

    def get_source_stamp(self):
        return _DIGEST

    def get_disambiguator(self):
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        if _CACHE_DIR is None:
            return None
        return cls(py_func, py_file)


class _KernelCacheImpl(CompileResultCacheImpl):
    _locator_classes = [_DigestLocator]


class _KernelCache(FunctionCache):
    _impl_class = _KernelCacheImpl


def kernel(internal=False, **options):
    """``numba.njit(**options)`` whose on-disk cache lives in the digest-named folder.

    Closures made by a factory are cached too: Numba keys their entries on
    the values of the closure variables (see ``rounds.py``), which must
    therefore be plain numbers (a pickled dispatcher carries a per-process
    id: the entry would never be found again).

    ``internal=True``: a helper called only from other kernels, never from
    Python; it is compiled without the Python wrapper (which unboxes every
    array of its named-structure arguments, a large part of a small helper's
    compile time). Calling it from Python is not possible.
    """
    options.pop("cache", None)
    if internal:
        options["no_cpython_wrapper"] = True
    # NumPy's error model: a float division by zero gives inf/NaN instead of
    # a compiled ZeroDivisionError check at every division (the kernels'
    # divisors are positive by construction: clipped weights, counts >= 1);
    # fewer branches to compile, and loops with a division can vectorise
    options.setdefault("error_model", "numpy")
    # no C-callable (cfunc) wrapper: the kernels are called from Python (the CPython wrapper) or
    # from other kernels (the native function), never through a C function pointer; the wrapper
    # would be generated, optimised and cached for every kernel for nothing
    options.setdefault("no_cfunc_wrapper", True)

    def wrap(func):
        disp = numba.njit(**options)(func)
        if _CACHE_DIR is not None:
            # the supported route (``cache=True``) would pick Numba's own locators
            disp._cache = _KernelCache(disp.py_func)
        return disp

    return wrap

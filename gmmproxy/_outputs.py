"""Output files: checked before any work starts, written atomically, never left half-written.

One rule for every command and every output option (``--out``, ``--plot``,
``--save``, ``--output``, ...):

* the parent folder must already exist and be writable (nothing is created
  behind the user's back, so a mistyped folder is an error, not a new tree);
* the path must not be a folder;
* an existing file is not replaced unless the user passes ``--force``;
* files are written to a temporary file in the same folder and renamed over
  the target with ``os.replace`` (atomic on POSIX and Windows), so a crash or
  Ctrl-C leaves either the old file or the complete new one, never a
  ``.part``; a Ctrl-C that arrives during the rename is held back until the
  file is complete and then honoured.
"""
from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
import threading
from pathlib import Path

__all__ = ["check_output", "atomic_write"]


def check_output(path, *, option: str = "output", force: bool = False) -> Path:
    """Check that ``path`` can be written, before any work; return it as a Path.

    Parameters
    ----------
    path : str or Path
        The file to be written.
    option : str
        How the user named it (e.g. ``"--out"``), used in messages.
    force : bool
        Allow replacing an existing file.

    Raises
    ------
    ValueError
        Naming ``option``, the path and what is wrong.
    """
    p = Path(os.fspath(path)).expanduser()
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"{option}: folder {str(parent)!r} does not exist (create it first); got {str(p)!r}")
    if p.is_dir():
        raise ValueError(f"{option}: {str(p)!r} is a folder; give a file name")
    if p.exists() and not force:
        raise ValueError(f"{option}: {str(p)!r} already exists; pass --force to replace it")
    # os.access is not enough (root, read-only mounts, ACLs): try to create a file there
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".gmmproxy-probe-")
    except OSError as exc:
        raise ValueError(f"{option}: cannot write in folder {str(parent)!r} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)
    return p


@contextlib.contextmanager
def _sigint_held():
    """Hold back SIGINT (Ctrl-C) inside the block; re-raise it as KeyboardInterrupt afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    except (ValueError, OSError):  # not in the main interpreter thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _current_umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:  # os.umask can only be read by setting it; hold other writers off meanwhile
        old = os.umask(0o022)
        os.umask(old)
    return old


_UMASK_LOCK = threading.Lock()


def _mode_for(p: Path) -> int:
    """Permission bits for a new output file at ``p``: those of the file it replaces, else 0666 & ~umask."""
    try:
        return stat.S_IMODE(os.stat(p).st_mode)
    except OSError:
        return 0o666 & ~_current_umask()


def atomic_write(path, write) -> Path:
    """Write a file atomically: ``write(fileobj)`` fills a temporary file, renamed over ``path``.

    The temporary file lives in the same folder (so the rename cannot cross
    file systems) and is removed whatever happens; a first Ctrl-C while
    writing abandons the write (the old file, if any, stays), a Ctrl-C during
    the final flush and rename is delayed until the file is complete.

    Parameters
    ----------
    path : str or Path
    write : callable
        Called with a binary file object open for writing.

    Returns
    -------
    Path
    """
    p = Path(os.fspath(path))
    fd, tmp = tempfile.mkstemp(dir=p.parent if str(p.parent) else ".", prefix=f".{p.name}.", suffix=".part")
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would (or keep the
        # mode of the file it replaces), so results in a shared folder stay readable by the group
        with contextlib.suppress(OSError):
            os.fchmod(fd, _mode_for(p))
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            with _sigint_held():
                fh.flush()
                os.fsync(fh.fileno())
        with _sigint_held():
            os.replace(tmp, p)
            tmp = None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return p

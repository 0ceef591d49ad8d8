"""Running a batch of replicates in chunks: a progress bar, and Ctrl-C keeping the finished chunks."""
from __future__ import annotations

import sys
import warnings
from typing import Callable

__all__ = ["run_in_chunks"]


def run_in_chunks(total: int, chunk_size: int, run_chunk: Callable[[int, int], object], *, label: str,
                  progress: bool, what: str) -> tuple[list, int, bool]:
    """Call ``run_chunk(start, count)`` over ``range(total)`` in chunks of at most ``chunk_size``.

    Returns ``(parts, done, interrupted)``: the chunk results in order, how
    many replicates they hold, and whether a KeyboardInterrupt stopped the
    loop. An interrupt keeps every finished chunk (a ``RuntimeWarning`` names
    ``what`` and the count kept); the chunk being run when it came is lost.
    ``progress`` draws a bar labelled ``label`` on stderr.
    """
    parts, done, interrupted, bar = [], 0, False, None
    try:
        if progress:
            import click

            bar = click.progressbar(length=total, label=label, file=sys.stderr)
            bar.__enter__()
        while done < total:
            count = min(chunk_size, total - done)
            parts.append(run_chunk(done, count))
            done += count
            if bar is not None:
                bar.update(count)
    except KeyboardInterrupt:
        interrupted = True
        warnings.warn(f"{what} interrupted: keeping the {done} of {total} replicates already finished",
                      RuntimeWarning, stacklevel=3)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    return parts, done, interrupted

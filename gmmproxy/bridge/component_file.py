"""Proxy mixture components in perspective space as an object and an ``.npz`` file.

:class:`ProxyComponents` holds the means, covariances and initial weights of a proxy
whose components sit in an LLM run's perspective space, with the projection that defines
that space; ``.save`` writes it atomically to an ``.npz`` and :func:`load_components`
reads it back. :mod:`gmmproxy.bridge.components` builds one from logged runs.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from gmmproxy._outputs import atomic_write

__all__ = ["ProxyComponents", "load_components"]

_NPZ_KEYS = ("means", "covariances", "initial_weights", "label_names", "counts", "center",
             "axes", "eigenvalues", "provenance")


@dataclass(frozen=True, eq=False)
class ProxyComponents:
    """Mixture components in an LLM run's perspective space.

    Attributes
    ----------
    means : ndarray, shape (K, d)
        Centroid of each label's answers in perspective space.
    covariances : ndarray, shape (K, d, d)
        Within-label covariance of each label (shrunk, see :func:`components_from_logs`).
    initial_weights : ndarray, shape (n, K)
        Each agent's initial belief, rows on the simplex.
    label_names : tuple of str
        Label of each component.
    counts : ndarray of int64, shape (K,)
        Number of answers behind each component.
    center : ndarray, shape (D,)
        Mean embedding (perspective coordinates are ``(e - center) @ axes``).
    axes : ndarray, shape (D, d)
        Principal axes of the embeddings (orthonormal columns).
    eigenvalues : ndarray
        Leading eigenvalues of the centred embeddings' scatter matrix (= the CMDS
        eigenvalues of the answers' distance matrix), at most 50.
    provenance : dict
        Embedder, dimension, shrinkage, initial-weight rule, logs, package version.
    """

    means: np.ndarray
    covariances: np.ndarray
    initial_weights: np.ndarray
    label_names: tuple
    counts: np.ndarray
    center: np.ndarray = field(repr=False)
    axes: np.ndarray = field(repr=False)
    eigenvalues: np.ndarray = field(repr=False)
    provenance: dict = field(default_factory=dict, repr=False)

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    @property
    def n_agents(self) -> int:
        return int(self.initial_weights.shape[0])

    def project(self, embeddings) -> np.ndarray:
        """Perspective coordinates of embeddings ``(..., D)`` -> ``(..., d)``."""
        E = np.asarray(embeddings, dtype=np.float64)
        if E.shape[-1:] != self.center.shape:
            raise ValueError(f"embeddings must have D = {self.center.shape[0]} columns "
                             f"(the embedder of these components); got shape {E.shape}")
        return (E - self.center) @ self.axes

    def to_config(self, **kwargs):
        """A :class:`~gmmproxy.config.SimulationConfig` with these components.

        ``means``, ``covariances``, ``init_weights`` and ``n_agents`` come from the
        components; every other parameter (``p_mirror``, ``n_neighbors``, ``rag_size``,
        ...) is passed through ``kwargs`` (default: the proxy's defaults).
        """
        from gmmproxy.config import SimulationConfig

        taken = {"means", "covariances", "init_weights", "n_agents", "n_components"} & set(kwargs)
        if taken:
            raise ValueError(f"kwargs may not set {sorted(taken)}: they come from the components")
        return SimulationConfig(n_agents=self.n_agents, means=self.means,
                                covariances=self.covariances,
                                init_weights=self.initial_weights, **kwargs)

    def save(self, path, *, overwrite: bool = False) -> str:
        """Write the components to an ``.npz`` file, atomically.

        Keys: ``means``, ``covariances``, ``initial_weights``, ``label_names`` (str
        array), ``counts``, ``center``, ``axes``, ``eigenvalues`` and ``provenance`` (a
        JSON string). The file is written to a temporary file in the same folder and
        moved into place, so an interrupted save leaves no partial file.

        Returns
        -------
        str
            ``path`` (``.npz`` is appended when missing, as :func:`numpy.savez` does).
        """
        path = _check_out_path(path, overwrite)
        arrays = dict(
            means=self.means, covariances=self.covariances,
            initial_weights=self.initial_weights,
            label_names=np.asarray(self.label_names, dtype=str),
            counts=self.counts, center=self.center, axes=self.axes,
            eigenvalues=self.eigenvalues,
            provenance=np.asarray(json.dumps(self.provenance, sort_keys=True)),
        )
        atomic_write(path, lambda fh: np.savez(fh, **arrays))
        return path


def _check_out_path(path, overwrite: bool) -> str:
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"out must be in an existing directory; got {path!r} "
                         f"({folder!r} does not exist)")
    if os.path.isdir(path):
        raise ValueError(f"out must be a file name; got {path!r} (a directory)")
    if os.path.exists(path) and not overwrite:
        raise ValueError(f"out {path!r} already exists; pass overwrite=True (--overwrite) "
                         "to replace it")
    return path


def load_components(path) -> ProxyComponents:
    """Read components written by :meth:`ProxyComponents.save`.

    Raises
    ------
    ValueError
        If the file is missing, lacks a key, or the shapes disagree.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"path must be an existing components .npz file; got {path!r}")
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in _NPZ_KEYS if k not in z.files]
        if missing:
            raise ValueError(f"{path!r} is not a components file: missing keys {missing}")
        d = {k: z[k] for k in _NPZ_KEYS}
    means, cov, w = (np.asarray(d[k], dtype=np.float64)
                     for k in ("means", "covariances", "initial_weights"))
    K = means.shape[0] if means.ndim == 2 else -1
    if means.ndim != 2 or cov.shape != (K, means.shape[1], means.shape[1]) \
            or w.ndim != 2 or w.shape[1] != K or d["label_names"].shape != (K,):
        raise ValueError(f"{path!r} has inconsistent shapes: means {means.shape}, covariances "
                         f"{cov.shape}, initial_weights {w.shape}, label_names "
                         f"{d['label_names'].shape}")
    return ProxyComponents(
        means=means, covariances=cov, initial_weights=w,
        label_names=tuple(str(x) for x in d["label_names"]),
        counts=np.asarray(d["counts"], dtype=np.int64),
        center=np.asarray(d["center"], dtype=np.float64),
        axes=np.asarray(d["axes"], dtype=np.float64),
        eigenvalues=np.asarray(d["eigenvalues"], dtype=np.float64),
        provenance=json.loads(str(d["provenance"])),
    )

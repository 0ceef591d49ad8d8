"""The perspective space of a run: distances between agents' answer embeddings, placed by CMDS per step or over the whole history."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gmmproxy.perspective.cmds import ClassicalMDS, _double_centre

__all__ = ["response_distances", "perspective_space", "PerspectiveSpace"]


# ---------------------------------------------------------------------------------------
# distances between agents
# ---------------------------------------------------------------------------------------


def _as_response_array(E, name):
    E = np.asarray(E, dtype=np.float64)
    if E.ndim == 2:  # one prompt: (n, D) -> (n, 1, D)
        E = E[:, None, :]
    if E.ndim != 3 or E.shape[0] < 1 or E.shape[2] < 1:
        raise ValueError(f"{name} must have shape (n, D) or (n, n_prompts, D); got {E.shape}")
    if not np.all(np.isfinite(E)):
        raise ValueError(f"{name} must be finite")
    return E


def _as_positions(positions, *, min_times: int = 1, min_agents: int = 1) -> np.ndarray:
    """Positions of agents over time as a finite float64 ``(T, n, d)`` array.

    A ``(T, n)`` array is taken as one-dimensional perspectives (``d = 1``).
    """
    Z = np.asarray(positions, dtype=np.float64)
    if Z.ndim == 2:
        Z = Z[:, :, None]
    if Z.ndim != 3 or Z.shape[0] < min_times or Z.shape[1] < min_agents:
        raise ValueError(f"positions must have shape (T, n, d) or (T, n) with T >= {min_times} "
                         f"and n >= {min_agents}; got {np.shape(positions)}")
    if not np.all(np.isfinite(Z)):
        raise ValueError("positions must be finite")
    return Z


def _pairwise_euclidean(X: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import pdist, squareform

    if X.shape[0] <= 1000:
        return squareform(pdist(X, metric="euclidean"))
    # large histories (nT points): the Gram-matrix form runs on BLAS and is many times
    # faster than pdist; its rounding error (relative 1e-8 on near-equal points) is far
    # below anything perspective space resolves
    sq = np.einsum("ij,ij->i", X, X)
    D2 = sq[:, None] + sq[None, :] - 2.0 * (X @ X.T)
    np.maximum(D2, 0.0, out=D2)
    np.fill_diagonal(D2, 0.0)
    D = np.sqrt(D2)
    return (D + D.T) / 2


def response_distances(E) -> np.ndarray:
    """Distances between agents from their embedded answers to a fixed prompt set.

    Parameters
    ----------
    E : array_like, shape (n, D) or (n, n_prompts, D)
        ``E[i]`` is agent ``i``'s ``(n_prompts, D)`` matrix of embedded answers (a single
        prompt may drop that axis).

    Returns
    -------
    ndarray, shape (n, n)
        ``||E[i] - E[j]||_F``.
    """
    E = _as_response_array(E, "E")
    return _pairwise_euclidean(E.reshape(E.shape[0], -1))


@dataclass(frozen=True)
class PerspectiveSpace:
    """Perspectives of n agents over T steps.

    Attributes
    ----------
    positions : ndarray, shape (T, n, d)
        CMDS coordinates of agent ``i`` at step ``t``.
    eigenvalues : ndarray
        Leading CMDS eigenvalues (of the whole-history matrix, or of the last step
        for ``mode="step"``).
    n_components : int
    mode : str
        ``"history"`` or ``"step"``.
    """

    positions: np.ndarray
    eigenvalues: np.ndarray
    n_components: int
    mode: str

    @property
    def one_d(self) -> np.ndarray:
        """The first perspective coordinate, shape (T, n) -- what the 1-d plots show."""
        return self.positions[..., 0]


def _cmds_padded(D: np.ndarray, d: int) -> np.ndarray:
    # d CMDS coordinates, zero columns where the step has fewer positive eigenvalues
    n = D.shape[0]
    X = np.zeros((n, d))
    if not np.any(D > 0):
        return X  # all answers identical: everyone at the origin
    B = _double_centre(D * D)
    w, V = np.linalg.eigh(B)
    w, V = w[::-1][:d], V[:, ::-1][:, :d]
    keep = w > 1e-10 * max(float(np.abs(w).max()), np.finfo(float).tiny)
    X[:, : keep.sum()] = (V * np.sqrt(np.where(keep, w, 0.0)))[:, keep]
    return X


def _procrustes_align(X: np.ndarray, ref: np.ndarray) -> np.ndarray:
    # orthogonal W minimising ||X W - ref||_F (both centred by CMDS)
    U, _, Vt = np.linalg.svd(X.T @ ref)
    return X @ (U @ Vt)


def perspective_space(E, mode: str = "history", n_components="auto",
                      max_components=None) -> PerspectiveSpace:
    """Perspective space of a run from embedded answers.

    Parameters
    ----------
    E : array_like, shape (T, n, D) or (T, n, n_prompts, D)
        Embedded answers of every agent at every step.
    mode : {"history", "step"}
        ``"history"`` (Helm et al.): one CMDS of the ``nT x nT`` distances between all
        (step, agent) pairs, so all steps share one space. ``"step"``: one CMDS per step,
        all with the same dimension (given, or the largest elbow over the steps; steps
        with fewer positive eigenvalues are zero-padded), each step rotated onto the
        previous one by orthogonal Procrustes so trajectories are continuous (positions
        are then comparable only up to that alignment).
    n_components : int or "auto"
    max_components : int, optional
        See :class:`ClassicalMDS`.

    Returns
    -------
    PerspectiveSpace
    """
    E = np.asarray(E, dtype=np.float64)
    if E.ndim == 3:
        E = E[:, :, None, :]
    if E.ndim != 4 or min(E.shape) < 1:
        raise ValueError(f"E must have shape (T, n, D) or (T, n, n_prompts, D); got {E.shape}")
    if not np.all(np.isfinite(E)):
        raise ValueError("E must be finite")
    T, n = E.shape[:2]
    if mode == "history":
        if T * n < 2:
            raise ValueError(f"E must hold at least 2 (step, agent) answers; got shape {E.shape}")
        D = response_distances(E.reshape(T * n, E.shape[2], E.shape[3]))
        m = ClassicalMDS(n_components, max_components).fit(D)
        pos = m.embedding_.reshape(T, n, m.n_components_)
        return PerspectiveSpace(pos, m.eigenvalues_, m.n_components_, "history")
    if mode == "step":
        if n < 2:
            raise ValueError(f"mode='step' needs at least 2 agents; got n={n}")
        dists = [response_distances(E[t]) for t in range(T)]
        moving = [t for t in range(T) if np.any(dists[t] > 0)]
        if not moving:
            raise ValueError("E must not hold identical answers at every step (all distances "
                             "are zero; there is no perspective to embed)")
        if n_components == "auto":
            # the largest elbow over the steps, so no step loses its structure
            fits = [ClassicalMDS("auto", max_components).fit(dists[t]) for t in moving]
            d = max(f.n_components_ for f in fits)
            eig = fits[-1].eigenvalues_
        else:
            fit = ClassicalMDS(n_components, max_components).fit(dists[moving[-1]])
            d, eig = fit.n_components_, fit.eigenvalues_
        out = np.zeros((T, n, d))
        prev = None
        for t in range(T):
            X = _cmds_padded(dists[t], d)
            if prev is not None:
                X = _procrustes_align(X, prev)
            out[t] = X
            prev = X
        return PerspectiveSpace(out, eig, d, "step")
    raise ValueError(f"mode must be 'history' or 'step'; got {mode!r}")

"""The iso-mirror: a one-number-per-step summary of a system's dynamics from the distances between its configurations (Athreya et al. 2022)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gmmproxy._validation import check_int
from gmmproxy.topology import k_nearest
from gmmproxy.perspective.cmds import ClassicalMDS
from gmmproxy.perspective.space import _as_positions, _pairwise_euclidean, _procrustes_align

__all__ = ["configuration_distances", "iso_mirror", "IsoMirror"]


# ---------------------------------------------------------------------------------------
# iso-mirror
# ---------------------------------------------------------------------------------------


def configuration_distances(positions, align: bool = False) -> np.ndarray:
    """Distances between the configurations of the system at every pair of steps.

    ``d(t, t') = ||Z_t - Z_t' W||_F / sqrt(n)`` with agents matched by index, where
    ``W`` is the identity (``align=False``: the positions share one space, e.g. the
    whole-history perspective space) or the best orthogonal map (``align=True``:
    orthogonal Procrustes, for separately embedded steps).

    Parameters
    ----------
    positions : array_like, shape (T, n, d)

    Returns
    -------
    ndarray, shape (T, T)
    """
    Z = _as_positions(positions)
    T, n, _ = Z.shape
    if not align:
        return _pairwise_euclidean(Z.reshape(T, -1)) / np.sqrt(n)
    Zc = Z - Z.mean(axis=1, keepdims=True)
    out = np.zeros((T, T))
    for a in range(T):
        for b in range(a + 1, T):
            aligned = _procrustes_align(Zc[b], Zc[a])
            out[a, b] = out[b, a] = np.linalg.norm(Zc[a] - aligned) / np.sqrt(n)
    return out


@dataclass(frozen=True)
class IsoMirror:
    """The iso-mirror of a run.

    Attributes
    ----------
    values : ndarray, shape (T,)
        1-d summary of the system's state at each step (0 at t = 0, oriented so the
        last step is >= 0).
    mirror : ndarray, shape (T, c)
        The "mirror": CMDS of the configuration distances.
    n_neighbors : int
        Neighbours in the Isomap graph.
    config_distances : ndarray, shape (T, T)
    """

    values: np.ndarray
    mirror: np.ndarray
    n_neighbors: int
    config_distances: np.ndarray


def _knn_geodesics(X: np.ndarray, k: int):
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components, shortest_path

    N = X.shape[0]
    D = _pairwise_euclidean(X)
    while True:
        # self excluded explicitly: with coincident points, slicing off column 0 of a
        # sorted row could drop a neighbour at distance 0 instead of the point itself
        order = k_nearest(D, k)
        rows = np.repeat(np.arange(N), order.shape[1])
        W = np.zeros((N, N))
        # coincident points (distance 0) must stay joined: a stored 0 means "no edge"
        # in a sparse graph, so such edges get a tiny positive weight
        tiny = 1e-12 * max(float(D.max()), 1e-300)
        W[rows, order.ravel()] = np.maximum(D[rows, order.ravel()], tiny)
        W = np.maximum(W, W.T)
        G = csr_matrix(W)
        n_comp, _ = connected_components(G, directed=False)
        if n_comp == 1 or k >= N - 1:
            break
        k += 1  # disconnected neighbourhood graph: widen it until it connects
    if n_comp > 1:
        return D, k
    return shortest_path(G, method="D", directed=False), k


def iso_mirror(positions, n_neighbors=None, align: bool = False,
               mirror_components="auto") -> IsoMirror:
    """Iso-mirror of a run (Athreya et al. 2022; Helm et al. 2024, Fig. 3).

    1. Distances between the system's configurations at every pair of steps
       (:func:`configuration_distances`).
    2. The *mirror*: CMDS of those distances (dimension by the profile-likelihood elbow).
    3. Isomap of the mirror to one dimension: geodesic distances in the
       ``n_neighbors``-nearest-neighbour graph of the mirror points, then 1-d CMDS.

    A flat stretch of the iso-mirror means the system as a whole is not moving; a
    change of slope marks a change in the dynamics.

    Parameters
    ----------
    positions : array_like, shape (T, n, d)
        Perspectives (e.g. ``perspective_space(...).positions``); T >= 3.
    n_neighbors : int, optional
        Isomap neighbours, default ``max(2, round(sqrt(T)))``; increased automatically
        until the neighbourhood graph is connected.
    align : bool
        Procrustes-align configurations before comparing (for per-step embeddings).
    mirror_components : int or "auto"

    Returns
    -------
    IsoMirror
    """
    Z = _as_positions(positions, min_times=3)
    T = Z.shape[0]
    k = max(2, int(round(np.sqrt(T)))) if n_neighbors is None else \
        check_int("n_neighbors", n_neighbors, 1, T - 1)
    k = min(k, T - 1)
    C = configuration_distances(Z, align=align)
    if not np.any(C > 0):
        # the system never moves: a constant iso-mirror
        return IsoMirror(np.zeros(T), np.zeros((T, 1)), k, C)
    mirror = ClassicalMDS(mirror_components).fit_transform(C)
    G, k = _knn_geodesics(mirror, k)
    iso = ClassicalMDS(1).fit_transform(G)[:, 0]
    iso = iso - iso[0]
    if iso[-1] < 0:
        iso = -iso
    iso = iso + 0.0  # no negative zeros in printed output
    return IsoMirror(iso, mirror, k, C)

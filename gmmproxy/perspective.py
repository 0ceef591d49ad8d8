"""Perspective space (Helm et al. 2024): where agents stand, from what they answer.

Each agent (LLM or proxy) answers a fixed set of ``m`` prompts; a common embedding
function maps each answer to ``R^D``, giving an ``(m, D)`` matrix per agent. The distance
between two agents is the Frobenius norm of the difference of their matrices, and the
classical multidimensional scaling (CMDS) of the distance matrix gives Euclidean
coordinates -- the agents' *perspectives*. Over a whole run, the ``nT x nT`` distance
matrix of all (agent, step) pairs puts every step in one common space.

On top of the positions:

* :func:`iso_mirror` -- a one-number-per-step summary of the system's dynamics
  (Athreya et al. 2022, used by Helm et al.): distances between the configurations of
  consecutive and distant steps, CMDS of those, then Isomap to one dimension.
* :func:`cluster_steps` -- per-step Gaussian-mixture clustering with BIC model selection
  and the adjusted Rand index between consecutive steps.

Everything here is plain NumPy/SciPy/scikit-learn on small dense matrices.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gmmproxy._seeding import as_seed_sequence
from gmmproxy._validation import check_int

__all__ = [
    "ClassicalMDS",
    "classical_mds",
    "profile_likelihood_elbows",
    "select_dimension",
    "response_distances",
    "perspective_space",
    "PerspectiveSpace",
    "configuration_distances",
    "iso_mirror",
    "IsoMirror",
    "cluster_steps",
    "StepClusters",
]


# ---------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------


def _check_distance_matrix(D, name="D", *, atol=1e-8):
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != D.shape[1] or D.shape[0] < 2:
        raise ValueError(f"{name} must be a square (N, N) matrix with N >= 2; got shape {D.shape}")
    if not np.all(np.isfinite(D)):
        raise ValueError(f"{name} must be finite; got NaN or inf")
    scale = max(1.0, float(np.abs(D).max()))
    if np.any(D < -atol * scale):
        raise ValueError(f"{name} must be non-negative; got minimum {D.min()}")
    if not np.allclose(D, D.T, rtol=0, atol=atol * scale):
        raise ValueError(f"{name} must be symmetric; got max |D - D.T| = {np.abs(D - D.T).max()}")
    if np.any(np.abs(np.diag(D)) > atol * scale):
        raise ValueError(f"{name} must have a zero diagonal")
    return np.maximum((D + D.T) / 2, 0.0)


# ---------------------------------------------------------------------------------------
# dimension selection
# ---------------------------------------------------------------------------------------


def _profile_loglik(values: np.ndarray) -> np.ndarray:
    """Profile log-likelihood of every split q = 1..p of the sorted ``values``.

    Zhu & Ghodsi (2006): the first q values are i.i.d. N(mu1, s2), the rest N(mu2, s2)
    with a common variance; all three parameters at their maximum-likelihood values.
    For q = p the second group is empty and s2 is the variance of the first.
    """
    p = values.size
    ll = np.empty(p)
    for q in range(1, p + 1):
        g1, g2 = values[:q], values[q:]
        ss = np.sum((g1 - g1.mean()) ** 2)
        if g2.size:
            ss += np.sum((g2 - g2.mean()) ** 2)
        var = ss / p
        # a zero variance (all groups constant) would give +inf; floor it at a tiny
        # fraction of the values' spread so ties are broken by the smaller q
        spread = np.var(values) if p > 1 else 0.0
        var = max(var, 1e-12 * max(spread, np.finfo(float).tiny))
        ll[q - 1] = -0.5 * p * np.log(2 * np.pi * var) - ss / (2 * var)
    return ll


def profile_likelihood_elbows(values, n_elbows: int = 2) -> np.ndarray:
    """Elbows of a scree plot by profile likelihood (Zhu & Ghodsi 2006).

    Parameters
    ----------
    values : array_like, shape (p,)
        Scree values (eigenvalues or singular values), any order; sorted decreasingly
        here. Need p >= 2.
    n_elbows : int
        Number of elbows: the second is found on the values after the first, and so on
        (as Zhu & Ghodsi suggest), stopping early when fewer than 2 values remain.

    Returns
    -------
    ndarray of int
        The elbow positions q (1-based: the number of leading values kept), increasing.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"values must be a 1-d array with at least 2 entries; got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite")
    check_int("n_elbows", n_elbows, 1)
    v = np.sort(v)[::-1]
    elbows = []
    start = 0
    while len(elbows) < n_elbows and v.size - start >= 2:
        ll = _profile_loglik(v[start:])
        q = int(np.argmax(ll)) + 1
        elbows.append(start + q)
        start += q
    return np.asarray(elbows, dtype=np.int64)


def select_dimension(values, elbow: int = 1) -> int:
    """Embedding dimension at the ``elbow``-th profile-likelihood elbow of ``values``.

    Falls back to the last elbow found when fewer than ``elbow`` exist.
    """
    check_int("elbow", elbow, 1)
    elbows = profile_likelihood_elbows(values, n_elbows=elbow)
    return int(elbows[min(elbow, elbows.size) - 1])


# ---------------------------------------------------------------------------------------
# classical MDS
# ---------------------------------------------------------------------------------------


def _double_centre(D2: np.ndarray) -> np.ndarray:
    row = D2.mean(axis=1, keepdims=True)
    col = D2.mean(axis=0, keepdims=True)
    return -0.5 * (D2 - row - col + D2.mean())


def _leading_eigh(B: np.ndarray, k: int):
    """The k algebraically largest eigenpairs of the symmetric matrix B (any order)."""
    from scipy.linalg import eigh

    N = B.shape[0]
    if N > 600 and k < N // 6:
        # only the leading eigenpairs are needed: Lanczos (ARPACK) is far cheaper than a
        # dense solve for an nT x nT history. The start vector is fixed (not drawn from
        # global state) so the result is deterministic.
        from scipy.sparse.linalg import eigsh

        v0 = np.random.default_rng(12345).standard_normal(N)
        return eigsh(B, k=k, which="LA", v0=v0, tol=1e-12)
    return eigh(B, subset_by_index=[N - k, N - 1])


class ClassicalMDS:
    """Classical (Torgerson) multidimensional scaling with out-of-sample placement.

    Parameters
    ----------
    n_components : int or "auto"
        Embedding dimension, or ``"auto"`` for the first profile-likelihood elbow
        (Zhu & Ghodsi) of the leading ``max_components`` eigenvalues (negative ones
        counted as 0).
    max_components : int, optional
        Number of leading eigenpairs computed (default ``min(N - 1, 50)``); the
        automatic choice looks only at these.

    Attributes
    ----------
    embedding_ : ndarray, shape (N, d)
        Coordinates ``V_d diag(sqrt(lambda_d))`` of the fitted points; each column's
        sign is fixed so that its largest-magnitude entry is positive.
    eigenvalues_ : ndarray, shape (max_components,)
        Leading eigenvalues of the double-centred matrix ``B = -J D^2 J / 2``,
        decreasing (may include negative ones for non-Euclidean distances).
    n_components_ : int
    """

    def __init__(self, n_components="auto", max_components=None):
        self.n_components = n_components
        self.max_components = max_components

    def fit(self, D):
        """Fit to a symmetric ``(N, N)`` distance matrix ``D``; returns ``self``."""
        D = _check_distance_matrix(D)
        N = D.shape[0]
        kmax = self.max_components
        kmax = min(N - 1, 50) if kmax is None else check_int("max_components", kmax, 1, N)
        kmax = max(kmax, 1)
        if self.n_components == "auto":
            want = None
        else:
            want = check_int("n_components", self.n_components, 1, N)
            kmax = max(kmax, want)
        D2 = D * D
        B = _double_centre(D2)
        w, V = _leading_eigh(B, kmax)
        order = np.argsort(w)[::-1]
        w, V = w[order], V[:, order]
        scale = max(float(np.abs(w).max()), np.finfo(float).tiny)
        positive = w > 1e-10 * scale
        n_pos = int(positive.sum())
        if n_pos == 0:
            raise ValueError("D must not describe identical points (all distances zero); "
                             "the CMDS has no positive eigenvalue")
        if want is None:
            # scree of the leading eigenvalues, negative ones (non-Euclidean part) as 0
            d = 1 if n_pos < 2 else min(select_dimension(np.maximum(w, 0.0), elbow=1), n_pos)
        else:
            if want > n_pos:
                raise ValueError(f"n_components must be <= the number of positive eigenvalues "
                                 f"({n_pos}); got {want}")
            d = want
        V = V[:, :d].copy()
        # deterministic orientation: the largest-magnitude entry of each axis is positive
        flip = np.sign(V[np.argmax(np.abs(V), axis=0), np.arange(d)])
        V *= np.where(flip == 0, 1.0, flip)
        self.eigenvalues_ = w
        self.n_components_ = d
        self.embedding_ = V * np.sqrt(w[:d])
        # kept for out-of-sample placement (Gower 1968)
        self._b_diag = np.diag(B).copy()
        self._n_fit = N
        return self

    def fit_transform(self, D) -> np.ndarray:
        """Fit and return ``embedding_``."""
        return self.fit(D).embedding_

    def transform(self, D_new) -> np.ndarray:
        """Place new points from their distances to the fitted points.

        Parameters
        ----------
        D_new : array_like, shape (m, N)
            ``D_new[j, i]`` is the distance of new point ``j`` to fitted point ``i``.

        Returns
        -------
        ndarray, shape (m, n_components_)

        Notes
        -----
        Gower's (1968) add-a-point formula: with fitted coordinates ``X`` (centred,
        ``X^T X = diag(lambda)``) and ``b_ii`` the diagonal of the full double-centred
        matrix, a new point with squared distances ``a`` is placed at
        ``y = diag(lambda)^{-1} X^T (b - a) / 2``. For Euclidean distances this is the
        orthogonal projection of the new point onto the fitted subspace, so held-out
        points of a configuration are recovered exactly (Trosset & Priebe 2008 give the
        same point as the least-squares solution in that case).
        """
        if not hasattr(self, "embedding_"):
            raise ValueError("ClassicalMDS must be fitted before transform")
        A = np.asarray(D_new, dtype=np.float64)
        if A.ndim == 1:
            A = A[None, :]
        if A.ndim != 2 or A.shape[1] != self._n_fit:
            raise ValueError(f"D_new must have shape (m, {self._n_fit}); got {np.shape(D_new)}")
        if not np.all(np.isfinite(A)) or np.any(A < 0):
            raise ValueError("D_new must hold finite non-negative distances")
        lam = self.eigenvalues_[: self.n_components_]
        return 0.5 * ((self._b_diag[None, :] - A * A) @ self.embedding_) / lam


def classical_mds(D, n_components="auto", max_components=None):
    """Classical MDS of a distance matrix.

    Parameters
    ----------
    D : array_like, shape (N, N)
        Symmetric, non-negative, zero diagonal.
    n_components : int or "auto"
        See :class:`ClassicalMDS`.
    max_components : int, optional

    Returns
    -------
    X : ndarray, shape (N, d)
    eigenvalues : ndarray
        Leading eigenvalues of the double-centred squared distances.
    """
    m = ClassicalMDS(n_components, max_components).fit(D)
    return m.embedding_, m.eigenvalues_


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
    Z = np.asarray(positions, dtype=np.float64)
    if Z.ndim == 2:
        Z = Z[:, :, None]
    if Z.ndim != 3 or Z.shape[0] < 1 or Z.shape[1] < 1:
        raise ValueError(f"positions must have shape (T, n, d); got {np.shape(positions)}")
    if not np.all(np.isfinite(Z)):
        raise ValueError("positions must be finite")
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
        order = np.argsort(D, axis=1, kind="stable")[:, 1 : k + 1]
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
    Z = np.asarray(positions, dtype=np.float64)
    if Z.ndim == 2:
        Z = Z[:, :, None]
    if Z.ndim != 3 or Z.shape[0] < 3:
        raise ValueError(f"positions must have shape (T, n, d) with T >= 3; got {Z.shape}")
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


# ---------------------------------------------------------------------------------------
# per-step clustering
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepClusters:
    """Per-step GMM clustering of perspectives.

    Attributes
    ----------
    labels : ndarray of int, shape (T, n)
        Cluster of each agent at each step (cluster ids are per step).
    n_clusters : ndarray of int, shape (T,)
        Number of mixture components chosen by BIC.
    ari : ndarray, shape (T,)
        Adjusted Rand index between the clusterings at t-1 and t; NaN at t = 0.
    bic : ndarray, shape (T, max_clusters)
        BIC of each candidate number of components (NaN where not fitted).
    """

    labels: np.ndarray
    n_clusters: np.ndarray
    ari: np.ndarray
    bic: np.ndarray


def cluster_steps(positions, max_clusters: int = 8, covariance_type: str = "full",
                  seed=0, n_init: int = 1) -> StepClusters:
    """Gaussian-mixture clustering of the agents' perspectives at every step.

    At each step, mixtures with ``1..max_clusters`` components (at most n - 1, and only
    as many as distinct positions) are fitted and the one with the lowest BIC is kept
    (Fraley & Raftery 2002, as in Helm et al.); consecutive clusterings are compared
    with the adjusted Rand index.

    Parameters
    ----------
    positions : array_like, shape (T, n, d) or (T, n)
    max_clusters : int
    covariance_type : {"full", "tied", "diag", "spherical"}
    seed : int or numpy.random.SeedSequence
        Seeds the k-means initialisation of every fit (step t, K components gets its own
        stream), so results are reproducible.
    n_init : int
        Initialisations per fit.

    Returns
    -------
    StepClusters

    Notes
    -----
    Positions are divided by their overall standard deviation and a covariance floor
    ``reg_covar = 1e-4`` (in those units) is used so agents with near-identical answers
    do not produce degenerate, infinitely likely components.
    """
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture

    Z = np.asarray(positions, dtype=np.float64)
    if Z.ndim == 2:
        Z = Z[:, :, None]
    if Z.ndim != 3 or Z.shape[0] < 1 or Z.shape[1] < 2:
        raise ValueError(f"positions must have shape (T, n, d) with n >= 2; got {Z.shape}")
    if not np.all(np.isfinite(Z)):
        raise ValueError("positions must be finite")
    max_clusters = check_int("max_clusters", max_clusters, 1)
    n_init = check_int("n_init", n_init, 1)
    if covariance_type not in ("full", "tied", "diag", "spherical"):
        raise ValueError("covariance_type must be one of 'full', 'tied', 'diag', 'spherical'; "
                         f"got {covariance_type!r}")
    ss = as_seed_sequence(seed)
    T, n, _ = Z.shape
    scale = float(Z.std())
    Zs = Z / scale if scale > 0 else Z
    labels = np.zeros((T, n), dtype=np.int64)
    n_clusters = np.ones(T, dtype=np.int64)
    bic = np.full((T, max_clusters), np.nan)
    children = ss.spawn(T)
    for t in range(T):
        X = Zs[t]
        n_distinct = np.unique(np.round(X, 10), axis=0).shape[0]
        kmax = min(max_clusters, n - 1, n_distinct) if n > 1 else 1
        kmax = max(kmax, 1)
        best = None
        states = children[t].generate_state(kmax)
        for K in range(1, kmax + 1):
            gm = GaussianMixture(n_components=K, covariance_type=covariance_type,
                                 reg_covar=1e-4, n_init=n_init,
                                 random_state=int(states[K - 1]))
            gm.fit(X)
            b = gm.bic(X)
            bic[t, K - 1] = b
            if best is None or b < best[0]:
                best = (b, K, gm)
        _, K, gm = best
        n_clusters[t] = K
        labels[t] = gm.predict(X)
    ari = np.full(T, np.nan)
    for t in range(1, T):
        ari[t] = adjusted_rand_score(labels[t - 1], labels[t])
    return StepClusters(labels, n_clusters, ari, bic)

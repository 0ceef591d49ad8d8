"""Classical multidimensional scaling (CMDS) of a distance matrix, with the profile-likelihood elbow rule that picks its dimension."""
from __future__ import annotations

import numpy as np

from gmmproxy._validation import check_int

__all__ = ["ClassicalMDS", "classical_mds", "profile_likelihood_elbows", "select_dimension"]


# ---------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------



def orient_axes(V: np.ndarray) -> np.ndarray:
    """Fix the sign of each column of ``V`` (in place) so its largest-magnitude entry is positive.

    Eigenvectors, and so CMDS/PCA axes, are defined up to sign; this makes
    them deterministic across LAPACK builds. Returns ``V``.
    """
    d = V.shape[1]
    flip = np.sign(V[np.argmax(np.abs(V), axis=0), np.arange(d)])
    V *= np.where(flip == 0, 1.0, flip)
    return V

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
        V = orient_axes(V[:, :d].copy())
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

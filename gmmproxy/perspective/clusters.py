"""Per-step clustering of perspectives: Gaussian mixtures chosen by BIC, and the adjusted Rand index between consecutive steps."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gmmproxy._seeding import as_seed_sequence
from gmmproxy._validation import check_int
from gmmproxy.perspective.space import _as_positions

__all__ = ["cluster_steps", "StepClusters"]


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

    Z = _as_positions(positions, min_agents=2)
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

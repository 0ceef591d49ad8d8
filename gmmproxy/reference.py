"""Plain-NumPy reference engine for Algorithms 1 and 2.

Slow (hundreds of microseconds per agent update) and written for clarity. It
draws random numbers from one ``numpy.random.default_rng(seed)`` in exactly
the order of spec Section 2.4, so for the paper's configuration it reproduces
the authors' published Figure-2 run (seed 618327487) bit for bit. The fast
Numba engine uses its own generator and is checked against this one *in
distribution* (see ``tests/test_engine_agreement.py``).

Supported: every :class:`~gmmproxy.config.SimulationConfig` option except a
communication ``graph`` (use the Numba engine for graphs).

Independent of the CPU: no result goes through BLAS or LAPACK, whose kernels OpenBLAS picks per
CPU. Weight distances are summed in the fixed order of OpenBLAS's Haswell ``ddot`` (the kernel the
authors' runs were made with, see :mod:`gmmproxy._fixed_order`); in d >= 2 the Cholesky factor,
the densities, the determinant and the Gaussian draws are written out in explicit loops over
the (small) dimension.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from gmmproxy._fixed_order import haswell_norm
from gmmproxy.config import SimulationConfig

__all__ = ["simulate_reference"]


def _cholesky(cov):
    """Lower Cholesky factor of a small SPD matrix, in explicit loops (no LAPACK)."""
    d = cov.shape[0]
    L = np.zeros((d, d))
    for a in range(d):
        for b in range(a + 1):
            s = cov[a, b]
            for m in range(b):
                s -= L[a, m] * L[b, m]
            L[a, b] = math.sqrt(s) if a == b else s / L[b, b]
    return L


def _mvn_pdf(x, mu, L):
    """N(x; mu, L L^T) by forward substitution, in explicit loops."""
    d = L.shape[0]
    z = np.zeros(d)
    quad = 0.0
    log_det_half = 0.0
    for a in range(d):
        s = x[a] - mu[a]
        for m in range(a):
            s -= L[a, m] * z[m]
        z[a] = s / L[a, a]
        quad += z[a] * z[a]
        log_det_half += math.log(L[a, a])
    return math.exp(-0.5 * quad - log_det_half - 0.5 * d * math.log(2.0 * math.pi))


def _det(cov):
    """Determinant of a small SPD matrix from its Cholesky factor."""
    diag = np.diagonal(_cholesky(cov))
    out = 1.0
    for v in diag:
        out *= v * v
    return out


class _Model:
    """Densities, sampling and EM steps for one configuration (1-d and d-dim)."""

    def __init__(self, cfg: SimulationConfig):
        self.cfg = cfg
        self.K = cfg.n_components
        self.d = cfg.dim
        self.eps = cfg.eps
        self.mu = cfg.means  # (K, d)

    # -- sampling ---------------------------------------------------------
    def sample(self, rng, w, cov, size):
        """``size`` draws from sum_c w_c N(mu_c, cov_c): indices first, then Gaussians."""
        idx = rng.choice(self.K, size=size, p=w)
        if self.d == 1:
            sd = np.sqrt(cov[:, 0, 0])
            return rng.normal(loc=self.mu[idx, 0], scale=sd[idx])[:, None]
        out = np.empty((size, self.d))
        for s, c in enumerate(idx):
            # mu + L z with z ~ N(0, I): d standard normals per draw, transformed explicitly
            L = _cholesky(cov[c])
            z = rng.standard_normal(self.d)
            for a in range(self.d):
                acc = self.mu[c, a]
                for m in range(a + 1):
                    acc += L[a, m] * z[m]
                out[s, a] = acc
        return out

    # -- EM ---------------------------------------------------------------
    def _clip(self, w):
        w = np.clip(w, self.eps, 1 - self.eps)
        return w / w.sum()

    def responsibilities(self, rag, w, cov):
        """gamma (K, r): column h = posterior component probabilities of point h."""
        K, r = self.K, rag.shape[0]
        gamma = np.zeros((K, r))
        chols = [_cholesky(cov[c]) for c in range(K)] if self.d > 1 else None
        for h in range(r):
            if self.d == 1:
                dens = norm.pdf(rag[h, 0], loc=self.mu[:, 0], scale=np.sqrt(cov[:, 0, 0]))
            else:
                dens = np.array([_mvn_pdf(rag[h], self.mu[c], chols[c]) for c in range(K)])
            num = w * dens
            total = num.sum()
            # as the authors' code: a point whose total density underflows to
            # 0 keeps a zero column (it still counts in the 1/r average)
            if total > 0:
                gamma[:, h] = num / total
        return gamma

    def em_weights(self, rag, w, cov):
        """One EM step for the weights (spec 2.2, with the authors' guards)."""
        w = self._clip(w)
        gamma = self.responsibilities(rag, w, cov)
        new = gamma.mean(axis=1)
        new = np.clip(new, self.eps, 1 - self.eps)
        new = np.where(np.isnan(new), self.eps, new)
        return new / new.sum()

    def em_weights_cov(self, rag, w, cov, cov_ref):
        """Algorithm 2: one EM step for weights and covariances (means fixed)."""
        w_clip = self._clip(w)
        gamma = self.responsibilities(rag, w_clip, cov)
        new_w = gamma.mean(axis=1)
        new_w = np.clip(new_w, self.eps, 1 - self.eps)
        new_w = np.where(np.isnan(new_w), self.eps, new_w)
        new_w = new_w / new_w.sum()
        new_cov = np.empty_like(cov)
        floor = self.cfg.min_sd**2
        for c in range(self.K):
            diff = rag - self.mu[c]  # (r, d)
            wsum = gamma[c].sum()
            S = (gamma[c][:, None, None] * diff[:, :, None] * diff[:, None, :]).sum(axis=0) / (wsum + self.eps)
            if self.d == 1:
                S = np.maximum(S, floor)
            else:
                S = S + floor * np.eye(self.d)
            if self.cfg.volume_preserving:
                S = S * (_det(cov_ref[c]) / _det(S)) ** (1.0 / self.d)
            new_cov[c] = S
        return new_w, new_cov


def _farthest(rag, x):
    """Index of the RAG point farthest from x (first index on ties)."""
    dist = np.sqrt(((rag - x) ** 2).sum(axis=1))
    return int(np.argmax(dist))


def simulate_reference(cfg: SimulationConfig, steps: int, seed=None):
    """Run Algorithm 1 (or 2) with NumPy, drawing from ``default_rng(seed)``.

    Parameters
    ----------
    cfg : SimulationConfig
        Validated configuration (no ``graph``).
    steps : int
        Number of rounds T.
    seed : int, SeedSequence or None
        Seed of the single ``numpy.random.default_rng`` of the run.

    Returns
    -------
    dict
        ``weights`` (T+1, n, K), ``covariances`` (T+1, n, K, d, d) or None,
        ``rag`` (n, r, d) at the end.
    """
    if not isinstance(cfg, SimulationConfig):
        raise TypeError(f"cfg must be a SimulationConfig; got {type(cfg).__name__}")
    if cfg.graph is not None:
        raise ValueError("graph: the reference engine does not support communication graphs; use engine='numba'")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0; got {steps!r}")
    rng = np.random.default_rng(seed)
    model = _Model(cfg)
    n, K, r, d = cfg.n_agents, cfg.n_components, cfg.rag_size, cfg.dim
    p = cfg.p_mirror
    alg2 = cfg.update_covariances
    sequential = cfg.update == "sequential"
    fifo = cfg.rag_replacement == "fifo"

    W = cfg.initial_weights()
    C = np.broadcast_to(cfg.covariances, (n, K, d, d)).copy()
    C_ref = C.copy()
    if cfg.init_rag is not None:
        R = np.array(cfg.init_rag)
    else:
        R = np.empty((n, r, d))
        for i in range(n):
            R[i] = model.sample(rng, W[i], C[i], r)
    oldest = np.zeros(n, dtype=np.int64)  # fifo pointer: slot of the oldest point

    weights = np.empty((steps + 1, n, K))
    weights[0] = W
    covs = None
    if alg2:
        covs = np.empty((steps + 1, n, K, d, d))
        covs[0] = C

    def distance_row(Wmat, a):
        # the authors' np.linalg.norm(w_a - w_b), summed in the Haswell ddot order on any CPU
        row = haswell_norm(Wmat[a][None, :] - Wmat)
        row[a] = 0.0
        return row

    def distances(Wmat):
        return np.stack([distance_row(Wmat, a) for a in range(n)])

    for t in range(steps):
        k = cfg.neighbors_at(t)
        # synchronous: all reads from (W, C, R) of the previous round
        W_new, C_new, R_new = W.copy(), C.copy(), R.copy()
        oldest_new = oldest.copy()
        D = distances(W) if not sequential else None
        for i in range(n):
            if sequential:
                # Gauss-Seidel: read the freshest state
                W, C, R, oldest = W_new, C_new, R_new, oldest_new
                Drow = distance_row(W, i)
            else:
                Drow = D[i]
            u = rng.random()
            if u < p:
                j = i
            else:
                cand = np.argpartition(Drow, k)[: k + 1]
                cand = cand[cand != i][:k]
                j = int(rng.choice(cand))
            x = model.sample(rng, W[i], C[i], 1)[0]
            # partner's pseudo-update (nothing of j changes)
            Rj = R[j].copy()
            slot = oldest[j] if fifo else _farthest(Rj, x)
            Rj[slot] = x
            if alg2:
                wj, cj = model.em_weights_cov(Rj, W[j], C[j], C_ref[j])
            else:
                wj, cj = model.em_weights(Rj, W[j], C[j]), C[j]
            y = model.sample(rng, wj, cj, 1)[0]
            # agent i keeps the answer
            Ri = R[i].copy()
            slot = oldest[i] if fifo else _farthest(Ri, y)
            Ri[slot] = y
            R_new[i] = Ri
            if fifo:
                oldest_new[i] = (oldest[i] + 1) % r
            if alg2:
                W_new[i], C_new[i] = model.em_weights_cov(Ri, W[i], C[i], C_ref[i])
            else:
                W_new[i] = model.em_weights(Ri, W[i], C[i])
        W, C, R, oldest = W_new, C_new, R_new, oldest_new
        weights[t + 1] = W
        if alg2:
            covs[t + 1] = C
    return {"weights": weights, "covariances": covs, "rag": R}

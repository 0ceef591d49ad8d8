"""Test helper: weight rows as Algorithm 1's EM step leaves them (shared by the kernel tests)."""
import numpy as np


def clipped_rows(rs, n, K, eps, support):
    """Rows as the EM step leaves them: a few components above the floor, the rest clipped to eps."""
    W = np.full((n, K), eps)
    for a in range(n):
        idx = rs.choice(K, support, replace=False)
        W[a, idx] = rs.dirichlet(np.ones(support))
    return W / W.sum(axis=1, keepdims=True)

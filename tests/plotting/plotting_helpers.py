"""Synthetic silo histories and artist lookups shared by the plotting tests."""
import numpy as np


def _random_silos(T=40, n=12, seed=3, n_labels=None):
    """A voter-model-like label history: each step one agent copies another."""
    rng = np.random.default_rng(seed)
    s = np.empty((T + 1, n), dtype=np.int64)
    s[0] = np.arange(n) if n_labels is None else rng.integers(0, n_labels, n)
    for t in range(1, T + 1):
        s[t] = s[t - 1]
        for _ in range(2):
            s[t, rng.integers(n)] = s[t - 1, rng.integers(n)]
    return s


def _by_gid(ax, prefix):
    return [ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith(prefix)]

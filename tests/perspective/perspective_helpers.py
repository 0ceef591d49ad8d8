"""A synthetic moving system shared by the perspective tests."""
import numpy as np


def _moving_system(T=30, n=12, stop=15, seed=7):
    """Agents in two groups drifting apart linearly until `stop`, then frozen."""
    rng = np.random.default_rng(seed)
    base = rng.normal(scale=0.05, size=(n, 5))
    direction = np.zeros(5)
    direction[0] = 1.0
    sign = np.where(np.arange(n) < n // 2, -1.0, 1.0)[:, None]
    E = np.stack([base + sign * min(t, stop) * 0.2 * direction for t in range(T)])
    return E

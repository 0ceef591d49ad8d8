"""Tests of the perspective space (gmmproxy.perspective.space)."""
import numpy as np
import pytest
from perspective_helpers import _moving_system
from scipy.spatial.distance import cdist

from gmmproxy.perspective import perspective_space, response_distances


def test_response_distances_is_frobenius_of_prompt_matrices():
    rng = np.random.default_rng(6)
    E = rng.normal(size=(5, 3, 4))  # 5 agents, 3 prompts, D = 4
    D = response_distances(E)
    for i in range(5):
        for j in range(5):
            assert D[i, j] == pytest.approx(np.linalg.norm(E[i] - E[j], "fro"))
    # a single prompt may drop the prompt axis
    np.testing.assert_allclose(response_distances(E[:, 0]), response_distances(E[:, :1]))


def test_perspective_space_history_and_step():
    E = _moving_system()
    sp = perspective_space(E, mode="history", n_components=2)
    assert sp.positions.shape == (30, 12, 2) and sp.one_d.shape == (30, 12)
    # the whole-history space preserves all (step, agent) distances in the leading dims
    flat = E.reshape(-1, 5)
    d_true = cdist(flat[:12], flat[-12:])
    d_emb = cdist(sp.positions[0], sp.positions[-1])
    assert np.abs(d_emb - d_true).max() < 0.05 * d_true.max()
    sp1 = perspective_space(E, mode="step", n_components=1)
    # per step: the two groups are separated along the single axis once they split
    x = sp1.one_d[-1]
    assert np.sign(x[:6]).tolist().count(np.sign(x[0])) == 6
    assert np.all(np.sign(x[6:]) == -np.sign(x[0]))
    with pytest.raises(ValueError, match="mode"):
        perspective_space(E, mode="bogus")
    # a step where everyone gives the same answer sits at the origin (consensus)
    E2 = E.copy()
    E2[-1] = E2[-1, 0]
    sp2 = perspective_space(E2, mode="step")
    np.testing.assert_allclose(sp2.positions[-1], 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="identical answers at every step"):
        perspective_space(np.zeros((3, 4, 2)), mode="step")

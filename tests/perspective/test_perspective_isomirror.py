"""Tests of the iso-mirror (gmmproxy.perspective.isomirror)."""
import numpy as np
import pytest
from perspective_helpers import _moving_system

from gmmproxy.perspective import configuration_distances, iso_mirror, perspective_space


def test_iso_mirror_flattens_when_the_system_stops():
    E = _moving_system(T=30, stop=15)
    sp = perspective_space(E, mode="history", n_components=1)
    iso = iso_mirror(sp.positions)
    v = iso.values
    assert v.shape == (30,) and v[0] == 0 and v[-1] > 0
    moving = np.diff(v[:16])
    still = np.diff(v[16:])
    assert np.all(moving > 0)  # monotone while the groups drift apart
    assert np.max(np.abs(still)) < 1e-6 * v[-1]  # flat once they stop
    # configuration distances are Frobenius / sqrt(n) in the shared space
    C = configuration_distances(sp.positions)
    assert C[0, 15] == pytest.approx(np.linalg.norm(sp.positions[0] - sp.positions[15]) / np.sqrt(12))
    # a frozen system has a constant iso-mirror
    assert np.all(iso_mirror(np.repeat(sp.positions[:1], 5, axis=0)).values == 0)


def test_procrustes_configuration_distances_ignore_rotations():
    rng = np.random.default_rng(8)
    Z = rng.normal(size=(10, 2))
    theta = 0.7
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    C = configuration_distances(np.stack([Z, Z @ R]), align=True)
    assert C[0, 1] == pytest.approx(0.0, abs=1e-10)
    assert configuration_distances(np.stack([Z, Z @ R]))[0, 1] > 0.1

"""Tests of gmmproxy.plotting.perspective on synthetic arrays."""
from __future__ import annotations

import numpy as np
import pytest
from plotting_helpers import _by_gid

from gmmproxy import plotting


def test_plot_perspective_colours_segments_by_silo():
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(15, 6)), axis=0)
    s = (x > 0).astype(int)
    fig = plotting.plot_perspective(x, silos=s, label_names=["neg", "pos"])
    ax = fig.axes[0]
    lc = [c for c in ax.collections if c.get_gid() == "segments"][0]
    segs = lc.get_segments()
    assert len(segs) == 14 * 6
    colours = lc.get_colors()
    # the segment leaving (t, agent i) has the colour of silo s[t, i]
    c_neg, c_pos = colours[np.flatnonzero(s[:-1].ravel() == 0)[0]], colours[np.flatnonzero(s[:-1].ravel() == 1)[0]]
    assert not np.allclose(c_neg, c_pos)
    for idx, lab in enumerate(s[:-1].ravel()):
        np.testing.assert_allclose(colours[idx], c_pos if lab else c_neg)
    t, i = divmod(7, 6)
    np.testing.assert_allclose(segs[7], [[t, x[t, i]], [t + 1, x[t + 1, i]]])
    # without silos: one line per agent
    fig2 = plotting.plot_perspective(x, times=np.arange(15) * 2.0)
    lines = _by_gid(fig2.axes[0], "agent")
    assert len(lines) == 6
    np.testing.assert_array_equal(lines[2].get_xdata(), np.arange(15) * 2.0)
    with pytest.raises(ValueError, match="silos must have the shape"):
        plotting.plot_perspective(x, silos=s[:-1])
    with pytest.raises(ValueError, match="positions must be finite"):
        plotting.plot_perspective(np.full((3, 3), np.nan))


def test_plot_clusters_aligns_ari_with_later_time():
    k = np.array([4, 3, 3, 2, 2])
    ari = np.array([0.5, 1.0, 0.7, 1.0])
    fig = plotting.plot_clusters(k, ari)
    (lk,) = _by_gid(fig.axes[0], "n_clusters")
    (la,) = _by_gid(fig.axes[1], "ari")
    np.testing.assert_array_equal(lk.get_ydata(), k)
    np.testing.assert_array_equal(la.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(la.get_ydata(), ari)
    with pytest.raises(ValueError, match=r"ari must have shape \(4,\)"):
        plotting.plot_clusters(k, ari[:-1])
    with pytest.raises(ValueError, match=r"in \[-1, 1\]"):
        plotting.plot_clusters(k, [0.5, 1.0, 2.0, 1.0])
    with pytest.raises(TypeError, match="n_clusters must be an integer"):
        plotting.plot_clusters(k.astype(float), ari)

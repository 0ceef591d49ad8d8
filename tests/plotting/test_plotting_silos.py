"""Tests of gmmproxy.plotting.silos on synthetic arrays (no simulator needed)."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from plotting_helpers import _by_gid, _random_silos

from gmmproxy import plotting


def test_plot_silos_bottom_panel_sums_to_n_and_matches_counts():
    s = _random_silos()
    fig = plotting.plot_silos(s, title="x")
    assert isinstance(fig, Figure)
    top, bottom = fig.axes[:2]
    lines = _by_gid(bottom, "silo")
    ever = np.unique(s)
    # one line per silo that ever exists, no more
    assert sorted(int(ln.get_gid()[4:]) for ln in lines) == ever.tolist()
    total = np.zeros(s.shape[0])
    for ln in lines:
        label = int(ln.get_gid()[4:])
        y = np.asarray(ln.get_ydata())
        # independent count: bincount of each row
        expected = np.array([np.bincount(row, minlength=label + 1)[label] for row in s])
        np.testing.assert_array_equal(y, expected)
        np.testing.assert_array_equal(ln.get_xdata(), np.arange(s.shape[0]))
        total += y
    np.testing.assert_array_equal(total, np.full(s.shape[0], s.shape[1]))
    # top panel: one track per agent holding that agent's labels
    tracks = _by_gid(top, "agent")
    assert len(tracks) == s.shape[1]
    for i, ln in enumerate(tracks):
        np.testing.assert_array_equal(ln.get_ydata(), s[:, i])


def test_membership_and_sizes_draw_into_given_axes():
    s = _random_silos(T=10, n=5)
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    assert plotting.plot_silo_membership(s, ax1) is fig
    assert plotting.plot_silo_sizes(s, ax=ax2) is fig
    assert len(_by_gid(ax1, "agent")) == 5
    assert len(_by_gid(ax2, "silo")) == np.unique(s).size
    # without ax: a new one-axes figure
    own = plotting.plot_n_silos(s, label="N")
    assert own is not fig and len(own.axes) == 1


def test_llm_labels_with_names_on_ticks_and_legend():
    names = ["rose", "tulip", "orchid", "daisy", "lily", "iris"]
    s = _random_silos(T=20, n=8, n_labels=6, seed=5)
    fig = plotting.plot_silos(s, label_names=names)
    top, bottom = fig.axes[:2]
    present = np.unique(s)
    assert [t.get_text() for t in top.get_yticklabels()] == [names[i] for i in present]
    legend = [t.get_text() for t in bottom.get_legend().get_texts()]
    assert legend == [names[i] for i in present]
    # dict form works too
    plotting.plot_silos(s, label_names=dict(enumerate(names)))


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        (np.zeros((3, 4)), TypeError, "integer array"),
        (np.zeros(4, dtype=int), ValueError, r"shape \(T\+1, n_agents\)"),
        (np.array([[0, -1], [0, 0]]), ValueError, "labels must be >= 0; got minimum -1"),
        (np.zeros((0, 3), dtype=int), ValueError, "at least one time"),
        ([["a", "b"]], TypeError, "integer array"),
    ],
)
def test_silos_validation(bad, exc, match):
    with pytest.raises(exc, match=match):
        plotting.plot_silos(bad)


def test_label_names_validation():
    s = np.array([[0, 3], [3, 3]])
    with pytest.raises(ValueError, match="label_names must have more than 3 entries"):
        plotting.plot_silos(s, label_names=["a", "b"])
    with pytest.raises(ValueError, match=r"no entry for silo label\(s\) \[3\]"):
        plotting.plot_silos(s, label_names={0: "a"})
    with pytest.raises(TypeError, match="label_names"):
        plotting.plot_silos(s, label_names="abcd")


def test_library_does_not_use_pyplot_state():
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    plotting.plot_silos(_random_silos(T=3, n=3))
    plotting.plot_sweep([1, 2], [[1, 2], [3, 4]], xlabel="k", ylabel="y")
    assert set(plt.get_fignums()) == before

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
    # one colour key for both panels, beside the figure
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
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


def test_ensemble_plot_draws_mean_and_bands():
    rng = np.random.default_rng(3)
    ns = np.maximum.accumulate(rng.integers(1, 30, size=(40, 21))[:, ::-1], axis=1)[:, ::-1]
    fig = plotting.plot_ensemble_n_silos(ns)
    ax = fig.axes[0]
    (mean,) = _by_gid(ax, "mean")
    np.testing.assert_allclose(mean.get_ydata(), ns.mean(axis=0))
    band = [c for c in ax.collections if c.get_gid() == "band50"][0]
    verts = band.get_paths()[0].vertices
    lo = np.quantile(ns, 0.25, axis=0)
    hi = np.quantile(ns, 0.75, axis=0)
    assert np.isclose(verts[:, 1].min(), lo.min()) and np.isclose(verts[:, 1].max(), hi.max())


def test_silo_figure_key_is_outside_the_data():
    """The colour key of plot_silos sits beside the axes, never over them, and names every silo."""
    s = _random_silos(T=30, n=30, seed=1)
    names = [f"flower {i}" for i in range(30)]
    fig = plotting.plot_silos(s, label_names=names)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (legend,) = fig.legends
    lb = legend.get_window_extent(renderer)
    for ax in fig.axes:
        assert not lb.overlaps(ax.get_window_extent(renderer))
    present = np.unique(s)
    assert [t.get_text() for t in legend.get_texts()] == [names[i] for i in present]
    # the membership panel is coloured by silo, with the key's colours
    seg = [c for c in fig.axes[0].collections if c.get_gid() == "silo-segments"][0]
    first = s.ravel()[0]
    handle = legend.legend_handles[list(present).index(first)]
    from matplotlib.colors import to_rgba

    np.testing.assert_allclose(seg.get_colors()[0][:3], to_rgba(handle.get_color())[:3])


@pytest.mark.parametrize("final", ["one silo", "two equal silos", "one large, one small"])
def test_direct_labels_stay_inside_the_sizes_panel(final):
    """The labels at the ends of the size lines lie inside the panel, also for a silo holding every agent."""
    n, T = 30, 40
    rs = np.random.default_rng(3)
    s = rs.integers(0, 6, size=(T, n))
    s[-5:] = {"one silo": np.full(n, 4), "two equal silos": np.arange(n) % 2,
              "one large, one small": np.where(np.arange(n) < 28, 2, 5)}[final]
    # the two-panel figure, and the sizes panel alone at its default size and at a short one
    fig_a = plotting.plot_silos(s)
    fig_b = plotting.plot_silo_sizes(s)
    fig_c = plotting.plot_silo_sizes(s)
    fig_c.set_size_inches(6.4, 2.0)
    for fig, sizes in [(fig_a, fig_a.axes[1]), (fig_b, fig_b.axes[0]), (fig_c, fig_c.axes[0])]:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        frame = sizes.get_window_extent(renderer)
        labels = [t for t in sizes.texts if (t.get_gid() or "").startswith("direct")]
        assert sorted(int(t.get_gid()[6:]) for t in labels) == np.unique(s[-1]).tolist()
        for t in labels:
            box = t.get_window_extent(renderer)
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, \
                (t.get_text(), fig.get_size_inches())

"""Tests of gmmproxy.plotting on synthetic arrays (no simulator needed)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from gmmproxy import plotting


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


# --------------------------------------------------------------------------- silos
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


def test_plot_silos_saves_png_with_provenance(tmp_path):
    s = _random_silos(T=8, n=4)
    prov = {"seed": 618327487, "means": np.arange(3.0), "p_mirror": np.float64(0.4), "cmd": "x"}
    out = tmp_path / "sub" / "fig.png"
    plotting.plot_silos(s, path=out, provenance=prov)
    img = Image.open(out)
    assert img.format == "PNG"
    stored = json.loads(img.text["provenance"])
    assert stored == {"seed": 618327487, "means": [0.0, 1.0, 2.0], "p_mirror": 0.4, "cmd": "x"}
    assert img.text["Software"].startswith("gmmproxy")


def test_provenance_needs_a_format_that_can_hold_it(tmp_path):
    fig = plotting.plot_silos(_random_silos(T=3, n=3))
    with pytest.raises(ValueError, match="provenance"):
        plotting.save_figure(fig, tmp_path / "a.jpg", {"seed": 1})
    with pytest.raises(TypeError, match="provenance must be a dict"):
        plotting.save_figure(fig, tmp_path / "a.png", ["seed"])
    plotting.save_figure(fig, tmp_path / "a.svg", {"seed": 1})
    assert "seed" in (tmp_path / "a.svg").read_text()


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


# --------------------------------------------------------------------------- sweeps
def _band_bounds(band, xs):
    verts = band.get_paths()[0].vertices
    lo, hi = [], []
    for x in xs:
        ys = verts[np.isclose(verts[:, 0], x), 1]
        lo.append(ys.min())
        hi.append(ys.max())
    return np.array(lo), np.array(hi)


def test_plot_sweep_band_is_mean_pm_5_se():
    rng = np.random.default_rng(11)
    values = np.array([5, 1, 2, 10])  # unsorted on purpose
    results = rng.poisson([[6], [9], [8], [3]], size=(4, 50)).astype(float)
    fig = plotting.plot_sweep(values, results, xlabel="k", ylabel="silos", ylim=(0, 10.5))
    ax = fig.axes[0]
    order = np.argsort(values)
    # independent reference: sample sd (ddof=1) / sqrt(50)
    mean = np.array([results[i].sum() / 50 for i in order])
    sd = np.array([np.sqrt(((results[i] - results[i].mean()) ** 2).sum() / 49) for i in order])
    se = sd / np.sqrt(50)
    (mean_line,) = _by_gid(ax, "mean")
    np.testing.assert_allclose(mean_line.get_xdata(), values[order])
    np.testing.assert_allclose(mean_line.get_ydata(), mean, rtol=1e-12)
    band = [c for c in ax.collections if c.get_gid() == "band"][0]
    lo, hi = _band_bounds(band, values[order])
    np.testing.assert_allclose(lo, mean - 5 * se, rtol=1e-12)
    np.testing.assert_allclose(hi, mean + 5 * se, rtol=1e-12)
    assert ax.get_ylim() == (0, 10.5)
    summary = plotting.sweep_summary(values, results)
    np.testing.assert_allclose(summary["se"], se, rtol=1e-12)


def test_plot_sweep_jitter_is_seeded_normal_on_y_only():
    values = np.arange(5)
    results = np.repeat(np.arange(5.0)[:, None], 200, axis=1)  # all replicates equal
    fig = plotting.plot_sweep(values, results, xlabel="k", ylabel="y", seed=7)
    pts = [c for c in fig.axes[0].collections if c.get_gid() == "points"][0].get_offsets()
    x, y = np.asarray(pts[:, 0]), np.asarray(pts[:, 1])
    np.testing.assert_array_equal(x, np.repeat(values, 200))
    noise = y - np.repeat(np.arange(5.0), 200)
    # N(0, 0.1^2): sample sd of 1000 draws within ~5 SE (SE of sd = 0.1/sqrt(2000))
    assert abs(noise.std() - 0.1) < 5 * 0.1 / np.sqrt(2000)
    assert abs(noise.mean()) < 5 * 0.1 / np.sqrt(1000)
    again = plotting.plot_sweep(values, results, xlabel="k", ylabel="y", seed=7)
    other = plotting.plot_sweep(values, results, xlabel="k", ylabel="y", seed=8)
    get = lambda f: [c for c in f.axes[0].collections if c.get_gid() == "points"][0].get_offsets()
    np.testing.assert_array_equal(get(again), pts)
    assert not np.array_equal(get(other), pts)


def test_plot_sweep_ragged_results_and_single_replicate():
    fig = plotting.plot_sweep([0.5, 1.0], [np.array([3.0, 5.0, 4.0]), np.array([2.0])],
                              xlabel="d", ylabel="t")
    s = plotting.sweep_summary([0.5, 1.0], [np.array([3.0, 5.0, 4.0]), np.array([2.0])])
    np.testing.assert_allclose(s["mean"], [4.0, 2.0])
    np.testing.assert_allclose(s["se"], [1.0 / np.sqrt(3), 0.0])
    assert isinstance(fig, Figure)


@pytest.mark.parametrize(
    "values, results, match",
    [
        ([1, 2], np.zeros((3, 4)), "one group per value"),
        ([1, 1], np.zeros((2, 4)), "values must be distinct"),
        ([1, 2], np.array([[1.0, np.nan], [1, 2]]), "finite"),
        ([1, 2], np.zeros((2, 2, 2)), "shape"),
    ],
)
def test_plot_sweep_validation(values, results, match):
    with pytest.raises(ValueError, match=match):
        plotting.plot_sweep(values, results, xlabel="x", ylabel="y")


def test_plot_sweep_rejects_bad_jitter_and_ylim():
    with pytest.raises(ValueError, match="jitter must be"):
        plotting.plot_sweep([1], [[1.0]], xlabel="x", ylabel="y", jitter=-1)
    with pytest.raises(ValueError, match="ylim"):
        plotting.plot_sweep([1], [[1.0]], xlabel="x", ylabel="y", ylim=(3, 1))


# --------------------------------------------------------------------------- comparison
def test_plot_comparison_layout_and_counts():
    proxy = _random_silos(T=30, n=10, seed=1)
    llm = _random_silos(T=20, n=6, n_labels=4, seed=2)
    fig = plotting.plot_comparison(proxy, llm, llm_label_names=["a", "b", "c", "d"])
    assert len(fig.axes) == 4
    for ax, s in ((fig.axes[2], proxy), (fig.axes[3], llm)):
        (ln,) = _by_gid(ax, "n_silos")
        np.testing.assert_array_equal(ln.get_ydata(), [len(set(row)) for row in s])
    assert fig.axes[2].get_ylim() == fig.axes[3].get_ylim()
    assert fig.axes[0].get_title() == "GMM proxy" and fig.axes[1].get_title() == "LLM"
    with pytest.raises(TypeError, match="llm_silos"):
        plotting.plot_comparison(proxy, np.zeros((3, 3)))


# --------------------------------------------------------------------------- perspective
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

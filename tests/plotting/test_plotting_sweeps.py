"""Tests of gmmproxy.plotting.sweeps (and the sweep_summary it draws) on synthetic arrays."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from plotting_helpers import _by_gid

from gmmproxy import plotting


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

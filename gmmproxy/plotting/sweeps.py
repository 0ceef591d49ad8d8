"""Sweep figure: replicate outcomes per parameter value with their mean and a band of standard errors."""
from __future__ import annotations

import numbers

import numpy as np

from gmmproxy.plotting._common import _as_float_array, _check_ax
from gmmproxy.plotting._save import _finish, _new_figure
from gmmproxy.sweeps._summary import _as_results, sweep_summary

__all__ = ["plot_sweep"]


def plot_sweep(values, results, *, xlabel, ylabel, title=None, n_se: float = 5.0,
               jitter: float = 0.1, seed=0, ylim=None, ax=None, color="mediumslateblue",
               path=None, provenance=None):
    """Figure-3/7 style sweep: jittered replicate points, mean line, grey band.

    Parameters
    ----------
    values : array_like, shape (m,)
        Distinct parameter values (x axis), e.g. the neighbourhood sizes k.
    results : array_like, shape (m, R), or sequence of m 1-d arrays
        Outcome of every replicate at every value (e.g. number of silos at T).
    xlabel, ylabel : str
        Axis labels.
    title : str, optional
        Axes title.
    n_se : float, default 5
        The grey band is mean +- ``n_se`` standard errors (SE = sample sd,
        ddof=1, over sqrt(R), as in the paper).
    jitter : float, default 0.1
        Standard deviation of the N(0, jitter^2) noise added to each point's
        y value so that equal integer outcomes do not overlap (display only;
        mean and band use the raw values).
    seed : int or numpy.random.SeedSequence, default 0
        Seed of the jitter generator.
    ylim : (float, float), optional
        y-axis limits (Figure 3 uses (0, 10.5)).
    ax : matplotlib.axes.Axes, optional
        Draw into these axes (then ``path`` saves their figure).
    color : matplotlib colour
        Colour of the points.
    path : str or pathlib.Path, optional
        Save the figure there.
    provenance : dict, optional
        Written into the saved file's metadata.

    Returns
    -------
    matplotlib.figure.Figure
        Artists carry gids ``"points"``, ``"mean"``, ``"band"``.
    """
    from gmmproxy._seeding import as_seed_sequence

    summary = sweep_summary(values, results, n_se=n_se)
    _, groups = _as_results(values, results)
    v = _as_float_array(values, "values", 1)
    if not isinstance(jitter, numbers.Real) or not np.isfinite(jitter) or jitter < 0:
        raise ValueError(f"jitter must be a finite number >= 0; got {jitter!r}")
    if ylim is not None and (len(ylim) != 2 or not ylim[0] < ylim[1]):
        raise ValueError(f"ylim must be a pair (low, high) with low < high; got {ylim!r}")
    _check_ax(ax)
    rng = np.random.default_rng(as_seed_sequence(seed))
    if ax is None:
        fig, axes = _new_figure(figsize=(5.0, 5.0))
        ax = axes[0, 0]
    else:
        fig = ax.figure
    xs = np.concatenate([np.full(g.size, v[i]) for i, g in enumerate(groups)])
    ys = np.concatenate(groups)
    ys_jittered = ys + rng.normal(0.0, jitter, size=ys.size) if jitter > 0 else ys
    band = ax.fill_between(summary["values"], summary["lower"], summary["upper"],
                           facecolor="lightgray", edgecolor="none", zorder=1,
                           label=f"mean $\\pm$ {n_se:g} SE")
    band.set_gid("band")
    ax.plot(summary["values"], summary["mean"], "k-", linewidth=2.5, zorder=3,
            label="mean", gid="mean")
    ax.scatter(xs, ys_jittered, s=4, color=color, zorder=2, gid="points",
               label="replicates (jittered)")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    return _finish(fig, path, provenance)

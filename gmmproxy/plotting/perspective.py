"""Perspective-space figures: each agent's 1-d perspective over time, and GMM cluster counts with their ARI."""
from __future__ import annotations

import numbers

import numpy as np
from matplotlib.collections import LineCollection

from gmmproxy.plotting._common import (_AGENT_CMAP, _as_float_array, _as_silos, _axes_or_new, _outside_legend,
                                       _label_name_lookup, _silo_colour)
from gmmproxy.plotting._save import _finish, _new_figure

__all__ = ["plot_perspective", "plot_clusters"]


def _as_times(times, length: int, name: str = "times") -> np.ndarray:
    if times is None:
        return np.arange(length, dtype=np.float64)
    t = _as_float_array(times, name, 1)
    if t.size != length:
        raise ValueError(f"{name} must have length {length}; got {t.size}")
    return t


def plot_perspective(positions, *, silos=None, label_names=None, times=None, title=None,
                     ylabel="perspective (MDS coordinate 1)", legend_title="silo",
                     marker_size: float = 6.0, ax=None, path=None, provenance=None):
    """1-d perspective of each agent over time, coloured by silo when given.

    Parameters
    ----------
    positions : array_like, shape (T, n_agents)
        Perspective coordinate of every agent at every time (e.g. the first
        classical-MDS coordinate).
    silos : array_like of int, shape (T, n_agents), optional
        Silo labels; each segment from t to t+1 takes the colour of the
        agent's silo at t, each point the colour of its silo.
    label_names : sequence or dict, optional
        Names of the silo labels for the legend.
    times : array_like, shape (T,), optional
        Time of each row (default 0..T-1).
    title : str, optional
        Axes title.
    ylabel : str
        y-axis label.
    legend_title : str
        Title of the legend of labels (e.g. "class" when ``silos`` holds
        classes rather than silos).
    marker_size : float, default 6
        Size of the point markers drawn with ``silos``; 0 draws lines only
        (clearer for many agents and steps).
    ax : matplotlib.axes.Axes, optional
        Draw into these axes.
    path : str or pathlib.Path, optional
        Save the figure there.
    provenance : dict, optional
        Written into the saved file's metadata.

    Returns
    -------
    matplotlib.figure.Figure
    """
    x = _as_float_array(positions, "positions", 2)
    n_steps, n_agents = x.shape
    t = _as_times(times, n_steps)
    s = None
    if silos is not None:
        s = _as_silos(silos)
        if s.shape != x.shape:
            raise ValueError(f"silos must have the shape of positions {x.shape}; got {s.shape}")
    if (not isinstance(marker_size, numbers.Real) or isinstance(marker_size, bool)
            or not np.isfinite(marker_size) or marker_size < 0):
        raise ValueError(f"marker_size must be a finite number >= 0; got {marker_size!r}")
    ax = _axes_or_new(ax, figsize=(7.0, 4.0))
    fig = ax.figure
    if s is None:
        from matplotlib import colormaps

        cmap = colormaps[_AGENT_CMAP]
        for i in range(n_agents):
            ax.plot(t, x[:, i], color=cmap(i / n_agents), linewidth=1.0, alpha=0.8,
                    gid=f"agent{i}")
    else:
        present = np.unique(s)
        name_of = _label_name_lookup(label_names, present)
        n_colours = int(present.max()) + 1
        colours = np.array([_silo_colour(l) for l in range(n_colours)])
        if n_steps > 1:
            # segment (t, t+1) of agent i, coloured by its silo at t
            seg = np.stack([np.stack([np.broadcast_to(t[:-1, None], x[:-1].shape), x[:-1]], -1),
                            np.stack([np.broadcast_to(t[1:, None], x[1:].shape), x[1:]], -1)],
                           axis=2)  # (T-1, n, 2, 2)
            lc = LineCollection(seg.reshape(-1, 2, 2), colors=colours[s[:-1].ravel()],
                                linewidths=1.0, alpha=0.7)
            lc.set_gid("segments")
            ax.add_collection(lc)
        if marker_size > 0:
            ax.scatter(np.broadcast_to(t[:, None], x.shape).ravel(), x.ravel(), s=marker_size,
                       c=colours[s.ravel()], zorder=3, gid="points")
        if label_names is not None or present.size <= 30:
            for l in present:
                ax.plot([], [], color=colours[l], label=name_of(l))
            _outside_legend(ax, title=legend_title)
        ax.autoscale_view()
    ax.set_xlabel("t")
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    return _finish(fig, path, provenance)


def plot_clusters(n_clusters, ari, *, times=None, title=None, path=None, provenance=None):
    """Number of GMM clusters over time and ARI between consecutive times.

    Parameters
    ----------
    n_clusters : array_like of int, shape (T,)
        Number of clusters chosen (e.g. by BIC) at each time.
    ari : array_like, shape (T-1,)
        Adjusted Rand index between the clusterings at t-1 and t (values in
        [-1, 1]); plotted at the later time t.
    times : array_like, shape (T,), optional
        Time of each entry of ``n_clusters`` (default 0..T-1).
    title : str, optional
        Figure title.
    path : str or pathlib.Path, optional
        Save the figure there.
    provenance : dict, optional
        Written into the saved file's metadata.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: ``fig.axes[0]`` clusters, ``fig.axes[1]`` ARI.
    """
    k = np.asarray(n_clusters)
    if k.dtype == object or not np.issubdtype(k.dtype, np.integer):
        raise TypeError(f"n_clusters must be an integer array; got dtype {k.dtype}")
    if k.ndim != 1 or k.size == 0:
        raise ValueError(f"n_clusters must be a non-empty 1-d array; got shape {k.shape}")
    if k.min() < 1:
        raise ValueError(f"n_clusters must be >= 1; got minimum {int(k.min())}")
    a = np.asarray(ari, dtype=np.float64) if np.size(ari) else np.zeros(0)
    if a.ndim != 1 or a.size != k.size - 1:
        raise ValueError(
            f"ari must have shape ({k.size - 1},) (one value per consecutive pair); "
            f"got shape {a.shape}"
        )
    # tolerance: ARI computed in floating point may exceed 1 by a rounding error
    if not np.all(np.isfinite(a)) or np.any(a < -1 - 1e-9) or np.any(a > 1 + 1e-9):
        bad = a[~np.isfinite(a) | (a < -1 - 1e-9) | (a > 1 + 1e-9)][0]
        raise ValueError(f"ari must be finite values in [-1, 1]; got {bad!r}")
    t = _as_times(times, k.size)
    fig, axes = _new_figure(2, 1, figsize=(7.0, 5.0), sharex=True)
    axes[0, 0].plot(t, k, "o-", color="k", markersize=3, gid="n_clusters")
    axes[0, 0].set_ylabel("number of clusters")
    axes[0, 0].set_ylim(0, k.max() + 1)
    axes[1, 0].plot(t[1:], a, "o-", color="tab:blue", markersize=3, gid="ari")
    axes[1, 0].set_ylabel("ARI (t-1, t)")
    axes[1, 0].set_ylim(min(-0.05, a.min() - 0.05) if a.size else -0.05, 1.05)
    axes[1, 0].set_xlabel("t")
    if title is not None:
        fig.suptitle(title)
    return _finish(fig, path, provenance)

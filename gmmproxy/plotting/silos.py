"""Silo figures: membership of every agent, silo sizes, number of silos, and the two-panel summary."""
from __future__ import annotations

import numpy as np

from gmmproxy.plotting._common import (_AGENT_CMAP, _as_silos, _check_ax, _label_name_lookup,
                                       _silo_colour)
from gmmproxy.plotting._save import _finish, _new_figure

__all__ = ["plot_silos", "plot_silo_membership", "plot_silo_sizes", "plot_n_silos"]


def plot_silo_membership(silos, ax=None, *, label_names=None, title=None,
                         linewidth: float = 1.0, alpha: float = 0.8, path=None, provenance=None):
    """Silo of each agent over time: one line per agent (top panel of Figure 2).

    Parameters
    ----------
    silos : array_like of int, shape (T+1, n_agents)
        Silo label of every agent at t = 0..T (labels >= 0; e.g. ``traj.silos``
        or flower ids of an LLM log).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure is made when None.
    label_names : sequence or dict, optional
        Display names of the labels (``label_names[label]``); when given, the
        y ticks are the labels that occur, named.
    title : str, optional
        Axes title.
    linewidth, alpha : float
        Line style of the agent tracks.

    path : str or pathlib.Path, optional
        Save the figure holding the axes there.
    provenance : dict, optional
        Written into the saved file's metadata.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of the axes drawn into (``ax.figure`` when ``ax`` is given).
    """
    s = _as_silos(silos)
    _check_ax(ax)
    if ax is None:
        _, axes = _new_figure(figsize=(6.4, 3.2))
        ax = axes[0, 0]
    n_steps, n_agents = s.shape
    t = np.arange(n_steps)
    from matplotlib import colormaps

    cmap = colormaps[_AGENT_CMAP]
    for i in range(n_agents):
        # steps-post draws a jump as a vertical segment at the step it happens
        ax.plot(t, s[:, i], drawstyle="steps-post", color=cmap(i / n_agents),
                linewidth=linewidth, alpha=alpha, gid=f"agent{i}")
    present = np.unique(s)
    name_of = _label_name_lookup(label_names, present)
    if label_names is not None:
        # many named labels (30 flowers) need smaller type to stay legible
        size = "small" if present.size <= 12 else "x-small" if present.size <= 20 else 6
        ax.set_yticks(present)
        ax.set_yticklabels([name_of(l) for l in present], fontsize=size)
    ax.set_xlim(0, max(n_steps - 1, 1))
    ax.set_xlabel("t")
    ax.set_ylabel("silo")
    if title is not None:
        ax.set_title(title)
    return _finish(ax.figure, path, provenance)


def plot_silo_sizes(silos, ax=None, *, label_names=None, title=None,
                    legend: bool | None = None, linewidth: float = 1.5, path=None, provenance=None):
    """Number of agents in each silo over time (bottom panel of Figure 2).

    One line per silo that holds at least one agent at some time; at every t
    the lines add up to the number of agents.

    Parameters
    ----------
    silos : array_like of int, shape (T+1, n_agents)
        Silo labels, as in :func:`plot_silo_membership`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure is made when None.
    label_names : sequence or dict, optional
        Display names of the labels, used in the legend.
    title : str, optional
        Axes title.
    legend : bool, optional
        Draw a legend of silos. Default: when ``label_names`` is given or at
        most 10 silos ever exist.
    linewidth : float
        Line width.

    path : str or pathlib.Path, optional
        Save the figure holding the axes there.
    provenance : dict, optional
        Written into the saved file's metadata.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of the axes drawn into (``ax.figure`` when ``ax`` is given).
    """
    s = _as_silos(silos)
    _check_ax(ax)
    if legend is not None and not isinstance(legend, (bool, np.bool_)):
        raise TypeError(f"legend must be a bool or None; got {type(legend).__name__}")
    if ax is None:
        _, axes = _new_figure(figsize=(6.4, 3.2))
        ax = axes[0, 0]
    n_steps, n_agents = s.shape
    present = np.unique(s)
    name_of = _label_name_lookup(label_names, present)
    t = np.arange(n_steps)
    for label in present:
        counts = np.sum(s == label, axis=1)
        ax.plot(t, counts, color=_silo_colour(int(label)), linewidth=linewidth,
                label=name_of(label), gid=f"silo{int(label)}")
    if legend is None:
        legend = label_names is not None or present.size <= 10
    if legend:
        ax.legend(fontsize="x-small", ncol=1 + present.size // 12, loc="upper right",
                  title="silo", title_fontsize="x-small")
    ax.set_xlim(0, max(n_steps - 1, 1))
    ax.set_ylim(0, n_agents * 1.05)
    ax.set_xlabel("t")
    ax.set_ylabel("agents in silo")
    if title is not None:
        ax.set_title(title)
    return _finish(ax.figure, path, provenance)


def plot_n_silos(silos, ax=None, *, label=None, title=None, color=None, path=None,
                 provenance=None):
    """Number of distinct silos N(t) over time.

    Parameters
    ----------
    silos : array_like of int, shape (T+1, n_agents)
        Silo labels.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure is made when None.
    label : str, optional
        Legend label of the line.
    title : str, optional
        Axes title.
    color : matplotlib colour, optional
        Line colour.

    path : str or pathlib.Path, optional
        Save the figure holding the axes there.
    provenance : dict, optional
        Written into the saved file's metadata.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of the axes drawn into (``ax.figure`` when ``ax`` is given).
    """
    s = _as_silos(silos)
    _check_ax(ax)
    if ax is None:
        _, axes = _new_figure(figsize=(6.4, 3.0))
        ax = axes[0, 0]
    counts = np.array([np.unique(row).size for row in s])
    ax.plot(np.arange(s.shape[0]), counts, drawstyle="steps-post", color=color,
            label=label, gid="n_silos")
    ax.set_xlim(0, max(s.shape[0] - 1, 1))
    ax.set_ylim(0, counts.max() + 1)
    ax.set_xlabel("t")
    ax.set_ylabel("number of silos")
    if title is not None:
        ax.set_title(title)
    return _finish(ax.figure, path, provenance)


def plot_silos(silos, *, label_names=None, title=None, path=None, provenance=None):
    """Figure-2 style figure: silo membership (top) and silo sizes (bottom).

    Parameters
    ----------
    silos : array_like of int, shape (T+1, n_agents)
        Silo label of every agent at every time (``traj.silos``, or the flower
        ids of an LLM log).
    label_names : sequence or dict, optional
        Display names of the labels (e.g. flower names).
    title : str, optional
        Figure title.
    path : str or pathlib.Path, optional
        Save the figure there (see :func:`save_figure`).
    provenance : dict, optional
        Written into the saved file's metadata.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: ``fig.axes[0]`` membership, ``fig.axes[1]`` sizes.
    """
    s = _as_silos(silos)
    fig, axes = _new_figure(2, 1, figsize=(7.0, 6.0), sharex=True)
    plot_silo_membership(s, axes[0, 0], label_names=label_names)
    plot_silo_sizes(s, axes[1, 0], label_names=label_names)
    axes[0, 0].set_xlabel("")
    if title is not None:
        fig.suptitle(title)
    return _finish(fig, path, provenance)

"""Silo figures: membership of every agent, silo sizes, number of silos, and the two-panel summary."""
from __future__ import annotations

import numpy as np

from gmmproxy.plotting._common import _as_silos, _axes_or_new, _label_name_lookup, _outside_legend, _silo_colour
from gmmproxy.plotting._save import _finish, _new_figure

__all__ = ["plot_silos", "plot_silo_membership", "plot_silo_sizes", "plot_n_silos", "plot_ensemble_n_silos"]


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
    ax = _axes_or_new(ax, figsize=(6.4, 3.2))
    n_steps, n_agents = s.shape
    t = np.arange(n_steps)
    from matplotlib.collections import LineCollection

    for i in range(n_agents):
        # steps-post draws a jump as a vertical segment at the step it happens; the
        # tracks are grey so that the colour (drawn on top) always means "silo"
        ax.plot(t, s[:, i], drawstyle="steps-post", color="0.6", linewidth=0.6 * linewidth,
                alpha=alpha, gid=f"agent{i}")
    # time spent in a silo, in that silo's colour (the colour key of plot_silo_sizes)
    t_end = np.append(t[1:], t[-1] + 1 if n_steps == 1 else t[-1])
    seg = np.stack([np.stack([np.broadcast_to(t[:, None], s.shape), s], -1),
                    np.stack([np.broadcast_to(t_end[:, None], s.shape), s], -1)], axis=2)
    lc = LineCollection(seg.reshape(-1, 2, 2), colors=[_silo_colour(v) for v in s.ravel()],
                        linewidths=2.0 * linewidth, alpha=alpha)
    lc.set_gid("silo-segments")
    ax.add_collection(lc)
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
        Draw a legend of silos (to the right of the axes, never over the
        data). Default: when ``label_names`` is given or at most 30 silos ever
        exist. Silos alive at the end are also labelled directly at the
        right end of their lines.
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
    if legend is not None and not isinstance(legend, (bool, np.bool_)):
        raise TypeError(f"legend must be a bool or None; got {type(legend).__name__}")
    ax = _axes_or_new(ax, figsize=(6.4, 3.2))
    n_steps, n_agents = s.shape
    present = np.unique(s)
    name_of = _label_name_lookup(label_names, present)
    t = np.arange(n_steps)
    for label in present:
        counts = np.sum(s == label, axis=1)
        ax.plot(t, counts, color=_silo_colour(int(label)), linewidth=linewidth,
                label=name_of(label), gid=f"silo{int(label)}")
    # direct labels where the surviving silos' lines end (largest first, nudged apart)
    final = sorted(((int(np.sum(s[-1] == label)), int(label)) for label in np.unique(s[-1])), reverse=True)
    for rank, (count, label) in enumerate(final[:10]):
        # just above the line's end (below it near the top of the axes, where a label above would
        # cross the frame); silos of equal size are stacked away from the line
        same = sum(1 for c, _ in final[:rank] if c == count)
        below = count > 0.85 * n_agents
        ax.annotate(name_of(label), (n_steps - 1, count), xytext=(-3, -(2 + 9 * same) if below else 2 + 9 * same),
                    textcoords="offset points", fontsize="x-small", color=_silo_colour(label), ha="right",
                    va="top" if below else "bottom", gid=f"direct{label}")
    if legend is None:
        legend = label_names is not None or present.size <= 30
    if legend:
        _outside_legend(ax, title="silo")
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
    ax = _axes_or_new(ax, figsize=(6.4, 3.0))
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
    fig, axes = _new_figure(2, 1, figsize=(9.0, 6.0), sharex=True)
    plot_silo_membership(s, axes[0, 0], label_names=label_names)
    plot_silo_sizes(s, axes[1, 0], label_names=label_names, legend=False)
    # one colour key for both panels (silo colours are the same in each), beside the figure
    _outside_legend(axes[1, 0], title="silo", fig=fig)
    axes[0, 0].set_xlabel("")
    if title is not None:
        fig.suptitle(title)
    return _finish(fig, path, provenance)


def plot_ensemble_n_silos(n_silos, ax=None, *, title=None, path=None, provenance=None):
    """Number of silos N(t) over an ensemble: the mean with 50% and 90% bands of the replicates.

    Parameters
    ----------
    n_silos : array_like of int, shape (R, T+1)
        N(t) of every replicate (``Ensemble.n_silos``), R >= 1.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure is made when None.
    title : str, optional
        Axes title.
    path : str or pathlib.Path, optional
        Save the figure there.
    provenance : dict, optional
        Written into the saved file's metadata.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ns = np.asarray(n_silos)
    if ns.dtype == object or not np.issubdtype(ns.dtype, np.number):
        raise TypeError(f"n_silos must be a numeric array of shape (R, T+1); got dtype {ns.dtype}")
    if ns.ndim != 2 or ns.shape[0] < 1 or ns.shape[1] < 1:
        raise ValueError(f"n_silos must have shape (R, T+1) with R >= 1; got shape {ns.shape}")
    ax = _axes_or_new(ax, figsize=(7.0, 3.6))
    t = np.arange(ns.shape[1])
    q05, q25, q75, q95 = np.quantile(ns, [0.05, 0.25, 0.75, 0.95], axis=0)
    ax.fill_between(t, q05, q95, color="C0", alpha=0.18, linewidth=0, label="5-95% of replicates", gid="band90")
    ax.fill_between(t, q25, q75, color="C0", alpha=0.35, linewidth=0, label="25-75% of replicates", gid="band50")
    ax.plot(t, ns.mean(axis=0), color="C0", linewidth=2.0, label=f"mean of {ns.shape[0]} replicates", gid="mean")
    ax.set_xlim(0, max(ns.shape[1] - 1, 1))
    ax.set_ylim(0, float(ns.max()) * 1.05 + 0.5)
    ax.set_xlabel("t")
    ax.set_ylabel("number of silos N(t)")
    _outside_legend(ax, fontsize="small")
    if title is not None:
        ax.set_title(title, fontsize="medium")
    return _finish(ax.figure, path, provenance)

"""Matplotlib figures for silo dynamics, parameter sweeps and perspectives.

Every function takes plain arrays, so the same call draws a proxy trajectory
(``traj.silos``) or an imported LLM log (labels = flower ids, ``label_names`` =
flower names). Every function returns the :class:`matplotlib.figure.Figure`
it drew on (single-panel functions accept ``ax=`` to draw into a grid) and,
given ``path``, saves it; the optional
``provenance`` dict (config, seed, version, wall time, command ...) is written
into the file's metadata as JSON (PNG text chunk ``provenance``).

Figures are built with :class:`matplotlib.figure.Figure` and an Agg canvas, not
with ``pyplot``: library code then never needs a display, never changes the
user's backend and never leaves figures open in pyplot's global registry. In a
notebook, show a returned figure with ``IPython.display.display(fig)``; to add
it to a pyplot session, draw into your own axes through the ``ax`` argument
of the single-panel functions.
"""
from __future__ import annotations

import json
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from gmmproxy._validation import as_float_array as _as_float_array
from gmmproxy.sweeps._summary import _as_results, sweep_summary  # re-exported: sweep_summary was defined here

__all__ = [
    "plot_silos",
    "plot_silo_membership",
    "plot_silo_sizes",
    "plot_n_silos",
    "plot_sweep",
    "plot_comparison",
    "plot_perspective",
    "plot_clusters",
    "save_figure",
]

# Colour map for silos: chosen by label so that a silo keeps its colour in
# every panel and figure that shows it.
_SILO_CMAP = "turbo"
_AGENT_CMAP = "hsv"
# Formats whose metadata can carry a free-text provenance entry, and the key used.
_PROVENANCE_KEY = {"png": "provenance", "svg": "Description", "pdf": "Subject"}


# --------------------------------------------------------------------------- #
# validation helpers
# --------------------------------------------------------------------------- #
def _as_silos(silos, name: str = "silos") -> np.ndarray:
    arr = np.asarray(silos)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(
            f"{name} must be an integer array of silo labels; got dtype {arr.dtype}"
        )
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must have shape (T+1, n_agents) (2 dimensions); got shape {arr.shape}"
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(
            f"{name} must hold at least one time and one agent; got shape {arr.shape}"
        )
    if arr.min() < 0:
        raise ValueError(f"{name} labels must be >= 0; got minimum {int(arr.min())}")
    return arr.astype(np.int64, copy=False)


def _check_ax(ax):
    if ax is not None and not hasattr(ax, "plot"):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")


def _label_name_lookup(label_names, labels: np.ndarray):
    """Return a function label -> display string, checking every label is named."""
    if label_names is None:
        return str
    if isinstance(label_names, Mapping):
        missing = [int(l) for l in labels if int(l) not in label_names]
        if missing:
            raise ValueError(
                f"label_names has no entry for silo label(s) {missing[:10]}; "
                f"it must name every label that occurs"
            )
        return lambda l: str(label_names[int(l)])
    if isinstance(label_names, (str, bytes)) or not isinstance(label_names, Sequence | np.ndarray):
        raise TypeError(
            "label_names must be a sequence indexed by label, a dict label -> name, or None; "
            f"got {type(label_names).__name__}"
        )
    top = int(labels.max())
    if len(label_names) <= top:
        raise ValueError(
            f"label_names must have more than {top} entries (the largest label); "
            f"got {len(label_names)}"
        )
    return lambda l: str(label_names[int(l)])


def _silo_colour(label: int):
    """Colour of a silo label. Labels are spread over the colour map by the
    golden ratio, so neighbouring labels (silos 16 and 17, say) get clearly
    different colours however many labels there are; the very dark ends of
    the map are avoided."""
    from matplotlib import colormaps

    cmap = colormaps[_SILO_CMAP]
    x = (int(label) * 0.6180339887498949) % 1.0
    return cmap(0.08 + 0.84 * x)


def _new_figure(nrows: int = 1, ncols: int = 1, *, figsize, height_ratios=None, **kwargs):
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    gridspec_kw = {"height_ratios": height_ratios} if height_ratios is not None else None
    axes = fig.subplots(nrows, ncols, squeeze=False, gridspec_kw=gridspec_kw, **kwargs)
    return fig, axes


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.random.SeedSequence):
        return {"entropy": obj.entropy, "spawn_key": list(obj.spawn_key)}
    return repr(obj)


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("gmmproxy")
    except Exception:  # not installed (run from a source tree)
        import gmmproxy

        return str(getattr(gmmproxy, "__version__", "unknown"))


def save_figure(fig, path, provenance=None, *, dpi: int = 150) -> Path:
    """Save ``fig`` to ``path`` with its provenance in the file metadata.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save.
    path : str or pathlib.Path
        Output file; the format follows the suffix (``.png``, ``.pdf``, ``.svg``
        carry provenance; other formats only when ``provenance`` is None).
        Missing parent directories are created.
    provenance : dict, optional
        JSON-serialisable description of how the figure was made (numpy arrays
        and scalars are converted). Stored as one JSON string: PNG text chunk
        ``provenance``, SVG ``Description``, PDF ``Subject``.
    dpi : int, default 150
        Resolution of raster formats.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or pathlib.Path; got {type(path).__name__}")
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if not fmt:
        raise ValueError(f"path must end in a file suffix such as .png; got {str(path)!r}")
    metadata = None
    if provenance is not None:
        if not isinstance(provenance, Mapping):
            raise TypeError(
                f"provenance must be a dict or None; got {type(provenance).__name__}"
            )
        if fmt not in _PROVENANCE_KEY:
            raise ValueError(
                f"provenance can only be stored in {sorted(_PROVENANCE_KEY)} files; "
                f"got path {str(path)!r}"
            )
        text = json.dumps(dict(provenance), default=_json_default, sort_keys=True)
        metadata = {_PROVENANCE_KEY[fmt]: text}
        if fmt in ("png", "pdf"):
            metadata["Creator" if fmt == "pdf" else "Software"] = f"gmmproxy {_package_version()}"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, metadata=metadata)
    return path


def _finish(fig, path, provenance):
    if path is not None:
        save_figure(fig, path, provenance)
    elif provenance is not None and not isinstance(provenance, Mapping):
        raise TypeError(f"provenance must be a dict or None; got {type(provenance).__name__}")
    return fig


# --------------------------------------------------------------------------- #
# silo panels
# --------------------------------------------------------------------------- #
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


# --------------------------------------------------------------------------- #
# sweeps
# --------------------------------------------------------------------------- #
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


# --------------------------------------------------------------------------- #
# proxy vs LLM
# --------------------------------------------------------------------------- #
def plot_comparison(proxy_silos, llm_silos, *, proxy_label_names=None, llm_label_names=None,
                    labels=("GMM proxy", "LLM"), title=None, path=None, provenance=None):
    """Proxy and LLM side by side: silo membership and number of silos over time.

    Parameters
    ----------
    proxy_silos, llm_silos : array_like of int, shape (T+1, n_agents)
        Silo labels of the two systems (their T and n may differ).
    proxy_label_names, llm_label_names : sequence or dict, optional
        Display names of each side's labels (e.g. flower names for the LLM).
    labels : (str, str)
        Column titles.
    title : str, optional
        Figure title.
    path : str or pathlib.Path, optional
        Save the figure there.
    provenance : dict, optional
        Written into the saved file's metadata.

    Returns
    -------
    matplotlib.figure.Figure
        2 x 2 axes: row 0 membership, row 1 number of silos (shared y);
        column 0 proxy, column 1 LLM.
    """
    p = _as_silos(proxy_silos, "proxy_silos")
    q = _as_silos(llm_silos, "llm_silos")
    if (not isinstance(labels, Sequence) or isinstance(labels, str) or len(labels) != 2
            or not all(isinstance(x, str) for x in labels)):
        raise ValueError(f"labels must be a pair of strings; got {labels!r}")
    named = max((np.unique(s).size for s, names in ((p, proxy_label_names), (q, llm_label_names))
                 if names is not None), default=0)
    fig, axes = _new_figure(2, 2, figsize=(11.0, 6.0 if named <= 15 else 8.0),
                            height_ratios=(1.0 if named <= 15 else 1.8, 1.0))
    for col, (s, names, lab) in enumerate(((p, proxy_label_names, labels[0]),
                                           (q, llm_label_names, labels[1]))):
        plot_silo_membership(s, axes[0, col], label_names=names, title=lab)
        plot_n_silos(s, axes[1, col], color="k")
    top = max(np.unique(row).size for s in (p, q) for row in s) + 1
    for col in range(2):
        axes[1, col].set_ylim(0, top)
    if title is not None:
        fig.suptitle(title)
    return _finish(fig, path, provenance)


# --------------------------------------------------------------------------- #
# perspective space
# --------------------------------------------------------------------------- #
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
    _check_ax(ax)
    if ax is None:
        fig, axes = _new_figure(figsize=(7.0, 4.0))
        ax = axes[0, 0]
    else:
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
        if label_names is not None or present.size <= 10:
            for l in present:
                ax.plot([], [], color=colours[l], label=name_of(l))
            ax.legend(fontsize="x-small", title=legend_title, title_fontsize="x-small",
                      loc="upper right", ncol=1 + present.size // 12)
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

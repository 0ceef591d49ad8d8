"""Sweep figures: replicate outcomes per value with a band (:func:`plot_sweep`), and from a sweep table a heat map over two parameters or lines with confidence bands over one."""
from __future__ import annotations

import numbers

import numpy as np

from gmmproxy.plotting._common import _as_float_array, _axes_or_new
from gmmproxy.plotting._save import _finish
from gmmproxy.sweeps._summary import _as_results, sweep_summary

__all__ = ["plot_sweep", "plot_sweep_heatmap", "plot_sweep_lines"]


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
    rng = np.random.default_rng(as_seed_sequence(seed))
    ax = _axes_or_new(ax, figsize=(5.0, 5.0))
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


# --------------------------------------------------------------------------- sweep tables
def _sweep_parameters(table) -> list[str]:
    manifest = getattr(table, "attrs", {}).get("manifest") or {}
    params = manifest.get("parameters")
    if params:
        return list(params)
    from gmmproxy.sweeps import ROW_COLUMNS

    return [c for c in table.columns if c not in ROW_COLUMNS]


def _select(table, names: list, stat: str, where):
    """The rows matching ``where``, after checking ``names`` and ``stat`` against the table."""
    from gmmproxy._names import canonical
    from gmmproxy.sweeps import STAT_COLUMNS

    if not hasattr(table, "groupby") or not hasattr(table, "columns"):
        raise TypeError(f"table must be a pandas DataFrame from gmmproxy.sweep / load_sweep; "
                        f"got {type(table).__name__}")
    params = _sweep_parameters(table)
    names = [canonical(n, params) for n in names]
    if len(set(names)) != len(names):
        raise ValueError(f"x and y must be different parameters; got {names}")
    if stat not in STAT_COLUMNS or stat not in table.columns:
        raise ValueError(f"stat must be one of {', '.join(STAT_COLUMNS)}; got {stat!r}")
    rows = table
    fixed = {}
    for raw, value in dict(where or {}).items():
        name = canonical(raw, params)
        col = rows[name]
        if np.issubdtype(col.dtype, np.number) and not np.issubdtype(col.dtype, np.bool_):
            mask = np.isclose(col.to_numpy(dtype=float), float(value), rtol=1e-9, atol=0)
        else:
            mask = (col.astype(str) == str(value)).to_numpy()
        if not mask.any():
            raise ValueError(f"where {name}={value!r} matches no cell; {name} takes "
                             f"{sorted(col.unique().tolist())}")
        rows = rows[mask]
        fixed[name] = value
    if len(rows) == 0:
        raise ValueError("the sweep table has no rows (no finished cell)")
    others = [p for p in params if p not in names and p not in fixed and rows[p].nunique() > 1]
    return rows, names, others, fixed


def _stat_label(stat: str) -> str:
    return stat + (" (replicates reaching it)" if stat == "time_to_single_silo" else "")


def plot_sweep_heatmap(table, x: str, y: str, stat: str = "silos_final", *, where=None, title=None,
                       cmap: str = "viridis", annotate: bool = True, ax=None, path=None, provenance=None):
    """Heat map of the mean of a per-replicate statistic over two swept parameters.

    Parameters
    ----------
    table : pandas.DataFrame
        A sweep table (:func:`gmmproxy.sweep`, :func:`gmmproxy.load_sweep`).
    x, y : str
        Swept parameters on the horizontal and vertical axes (API names or
        aliases such as ``neighbors``). Each distinct value is one column / row.
    stat : str, default "silos_final"
        A per-replicate statistic (:data:`gmmproxy.sweeps.STAT_COLUMNS`);
        ``time_to_single_silo`` averages over the replicates that reach one silo.
    where : dict, optional
        ``{parameter: value}`` fixing every other swept parameter.
    annotate : bool, default True
        Write each cell's mean in it.
    ax, path, provenance, title, cmap
        As for the other figures.

    Returns
    -------
    matplotlib.figure.Figure
        The image has gid ``"heatmap"``; its array is the (y, x) table of means.
    """
    rows, (x, y), others, fixed = _select(table, [x, y], stat, where)
    if others:
        raise ValueError(f"the sweep also varies {', '.join(others)}; fix them with where "
                         f"(--where NAME=VALUE) to draw a heat map of {x} x {y}")
    xs = np.sort(rows[x].unique())
    ys = np.sort(rows[y].unique())
    if len(xs) > 60 or len(ys) > 60:
        raise ValueError(f"a heat map needs few distinct values per axis (<= 60); {x} has {len(xs)}, "
                         f"{y} has {len(ys)} (a sampled design? plot lines over one parameter instead)")
    means = rows.groupby([y, x])[stat].mean()
    grid = np.full((len(ys), len(xs)), np.nan)
    for (yv, xv), m in means.items():
        grid[np.searchsorted(ys, yv), np.searchsorted(xs, xv)] = np.nan if m is None else float(m)
    ax = _axes_or_new(ax, figsize=(1.2 + 0.75 * max(len(xs), 4), 1.0 + 0.6 * max(len(ys), 4)))
    fig = ax.figure
    import matplotlib

    cm = matplotlib.colormaps[cmap].with_extremes(bad="lightgray")
    finite = grid[np.isfinite(grid)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if vmin == vmax:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    im = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", cmap=cm, vmin=vmin, vmax=vmax)
    im.set_gid("heatmap")
    ax.set_xticks(range(len(xs)), [f"{v:g}" if isinstance(v, (float, np.floating)) else str(v) for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:g}" if isinstance(v, (float, np.floating)) else str(v) for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    reps = rows.groupby([y, x]).size()
    cbar = fig.colorbar(im, ax=ax)
    cbar.set_label(f"mean {_stat_label(stat)}")
    if annotate:
        for i in range(len(ys)):
            for j in range(len(xs)):
                v = grid[i, j]
                if not np.isfinite(v):
                    ax.text(j, i, "n/a", ha="center", va="center", fontsize=8, color="black")
                    continue
                # dark text on the light end of the colour map, light text on the dark end
                lum = np.dot(cm((v - vmin) / (vmax - vmin))[:3], [0.299, 0.587, 0.114])
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=8,
                        color="black" if lum > 0.5 else "white")
    if title is None:
        n = int(reps.min()) if reps.min() == reps.max() else f"{reps.min()}-{reps.max()}"
        title = f"{n} replicates per cell" + "".join(f", {k}={v}" for k, v in fixed.items())
    ax.set_title(title)
    return _finish(fig, path, provenance)


def plot_sweep_lines(table, x: str, stat: str = "silos_final", *, where=None, level: float = 0.95,
                     title=None, ax=None, path=None, provenance=None):
    """Mean of a per-replicate statistic over one swept parameter, with a confidence band.

    One line per combination of the other swept parameters (at most 10).
    The band is the normal-approximation confidence interval of the mean,
    mean +- z SE with SE = sd (ddof=1) / sqrt(replicates). For a sampled
    design (random, lhs, sobol), where the other parameters vary from point
    to point, each design point is drawn at its ``x`` with its mean and
    interval as an error bar instead (gid ``"cells"``).

    Parameters
    ----------
    table : pandas.DataFrame
        A sweep table.
    x : str
        Swept parameter on the horizontal axis.
    stat : str, default "silos_final"
    where : dict, optional
        ``{parameter: value}`` restricting the rows.
    level : float, default 0.95
        Confidence level of the band, in (0, 1).
    title, ax, path, provenance
        As for the other figures.

    Returns
    -------
    matplotlib.figure.Figure
        Lines have gids ``"mean:<label>"``, bands ``"band:<label>"``.
    """
    from scipy.stats import norm

    if not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    rows, (x,), others, fixed = _select(table, [x], stat, where)
    design = ((getattr(table, "attrs", {}).get("manifest") or {}).get("design") or {}).get("kind")
    if design in ("random", "lhs", "sobol"):
        return _design_points(rows, x, stat, level, others, fixed, title, ax, path, provenance)
    groups = [((), rows)] if not others else list(rows.groupby(others, sort=True))
    if len(groups) > 10:
        raise ValueError(f"{len(groups)} combinations of {', '.join(others)} would be {len(groups)} lines "
                         f"(at most 10); fix some with where (--where NAME=VALUE)")
    z = float(norm.ppf(0.5 + level / 2))
    ax = _axes_or_new(ax, figsize=(6.4 if others else 5.0, 4.0))
    fig = ax.figure
    colors = _colors(len(groups))
    for (key, part), color in zip(groups, colors):
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{n}={v:g}" if isinstance(v, (float, np.floating)) else f"{n}={v}"
                          for n, v in zip(others, key)) or stat
        g = part.groupby(x)[stat]
        mean = g.mean().astype(float)
        count = g.count()
        sd = g.std(ddof=1).astype(float).fillna(0.0)
        se = sd / np.sqrt(count.clip(lower=1))
        xs = mean.index.to_numpy(dtype=float)
        ax.fill_between(xs, (mean - z * se).to_numpy(), (mean + z * se).to_numpy(), color=color,
                        alpha=0.2, linewidth=0, gid=f"band:{label}")
        ax.plot(xs, mean.to_numpy(), "-o", color=color, markersize=3.5, linewidth=1.8,
                label=label, gid=f"mean:{label}")
    # the whole swept range stays on the axis, also where no replicate has a value (a censored
    # time to one silo), and the reader is told where the line is missing and why
    all_x = np.sort(rows[x].unique().astype(float))
    if all_x.size > 1:
        pad = 0.04 * (all_x[-1] - all_x[0])
        ax.set_xlim(all_x[0] - pad, all_x[-1] + pad)
    if all_x.size <= 12:
        ax.set_xticks(all_x)
    has_value = rows.groupby(x)[stat].count()
    empty = [v for v in all_x if has_value.get(v, 0) == 0]
    if empty:
        ax.text(0.0, -0.22, f"no replicate has a value at {x} = " + ", ".join(f"{v:g}" for v in empty),
                transform=ax.transAxes, fontsize=8, va="top")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{_stat_label(stat)}\nmean $\\pm$ {level:.0%} CI")
    if others:
        # outside the axes, so it never covers data
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)
    if title is None:
        title = "".join(f"{k}={v}, " for k, v in fixed.items()) + f"{_stat_label(stat)} over {x}"
    ax.set_title(title, fontsize=10)
    return _finish(fig, path, provenance)


def _design_points(rows, x, stat, level, others, fixed, title, ax, path, provenance):
    """Sampled designs: one error bar (mean +- z SE of the cell's replicates) per design point."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2))
    g = rows.groupby("cell", sort=False)
    xs = g[x].first().to_numpy(dtype=float)
    mean = g[stat].mean().astype(float).to_numpy()
    count = g[stat].count().to_numpy()
    sd = g[stat].std(ddof=1).astype(float).fillna(0.0).to_numpy()
    se = sd / np.sqrt(np.maximum(count, 1))
    order = np.argsort(xs, kind="stable")
    ax = _axes_or_new(ax, figsize=(5.0, 4.0))
    fig = ax.figure
    ax.errorbar(xs[order], mean[order], yerr=z * se[order], fmt="o", markersize=3, color="tab:blue",
                ecolor="tab:blue", elinewidth=0.8, alpha=0.8, gid="cells")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{_stat_label(stat)}\nmean $\\pm$ {level:.0%} CI per design point")
    if title is None:
        varying = (f" ({', '.join(others)} {'vary' if len(others) > 1 else 'varies'} between points)"
                   if others else "")
        title = "".join(f"{k}={v}, " for k, v in fixed.items()) + f"{len(xs)} design points{varying}"
    ax.set_title(title, fontsize=10)
    return _finish(fig, path, provenance)


def _colors(n: int) -> list:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]

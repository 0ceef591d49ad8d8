"""Input checks and silo colours shared by the figure modules."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from gmmproxy._validation import as_float_array as _as_float_array  # noqa: F401  (used by the figure modules)

# Colour map for silos: chosen by label so that a silo keeps its colour in
# every panel and figure that shows it.
_SILO_CMAP = "turbo"
_AGENT_CMAP = "hsv"


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


def _axes_or_new(ax, figsize):
    """The axes a one-panel plot draws into: ``ax`` itself, or a new figure's only axes."""
    _check_ax(ax)
    if ax is None:
        from gmmproxy.plotting._save import _new_figure

        _, axes = _new_figure(figsize=figsize)
        ax = axes[0, 0]
    return ax


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


def _palette():
    """30 qualitative colours: tab20 (10 hues, dark and light) and tab20b (5 more hues, 2 shades each).

    A continuous map cannot give 30 colours a reader tells apart (neighbouring
    hues of "turbo" merge); qualitative sets can, and the figures add direct
    labels where lines end so that no reader has to match 30 shades.
    """
    from matplotlib import colormaps

    tab20, tab20b = colormaps["tab20"], colormaps["tab20b"]
    return [tab20(i) for i in range(20)] + [tab20b(i) for i in range(0, 20, 2)]


_PALETTE = None


def _silo_colour(label: int):
    """Colour of a silo label (the same in every panel and figure): label mod 30 in :func:`_palette`."""
    global _PALETTE
    if _PALETTE is None:
        _PALETTE = _palette()
    return _PALETTE[int(label) % len(_PALETTE)]


def _outside_legend(ax, *, title=None, fontsize="x-small", max_rows=16, fig=None):
    """The axes' legend to the right of the axes (of the whole figure with ``fig``), never over the data."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    ncol = 1 + (len(handles) - 1) // max_rows
    kw = dict(fontsize=fontsize, title=title, title_fontsize=fontsize, ncol=ncol, frameon=False,
              handlelength=1.5, columnspacing=1.0)
    if fig is not None:
        return fig.legend(handles, labels, loc="outside right upper", **kw)
    return ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kw)

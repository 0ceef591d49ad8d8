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

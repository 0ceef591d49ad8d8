"""Figure creation and saving with provenance in the file's metadata (:func:`save_figure`)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["save_figure"]

# Formats whose metadata can carry a free-text provenance entry, and the key used.
_PROVENANCE_KEY = {"png": "provenance", "svg": "Description", "pdf": "Subject"}


def _new_figure(nrows: int = 1, ncols: int = 1, *, figsize, height_ratios=None, **kwargs):
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    gridspec_kw = {"height_ratios": height_ratios} if height_ratios is not None else None
    axes = fig.subplots(nrows, ncols, squeeze=False, gridspec_kw=gridspec_kw, **kwargs)
    return fig, axes


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
        from gmmproxy._provenance import json_default, package_version

        try:
            text = json.dumps(dict(provenance), default=json_default, sort_keys=True)
        except TypeError as exc:  # checked before the figure is written
            raise TypeError(f"provenance must hold JSON data; {exc}") from None
        metadata = {_PROVENANCE_KEY[fmt]: text}
        if fmt in ("png", "pdf"):
            metadata["Creator" if fmt == "pdf" else "Software"] = f"gmmproxy {package_version()}"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, metadata=metadata)
    return path


def _finish(fig, path, provenance):
    if path is not None:
        save_figure(fig, path, provenance)
    elif provenance is not None and not isinstance(provenance, Mapping):
        raise TypeError(f"provenance must be a dict or None; got {type(provenance).__name__}")
    return fig

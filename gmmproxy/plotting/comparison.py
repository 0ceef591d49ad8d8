"""Side-by-side figure of a proxy run and an LLM run: silo membership and number of silos over time."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gmmproxy.plotting._common import _as_silos
from gmmproxy.plotting._save import _finish, _new_figure
from gmmproxy.plotting.silos import plot_n_silos, plot_silo_membership

__all__ = ["plot_comparison"]


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

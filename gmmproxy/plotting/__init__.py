"""Matplotlib figures for silo dynamics, parameter sweeps and perspectives.

One module per kind of figure: :mod:`.silos`, :mod:`.sweeps`, :mod:`.comparison`,
:mod:`.perspective`; :mod:`._save` saves a figure with its provenance.

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
from gmmproxy.plotting._save import save_figure
from gmmproxy.plotting.comparison import plot_comparison
from gmmproxy.plotting.perspective import plot_clusters, plot_perspective
from gmmproxy.plotting.silos import plot_n_silos, plot_silo_membership, plot_silo_sizes, plot_silos
from gmmproxy.plotting.sweeps import plot_sweep, plot_sweep_heatmap, plot_sweep_lines
from gmmproxy.sweeps._summary import sweep_summary  # noqa: F401  (a computation, defined with the sweeps; kept here for old imports)

__all__ = [
    "plot_silos",
    "plot_silo_membership",
    "plot_silo_sizes",
    "plot_n_silos",
    "plot_sweep",
    "plot_sweep_heatmap",
    "plot_sweep_lines",
    "plot_comparison",
    "plot_perspective",
    "plot_clusters",
    "save_figure",
]

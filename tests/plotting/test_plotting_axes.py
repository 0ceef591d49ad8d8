"""One-panel plots draw into the axes they are given, or into a new figure; anything else is refused."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from plotting_helpers import _random_silos

from gmmproxy import plotting
from gmmproxy.plotting._save import _new_figure

matplotlib.use("Agg")

_SILOS = _random_silos(T=12, n=6, seed=1)
_ONE_PANEL = {
    "plot_silo_membership": lambda ax: plotting.plot_silo_membership(_SILOS, ax),
    "plot_silo_sizes": lambda ax: plotting.plot_silo_sizes(_SILOS, ax),
    "plot_n_silos": lambda ax: plotting.plot_n_silos(_SILOS, ax),
    "plot_ensemble_n_silos": lambda ax: plotting.plot_ensemble_n_silos(np.array([[6, 4, 2], [6, 3, 3]]), ax),
    "plot_perspective": lambda ax: plotting.plot_perspective(np.random.default_rng(0).random((5, 4)), ax=ax),
    "plot_sweep": lambda ax: plotting.plot_sweep([0.0, 0.5], [np.array([1.0, 2.0]), np.array([2.0, 3.0])],
                                                 xlabel="p", ylabel="N", ax=ax),
}


@pytest.mark.parametrize("name", sorted(_ONE_PANEL))
def test_draws_into_the_given_axes(name):
    fig, axes = _new_figure(1, 2, figsize=(6, 3))
    out = _ONE_PANEL[name](axes[0, 1])
    assert out is fig  # the figure holding the given axes, not a new one
    assert axes[0, 1].has_data() and not axes[0, 0].has_data()


@pytest.mark.parametrize("name", sorted(_ONE_PANEL))
def test_new_figure_with_one_axes_when_none(name):
    fig = _ONE_PANEL[name](None)
    assert len(fig.axes) >= 1 and fig.axes[0].has_data()


@pytest.mark.parametrize("name", sorted(_ONE_PANEL))
def test_refuses_what_is_not_axes(name):
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes or None; got str"):
        _ONE_PANEL[name]("axes")

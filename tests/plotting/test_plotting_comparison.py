"""Tests of gmmproxy.plotting.comparison on synthetic arrays."""
from __future__ import annotations

import numpy as np
import pytest
from plotting_helpers import _by_gid, _random_silos

from gmmproxy import plotting


def test_plot_comparison_layout_and_counts():
    proxy = _random_silos(T=30, n=10, seed=1)
    llm = _random_silos(T=20, n=6, n_labels=4, seed=2)
    fig = plotting.plot_comparison(proxy, llm, llm_label_names=["a", "b", "c", "d"])
    assert len(fig.axes) == 4
    for ax, s in ((fig.axes[2], proxy), (fig.axes[3], llm)):
        (ln,) = _by_gid(ax, "n_silos")
        np.testing.assert_array_equal(ln.get_ydata(), [len(set(row)) for row in s])
    assert fig.axes[2].get_ylim() == fig.axes[3].get_ylim()
    assert fig.axes[0].get_title() == "GMM proxy" and fig.axes[1].get_title() == "LLM"
    with pytest.raises(TypeError, match="llm_silos"):
        plotting.plot_comparison(proxy, np.zeros((3, 3)))

"""Tests of saving figures with provenance (gmmproxy.plotting._save)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from plotting_helpers import _random_silos

from gmmproxy import plotting


def test_plot_silos_saves_png_with_provenance(tmp_path):
    s = _random_silos(T=8, n=4)
    prov = {"seed": 618327487, "means": np.arange(3.0), "p_mirror": np.float64(0.4), "cmd": "x"}
    out = tmp_path / "sub" / "fig.png"
    plotting.plot_silos(s, path=out, provenance=prov)
    img = Image.open(out)
    assert img.format == "PNG"
    stored = json.loads(img.text["provenance"])
    assert stored == {"seed": 618327487, "means": [0.0, 1.0, 2.0], "p_mirror": 0.4, "cmd": "x"}
    assert img.text["Software"].startswith("gmmproxy")


def test_provenance_needs_a_format_that_can_hold_it(tmp_path):
    fig = plotting.plot_silos(_random_silos(T=3, n=3))
    with pytest.raises(ValueError, match="provenance"):
        plotting.save_figure(fig, tmp_path / "a.jpg", {"seed": 1})
    with pytest.raises(TypeError, match="provenance must be a dict"):
        plotting.save_figure(fig, tmp_path / "a.png", ["seed"])
    plotting.save_figure(fig, tmp_path / "a.svg", {"seed": 1})
    assert "seed" in (tmp_path / "a.svg").read_text()

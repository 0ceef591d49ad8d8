"""One package version and one JSON policy for everything that saves results."""
import json
from pathlib import Path

import numpy as np
import pytest

import gmmproxy
from gmmproxy._provenance import json_default, package_version


def test_package_version_is_the_package_attribute():
    assert package_version() == gmmproxy.__version__
    try:
        from importlib.metadata import version

        assert package_version() == version("gmmproxy")
    except Exception:  # a source tree never pip-installed
        assert package_version() == "0.2.0+src"


def test_json_default_converts_result_values_and_refuses_the_rest():
    cfg = gmmproxy.SimulationConfig(n_agents=4, n_components=3, rag_size=2, sigma=0.5)
    ss = np.random.SeedSequence(7, spawn_key=(2,))
    text = json.dumps({"a": np.arange(3), "x": np.float32(0.5), "p": Path("/tmp/x"), "s": ss,
                       "cfg": cfg}, default=json_default)
    back = json.loads(text)
    assert back["a"] == [0, 1, 2] and back["x"] == 0.5 and back["p"] == "/tmp/x"
    assert np.random.SeedSequence(int(back["s"]["entropy"]),
                                  spawn_key=tuple(back["s"]["spawn_key"])).generate_state(4).tolist() \
        == ss.generate_state(4).tolist()
    assert back["cfg"] == json.loads(json.dumps(cfg.to_dict(), default=json_default))
    with pytest.raises(TypeError, match="object of type object is not JSON serialisable"):
        json.dumps({"o": object()}, default=json_default)


def test_figure_with_unserialisable_provenance_is_refused_before_writing(tmp_path):
    from gmmproxy.plotting import plot_silos

    path = tmp_path / "f.png"
    with pytest.raises(TypeError, match="provenance must hold JSON data"):
        plot_silos(np.zeros((3, 4), dtype=int), path=path, provenance={"o": object()})
    assert not path.exists()

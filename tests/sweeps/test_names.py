"""The one alias table of parameter names."""
import dataclasses

import pytest

import gmmproxy
from gmmproxy._names import ALIASES, CANONICAL, canonical


def test_canonical_names_are_the_config_fields():
    assert CANONICAL == tuple(f.name for f in dataclasses.fields(gmmproxy.SimulationConfig))
    assert set(ALIASES.values()) <= set(CANONICAL)


@pytest.mark.parametrize("given, name", [
    ("neighbors", "n_neighbors"), ("n_neighbors", "n_neighbors"), ("agents", "n_agents"),
    ("components", "n_components"), ("rag-size", "rag_size"), ("p-mirror", "p_mirror"), ("sigma", "sigma"),
])
def test_aliases_map_to_canonical(given, name):
    assert canonical(given) == name


def test_unknown_name_lists_allowed():
    with pytest.raises(ValueError, match=r"unknown parameter 'k'; allowed: n_agents, .*p_mirror") as e:
        canonical("k")
    assert "neighbors" in str(e.value)
    with pytest.raises(ValueError, match="allowed: sigma, p_mirror"):
        canonical("rag_size", allowed=("sigma", "p_mirror"))

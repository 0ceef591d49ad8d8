"""Sweep designs: grids and random / Latin hypercube / Sobol points over continuous and integer ranges."""
import itertools

import numpy as np
import pytest

from gmmproxy.sweeps import Grid, sample_design


def test_grid_is_the_full_product_last_name_fastest():
    g = Grid({"p_mirror": [0, 0.5], "neighbors": [1, 3, 7]})
    assert g.names == ["p_mirror", "n_neighbors"]
    assert [tuple(p.values()) for p in g.points()] == list(itertools.product([0, 0.5], [1, 3, 7]))


@pytest.mark.parametrize("values, match", [
    ({"neighbors": [1], "n_neighbors": [2]}, "n_neighbors.*twice"),
    ({"p_mirror": [0.1, 0.1]}, "0.1 twice"),
    ({"p_mirror": []}, "non-empty"),
    ({"k": [1]}, "unknown parameter 'k'"),
    ({"means": [1]}, "unknown parameter 'means'"),
    ({}, "non-empty dict"),
])
def test_bad_grids(values, match):
    with pytest.raises(ValueError, match=match):
        Grid(values)


def _slices(x, lo, hi, n):
    return np.floor((np.asarray(x) - lo) / (hi - lo) * n).astype(int)


def test_lhs_stratifies_every_range():
    n = 24  # 3 points per integer of 1..8
    d = sample_design("lhs", {"sigma": (0.05, 0.5), "rag_size": (1, 8)}, n, seed=4)
    pts = d.points()
    sig = [p["sigma"] for p in pts]
    assert all(0.05 <= s < 0.5 for s in sig)
    # one point in each of the n equal slices of the continuous range
    assert sorted(_slices(sig, 0.05, 0.5, n)) == list(range(n))
    counts = np.bincount([p["rag_size"] for p in pts], minlength=9)[1:]
    assert counts.tolist() == [3] * 8
    assert all(isinstance(p["rag_size"], int) for p in pts)


def test_sobol_balance_and_power_of_two():
    n = 32
    d = sample_design("sobol", {"p_mirror": (0.0, 1.0), "n_neighbors": (1, 4), "sigma": (0.1, 0.3)}, n, seed=1)
    pts = d.points()
    assert sorted(_slices([p["p_mirror"] for p in pts], 0, 1, n)) == list(range(n))
    assert sorted(_slices([p["sigma"] for p in pts], 0.1, 0.3, n)) == list(range(n))
    assert np.bincount([p["n_neighbors"] for p in pts])[1:].tolist() == [8] * 4
    # the first two Sobol coordinates form a (0, m, 2)-net in base 2: one point in each of
    # the 8 x 4 boxes (p_mirror slice, integer n_neighbors)
    boxes = {(a, b) for a, b in zip(_slices([p["p_mirror"] for p in pts], 0, 1, 8),
                                     [p["n_neighbors"] for p in pts])}
    assert len(boxes) == 32
    with pytest.raises(ValueError, match="power of 2.*got 24, use 16 or 32"):
        sample_design("sobol", {"sigma": (0.1, 0.2)}, 24)


def test_random_design_is_uniform_reproducible_and_inclusive():
    d = sample_design("random", {"sigma": (0.1, 0.3), "rag_size": (2, 4)}, 300, seed=9)
    again = sample_design("random", {"sigma": (0.1, 0.3), "rag_size": (2, 4)}, 300, seed=9)
    other = sample_design("random", {"sigma": (0.1, 0.3), "rag_size": (2, 4)}, 300, seed=10)
    assert d.points() == again.points() and d.points() != other.points()
    r = np.array([p["rag_size"] for p in d.points()])
    assert set(r) == {2, 3, 4}
    from scipy import stats

    sig = [p["sigma"] for p in d.points()]
    assert stats.kstest(sig, stats.uniform(0.1, 0.2).cdf).pvalue > 1e-3
    assert stats.chisquare(np.bincount(r)[2:]).pvalue > 1e-3


@pytest.mark.parametrize("kind, ranges, points, match", [
    ("grid", {"sigma": (0, 1)}, 4, "design must be one of"),
    ("lhs", {"rag_size": (1.0, 5.0, "float")}, 4, "integer parameter"),
    ("lhs", {"sigma": (0.5, 0.1)}, 4, "low < high"),
    ("lhs", {"sigma": (0.1, 0.5, "int")}, 4, "integer bounds"),
    ("lhs", {"update": (0, 1)}, 4, "not numeric"),
    ("lhs", {"rag_size": (1, 3)}, 4, "twice"),          # 4 points, only 3 integers: duplicates
    ("lhs", {"sigma": (0.1, 0.2)}, 0, "points must be"),
])
def test_bad_designs(kind, ranges, points, match):
    with pytest.raises(ValueError, match=match):
        sample_design(kind, ranges, points)


def test_design_round_trips_through_its_dict():
    from gmmproxy.sweeps._design import design_from_dict

    for d in (Grid({"p_mirror": [0, 1]}), sample_design("lhs", {"sigma": (0.1, 0.2), "rag_size": (1, 9)}, 8, 3)):
        assert design_from_dict(d.to_dict()).points() == d.points()

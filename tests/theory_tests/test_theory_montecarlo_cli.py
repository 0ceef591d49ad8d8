"""Monte-Carlo checks of Theorem 2 and the ``gmmproxy theory`` commands."""
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from gmmproxy.cli import main
from theory import bounds
from theory.montecarlo import (
    clopper_pearson_interval,
    reach_montecarlo,
    theorem2_montecarlo,
    wilson_interval,
    worst_case_start,
)
from theory.tables import paper_table

# --------------------------------------------------------------- intervals


def test_wilson_interval_reference_values():
    # closed form at k = 0: upper = z^2 / (n + z^2)
    z = stats.norm.ppf(0.975)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(z * z / (10 + z * z), rel=1e-12)
    lo, hi = wilson_interval(50, 100)
    half = z * math.sqrt(0.25 / 100 + z * z / 40000) / (1 + z * z / 100)
    assert (lo, hi) == pytest.approx((0.5 - half, 0.5 + half), rel=1e-12)


def test_clopper_pearson_reference_values():
    lo, hi = clopper_pearson_interval(0, 20, 0.95)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 20), rel=1e-10)
    lo, hi = clopper_pearson_interval(20, 20, 0.95)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 20), rel=1e-10)
    with pytest.raises(ValueError, match="successes must be <= trials"):
        clopper_pearson_interval(5, 4)


# --------------------------------------------------------------- Theorem 2 Monte Carlo


def test_worst_case_start_is_exactly_at_the_thresholds():
    lw = worst_case_start(6, 0.1, 1)  # delta_1 ~ 3.7e-44 at sigma = 0.1
    ld = -(1 / 0.01) - math.log1p(math.exp(-100.0))
    np.testing.assert_allclose(lw[:3, 1], ld, rtol=1e-15)
    np.testing.assert_allclose(lw[3:, 0], ld, rtol=1e-15)
    assert np.all(lw[:3, 0] < 0) and np.all(lw[:3, 0] > -1e-40)


@pytest.mark.parametrize("sigma", [0.1, 0.2, 0.25])
def test_montecarlo_at_least_bound_within_ci(sigma):
    res = theorem2_montecarlo(30, 5, 5, sigma, 1, 204, 1500, seed=11)
    assert not res.notes
    for name in ("remain", "reach", "draws_in_window"):
        est = res[name]
        assert est.high >= float(est.bound), (sigma, name)
        assert est.high >= float(est.sharp_bound), (sigma, name)
    # nesting of the events: E_{l+1} at T implies E_l at T
    assert res["reach"].successes <= res["remain"].successes


def test_montecarlo_lands_near_spec_8_4():
    # spec 8.4 (sigma = 0.2): P(remain) ~ 0.6529, P(reach) ~ 0.6337, P(all draws in window) ~ 0.0793
    res = theorem2_montecarlo(30, 5, 5, 0.2, 1, 204, 3000, seed=5)
    for name, want in (("remain", 0.6529), ("reach", 0.6337), ("draws_in_window", 0.0793)):
        est = res[name]
        sd = math.sqrt(want * (1 - want) / 3000)
        assert abs(est.estimate - want) < 4 * sd, (name, est.estimate)


def test_montecarlo_is_seed_reproducible_and_seed_sensitive():
    a = theorem2_montecarlo(10, 3, 3, 0.3, 1, 60, 400, seed=3)
    b = theorem2_montecarlo(10, 3, 3, 0.3, 1, 60, 400, seed=3)
    c = theorem2_montecarlo(10, 3, 3, 0.3, 1, 60, 400, seed=4)
    assert [e.successes for e in a.estimates] == [e.successes for e in b.estimates]
    assert [e.successes for e in a.estimates] != [e.successes for e in c.estimates]


def test_montecarlo_hypothesis_notes_and_given_start():
    res = theorem2_montecarlo(10, 3, 5, 0.3, 1, 20, 50, seed=0)  # poles 5/5, k = 5: not > k
    assert any("hypothesis fails" in n for n in res.notes)
    res = theorem2_montecarlo(10, 3, None, 0.3, 1, 20, 50, seed=0)
    assert any("no neighbour restriction" in n for n in res.notes)
    lw = worst_case_start(10, 0.3, 1, n_plus=7)
    rag = np.where(np.arange(10) < 7, 1.0, -1.0)[:, None].repeat(3, axis=1)
    res = theorem2_montecarlo(10, 3, 2, 0.3, 1, 50, 50, seed=0, init_log_weights=lw, init_rag=rag)
    assert res.parameters["pole_sizes"] == [7, 3]
    assert not res.notes
    res = theorem2_montecarlo(10, 3, 2, 0.3, 1, 20, 50, seed=0, init_log_weights=lw, init_rag=rag)
    assert res.notes == ("the reach bound is vacuous (negative) at T = 20 < m ln m",)
    # a start that is not polarized is flagged
    res = theorem2_montecarlo(10, 3, 2, 0.3, 1, 20, 50, seed=0, init_log_weights=lw,
                              init_rag=np.zeros((10, 3)))
    assert any("not level-1 polarized" in n for n in res.notes)


def test_reach_montecarlo_default_start():
    res = reach_montecarlo(6, 2, 0.3, (5 * 2 + 2) * 6, 400, seed=1)
    within, at_t = res["reached_within"], res["at_horizon"]
    assert at_t.successes <= within.successes
    assert at_t.bound is not None and at_t.high >= float(at_t.bound)  # Theorem 1's q
    assert within.estimate > 0.05
    reached = res.hit_times[res.hit_times >= 0]
    assert reached.size == within.successes and np.all(reached <= 72)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_agents=2), "n_agents must be >= 3"),
        (dict(rag_size=0), "rag_size must be >= 1"),
        (dict(sigma=0.0), "sigma must be > 0"),
        (dict(level=0), "level must be >= 1"),
        (dict(steps=-1), "steps must be >= 0"),
        (dict(replicates=0), "replicates must be >= 1"),
        (dict(n_neighbors=30), r"n_neighbors must be in \[1, 29\]"),
        (dict(n_plus=31), r"n_plus must be in \[0, 30\]"),
        (dict(confidence=1.5), r"confidence must be in \(0, 1\)"),
    ],
)
def test_montecarlo_validation(kwargs, match):
    args = dict(n_agents=30, rag_size=5, n_neighbors=5, sigma=0.2, level=1, steps=10, replicates=10, seed=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        theorem2_montecarlo(**args)


# --------------------------------------------------------------- CLI


def _run(args):
    return CliRunner().invoke(main, ["theory", *args])


@pytest.mark.parametrize("number", [1, 2, 3])
def test_cli_table_csv(number):
    out = _run(["table", str(number), "--format", "csv"])
    assert out.exit_code == 0, out.output
    assert out.output == paper_table(number).to_csv()
    assert out.output.startswith("sigma,1,2,3,4,5\n")


def test_cli_table_formats_and_file(tmp_path):
    assert "| sigma | l=1 |" in _run(["table", "2"]).output
    assert "\\begin{tabular}" in _run(["table", "3", "--format", "latex"]).output
    path = tmp_path / "t1.csv"
    out = _run(["table", "1", "--format", "csv", "--output", str(path)])
    assert out.exit_code == 0, out.output
    assert path.read_text() == paper_table(1).to_csv()
    meta = json.loads((tmp_path / "t1.csv.json").read_text())
    assert meta["parameters"]["table"] == 1 and "version" in meta
    md = tmp_path / "t1.md"
    _run(["table", "1", "--output", str(md)])
    assert md.read_text().startswith("<!-- {")


def test_cli_bounds_grid():
    out = _run(["bounds", "--agents", "30", "--sigma", "0.4,0.3,0.2,0.1,0.05", "--level", "1-5",
                "--horizon", "2*m*ln(m)", "--bound", "reach", "--format", "csv"])
    assert out.exit_code == 0, out.output
    assert out.output == paper_table(3).to_csv()
    out = _run(["bounds", "--agents", "12", "--sigma", "0.3", "--level", "1,3", "--horizon", "50",
                "--format", "csv"])
    assert out.output.splitlines()[0] == "sigma,1,3"
    val = float(out.output.splitlines()[1].split(",")[1])
    assert val == pytest.approx(float(bounds.remain_bound(0.3, 1, 50)), rel=1e-6)


@pytest.mark.parametrize(
    "args, message",
    [
        (["bounds", "--sigma", "0.3,-1"], "Error: sigma must be > 0; got -1.0"),
        (["bounds", "--sigma", "abc"], "Error: sigma must be a comma-separated list"),
        (["bounds", "--level", "0-2"], "Error: level must be >= 1; got 0"),
        (["bounds", "--level", "x"], "Error: level must be integers"),
        (["bounds", "--agents", "2"], "Error: n_agents must be >= 3; got 2"),
        (["bounds", "--horizon", "2*m*ln(m"], "Error: horizon '2*m*ln(m' cannot be parsed"),
        (["bounds", "--horizon", "-5"], "Error: horizon must be >= 0"),
        (["q", "--agents", "30", "--rag-size", "0", "--sigma", "0.2"], "Error: rag_size must be >= 1"),
        (["q", "--agents", "30", "--rag-size", "5", "--sigma", "0"], "Error: sigma must be > 0"),
        (["montecarlo", "--horizon", "-1", "--replicates", "10"], "Error: horizon must be >= 0"),
    ],
)
def test_cli_errors(args, message):
    out = _run(args)
    assert out.exit_code == 2
    assert message in out.output


def test_cli_q():
    out = _run(["q", "--agents", "30", "--rag-size", "5", "--sigma", "0.2"])
    assert out.exit_code == 0, out.output
    assert "reconstruction" in out.output
    assert "log10 q = -1602.80" in out.output and "log10 q = -1583.02" in out.output


def test_cli_montecarlo(tmp_path):
    args = ["montecarlo", "--agents", "30", "--rag-size", "5", "--neighbors", "5", "--sigma", "0.2",
            "--level", "1", "--horizon", "204", "--replicates", "500", "--seed", "0", "--format", "csv"]
    out = _run(args)
    assert out.exit_code == 0, out.output
    lines = [ln for ln in out.output.splitlines() if ln.startswith("0.2,")]
    assert [ln.split(",")[1] for ln in lines] == ["remain", "reach", "draws_in_window"]
    again = _run(args)
    assert [ln for ln in again.output.splitlines() if ln.startswith("0.2,")] == lines
    res = theorem2_montecarlo(30, 5, 5, 0.2, 1, 204, 500, seed=0)
    assert lines[0].split(",")[2] == f"{res['remain'].successes}/500"
    path = tmp_path / "mc.md"
    out = _run(args[:-2] + ["--output", str(path)])
    meta = json.loads((tmp_path / "mc.md.json").read_text())
    assert meta["parameters"]["cells"][0]["seed"]["entropy"] == "0"
    assert "remain" in path.read_text()


def test_cli_montecarlo_default_start():
    out = _run(["montecarlo", "--agents", "6", "--rag-size", "2", "--sigma", "0.3", "--start", "default",
                "--horizon", "(5*r+2)*m", "--replicates", "200"])
    assert out.exit_code == 0, out.output
    assert "reached_within" in out.output and "Thm 1 q [reconstruction]" in out.output


def test_cli_formula():
    out = _run(["formula", "rho"])
    assert out.exit_code == 0 and "erf" in out.output

"""The paper's Tables 1-3, digit for digit, and the wrong variants that must not match."""
import mpmath
import numpy as np
import pytest
from scipy import special

import theory
from theory.tables import bound_table, format_sci, paper_table

# printed values (spec 8.3), rows sigma, columns l = 1..5
PRINTED = {
    1: {
        0.3: ["2.984834e-45", "3.030700e-45", "3.030701e-45", "3.030701e-45", "3.030701e-45"],
        0.2: ["2.897895e-06"] * 5,
        0.1: ["9.994152e-01"] * 5,
        0.05: ["1.000000e+00"] * 5,
    },
    2: {
        0.4: ["6.188271e-22", "9.169169e-22", "9.176131e-22", "9.176144e-22", "9.176144e-22"],
        0.3: ["1.244469e-09", "1.248270e-09", "1.248270e-09", "1.248270e-09", "1.248270e-09"],
        0.2: ["7.805784e-02"] * 5,
        0.1: ["9.998830e-01"] * 5,
        0.05: ["1.000000e+00"] * 5,
    },
    3: {
        0.4: ["5.981996e-22", "8.863530e-22", "8.870260e-22", "8.870273e-22", "8.870273e-22"],
        0.3: ["1.202987e-09", "1.206661e-09", "1.206661e-09", "1.206661e-09", "1.206661e-09"],
        0.2: ["7.545591e-02"] * 5,
        0.1: ["9.665536e-01"] * 5,
        0.05: ["9.666667e-01"] * 5,
    },
}


def _printed_csv(number):
    lines = ["sigma,1,2,3,4,5"] + [f"{s!r}," + ",".join(v) for s, v in PRINTED[number].items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("number", [1, 2, 3])
def test_paper_tables_digit_for_digit(number):
    tab = paper_table(number)
    assert tab.sigmas == tuple(PRINTED[number])
    assert tab.levels == (1, 2, 3, 4, 5)
    for a, s in enumerate(tab.sigmas):
        for b in range(5):
            assert format_sci(tab.exact[a, b]) == PRINTED[number][s][b], (number, s, b + 1)
    assert tab.to_csv() == _printed_csv(number)
    # the float array agrees with the printed numbers to their precision
    printed = np.array([[float(v) for v in row] for row in PRINTED[number].values()])
    np.testing.assert_allclose(tab.values, printed, rtol=5e-7)


def test_seventy_cells_in_total():
    assert sum(paper_table(n).values.size for n in (1, 2, 3)) == 70


def _variant_table(number, step_factor, horizon_fn=lambda t: t, prefactor=None):
    """An independent float-free re-derivation with a pluggable (wrong) ingredient."""
    spec = theory.tables.PAPER_TABLES[number]
    out = {}
    with mpmath.workdps(40):
        t2 = 2 * 30 * mpmath.log(30)
        T = horizon_fn(t2 if spec["horizon"] == "2*m*ln(m)" else 5 * t2)
        for s in spec["sigmas"]:
            row = []
            for lv in range(1, 6):
                val = step_factor(mpmath.mpf(repr(s)), lv) ** T
                if spec["bound"] == "reach":
                    val *= prefactor(T) if prefactor else (1 - 30 * mpmath.exp(-T / 30))
                row.append(format_sci(val))
            out[s] = row
    return out


def _P(s):
    return mpmath.erf(1 / (2 * mpmath.sqrt(2) * s))


def test_independent_rederivation_reproduces_print():
    for number in (1, 2, 3):
        assert _variant_table(number, lambda s, lv: _P(s) * mpmath.exp(-mpmath.exp(-lv / s**2))) == PRINTED[number]


WRONG = {
    "exact factor (1 - delta_l)": dict(step_factor=lambda s, lv: _P(s) / (1 + mpmath.exp(-lv / s**2))),
    "e^{-l/s^2} used as delta_l": dict(step_factor=lambda s, lv: _P(s) * (1 - mpmath.exp(-lv / s**2))),
    "one-sided window": dict(step_factor=lambda s, lv: mpmath.ncdf(1 / (2 * s)) * mpmath.exp(-mpmath.exp(-lv / s**2))),
    "T rounded up": dict(step_factor=lambda s, lv: _P(s) * mpmath.exp(-mpmath.exp(-lv / s**2)),
                         horizon_fn=mpmath.ceil),
    "T rounded down": dict(step_factor=lambda s, lv: _P(s) * mpmath.exp(-mpmath.exp(-lv / s**2)),
                           horizon_fn=mpmath.floor),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_variants_do_not_reproduce(name):
    mismatches = sum(
        a != b
        for number in (1, 2, 3)
        for s, row in _variant_table(number, **WRONG[name]).items()
        for a, b in zip(row, PRINTED[number][s])
    )
    assert mismatches >= 1, name


def test_exact_factor_variant_values_from_spec():
    # spec 8.3: the exact factor changes exactly these cells
    t2 = paper_table(2, factor="exact")
    t3 = paper_table(3, factor="exact")
    t1 = paper_table(1, factor="exact")
    assert format_sci(t2.cell(0.4, 1)) == "6.190622e-22"
    assert format_sci(t3.cell(0.4, 1)) == "5.984268e-22"
    assert format_sci(t1.cell(0.3, 1)) == "2.984835e-45"
    changed = sum(format_sci(t.exact[a, b]) != PRINTED[n][s][b]
                  for n, t in ((1, t1), (2, t2), (3, t3))
                  for a, s in enumerate(t.sigmas) for b in range(5))
    assert changed == 3


def test_coupon_prefactor_variant_does_not_reproduce_table3():
    t3 = paper_table(3, prefactor="coupon")
    assert format_sci(t3.cell(0.05, 1)) != PRINTED[3][0.05][0]
    T = 2 * 30 * np.log(30)
    assert float(t3.cell(0.05, 1)) == pytest.approx(1 - 30 * (1 - 1 / 30) ** T, rel=1e-12)
    assert float(t3.cell(0.05, 1)) == pytest.approx(0.9703, abs=5e-5)


def test_custom_grid_and_float_crosscheck():
    tab = bound_table(12, [0.5, 0.25], [1, 3], "3*m", bound="reach")
    assert tab.values.shape == (2, 2)
    for a, s in enumerate([0.5, 0.25]):
        for b, lv in enumerate([1, 3]):
            P = special.erf(1 / (2 * np.sqrt(2) * s))
            want = (1 - 12 * np.exp(-3)) * (P * np.exp(-np.exp(-lv / s**2))) ** 36
            assert tab.values[a, b] == pytest.approx(want, rel=1e-12)


def test_tiny_values_keep_their_digits():
    tab = bound_table(30, [0.6], [1], "100*m*ln(m)")
    assert tab.values[0, 0] == 0.0 or tab.values[0, 0] < 1e-300  # beyond float64
    assert format_sci(tab.exact[0, 0]).endswith(f"e{int(mpmath.floor(mpmath.log10(tab.exact[0, 0])))}")
    assert np.isfinite(tab.log10_values[0, 0])


def test_formats():
    tab = paper_table(2)
    md = tab.to_markdown()
    assert "| 0.4 | 6.188271e-22 |" in md and "l=5" in md
    tex = tab.to_latex()
    assert "$6.188271 \\times 10^{-22}$" in tex and tex.startswith("\\begin{tabular}")
    assert tab.format("csv") == tab.to_csv()
    with pytest.raises(ValueError, match="format must be one of"):
        tab.format("html")


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: paper_table(4), "number must be 1, 2 or 3"),
        (lambda: bound_table(2, [0.3], [1], "10"), "n_agents must be >= 3"),
        (lambda: bound_table(30, [0.0], [1], "10"), "sigma must be > 0"),
        (lambda: bound_table(30, [0.3], [0], "10"), "level must be >= 1"),
        (lambda: bound_table(30, [0.3], [1], "-1"), "horizon must be >= 0"),
        (lambda: bound_table(30, [0.3], [1], "2*m*lnn(m)"), "cannot be parsed"),
        (lambda: bound_table(30, [0.3], [1], "10", bound="stay"), "bound must be one of"),
        (lambda: bound_table(30, [], [1], "10"), "sigmas must hold"),
    ],
)
def test_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_format_sci_matches_printf_for_floats():
    rng = np.random.default_rng(0)
    for x in 10.0 ** rng.uniform(-300, 300, 200) * rng.uniform(1, 9.99, 200):
        assert format_sci(mpmath.mpf(x)) == f"{x:.6e}"
    assert format_sci(mpmath.mpf("1e-1600")) == "1.000000e-1600"
    assert format_sci(0) == "0.000000e+00"

"""Tables of the Theorem-2 bounds: the paper's Tables 1-3 and any grid.

A :class:`BoundTable` holds the values (exact mpf and float64), its row
labels (sigma) and column labels (level l), and renders itself as CSV,
Markdown or LaTeX. Numbers are printed like the paper: ``%.6e`` (7
significant digits), computed from the 60-digit mpf values so that values
far below the float64 range (1e-1600) print correctly too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import mpmath
import numpy as np
from mpmath import mp

from theory import bounds
from theory._validate import DPS, check_agents, check_choice, check_level, check_sigma
from theory.horizon import parse_horizon

FORMATS = ("markdown", "csv", "latex")

# The paper's three tables (spec 8.2): m = 30, T = 10 m ln m or 2 m ln m.
PAPER_TABLES = {
    1: dict(bound="remain", horizon="10*m*ln(m)", sigmas=(0.3, 0.2, 0.1, 0.05)),
    2: dict(bound="remain", horizon="2*m*ln(m)", sigmas=(0.4, 0.3, 0.2, 0.1, 0.05)),
    3: dict(bound="reach", horizon="2*m*ln(m)", sigmas=(0.4, 0.3, 0.2, 0.1, 0.05)),
}
PAPER_AGENTS = 30
PAPER_LEVELS = (1, 2, 3, 4, 5)


def format_sci(x, digits=7):
    """``x`` in the C ``%.{digits-1}e`` style, from an mpf of any magnitude.

    ``format_sci(mpf('2.9848344e-45'))`` -> ``'2.984834e-45'``; works for
    ``1e-1600`` where a float would underflow.
    """
    with mp.workdps(DPS):
        x = mpmath.mpf(x)
        if x == 0:
            return f"{0:.{digits - 1}e}"
        sign = "-" if x < 0 else ""
        a = abs(x)
        exp10 = int(mpmath.floor(mpmath.log10(a)))
        mant = a / mpmath.mpf(10) ** exp10
        scaled = int(mpmath.nint(mant * 10 ** (digits - 1)))
        if scaled >= 10**digits:  # rounding carried into a new digit (9.9999995 -> 10.00000)
            scaled //= 10
            exp10 += 1
        elif scaled < 10 ** (digits - 1):  # log10 landed just below an exact power of ten
            scaled = int(mpmath.nint(a / mpmath.mpf(10) ** (exp10 - 1) * 10 ** (digits - 1)))
            exp10 -= 1
        digits_str = str(scaled)
        body = digits_str[0] + ("." + digits_str[1:] if digits > 1 else "")
        esign = "-" if exp10 < 0 else "+"
        return f"{sign}{body}e{esign}{abs(exp10):02d}"


def _sigma_label(s):
    return repr(float(s)) if not isinstance(s, str) else s


@dataclass(frozen=True)
class BoundTable:
    """A grid of Theorem-2 bounds: rows sigma, columns level l.

    Attributes
    ----------
    values : ndarray (n_sigma, n_level) of float64
        The bounds as floats (0.0 where they underflow float64; see ``exact``).
    exact : ndarray (n_sigma, n_level) of mpmath.mpf
        The bounds to 60 significant digits.
    sigmas, levels : tuple
        Row and column labels.
    bound : {"remain", "reach"}
    n_agents : int
    horizon : mpmath.mpf
        T (real).
    horizon_text : str
        The formula T came from.
    factor, prefactor : str
        Which variant (see :mod:`theory.bounds`).
    title : str
    """

    values: np.ndarray
    exact: np.ndarray
    sigmas: tuple
    levels: tuple
    bound: str
    n_agents: int
    horizon: object
    horizon_text: str
    factor: str
    prefactor: str
    title: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def log10_values(self) -> np.ndarray:
        """``log10`` of each bound as float64 (``nan`` never: -inf for 0, error if vacuous)."""
        return np.array([[float(bounds.log10(v)) for v in row] for row in self.exact])

    def cell(self, sigma, level):
        """The exact value at row ``sigma``, column ``level``."""
        i = [float(s) for s in self.sigmas].index(float(sigma))
        return self.exact[i, list(self.levels).index(level)]

    def to_csv(self) -> str:
        """Header ``sigma,1,2,...`` then one row per sigma, values ``%.6e``."""
        lines = ["sigma," + ",".join(str(lv) for lv in self.levels)]
        for s, row in zip(self.sigmas, self.exact):
            lines.append(_sigma_label(s) + "," + ",".join(format_sci(v) for v in row))
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        head = "| sigma | " + " | ".join(f"l={lv}" for lv in self.levels) + " |"
        sep = "|---|" + "---|" * len(self.levels)
        rows = [
            f"| {_sigma_label(s)} | " + " | ".join(format_sci(v) for v in row) + " |"
            for s, row in zip(self.sigmas, self.exact)
        ]
        cap = f"{self.title}\n\n" if self.title else ""
        return cap + "\n".join([head, sep, *rows]) + "\n"

    def to_latex(self) -> str:
        def tex(v):
            mant, e = format_sci(v).split("e")
            return f"${mant} \\times 10^{{{int(e)}}}$"

        cols = "c" * len(self.levels)
        out = [
            "\\begin{tabular}{c|" + cols + "}",
            "$\\sigma$ & " + " & ".join(f"$\\ell={lv}$" for lv in self.levels) + " \\\\",
            "\\hline",
        ]
        for s, row in zip(self.sigmas, self.exact):
            out.append(f"{_sigma_label(s)} & " + " & ".join(tex(v) for v in row) + " \\\\")
        out.append("\\end{tabular}")
        return "\n".join(out) + "\n"

    def format(self, fmt="markdown") -> str:
        """Render as ``"markdown"``, ``"csv"`` or ``"latex"``."""
        check_choice(fmt, "format", FORMATS)
        return {"markdown": self.to_markdown, "csv": self.to_csv, "latex": self.to_latex}[fmt]()

    def parameters(self) -> dict:
        """JSON-friendly description of what was computed (for provenance)."""
        with mp.workdps(DPS):
            return {
                "kind": "theorem2_bound_table",
                "title": self.title,
                "bound": self.bound,
                "n_agents": self.n_agents,
                "sigmas": [_sigma_label(s) for s in self.sigmas],
                "levels": list(self.levels),
                "horizon": self.horizon_text,
                "horizon_value": mpmath.nstr(self.horizon, 20),
                "factor": self.factor,
                "prefactor": self.prefactor if self.bound == "reach" else None,
                **self.extra,
            }


def bound_table(n_agents, sigmas, levels, horizon, bound="remain", factor="exponential",
                prefactor="exponential", title=""):
    """Theorem-2 bounds on a grid.

    Parameters
    ----------
    n_agents : int
        m >= 3 (enters the horizon formula and the reach prefactor).
    sigmas : sequence of float
        Row labels, each > 0.
    levels : sequence of int
        Column labels, each >= 1.
    horizon : str or float
        T, a number or a formula in m such as ``"2*m*ln(m)"`` (see
        :func:`theory.horizon.parse_horizon`).
    bound : {"remain", "reach"}
        Theorem 2 (i) or (ii).
    factor : {"exponential", "exact"}
    prefactor : {"exponential", "coupon"}
        Only used by ``bound="reach"``.
    title : str

    Returns
    -------
    BoundTable
    """
    m = check_agents(n_agents)
    check_choice(bound, "bound", ("remain", "reach"))
    check_choice(factor, "factor", bounds.FACTORS)
    check_choice(prefactor, "prefactor", bounds.PREFACTORS)
    sigmas = tuple(sigmas)
    levels = tuple(levels)
    if not sigmas:
        raise ValueError("sigmas must hold at least one value; got none")
    if not levels:
        raise ValueError("levels must hold at least one value; got none")
    for s in sigmas:
        check_sigma(s)
    levels = tuple(check_level(lv) for lv in levels)
    text = horizon if isinstance(horizon, str) else repr(horizon)
    t = parse_horizon(horizon, m)
    exact = np.empty((len(sigmas), len(levels)), dtype=object)
    for a, s in enumerate(sigmas):
        for b, lv in enumerate(levels):
            exact[a, b] = bounds.theorem2_bound(bound, m, s, lv, t, factor, prefactor)
    values = np.array([[float(v) for v in row] for row in exact], dtype=float)
    return BoundTable(values=values, exact=exact, sigmas=sigmas, levels=levels, bound=bound,
                      n_agents=m, horizon=t, horizon_text=text, factor=factor,
                      prefactor=prefactor, title=title)


def paper_table(number, factor="exponential", prefactor="exponential"):
    """The paper's Table ``number`` (1, 2 or 3), recomputed (spec 8.2-8.3).

    Table 1: (i) remain, T = 10 m ln m; Table 2: (i) remain, T = 2 m ln m;
    Table 3: (ii) reach level l+1, T = 2 m ln m; m = 30, l = 1..5. With the
    default options all 70 cells equal the printed values to 7 digits; the
    ``factor``/``prefactor`` switches give the sharper variants for comparison.

    Returns
    -------
    BoundTable
        ``.values`` (float array), ``.sigmas`` (rows), ``.levels`` (columns).
    """
    if isinstance(number, bool) or number not in PAPER_TABLES:
        raise ValueError(f"number must be 1, 2 or 3; got {number!r}")
    spec = PAPER_TABLES[number]
    what = "remain at level l" if spec["bound"] == "remain" else "reach level l+1"
    title = f"Table {number}: Theorem 2 lower bound, {what}, m = 30, T = {spec['horizon']}"
    tab = bound_table(PAPER_AGENTS, spec["sigmas"], PAPER_LEVELS, spec["horizon"], spec["bound"],
                      factor, prefactor, title)
    return tab


def write_table_file(text, path, parameters, fmt):
    """Write ``text`` to ``path`` with provenance.

    A sidecar ``<path>.json`` always holds the parameters and package
    version; Markdown and LaTeX files also get a comment header. CSV files are
    left exactly in the ``sigma,1,2,...`` layout so they compare digit for digit.
    """
    from gmmproxy.chain import _package_version

    prov = {"parameters": parameters, "version": _package_version(), "format": fmt}
    header = ""
    if fmt == "markdown":
        header = "<!-- " + json.dumps(prov) + " -->\n"
    elif fmt == "latex":
        header = "% " + json.dumps(prov) + "\n"
    from gmmproxy._outputs import atomic_write

    atomic_write(path, lambda fh: fh.write((header + text).encode("utf-8")))
    atomic_write(str(path) + ".json", lambda fh: fh.write(json.dumps(prov, indent=2).encode("utf-8")))
    return prov




def format_rows(header, rows, fmt="markdown"):
    """Render a plain table of strings (``header`` list, ``rows`` list of lists)."""
    check_choice(fmt, "format", FORMATS)
    if fmt == "csv":
        return "\n".join(",".join(map(str, line)) for line in [header, *rows]) + "\n"
    if fmt == "markdown":
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
        return "\n".join(out) + "\n"
    esc = [h.replace("_", "\\_") for h in header]
    out = ["\\begin{tabular}{" + "l" * len(header) + "}", " & ".join(esc) + " \\\\", "\\hline"]
    out += [" & ".join(str(c).replace("_", "\\_") for c in row) + " \\\\" for row in rows]
    out.append("\\end{tabular}")
    return "\n".join(out) + "\n"


__all__ = ["BoundTable", "bound_table", "paper_table", "format_sci", "write_table_file", "format_rows",
           "PAPER_TABLES", "FORMATS"]

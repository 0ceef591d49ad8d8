"""``gmmproxy theory``: analytic bounds and their Monte-Carlo checks from the shell.

Registered by ``gmmproxy.cli`` as the lazily loaded group ``theory``. A
``ValueError`` raised here is printed by the top-level group as one line
``Error: ...`` with exit status 2.
"""
from __future__ import annotations

import sys
import time

import click
import mpmath

FORMAT_OPTION = click.option(
    "--format", "fmt", type=click.Choice(["markdown", "csv", "latex"]), default="markdown",
    show_default=True, help="Output format.",
)
_OUTPUT = click.option(
    "--output", "output", type=click.Path(dir_okay=False), default=None,
    help="Write to this file (plus FILE.json with the parameters, seed and version) instead of stdout.",
)
_FORCE = click.option("--force", is_flag=True, help="Replace output files that already exist.")


def OUTPUT_OPTION(func):  # noqa: N802 (used as a decorator like click's)
    """``--output FILE`` and ``--force``."""
    return _OUTPUT(_FORCE(func))


def _check_output(output, force):
    """Check ``--output`` (and its ``.json`` sidecar) before any work."""
    if output is None:
        return
    from gmmproxy._outputs import check_output

    check_output(output, option="--output", force=force)
    check_output(str(output) + ".json", option="--output", force=force)


def parse_sigmas(text):
    """``"0.4,0.3"`` -> (0.4, 0.3); every value must be > 0."""
    from theory._validate import check_sigma

    out = []
    for item in str(text).split(","):
        item = item.strip()
        try:
            val = float(item)
        except ValueError:
            raise ValueError(f"sigma must be a comma-separated list of numbers > 0; got {text!r}") from None
        check_sigma(val)
        out.append(val)
    return tuple(out)


def parse_levels(text):
    """``"1-5"`` -> (1, 2, 3, 4, 5); ``"1,3"`` -> (1, 3); every level >= 1."""
    from theory._validate import check_level

    out = []
    for item in str(text).split(","):
        item = item.strip()
        try:
            if "-" in item[1:]:
                lo, hi = item.split("-", 1) if not item.startswith("-") else (item, "")
                lo, hi = int(lo), int(hi)
                if hi < lo:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(item))
        except ValueError:
            raise ValueError(f"level must be integers >= 1 like '1-5' or '1,2,3'; got {text!r}") from None
    return tuple(check_level(lv) for lv in out)


def _emit(text, output, parameters, fmt):
    if output is None:
        click.echo(text, nl=False)
        return
    from theory.tables import write_table_file

    write_table_file(text, output, parameters, fmt)
    click.echo(f"wrote {output} (+ {output}.json)", err=True)


@click.group(name="theory")
def theory_group():
    """Polarization bounds of the paper (Theorems 1 and 2) and Monte-Carlo checks."""


@theory_group.command("table")
@click.argument("number", type=click.IntRange(1, 3))
@FORMAT_OPTION
@click.option("--factor", type=click.Choice(["exponential", "exact"]), default="exponential",
              show_default=True, help="Per-step factor: the paper's exp(-e^{-l/s^2}) or the sharper 1 - delta_l.")
@click.option("--prefactor", type=click.Choice(["exponential", "coupon"]), default="exponential",
              show_default=True, help="Table 3 prefactor: 1 - m e^{-T/m} (paper) or 1 - m (1-1/m)^T.")
@OUTPUT_OPTION
def table_command(number, fmt, factor, prefactor, output, force):
    """The paper's Table NUMBER (1, 2 or 3), recomputed to 7 digits."""
    from theory.tables import paper_table

    _check_output(output, force)
    tab = paper_table(number, factor=factor, prefactor=prefactor)
    _emit(tab.format(fmt), output, {"table": number, **tab.parameters()}, fmt)


@theory_group.command("bounds")
@click.option("--n-agents", "--agents", "n_agents", type=int, default=30, show_default=True, help="Number of agents m (>= 3).")
@click.option("--sigma", "sigma", default="0.4,0.3,0.2,0.1,0.05", show_default=True,
              help="Comma-separated sigma values (rows).")
@click.option("--level", "level", default="1-5", show_default=True, help="Levels (columns): '1-5' or '1,2,3'.")
@click.option("--horizon", "horizon", default="2*m*ln(m)", show_default=True,
              help="T: a number or a formula in m, e.g. '2*m*ln(m)'.")
@click.option("--bound", "bound", type=click.Choice(["remain", "reach"]), default="remain", show_default=True,
              help="Theorem 2 (i) remain at level l, or (ii) reach level l+1.")
@click.option("--factor", type=click.Choice(["exponential", "exact"]), default="exponential", show_default=True)
@click.option("--prefactor", type=click.Choice(["exponential", "coupon"]), default="exponential",
              show_default=True)
@FORMAT_OPTION
@OUTPUT_OPTION
def bounds_command(n_agents, sigma, level, horizon, bound, factor, prefactor, fmt, output, force):
    """Theorem 2 lower bounds on a grid of sigma (rows) and level (columns)."""
    from theory.tables import bound_table

    _check_output(output, force)
    tab = bound_table(n_agents, parse_sigmas(sigma), parse_levels(level), horizon, bound, factor, prefactor)
    _emit(tab.format(fmt), output, tab.parameters(), fmt)


@theory_group.command("q")
@click.option("--n-agents", "--agents", "n_agents", type=int, required=True, help="Number of agents m (>= 3).")
@click.option("--rag-size", "rag_size", type=int, required=True, help="RAG size r (>= 1).")
@click.option("--sigma", "sigma", type=float, required=True, help="Component standard deviation (> 0).")
def q_command(n_agents, rag_size, sigma):
    """Theorem 1's constant q = Lemma 1 x Lemma 2 (a reconstruction), in log10."""
    from theory import bounds

    T = bounds.theorem1_horizon(n_agents, rag_size)
    ln10 = mpmath.log(10)
    click.echo(f"Theorem 1 [reconstruction]: P(E_1 after (5r+2)m = {T} steps | any state) >= q")
    click.echo(f"m = {n_agents}, r = {rag_size}, sigma = {sigma}, P_sigma = "
               f"{mpmath.nstr(bounds.p_window(sigma), 10)}")
    for reading in bounds.LEMMA2_READINGS:
        l1 = bounds.log_lemma1(n_agents, rag_size, sigma) / ln10
        l2 = bounds.log_lemma2(n_agents, rag_size, sigma, reading) / ln10
        q = bounds.theorem1_q(n_agents, rag_size, sigma, reading)
        label = "main reading" if reading == "other-sender" else "alternative reading"
        click.echo(f"[{reading}, {label}] log10 q = {mpmath.nstr(l1 + l2, 8)}  "
                   f"(log10 L1 = {mpmath.nstr(l1, 8)}, log10 L2 = {mpmath.nstr(l2, 8)}); "
                   f"q = {mpmath.nstr(q, 7)}")


def _consistent_cell(est):
    if est.bound is None:
        return ""
    if not est.applies:
        return "n/a"  # hypotheses fail (see the notes): the bound is shown for comparison only
    return "yes" if est.consistent else "NO"


def _mc_rows(results):
    from theory.tables import format_sci

    header = ["sigma", "event", "count", "estimate", "ci_low", "ci_high", "bound", "slack",
              "sharper_bound", "bound_name", "consistent"]
    rows = []
    for sigma, res in results:
        for est in res.estimates:
            rows.append([
                repr(sigma), est.name, f"{est.successes}/{est.trials}", f"{est.estimate:.5g}",
                f"{est.low:.5g}", f"{est.high:.5g}",
                "" if est.bound is None else format_sci(est.bound, 4),
                "" if est.slack is None else f"{est.slack:.4g}",
                "" if est.sharp_bound is None else format_sci(est.sharp_bound, 4),
                est.bound_name,
                _consistent_cell(est),
            ])
    return header, rows


@theory_group.command("montecarlo")
@click.option("--n-agents", "--agents", "n_agents", type=int, default=30, show_default=True, help="Number of agents m (>= 3).")
@click.option("--rag-size", "rag_size", type=int, default=5, show_default=True, help="RAG size r (>= 1).")
@click.option("--n-neighbors", "--neighbors", "n_neighbors", type=int, default=None,
              help="k: sender among the k nearest agents (Theorem 2's hypothesis). Omit: uniform sender.")
@click.option("--sigma", "sigma", default="0.2", show_default=True, help="Comma-separated sigma values.")
@click.option("--level", "level", type=int, default=1, show_default=True, help="Starting level l (>= 1).")
@click.option("--horizon", "horizon", default="2*m*ln(m)", show_default=True,
              help="T: a number or a formula in m and r; rounded down to whole steps.")
@click.option("--replicates", type=int, default=10000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--start", "start", type=click.Choice(["worst-case", "default"]), default="worst-case",
              show_default=True,
              help="worst-case: level-l poles at the thresholds (Theorem 2); default: Algorithm-1-like start, "
                   "estimate P(reach level l within T) (Theorem 1).")
@click.option("--n-plus", "n_plus", type=int, default=None, help="Worst-case start: size of the +1 pole (default m//2).")
@click.option("--start-level", "start_level", type=int, default=None,
              help="Worst-case start: put the weights at this level's thresholds (default --level).")
@click.option("--rag-start", "rag_start", type=click.Choice(["windows", "means"]), default="windows",
              show_default=True, help="Worst-case start: RAG uniform in the windows or at the means.")
@click.option("--confidence", type=float, default=0.95, show_default=True)
@click.option("--interval", type=click.Choice(["wilson", "clopper-pearson"]), default="wilson", show_default=True)
@FORMAT_OPTION
@OUTPUT_OPTION
def montecarlo_command(n_agents, rag_size, n_neighbors, sigma, level, horizon, replicates, seed, start,
                       n_plus, start_level, rag_start, confidence, interval, fmt, output, force):
    """Monte-Carlo estimates of the bounded probabilities, side by side with the bounds."""
    from theory.horizon import horizon_steps
    from theory.montecarlo import reach_montecarlo, theorem2_montecarlo
    from theory.tables import format_rows

    _check_output(output, force)
    steps = horizon_steps(horizon, n_agents, rag_size)
    sigmas = parse_sigmas(sigma)
    if start != "worst-case" and (n_plus is not None or start_level is not None):
        raise ValueError("--n-plus and --start-level only apply to --start worst-case")
    progress = sys.stderr.isatty()
    t0 = time.perf_counter()
    results = []
    try:
        for s in sigmas:
            if start == "worst-case":
                res = theorem2_montecarlo(n_agents, rag_size, n_neighbors, s, level, steps, replicates, seed,
                                          n_plus=n_plus, start_level=start_level, rag_start=rag_start,
                                          confidence=confidence, interval=interval, progress=progress)
            else:
                res = reach_montecarlo(n_agents, rag_size, s, steps, replicates, seed, level=level,
                                       n_neighbors=n_neighbors, confidence=confidence, interval=interval,
                                       progress=progress)
            results.append((s, res))
            if res.parameters.get("interrupted"):
                break
    except KeyboardInterrupt:
        # Ctrl-C before any replicate of this sigma finished: report the sigmas already done
        if not results:
            raise
    if len(results) < len(sigmas):
        click.echo(f"interrupted: {len(results)} of {len(sigmas)} sigma values reported", err=True)
    wall = time.perf_counter() - t0
    header, rows = _mc_rows(results)
    text = format_rows(header, rows, fmt)
    notes = []
    for s, res in results:
        notes += [f"sigma={s}: {n}" for n in res.notes]
        if "median_hit_time" in res.parameters and res.parameters["median_hit_time"] is not None:
            notes.append(f"sigma={s}: median hitting time of E_{level} (among chains that reached it): "
                         f"{res.parameters['median_hit_time']:g} steps")
    head = (f"m={n_agents} r={rag_size} k={n_neighbors} l={level} T={steps} steps "
            f"(horizon {horizon!r}) replicates={replicates} seed={seed} start={start} "
            f"{int(confidence * 100)}% {interval} intervals; {wall:.2f} s")
    if fmt == "markdown":
        text = head + "\n\n" + text + "".join(f"\n- {n}" for n in notes) + ("\n" if notes else "")
    params = {"command": "montecarlo", "horizon": horizon, "cells": [res.parameters for _, res in results],
              "notes": notes}
    _emit(text, output, params, fmt)
    if fmt != "markdown" and output is None:
        click.echo(head, err=True)
        for n in notes:
            click.echo(n, err=True)
    if len(results) < len(sigmas) or any(res.parameters.get("interrupted") for _, res in results):
        sys.exit(130)  # interrupted: what finished is reported above, as for simulate --replicates


@theory_group.command("formula")
@click.argument("name")
def formula_command(name):
    """Print the LaTeX of a symbolic form (rho, remain, reach, q, lemma1, ...)."""
    from theory.symbolic import latex

    click.echo(latex(name))


__all__ = ["theory_group", "parse_sigmas", "parse_levels"]

"""The calibration report: posterior pairs plot, N(t) grid, validation table, and what the proxy can and cannot follow."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gmmproxy._outputs import atomic_write

__all__ = ["plot_pairs", "plot_nt_grid", "validation_markdown", "write_report"]


def _savefig(fig, path):
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    atomic_write(path, lambda fh: fig.savefig(fh, format=fmt, dpi=130, bbox_inches="tight"))


def plot_pairs(result, path):
    """Pairs plot of the weighted posterior (histograms on the diagonal, prior range as axis limits)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    def _log_axis(axis):
        # few plain-number ticks instead of crowded 3x10^-1 labels
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=6))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())

    names = list(result.model.free)
    df = result.posterior
    w = df["weight"].to_numpy(float)
    m = len(names)
    fig, axes = plt.subplots(m, m, figsize=(2.3 * m + 0.5, 2.3 * m + 0.5), squeeze=False)
    for a, ya in enumerate(names):
        for b, xb in enumerate(names):
            ax = axes[a, b]
            lo_b, hi_b = result.model.priors[xb]
            log_b = result.model.prior_scale(xb) == "log"
            if a == b:
                bins = np.geomspace(lo_b, hi_b, 21) if log_b else np.linspace(lo_b, hi_b, 21)
                ax.hist(df[xb], bins=bins, weights=w, color="C0", alpha=0.8)
                ax.set_yticks([])
            elif a > b:
                ax.scatter(df[xb], df[ya], s=8 + 400 * w, alpha=0.5, color="C0", edgecolor="none")
                lo_a, hi_a = result.model.priors[ya]
                ax.set_ylim(lo_a, hi_a)
                if result.model.prior_scale(ya) == "log":
                    ax.set_yscale("log")
                    _log_axis(ax.yaxis)
            else:
                ax.axis("off")
                continue
            ax.set_xlim(lo_b, hi_b)
            if log_b:
                ax.set_xscale("log")
                _log_axis(ax.xaxis)
            if a == m - 1:
                ax.set_xlabel(xb)
            else:
                ax.set_xticklabels([])
            if b == 0 and a > 0:
                ax.set_ylabel(ya)
            elif a != b:
                ax.set_yticklabels([])
    fig.suptitle("Posterior (axes span the prior; point size ~ weight)")
    fig.tight_layout()
    _savefig(fig, path)
    plt.close(fig)


def plot_nt_grid(result, observed, path, *, draws=100, seed=0):
    """N(t) per condition: LLM replicates, calibrated 90% predictive band and median, baseline mean."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from gmmproxy.bridge.calibration.model import BASELINE
    from gmmproxy.bridge.calibration.simulator import simulate_silos
    from gmmproxy.metrics import n_silos

    conds = [oc.condition for oc in observed]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 21]))
    thetas = result.sample(draws, rng)
    sim = simulate_silos(result.model, thetas, conds, 1, result.geometry, np.random.SeedSequence([seed, 22]))
    base = simulate_silos(BASELINE, [{}], conds, 100, result.geometry, np.random.SeedSequence([seed, 23]))[0]
    ps = sorted({c.p_mirror for c in conds})
    ks = sorted({c.n_neighbors for c in conds})
    # a p x k grid when each (p, k) is one condition (the flower design); otherwise one panel per
    # condition in rows of at most 4, titled with n and T where those differ
    grid = len({(c.p_mirror, c.n_neighbors) for c in conds}) == len(conds)
    if grid:
        rows, cols = len(ps), len(ks)
        where = [(ps.index(c.p_mirror), ks.index(c.n_neighbors)) for c in conds]
    else:
        cols = min(4, len(conds))
        rows = -(-len(conds) // cols)
        where = [divmod(c, cols) for c in range(len(conds))]
    show_n = len({c.n_agents for c in conds}) > 1
    show_T = len({c.n_steps for c in conds}) > 1
    # wide enough for the legend's 4 columns under a single panel
    fig, axes = plt.subplots(rows, cols, figsize=(max(3.2 * cols, 7.5), 2.7 * rows), squeeze=False, sharey=True)
    n_max = max(c.n_agents for c in conds)
    ticks = [v for v in (1, 2, 5, 10, 20, 30, 50, 100, 200, 500, 1000, 2000, 5000) if v <= n_max] or [1]
    for c, oc in enumerate(observed):
        cond = oc.condition
        row, col = where[c]
        ax = axes[row, col]
        first = c == 0  # legend entries once
        t = np.arange(cond.n_steps)
        curves = np.stack([n_silos(sim[a][c][0]) for a in range(len(thetas))])
        lo, med, hi = np.quantile(curves, [0.05, 0.5, 0.95], axis=0)
        ax.fill_between(t, lo, hi, color="C0", alpha=0.25, lw=0, label="calibrated 90% band" if first else None)
        ax.plot(t, med, color="C0", lw=1.5, label="calibrated median" if first else None)
        ax.plot(t, n_silos(base[c]).mean(axis=0), color="C3", lw=1.5, ls="--",
                label="paper's proxy (mean)" if first else None)
        for r, s in enumerate(oc.silos):
            ax.plot(t, n_silos(s), color="k", lw=0.8, alpha=0.7, label="LLM runs" if first and r == 0 else None)
        title = f"p = {cond.p_mirror:g}, k = {cond.n_neighbors}"
        title += f", n = {cond.n_agents}" if show_n else ""
        title += f", T = {cond.n_steps}" if show_T else ""
        ax.set_title(title, fontsize=10)
        ax.set_yscale("log")
        ax.set_yticks(ticks)
        ax.set_yticklabels([str(v) for v in ticks])
        ax.set_xlim(0, cond.n_steps - 1)
        if col == 0:
            ax.set_ylabel("silos N(t)")
        if row == rows - 1 or (not grid and c + cols >= len(conds)):
            ax.set_xlabel("step t")
    for row in range(rows):  # unused cells of the last row
        for col in range(cols):
            if (row, col) not in where:
                axes[row, col].set_visible(False)
    handles, labels = axes[where[0]].get_legend_handles_labels()
    legend_height = 0.6 / fig.get_figheight()  # inches of one legend row, as a figure fraction
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False)
    fig.tight_layout(rect=(0, legend_height, 1, 1))
    _savefig(fig, path)
    plt.close(fig)


def validation_markdown(table: dict) -> str:
    """The validation table as Markdown (headline statistic and N(10) of every condition, plus the score)."""
    conds = table["conditions"]
    # columns for n and T only where the conditions differ in them (the flower design has one of each)
    extra = [key for key in ("n_agents", "n_steps") if len({c.get(key) for c in conds}) > 1]
    head = "".join(f" {'n' if key == 'n_agents' else 'T'} |" for key in extra)
    lines = ["| p | k |" + head + " runs | headline | LLM mean [min, max] | calibrated mean [90% band] | inside | "
             "paper's proxy | LLM N(10) | calibrated N(10) [band] | inside |",
             "|---|---|" + "---|" * len(extra) + "---|---|---|---|---|---|---|---|---|"]
    for c in conds:
        h = c["headline"]
        s = c["statistics"][h]
        n = c["statistics"].get("n_silos_t10")
        cens = ""
        if h == "time_to_single_silo" and c["statistics"][h].get("censored_runs"):
            cens = f" ({c['statistics'][h]['censored_runs']} censored)"
        row = (f"| {c['p_mirror']:g} | {c['n_neighbors']} |" + "".join(f" {c[key]} |" for key in extra)
               + f" {c['replicates']} | {h} | "
               f"{s['observed_mean']:.2f} [{s['observed_min']:.0f}, {s['observed_max']:.0f}]{cens} | "
               f"{s['predicted_mean']:.2f} [{s['predicted_lo']:.2f}, {s['predicted_hi']:.2f}] | "
               f"{'yes' if s['inside'] else 'no'} | {s['baseline_mean']:.2f} | ")
        if n is not None:
            row += (f"{n['observed_mean']:.2f} | {n['predicted_mean']:.2f} [{n['predicted_lo']:.2f}, "
                    f"{n['predicted_hi']:.2f}] | {'yes' if n['inside'] else 'no'} |")
        else:
            row += " | | |"
        lines.append(row)
    sc = table["score"]
    sm = table["summary"]
    lines.append("")
    lines.append(f"Headline statistic inside the 90% band: {sm['headline_inside']}/{sm['conditions']}; "
                 f"N(10): {sm['n_silos_t10_inside']}/{sm['conditions']}. Score (mean |error| in units of the "
                 f"LLM's replicate spread; lower is better): calibrated {sc['calibrated']:.2f}, "
                 f"paper's proxy {sc['baseline']:.2f} (ratio {sc['calibrated'] / sc['baseline']:.2f}).")
    return "\n".join(lines)


def _loco_markdown(loco) -> str:
    lines = ["| left out p | k | headline | LLM mean | predicted mean [90% band] | inside | LLM N(10) | "
             "predicted N(10) [band] | inside |", "|---|---|---|---|---|---|---|---|---|"]
    for e in loco:
        h = e["headline"]
        s = e["statistics"][h]
        n = e["statistics"].get("n_silos_t10")
        if n is None:  # runs shorter than 11 steps: N(10) unknown
            n = {"observed_mean": float("nan"), "predicted_mean": float("nan"), "predicted_lo": float("nan"),
                 "predicted_hi": float("nan"), "inside": False}
        lines.append(f"| {e['p_mirror']:g} | {e['n_neighbors']} | {h} | {s['observed_mean']:.2f} | "
                     f"{s['predicted_mean']:.2f} [{s['predicted_lo']:.2f}, {s['predicted_hi']:.2f}] | "
                     f"{'yes' if s['inside'] else 'no'} | {n['observed_mean']:.2f} | {n['predicted_mean']:.2f} "
                     f"[{n['predicted_lo']:.2f}, {n['predicted_hi']:.2f}] | {'yes' if n['inside'] else 'no'} |")
    hits = sum(e["statistics"][e["headline"]]["inside"] for e in loco)
    n10 = sum(e["statistics"]["n_silos_t10"]["inside"] for e in loco if "n_silos_t10" in e["statistics"])
    lines.append("")
    lines.append(f"Left-out condition's headline inside its band: {hits}/{len(loco)}; N(10): {n10}/{len(loco)}.")
    return "\n".join(lines)


def _plain_words(summ, loco) -> str:
    """The plain-words paragraph; posterior values and leave-one-out misses from the result."""
    med = {k: v["median"] for k, v in summ.items()}
    post = []
    if "rag_size" in med:
        post.append(f"r at {int(med['rag_size'] + 0.5)} (the LLM agents remember one sentence)"
                    if int(med["rag_size"] + 0.5) == 1 else f"r at {int(med['rag_size'] + 0.5)}")
    if "sigma" in med:
        post.append(f"sigma small (about {med['sigma']:.2f}: a point is about one topic)")
    if "time_scale" in med:
        post.append(f"about {med['time_scale']:.1f} proxy actions per LLM step")
    if "p_exponent" in med:
        post.append(f"a mild mirroring map (p_proxy = p^{med['p_exponent']:.2f})")
    misses = []
    for e in loco or []:
        h = e["headline"]
        st = e["statistics"][h]
        if not st["inside"]:
            misses.append(f"p = {e['p_mirror']:g}, k = {e['n_neighbors']}: {h} {st['predicted_mean']:.1f} "
                          f"predicted against {st['observed_mean']:.1f} observed")
    if loco:
        loco_text = ("Left out of the fit, " + ("; ".join(misses) if misses else
                     "every condition's headline statistic is inside its band") + ".")
    else:
        loco_text = ""
    return f"""\
**What the proxy gets right, and where it cannot follow.** At the level of flower labels the LLM
system is label copying with a one-sentence memory: an agent either keeps its flower (mirroring) or
takes the flower of a neighbour in answer-embedding space. The calibrated proxy is the same process
once the partner answers from its *current* weights (the paper's partner answers from weights
pseudo-updated with the querier's own point, so with a small RAG it mostly echoes the querier back
and a switch needs several exchanges). With that change, a small RAG and a small sigma, the proxy
follows the time scale (one silo within 10-20 steps at k = 15), the freezing into several silos at
k = 1 and k = 5, the slower consensus at larger p, and -- what the paper's proxy gets backwards --
k = 15 reaching one silo faster than k = 25: in weight space, as in embedding space, members of one
silo are each other's nearest neighbours, so with k = 15 a silo of more than 15 agents only copies
from itself while small silos are forced to copy from outside. The posterior puts {", ".join(post)}.
Where it cannot follow: the neighbourhood geometry. LLM agents look for neighbours among answer
embeddings in which some flowers are near many others; on the proxy's 1-d line of topics every topic
has two neighbours. {loco_text} Label statistics also cannot see answers that drift within a flower,
or anything about the wording beyond the flower an answer names."""


def _copy_markdown(table) -> str:
    """Observed and predicted copy_switch_rate per condition (where the logs carry mirror flags)."""
    rows = [c for c in table["conditions"] if "copy_switch_rate" in c["statistics"]]
    if not rows:
        return "The logs carry no mirror flags: copy_switch_rate was not used."
    lines = ["| p | k | LLM copy_switch_rate (min-max) | predicted [90% band] | inside |", "|---|---|---|---|---|"]
    for c in rows:
        s = c["statistics"]["copy_switch_rate"]
        lines.append(f"| {c['p_mirror']:g} | {c['n_neighbors']} | {s['observed_mean']:.3f} "
                     f"({s['observed_min']:.3f}-{s['observed_max']:.3f}) | {s['predicted_mean']:.3f} "
                     f"[{s['predicted_lo']:.3f}, {s['predicted_hi']:.3f}] | {'yes' if s['inside'] else 'no'} |")
    return "\n".join(lines)


def write_report(result, out_dir, *, seed=0, draws=200) -> Path:
    """Write report.md, pairs.png, nt_grid.png and validation.json into out_dir; returns report.md's path."""
    from gmmproxy.bridge.calibration.validate import validate

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_pairs(result, out_dir / "pairs.png")
    plot_nt_grid(result, result.observed, out_dir / "nt_grid.png", seed=seed)
    table = validate(result, draws=draws, seed=seed)
    atomic_write(out_dir / "validation.json", lambda fh: fh.write(json.dumps(table, indent=1).encode("utf-8")))
    summ = result.summary()
    info = result.info
    lines = ["# Calibration of the GMM proxy to logged LLM runs", "",
             f"{len(result.observed)} conditions, {sum(oc.replicates for oc in result.observed)} runs. "
             f"Model: free {', '.join(result.model.free)}; partner answers from its "
             f"{'current' if result.model.answer_from == 'current' else 'pseudo-updated'} weights; "
             f"fixed {', '.join(f'{k} = {v:g}' for k, v in result.model.fixed.items())}.",
             f"ABC-SMC: {info.get('generations')} generations of {info.get('population_size')} particles, "
             f"{sum(info.get('simulations', []))} simulations of {info.get('replicates')} replicates per "
             f"condition, final threshold {info.get('epsilons', [float('nan')])[-1]:.3g}, "
             f"seed {info.get('seed')}, {info.get('wall_time_total', info.get('wall_time', 0)):.0f} s"
             f"{' (interrupted)' if info.get('interrupted') else ''}.", "",
             "## Posterior", "", "| parameter | median | 5% | 95% | prior |", "|---|---|---|---|---|"]
    for k, v in summ.items():
        lo, hi = result.model.priors[k]
        lines.append(f"| {k} | {v['median']:.3g} | {v['q05']:.3g} | {v['q95']:.3g} | "
                     f"{result.model.prior_scale(k)}-uniform [{lo:g}, {hi:g}] |")
    lines += ["", "![posterior pairs plot](pairs.png)", "",
              "## N(t): LLM runs, calibrated predictive band, the paper's proxy", "", "![N(t) grid](nt_grid.png)",
              "", "## Validation on the fitted runs", "", validation_markdown(table), "",
              "Switches among copying (not mirrored) steps, from the logs' mirror flags "
              "(`copy_switch_rate`, part of the fit's distance, not of the score):", "", _copy_markdown(table), ""]
    if result.loco:
        lm = info.get("loco", {})
        how = (f"rejection ABC on one shared table of {lm.get('simulations')} prior draws, keeping the "
               f"{lm.get('accept')} nearest to the other conditions" if lm.get("method") == "reference"
               else "a smaller ABC-SMC")
        lines += ["## Leave one condition out", "",
                  f"Refit without the condition ({how}), then predict it:", "",
                  _loco_markdown(result.loco), ""]
    lines += ["## In plain words", "", _plain_words(summ, result.loco), ""]
    path = out_dir / "report.md"
    atomic_write(path, lambda fh: fh.write("\n".join(lines).encode("utf-8")))
    return path

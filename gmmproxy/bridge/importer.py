"""Import the published CSV logs of the flower experiment into our log format.

The published runs (McGuinness et al. 2024, as released with the GMM-proxy paper) come as
two CSV files per run: ``output{P}_{K}_{V}.csv`` (steps 0-39) and
``output{P}_{K}_{V}_2nd.csv`` (steps 40-79), with ``P = 10 * p``, ``K`` the number of
nearest neighbours and ``V`` the replicate. Each file has a header row ``,0,1,...,n-1``
(agent ids) and one row per step whose first field is the step within the file and whose
other cells are the Python repr of a one-element list holding the answer text.

The CSVs carry no partner or mirror columns, but the mirror decisions can be recovered:
the authors' script seeded NumPy's legacy generator with 2024 at the start of each file
and drew ``binomial(1, p, n)`` once per step (1 = mirror). Draw ``j`` of a file is the
decision of the update after the file's step ``j`` (answer at ``t`` -> memory -> answer
at ``t + 1``). :func:`recover_published_mirrors` rebuilds these flags and keeps them only
where the data confirm them (a mirrored update never changes an agent's flower).
"""
from __future__ import annotations

import ast
import csv
import datetime as _dt
import os
import re

import numpy as np

from gmmproxy._validation import check_float, check_int
from gmmproxy.bridge.flowers import extract_flower
from gmmproxy.llm.log import LogWriter

__all__ = [
    "PUBLISHED_NAME",
    "parse_published_name",
    "find_published_runs",
    "read_published_csv",
    "import_published_run",
    "import_published",
    "PUBLISHED_MIRROR_SEED",
    "published_mirror_draws",
    "recover_published_mirrors",
]

#: Seed the authors' script gave ``np.random.seed`` at the start of each CSV file.
PUBLISHED_MIRROR_SEED = 2024

#: File-name pattern of the published CSVs: groups P, K, V and the optional "_2nd".
PUBLISHED_NAME = re.compile(r"^output(\d+)_(\d+)_(\d+)(_2nd)?\.csv$")

# What the README of the published data says about how they were produced.
_PUBLISHED_META = {
    "backend": "published",
    "model": "llama-2-7b-chat",
    "temperature": 0.75,
    "prompt_template": "Describe the prettiest flower in one sentence starting with "
                       "'The prettiest flower is', using your memory sentence as context.",
    "neighbor_embedder": "nomic-embed-text-v1.5",
    "embedder": None,
    "source": "published-csv",
    "start_time": None,  # unknown for published runs; the import time is recorded apart
}


def parse_published_name(filename):
    """Parse a published file name.

    Returns
    -------
    tuple (P, K, V, second_half) or None
        ``None`` when the name does not follow ``output{P}_{K}_{V}[_2nd].csv``.
    """
    m = PUBLISHED_NAME.match(os.path.basename(os.fspath(filename)))
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4) is not None


def find_published_runs(paths) -> dict:
    """Group published CSV files into runs.

    Parameters
    ----------
    paths : iterable of str or os.PathLike
        Files and/or directories (directories are scanned, not recursively, for
        files named like the published CSVs; other files in them are ignored).

    Returns
    -------
    dict
        ``(P, K, V) -> (first_half_path, second_half_path)``, sorted by key.

    Raises
    ------
    ValueError
        If a path does not exist, a file given explicitly has a foreign name, no run is
        found, or a run lacks one of its two halves.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    halves: dict = {}
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            candidates = [os.path.join(p, f) for f in sorted(os.listdir(p))
                          if parse_published_name(f) is not None]
        elif os.path.isfile(p):
            if parse_published_name(p) is None:
                raise ValueError(f"path {p!r} is not a published flower CSV "
                                 "(expected output{P}_{K}_{V}.csv or output{P}_{K}_{V}_2nd.csv)")
            candidates = [p]
        else:
            raise ValueError(f"path {p!r} does not exist")
        for c in candidates:
            P, K, V, second = parse_published_name(c)
            halves.setdefault((P, K, V), [None, None])[int(second)] = c
    if not halves:
        raise ValueError(f"paths contain no published flower CSV files; got {list(paths)!r}")
    runs = {}
    for key in sorted(halves):
        first, second = halves[key]
        if first is None or second is None:
            P, K, V = key
            missing = f"output{P}_{K}_{V}.csv" if first is None else f"output{P}_{K}_{V}_2nd.csv"
            raise ValueError(f"run P={P}, K={K}, V={V} is missing its other half {missing!r} "
                             "(both halves are needed to join the 80 steps)")
        runs[key] = (first, second)
    return runs


def read_published_csv(path) -> list[list[str]]:
    """Read one published CSV into a list (steps) of lists (agents) of answer texts.

    Raises
    ------
    ValueError
        On any deviation from the published layout (header, step numbering, cells).
    """
    path = os.fspath(path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise ValueError(f"published CSV {path!r} is empty")
    header = rows[0]
    n = len(header) - 1
    if n < 1 or header[0] != "" or header[1:] != [str(i) for i in range(n)]:
        raise ValueError(f"published CSV {path!r} must start with the header ',0,1,...,n-1'")
    steps = []
    for j, row in enumerate(rows[1:]):
        if not row:
            continue
        if len(row) != n + 1 or row[0] != str(j):
            raise ValueError(f"published CSV {path!r}: row {j + 2} must be step {j} with "
                             f"{n} agent cells; got step {row[0]!r} with {len(row) - 1} cells")
        texts = []
        for a, cell in enumerate(row[1:]):
            try:
                value = ast.literal_eval(cell)
            except (ValueError, SyntaxError):
                value = None
            if not (isinstance(value, list) and len(value) == 1 and isinstance(value[0], str)):
                raise ValueError(f"published CSV {path!r}: step {j}, agent {a} is not the repr "
                                 f"of a one-element list of str; got {cell[:60]!r}")
            texts.append(value[0])
        steps.append(texts)
    if not steps:
        raise ValueError(f"published CSV {path!r} has no steps")
    return steps


def published_mirror_draws(p_mirror: float, n_agents: int, n_draws: int,
                           seed: int = PUBLISHED_MIRROR_SEED) -> np.ndarray:
    """The mirror draws of one published CSV file, as the authors' script made them.

    Parameters
    ----------
    p_mirror : float
        Mirroring probability, in [0, 1].
    n_agents : int
        Number of agents (>= 1); one draw per agent per step.
    n_draws : int
        Number of steps drawn (>= 0).
    seed : int
        Seed of NumPy's legacy generator (the script used 2024).

    Returns
    -------
    ndarray of int64, shape (n_draws, n_agents)
        Row ``j`` is ``binomial(1, p_mirror, n_agents)`` drawn ``j``-th after
        ``np.random.seed(seed)``; 1 means the agent mirrors.
    """
    p_mirror = check_float("p_mirror", p_mirror, 0.0, 1.0)
    n_agents = check_int("n_agents", n_agents, 1)
    n_draws = check_int("n_draws", n_draws, 0)
    # the legacy RandomState stream is frozen by NumPy's compatibility policy, so these
    # are the script's numbers on any NumPy version
    rs = np.random.RandomState(seed)
    out = np.empty((n_draws, n_agents), dtype=np.int64)
    for j in range(n_draws):
        out[j] = rs.binomial(1, p_mirror, n_agents)
    return out


def _count_violations(flags, changed, checkable):
    return int(np.count_nonzero(flags & changed & checkable))


def recover_published_mirrors(labels, p_mirror: float, file_steps, *,
                              seed: int = PUBLISHED_MIRROR_SEED, alpha: float = 0.01):
    """Recover the mirror flags of a published run and check them against its labels.

    Parameters
    ----------
    labels : array_like of object, shape (T, n)
        The label (flower) of every answer; ``None`` where extraction failed.
    p_mirror : float
        The run's mirroring probability.
    file_steps : sequence of int
        Number of steps in each source file, in order (``(40, 40)`` for the published
        runs); they must add up to ``T``. The generator is reseeded at each file.
    seed : int
        Seed of the legacy generator (2024 in the authors' script).
    alpha : float in (0, 1)
        The flags are accepted only if flags unrelated to the data would pass the check
        with probability at most ``alpha`` (see Notes).

    Returns
    -------
    flags : ndarray of object, shape (T, n)
        ``True`` / ``False`` (mirrored at the update after step ``t``) where recovered,
        ``None`` where unknown: everywhere if the check fails or is inconclusive, and
        always at the last step (no later step shows its update).
    report : dict
        JSON-serialisable account of what was recovered and how it was verified
        (``status`` is ``"recovered"``, ``"failed"`` or ``"inconclusive"``).

    Notes
    -----
    The check: a mirrored update keeps the agent's memory, so its next answer names the
    same flower. Every transition ``t -> t + 1`` with both labels known is checked; a
    single flagged transition that changes flower fails the run. Passing is evidence only
    if the run changes flower often enough: were the flags independent Bernoulli(p)
    draws unrelated to the data, all ``m`` observed changes would avoid the flagged
    transitions with probability ``(1 - p) ** m`` (``chance_probability``); the flags
    are kept only if it is at most ``alpha``. ``violations_if_shifted`` gives the
    violations with the draws misaligned by one step either way, which shows the check
    has teeth on this run.
    """
    labels = np.asarray(labels, dtype=object)
    if labels.ndim != 2 or labels.shape[0] < 1 or labels.shape[1] < 1:
        raise ValueError(f"labels must have shape (T, n) with T, n >= 1; got {labels.shape}")
    T, n = labels.shape
    p_mirror = check_float("p_mirror", p_mirror, 0.0, 1.0)
    alpha = check_float("alpha", alpha, 0.0, 1.0)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}")
    file_steps = [check_int("file_steps entries", x, 1) for x in file_steps]
    if sum(file_steps) != T:
        raise ValueError(f"file_steps must add up to the number of steps T={T}; "
                         f"got {file_steps} (sum {sum(file_steps)})")
    # draw j of file f -> flag of the update after global step start_f + j; one spare
    # draw per file gives the shifted (wrong) alignment for the power check
    per_file = [published_mirror_draws(p_mirror, n, L + 1, seed) for L in file_steps]
    aligned = np.concatenate([d[:L] for d, L in zip(per_file, file_steps)]).astype(bool)
    later = np.concatenate([d[1:L + 1] for d, L in zip(per_file, file_steps)]).astype(bool)
    earlier = np.concatenate([np.vstack([np.zeros((1, n), np.int64), d[:L - 1]])
                              for d, L in zip(per_file, file_steps)]).astype(bool)
    have = np.array([[lab is not None for lab in row] for row in labels], dtype=bool)
    checkable = have[:-1] & have[1:]
    changed = np.zeros((T - 1, n), dtype=bool)
    for t in range(T - 1):
        for i in range(n):
            changed[t, i] = checkable[t, i] and labels[t + 1, i] != labels[t, i]
    flags = aligned[:-1]  # the last step's update is not in the data
    violations = _count_violations(flags, changed, checkable)
    n_changes = int(changed.sum())
    chance = float((1.0 - p_mirror) ** n_changes)
    if violations:
        status = "failed"
    elif chance > alpha:
        status = "inconclusive"
    else:
        status = "recovered"
    out = np.full((T, n), None, dtype=object)
    if status == "recovered":
        out[:-1] = flags
    starts = np.cumsum([0] + file_steps[:-1]).tolist()
    report = {
        "status": status,
        "method": ("numpy.random.seed(seed) at the start of each source file, then "
                   "binomial(1, p_mirror, n_agents) once per step, 1 = mirror; draw j of a "
                   "file is the update after the file's step j (answer t -> memory -> "
                   "answer t + 1)"),
        "seed": int(seed),
        "file_steps": file_steps,
        "file_start_steps": starts,
        "flags_known_for_steps": [0, T - 2] if status == "recovered" else None,
        "last_step": "unknown: no later step shows its update",
        "check": "a mirrored update never changes the agent's flower",
        "checked_transitions": int(checkable.sum()),
        "mirror_transitions": int((flags & checkable).sum()),
        "flower_changes": n_changes,
        "violations": violations,
        "chance_probability": chance,
        "alpha": alpha,
        "violations_if_shifted": {
            "+1": _count_violations(later[:-1], changed, checkable),
            "-1": _count_violations(earlier[:-1], changed, checkable),
        },
    }
    return out, report


def import_published_run(first, second, out_path, *, extractor=extract_flower,
                         overwrite: bool = False, recover_mirrors: bool = True) -> str:
    """Convert one published run (both halves) into a log at ``out_path``.

    The published data record no partners: every record gets ``partner = None``. With
    ``recover_mirrors`` the mirror flags are rebuilt from the authors' seeded draws and
    kept where the labels confirm them (:func:`recover_published_mirrors`; the run
    record's ``mirror_recovery`` says what was recovered and how it was checked);
    otherwise, and wherever they are not recovered, ``mirrored = None``.

    Returns
    -------
    str
        ``out_path``.
    """
    parsed = parse_published_name(first)
    if parsed is None or parsed[3]:
        raise ValueError(f"first must be a first-half file output{{P}}_{{K}}_{{V}}.csv; got {first!r}")
    P, K, V, _ = parsed
    if parse_published_name(second) != (P, K, V, True):
        raise ValueError(f"second must be output{P}_{K}_{V}_2nd.csv; got {second!r}")
    first_steps, second_steps = read_published_csv(first), read_published_csv(second)
    steps = first_steps + second_steps
    n = len(steps[0])
    if any(len(s) != n for s in steps):
        raise ValueError(f"the two halves of run P={P}, K={K}, V={V} have different agent counts")
    meta = dict(_PUBLISHED_META)
    meta.update(
        n_agents=n,
        n_steps=len(steps),
        p_mirror=P / 10,
        n_neighbors=K,
        replicate=V,
        source_files=[os.path.basename(os.fspath(first)), os.path.basename(os.fspath(second))],
        imported_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        label_extractor=getattr(extractor, "__qualname__", repr(extractor)),
    )
    labels = [[extractor(txt) for txt in texts] for texts in steps]
    flags = np.full((len(steps), n), None, dtype=object)
    if recover_mirrors:
        flags, meta["mirror_recovery"] = recover_published_mirrors(
            labels, P / 10, (len(first_steps), len(second_steps)))
    else:
        meta["mirror_recovery"] = {"status": "not attempted"}
    # a conversion is rerun after a crash, so one fsync at close is enough
    with LogWriter(out_path, meta=meta, overwrite=overwrite, sync=False) as w:
        for t, texts in enumerate(steps):
            records = [
                dict(agent=a, partner=None, mirrored=flags[t, a], text=txt, label=labels[t][a])
                for a, txt in enumerate(texts)
            ]
            w.append_step(t, records)
    return os.fspath(out_path)


def import_published(paths, out_dir, *, extractor=extract_flower,
                     overwrite: bool = False, recover_mirrors: bool = True) -> list[str]:
    """Convert every published run found in ``paths`` into ``out_dir``.

    Parameters
    ----------
    paths : str, os.PathLike or iterable of them
        Files and/or directories holding ``output{P}_{K}_{V}[_2nd].csv``.
    out_dir : str or os.PathLike
        Created if missing. Run ``(P, K, V)`` is written to
        ``out_dir/flowers_p{P}_k{K}_v{V}.jsonl``.
    extractor : callable str -> str or None
        Label extractor (default :func:`~gmmproxy.bridge.flowers.extract_flower`).
    overwrite : bool
        Replace existing logs.
    recover_mirrors : bool
        Rebuild and check the mirror flags (see :func:`import_published_run`).

    Returns
    -------
    list of str
        Paths of the written logs, sorted by (P, K, V).
    """
    if not callable(extractor):
        raise TypeError(f"extractor must be callable; got {type(extractor).__name__}")
    runs = find_published_runs(paths)
    out_dir = os.fspath(out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"out_dir must be a directory; got {out_dir!r} (a file)")
    os.makedirs(out_dir, exist_ok=True)
    outs = {key: os.path.join(out_dir, "flowers_p{}_k{}_v{}.jsonl".format(*key)) for key in runs}
    if not overwrite:
        # check everything before writing anything, so a refusal leaves no partial import
        existing = [o for o in outs.values() if os.path.exists(o) and os.path.getsize(o) > 0]
        if existing:
            raise ValueError(f"out_dir already holds {len(existing)} of the logs "
                             f"(e.g. {existing[0]!r}); pass overwrite=True (--overwrite) to replace them")
    written = []
    for key, (first, second) in runs.items():
        out = outs[key]
        written.append(import_published_run(first, second, out, extractor=extractor,
                                            overwrite=overwrite,
                                            recover_mirrors=recover_mirrors))
    return written

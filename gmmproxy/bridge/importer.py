"""Import the published CSV logs of the flower experiment into our log format.

The published runs (McGuinness et al. 2024, as released with the GMM-proxy paper) come as
two CSV files per run: ``output{P}_{K}_{V}.csv`` (steps 0-39) and
``output{P}_{K}_{V}_2nd.csv`` (steps 40-79), with ``P = 10 * p``, ``K`` the number of
nearest neighbours and ``V`` the replicate. Each file has a header row ``,0,1,...,n-1``
(agent ids) and one row per step whose first field is the step within the file and whose
other cells are the Python repr of a one-element list holding the answer text.
"""
from __future__ import annotations

import ast
import csv
import datetime as _dt
import os
import re

from gmmproxy.bridge.flowers import extract_flower
from gmmproxy.llm.log import LogWriter

__all__ = [
    "PUBLISHED_NAME",
    "parse_published_name",
    "find_published_runs",
    "read_published_csv",
    "import_published_run",
    "import_published",
]

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


def import_published_run(first, second, out_path, *, extractor=extract_flower,
                         overwrite: bool = False) -> str:
    """Convert one published run (both halves) into a log at ``out_path``.

    The published data record no partners or mirroring decisions: every record gets
    ``partner = None`` and ``mirrored = None``.

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
    steps = read_published_csv(first) + read_published_csv(second)
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
    # a conversion is rerun after a crash, so one fsync at close is enough
    with LogWriter(out_path, meta=meta, overwrite=overwrite, sync=False) as w:
        for t, texts in enumerate(steps):
            records = [
                dict(agent=a, partner=None, mirrored=None, text=txt, label=extractor(txt))
                for a, txt in enumerate(texts)
            ]
            w.append_step(t, records)
    return os.fspath(out_path)


def import_published(paths, out_dir, *, extractor=extract_flower,
                     overwrite: bool = False) -> list[str]:
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
                                            overwrite=overwrite))
    return written

"""The sweep folder: ``manifest.json``, one Parquet file per finished cell, optional N(t) arrays.

Layout of ``out/``::

    manifest.json          base config, design and its cells, seed, steps, replicates,
                           package version, start time of every run (written first, atomically)
    cells/<key>.parquet    the rows of one finished cell (written atomically when it finishes)
    n_silos/<key>.npy      N(t) of every replicate of the cell, (replicates, steps+1) int32
                           (with ``record_n_silos``)

A cell file exists only when the whole cell finished, so the folder is always
a consistent partial sweep: resuming runs exactly the cells without a file.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from gmmproxy._outputs import atomic_write

__all__ = ["FORMAT", "IDENTITY_KEYS", "SweepStore", "SweepExistsError", "ManifestMismatchError"]

FORMAT = "gmmproxy-sweep/1"
# manifest entries that define the results; a resume must agree on every one
IDENTITY_KEYS = ("format", "base_config", "design", "cells", "seed", "steps", "replicates",
                 "record_n_silos", "version")


class SweepExistsError(FileExistsError):
    """The output folder exists and neither resume nor force was asked for."""


class ManifestMismatchError(ValueError):
    """A resume whose sweep differs from the one recorded in the folder."""


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda fh: fh.write(data))


def _describe(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


class SweepStore:
    """A sweep folder on disk (see the module docstring for its layout)."""

    def __init__(self, path):
        self.path = Path(path)
        self.cells_dir = self.path / "cells"
        self.n_silos_dir = self.path / "n_silos"
        self.manifest_path = self.path / "manifest.json"

    # -- opening ----------------------------------------------------------------
    def is_sweep(self) -> bool:
        return self.manifest_path.is_file()

    def check_new(self, *, resume: bool, force: bool) -> None:
        """Refuse an existing folder unless resuming or forcing; called before any work."""
        if resume and force:
            raise ValueError("resume and force exclude each other")
        p = self.path
        if p.exists() and not p.is_dir():
            raise SweepExistsError(f"out {str(p)!r} is a file, not a sweep folder")
        if resume:
            if not self.is_sweep():
                raise FileNotFoundError(f"cannot resume: {str(p)!r} holds no sweep (no manifest.json)")
            return
        if p.exists() and any(p.iterdir()):
            if not force:
                raise SweepExistsError(f"out {str(p)!r} already exists; finish it with resume "
                                       f"(--resume) or overwrite it with force (--force)")
            if not self.is_sweep():
                raise SweepExistsError(f"out {str(p)!r} is not empty and holds no sweep "
                                       f"(no manifest.json); refusing to overwrite it")

    def create(self, manifest: dict, *, force: bool) -> None:
        if force and self.path.exists():
            for sub in (self.cells_dir, self.n_silos_dir):
                if sub.exists():
                    shutil.rmtree(sub)
            self.manifest_path.unlink(missing_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        self.cells_dir.mkdir(exist_ok=True)
        if manifest.get("record_n_silos"):
            self.n_silos_dir.mkdir(exist_ok=True)
        self.write_manifest(manifest)

    def read_manifest(self) -> dict:
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{str(self.path)!r} holds no sweep (no manifest.json)") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{self.manifest_path}: not valid JSON ({exc})") from None
        if manifest.get("format") != FORMAT:
            raise ValueError(f"{self.manifest_path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
        return manifest

    def write_manifest(self, manifest: dict) -> None:
        # one top-level entry per line, each value compact: readable and diff-friendly
        lines = [f" {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in manifest.items()]
        _atomic_write_bytes(self.manifest_path, ("{\n" + ",\n".join(lines) + "\n}\n").encode())

    def check_resume(self, manifest: dict) -> dict:
        """The stored manifest, after checking it describes the same sweep as ``manifest``."""
        stored = self.read_manifest()
        diffs = [k for k in IDENTITY_KEYS if stored.get(k) != manifest.get(k)]
        if diffs:
            detail = "; ".join(f"{k}: folder has {_describe(stored.get(k))}, this call "
                               f"{_describe(manifest.get(k))}" for k in diffs)
            raise ManifestMismatchError(f"cannot resume {str(self.path)!r}: the sweep differs ({detail})")
        return stored

    # -- cells ------------------------------------------------------------------
    def cell_path(self, key: str) -> Path:
        return self.cells_dir / f"{key}.parquet"

    def finished(self) -> set[str]:
        if not self.cells_dir.is_dir():
            return set()
        return {p.stem for p in self.cells_dir.glob("*.parquet")}

    def write_cell(self, key: str, frame, n_silos: np.ndarray | None = None) -> None:
        """Write a finished cell: the N(t) array first, the Parquet rows last (they mark it done)."""
        # atomic_write removes its temporary file whatever happens: a Ctrl-C while a cell is
        # written abandons that cell (it is not done) and leaves no partial file behind
        if n_silos is not None:
            self.n_silos_dir.mkdir(exist_ok=True)
            atomic_write(self.n_silos_dir / f"{key}.npy", lambda fh: np.save(fh, n_silos, allow_pickle=False))
        atomic_write(self.cell_path(key), lambda fh: frame.to_parquet(fh, index=False, engine="pyarrow"))

    def read_cell(self, key: str):
        import pandas as pd

        return pd.read_parquet(self.cell_path(key), engine="pyarrow")

    def read_n_silos(self, key: str) -> np.ndarray:
        return np.load(self.n_silos_dir / f"{key}.npy", allow_pickle=False)

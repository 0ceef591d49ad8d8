"""Recipes that reproduce the figures of Wang et al. (2025) and a Helm et al. case study.

One module per figure; each holds its configuration as plain data (spec
Section 9), a ``run(...)`` that returns arrays (smaller ``replicates`` /
``steps`` give quick runs), a ``plot(result, path=None)`` that returns the
matplotlib Figure, and a ``main()`` so that, from the repository root::

    python -m experiments.figure2 --out docs/img/figure2.png

``python -m experiments.<name> --help`` lists each recipe's options.

=================  ==========================================================
module             what it reproduces
=================  ==========================================================
``figure2``        silo membership and silo sizes, p = 0.4, k = 29, T = 100
``figure3``        number of silos at T = 80 versus neighbourhood size k
``figure4``        3 x 4 grid of silo membership over p and k
``figure6``        r = 10: every replicate collapses to one silo
``figure7``        time to one silo versus component separation (3 geometries)
``figure10``       Algorithm 2 (covariances updated): membership and max sd
``helm_graphs``    communication graphs (Helm et al. 2024): two classes,
                   unrestricted versus intra-class-only communication
``llm_comparison`` proxy versus the published LLM flower runs (N(t) over
                   p and k, and one run side by side)
=================  ==========================================================

Seeds: the paper's Figure-2 and Figure-10 runs used seed 618327487, which the
recipes keep; Figures 3, 4 and 6 were unseeded in the paper, so the recipes
fix their own seeds (documented in each module) to make the gallery
reproducible. Sub-runs (one per parameter value or grid cell) take children
``replicate_seed(seed, j)`` of the recipe seed (``j`` documented per recipe).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

__all__ = ["BASE", "base_config", "provenance", "sub_seed", "make_parser", "run_silos"]

#: The common "1-d linear" set-up of spec Section 9: 30 agents, 30 topics at
#: 0, 1, ..., 29 with sd 0.2, RAG size 5, EM weight step only, synchronous rounds.
BASE = {
    "n_agents": 30,
    "n_components": 30,
    "sigma": 0.2,
    "rag_size": 5,
    "eps": 1e-12,
    "update": "synchronous",
}


def base_config(**changes):
    """``SimulationConfig`` of the base set-up with ``changes`` applied."""
    from gmmproxy.config import SimulationConfig

    return SimulationConfig(**{**BASE, **changes})


def sub_seed(seed, j: int):
    """Seed of sub-run ``j`` (parameter value / grid cell) of a recipe run with ``seed``."""
    from gmmproxy._seeding import replicate_seed

    return replicate_seed(seed, j)


def provenance(recipe: str, params: dict, seed, wall_time: float, **extra) -> dict:
    """The provenance dict saved with a recipe's figure."""
    from gmmproxy._provenance import package_version

    out = {
        "recipe": f"experiments.{recipe}",
        "params": params,
        "seed": seed,
        "gmmproxy_version": package_version(),
        "wall_time_s": round(float(wall_time), 3),
    }
    out.update(extra)
    return out


def run_silos(cfg, steps: int, seed, engine: str = "numba") -> tuple[np.ndarray, "object"]:
    """Run one simulation and return ``(silos (T+1, n), Trajectory)``.

    ``engine="reference"`` uses the plain-NumPy engine, which draws from
    ``numpy.random.default_rng(seed)`` in the authors' order and so reproduces
    their seeded Algorithm-1 runs bit for bit (slow, no graphs);
    ``engine="numba"`` is the fast simulator (its own generator).
    """
    import gmmproxy

    if engine not in ("numba", "reference"):
        raise ValueError(f"engine must be 'numba' or 'reference'; got {engine!r}")
    record = "weights" if cfg.update_covariances else "silos"
    traj = gmmproxy.simulate(cfg, steps=steps, seed=seed, record=record, engine=engine)
    return np.asarray(traj.silos), traj


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; got {value}")
    return value


def make_parser(prog: str, description: str, *, steps: int | None, seed: int,
                replicates: int | None = None, out: str | None = None) -> argparse.ArgumentParser:
    """Command-line options shared by every recipe."""
    parser = argparse.ArgumentParser(prog=f"python -m experiments.{prog}", description=description)
    parser.add_argument("--out", type=Path, default=Path(out or f"docs/img/{prog}.png"),
                        help="output image (.png/.pdf/.svg); default %(default)s")
    parser.add_argument("--steps", type=_positive_int, default=steps,
                        help="rounds T per run; default "
                             + ("%(default)s" if steps is not None else "the recipe's own"))
    parser.add_argument("--seed", type=_non_negative_int, default=seed,
                        help="recipe seed; default %(default)s")
    if replicates is not None:
        parser.add_argument("--replicates", type=_positive_int, default=replicates,
                            help="replicates per parameter value; default %(default)s")
    return parser


class Timer:
    """Context manager measuring wall time in seconds (``.elapsed``)."""

    def __enter__(self):
        self._t0 = time.perf_counter()
        self.elapsed = 0.0
        return self

    def __exit__(self, *exc):
        self.elapsed = time.perf_counter() - self._t0
        return False


def check_count(name: str, value, lo: int = 1) -> int:
    """Validate an integer count argument of ``run``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    if value < lo:
        raise ValueError(f"{name} must be >= {lo}; got {value}")
    return int(value)

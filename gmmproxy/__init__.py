"""gmmproxy: interacting Gaussian-mixture agents as a fast proxy for interacting LLM agents.

Quick start::

    import gmmproxy
    cfg = gmmproxy.SimulationConfig(n_agents=30, n_components=30, sigma=0.2, rag_size=5,
                                    p_mirror=0.4, n_neighbors=29)
    traj = gmmproxy.simulate(cfg, steps=100, seed=1)
    gmmproxy.metrics.n_silos(traj.silos)
"""
from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("gmmproxy")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.2.0+src"

from gmmproxy._threading import choose_threading_layer as _choose_threading_layer

# before any kernel can launch: Numba fixes its threading layer at the first parallel call
_choose_threading_layer()

from gmmproxy import metrics, topology  # noqa: E402
from gmmproxy._seeding import replicate_seed  # noqa: E402
from gmmproxy.config import SimulationConfig  # noqa: E402
from gmmproxy._simulate import simulate, simulate_many  # noqa: E402
from gmmproxy.trajectory import Ensemble, Trajectory  # noqa: E402
from gmmproxy.sweeps import load_sweep, sweep  # noqa: E402
from gmmproxy.sweeps._legacy import install as _install_legacy_sweep  # noqa: E402

_install_legacy_sweep(sweep)  # gmmproxy.sweep.sweep(...) / `from gmmproxy.sweep import sweep`: deprecated
del _install_legacy_sweep

from gmmproxy._moved import install_moved_module as _install_moved_module  # noqa: E402

# `from gmmproxy.simulate import simulate_many` (the module before it became private): deprecated
_install_moved_module("gmmproxy.simulate", "gmmproxy._simulate",
                      "gmmproxy.simulate(...) and gmmproxy.simulate_many(...) from the package root")
# the command modules before the CLI became the package gmmproxy.cli
_install_moved_module("gmmproxy.simulate_cli", "gmmproxy.cli.simulate", "gmmproxy.cli.simulate")
_install_moved_module("gmmproxy.llm.cli", "gmmproxy.cli.llm", "gmmproxy.cli.llm")
del _install_moved_module

__all__ = [
    "Ensemble",
    "SimulationConfig",
    "Trajectory",
    "__version__",
    "metrics",
    "replicate_seed",
    "simulate",
    "simulate_many",
    "load_sweep",
    "sweep",
    "topology",
]

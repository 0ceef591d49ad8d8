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
    __version__ = "0.1.0+src"

from gmmproxy import metrics, topology
from gmmproxy._seeding import replicate_seed
from gmmproxy.config import SimulationConfig
from gmmproxy._simulate import simulate, simulate_many
from gmmproxy.trajectory import Ensemble, Trajectory
from gmmproxy.sweeps import load_sweep, sweep
from gmmproxy.sweeps._legacy import install as _install_legacy_sweep

_install_legacy_sweep(sweep)  # gmmproxy.sweep.sweep(...) / `from gmmproxy.sweep import sweep`: deprecated
del _install_legacy_sweep

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

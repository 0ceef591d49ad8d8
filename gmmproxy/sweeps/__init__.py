"""Parameter sweeps: designs x replicates on any executor, stored as Parquet with resume.

``gmmproxy.sweep(base_cfg, grid_or_design, steps, replicates, seed, out=None,
executor=None)`` runs every cell (one configuration of a grid or sampled
design) as one task, in-process, on a ``concurrent.futures`` executor or a
Dask cluster, and returns one tidy pandas table; ``gmmproxy.load_sweep(folder)``
reads a stored sweep back; :func:`sweep_summary` summarises replicate outcomes
per parameter value (what :func:`gmmproxy.plotting.plot_sweep` draws).
"""
from gmmproxy.sweeps._cells import cell_key, cell_seed
from gmmproxy.sweeps._design import DESIGN_KINDS, SWEEPABLE, Grid, SampledDesign, sample_design
from gmmproxy.sweeps._executors import connect_dask, local_dask_client
from gmmproxy.sweeps._run import ROW_COLUMNS, SweepInterrupted, load_n_silos, load_sweep, sweep
from gmmproxy.sweeps._store import ManifestMismatchError, SweepExistsError
from gmmproxy.sweeps._summary import sweep_summary
from gmmproxy.sweeps._worker import STAT_COLUMNS

__all__ = [
    "DESIGN_KINDS", "Grid", "ManifestMismatchError", "ROW_COLUMNS", "STAT_COLUMNS", "SWEEPABLE",
    "SampledDesign", "SweepExistsError", "SweepInterrupted", "cell_key", "cell_seed", "connect_dask",
    "load_n_silos", "load_sweep", "local_dask_client", "sample_design", "sweep", "sweep_summary",
]

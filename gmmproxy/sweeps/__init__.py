"""Parameter sweeps: run a grid of configurations x replicates (:func:`sweep`) and summarise replicate outcomes per value (:func:`sweep_summary`)."""
from gmmproxy.sweeps._grid import ROW_FIELDS, sweep
from gmmproxy.sweeps._summary import sweep_summary

__all__ = ["sweep", "ROW_FIELDS", "sweep_summary"]

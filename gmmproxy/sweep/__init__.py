"""The old import path of parameter sweeps, kept so ``import gmmproxy.sweep`` works; they now live in :mod:`gmmproxy.sweeps`."""
from gmmproxy.sweeps import ROW_FIELDS, sweep, sweep_summary

__all__ = ["sweep", "ROW_FIELDS", "sweep_summary"]

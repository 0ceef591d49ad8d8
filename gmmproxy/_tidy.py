"""Tidy (long-form) tables and labelled arrays of results: pandas and xarray views of the arrays.

One row per observation, one column per variable: ``level="step"`` gives
(t, n_silos, n_switched), ``"agent"`` (t, agent, silo), ``"weight"`` (t,
agent, component, weight); a leading ``replicate`` column for batches. The
functions behind ``Trajectory.to_dataframe``, ``Ensemble.to_dataframe``,
``Ensemble.to_xarray`` and ``RunLog.to_dataframe``; pandas and xarray are
optional (extras ``tidy`` and ``xarray``).
"""
from __future__ import annotations

import json

import numpy as np

from gmmproxy._extras import require

__all__ = ["LEVELS", "results_frame", "ensemble_xarray", "runlog_frame"]

LEVELS = ("step", "agent", "weight")


def _long(arr: np.ndarray, names: list[str], value: str, pd):
    """A long frame of ``arr``: one column per axis (its index), then the values."""
    idx = np.indices(arr.shape).reshape(arr.ndim, -1)
    cols = {name: idx[i].astype(np.int64) for i, name in enumerate(names)}
    cols[value] = arr.reshape(-1)
    return pd.DataFrame(cols)


def results_frame(res, level: str | None, batch: bool):
    """The long table of a Trajectory (``batch=False``) or an Ensemble (``batch=True``)."""
    pd = require("pandas", "tidy", "tidy tables (to_dataframe)")
    if level is None:
        level = "agent" if res.silos is not None else "step"
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    lead = ["replicate"] if batch else []
    if level == "step":
        frame = _long(np.asarray(res.n_silos), lead + ["t"], "n_silos", pd)
        frame["n_switched"] = np.asarray(res.n_switched).reshape(-1).astype(np.int64)
        return frame
    if level == "agent":
        if res.silos is None:
            raise ValueError("level='agent' needs recorded silos (record='silos' or 'weights'); "
                             "this result kept only N(t) (use level='step')")
        frame = _long(np.asarray(res.silos), lead + ["t", "agent"], "silo", pd)
        frame["silo"] = frame["silo"].astype(np.int64)
        return frame
    if res.weights is None:
        raise ValueError("level='weight' needs recorded weights (record='weights')")
    return _long(np.asarray(res.weights), lead + ["t", "agent", "component"], "weight", pd)


def ensemble_xarray(ens):
    """An ``xarray.Dataset`` of an Ensemble, dims replicate x t x agent (x component)."""
    xr = require("xarray", "xarray", "labelled arrays (to_xarray)")
    R, T1 = np.asarray(ens.n_silos).shape
    n = ens.config.n_agents
    data = {
        "n_silos": (("replicate", "t"), np.asarray(ens.n_silos)),
        "n_switched": (("replicate", "t"), np.asarray(ens.n_switched)),
        "final_silos": (("replicate", "agent"), np.asarray(ens.final_silos)),
    }
    coords = {"replicate": np.arange(R), "t": np.arange(T1), "agent": np.arange(n)}
    if ens.silos is not None:
        data["silos"] = (("replicate", "t", "agent"), np.asarray(ens.silos))
    if ens.weights is not None:
        data["weights"] = (("replicate", "t", "agent", "component"), np.asarray(ens.weights))
        coords["component"] = np.arange(np.asarray(ens.weights).shape[-1])
    # a sparse graph's edge list would be megabytes of JSON in an attribute: it goes in as
    # variables (the CSR arrays, as Ensemble.save stores them) and the provenance says so
    from gmmproxy.trajectory import _graph_arrays

    graph = _graph_arrays(ens.config)  # keys in the order indptr, indices, nnz
    if graph:
        indptr, flat, nnz = graph.values()
        data["graph_indptr"] = (("graph_round", "graph_row_pointer"), indptr)
        data["graph_indices"] = (("graph_edge",), flat)
        data["graph_nnz"] = (("graph_round",), nnz)
    # attributes must be plain strings/numbers to survive netCDF/zarr: provenance as JSON text
    return xr.Dataset(data, coords=coords,
                      attrs={"provenance": json.dumps(ens.provenance(graph_inline=not graph))})


def runlog_frame(log):
    """One row per response of a RunLog: t, agent, partner, mirrored, label, text."""
    pd = require("pandas", "tidy", "tidy tables (to_dataframe)")
    T, n = log.n_steps, log.n_agents
    t, agent = np.indices((T, n)).reshape(2, -1)
    partner = pd.array(log.partners.reshape(-1), dtype="Int64")
    partner[log.partners.reshape(-1) < 0] = pd.NA  # a mirroring agent (or an unknown one) has no partner
    mirrored = pd.array(log.mirrored.reshape(-1), dtype="boolean")
    known = getattr(log, "mirrored_known", None)
    if known is not None:
        mirrored[~np.asarray(known).reshape(-1)] = pd.NA  # the log stores null there
    elif not log.interactions_known:
        mirrored[:] = pd.NA  # placeholders, not data (e.g. imported published logs)
    return pd.DataFrame({
        "t": t.astype(np.int64), "agent": agent.astype(np.int64), "partner": partner,
        "mirrored": mirrored, "label": pd.array(log.labels.reshape(-1), dtype="string"),
        "text": pd.array(log.texts.reshape(-1), dtype="string"),
    })

"""Tidy views of results: long pandas tables and an xarray Dataset, checked cell by cell."""
import json

import numpy as np
import pytest

import gmmproxy

pd = pytest.importorskip("pandas")

CFG = gmmproxy.SimulationConfig(n_agents=5, sigma=0.3, rag_size=2, p_mirror=0.3)


@pytest.fixture(scope="module")
def ens():
    return gmmproxy.simulate_many(CFG, 6, 3, seed=11, record="weights")


def test_ensemble_agent_level_rows_are_the_silo_array(ens):
    df = ens.to_dataframe()
    assert list(df.columns) == ["replicate", "t", "agent", "silo"]
    assert len(df) == 3 * 7 * 5
    # an independent walk over the array, in C order
    expected = [(r, t, a, int(ens.silos[r, t, a])) for r in range(3) for t in range(7) for a in range(5)]
    assert list(df.itertuples(index=False, name=None)) == expected


def test_ensemble_step_and_weight_levels(ens):
    steps = ens.to_dataframe("step")
    assert list(steps.columns) == ["replicate", "t", "n_silos", "n_switched"]
    piv = steps.pivot(index="replicate", columns="t", values="n_silos").to_numpy()
    np.testing.assert_array_equal(piv, ens.n_silos)
    w = ens.to_dataframe("weight")
    assert len(w) == 3 * 7 * 5 * CFG.n_components
    row = w[(w.replicate == 2) & (w.t == 4) & (w.agent == 1) & (w.component == 3)]
    assert row.weight.item() == ens.weights[2, 4, 1, 3]
    # weights of every (replicate, t, agent) sum to one
    np.testing.assert_allclose(w.groupby(["replicate", "t", "agent"]).weight.sum(), 1.0, atol=1e-9)


def test_trajectory_to_dataframe_and_missing_records():
    traj = gmmproxy.simulate(CFG, 4, seed=2, record="silos")
    df = traj.to_dataframe()
    assert list(df.columns) == ["t", "agent", "silo"]
    np.testing.assert_array_equal(df.silo.to_numpy().reshape(5, 5), traj.silos)
    with pytest.raises(ValueError, match="weights"):
        traj.to_dataframe("weight")
    with pytest.raises(ValueError, match="level must be one of"):
        traj.to_dataframe("cell")
    m = gmmproxy.simulate_many(CFG, 4, 2, seed=2, record="metrics")
    assert list(m.to_dataframe().columns) == ["replicate", "t", "n_silos", "n_switched"]
    with pytest.raises(ValueError, match="silos"):
        m.to_dataframe("agent")


def test_ensemble_to_xarray_dims_and_values(ens):
    pytest.importorskip("xarray")
    ds = ens.to_xarray()
    assert ds["silos"].dims == ("replicate", "t", "agent")
    assert ds["weights"].dims == ("replicate", "t", "agent", "component")
    assert dict(ds.sizes) == {"replicate": 3, "t": 7, "agent": 5, "component": 5}
    np.testing.assert_array_equal(ds["silos"].sel(replicate=1, t=6).values, ens.silos[1, 6])
    np.testing.assert_array_equal(ds["n_silos"].values, ens.n_silos)
    assert json.loads(ds.attrs["provenance"])["seed"] == ens.seed


def test_runlog_to_dataframe(tmp_path):
    from gmmproxy.llm.log import LogWriter, read_log

    path = tmp_path / "run.jsonl"
    with LogWriter(path, {"n_agents": 2}) as w:
        w.append_step(0, [dict(agent=0, partner=None, mirrored=True, text="a rose", label="rose"),
                          dict(agent=1, partner=0, mirrored=False, text="a tulip", label=None)])
        w.append_step(1, [dict(agent=0, partner=1, mirrored=False, text="tulip", label="tulip"),
                          dict(agent=1, partner=None, mirrored=True, text="tulip!", label="tulip")])
    df = read_log(path).to_dataframe()
    assert list(df.columns) == ["t", "agent", "partner", "mirrored", "label", "text"]
    assert df.t.tolist() == [0, 0, 1, 1] and df.agent.tolist() == [0, 1, 0, 1]
    assert df.partner.isna().tolist() == [True, False, False, True] and df.partner[1] == 0
    assert df.mirrored.tolist() == [True, False, False, True]
    assert df.label.isna().tolist() == [False, True, False, False]
    assert df.text[3] == "tulip!"


def test_runlog_to_dataframe_unknown_mirror_flags_are_missing(tmp_path):
    from gmmproxy.llm.log import LogWriter, read_log

    path = tmp_path / "run.jsonl"
    with LogWriter(path, {"n_agents": 2}) as w:
        w.append_step(0, [dict(agent=0, partner=None, mirrored=None, text="a", label="rose"),
                          dict(agent=1, partner=None, mirrored=True, text="b", label="rose")])
    df = read_log(path).to_dataframe()
    assert df.mirrored.isna().tolist() == [True, False] and bool(df.mirrored[1])
    assert df.partner.isna().all()


def test_xarray_of_a_sparse_graph_run_keeps_the_graph_as_variables_not_json():
    pytest.importorskip("xarray")
    from scipy import sparse

    from gmmproxy.trajectory import _config_of

    g = sparse.random(60, 60, density=0.05, random_state=3, format="csr") > 0
    cfg = gmmproxy.SimulationConfig(n_agents=60, n_components=4, graph=g)
    ds = gmmproxy.simulate_many(cfg, steps=3, replicates=2, seed=1).to_xarray()
    meta = json.loads(ds.attrs["provenance"])
    assert meta["config"]["graph"]["stored"] == "arrays"
    assert "indices" not in meta["config"]["graph"]
    arrays = {f"__{k}__": ds[k].values for k in ("graph_indptr", "graph_indices", "graph_nnz")}
    rebuilt = _config_of(meta, arrays)
    assert rebuilt == cfg
    np.testing.assert_array_equal(rebuilt.graph.to_dense(), cfg.graph.to_dense())
    assert cfg.graph.to_dense().sum() > 100

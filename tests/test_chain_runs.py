"""simulate_chain(_many): eps against the level thresholds, chunked batches, Ctrl-C."""
import numpy as np
import pytest
from click.testing import CliRunner

import gmmproxy.chain as chain_mod
from gmmproxy.chain import ChainConfig, simulate_chain, simulate_chain_many
from gmmproxy.polarization import thresholds


def test_eps_above_level_threshold_is_refused():
    # m=10, r=3, k=3, sigma=0.1: delta_1 = 1/(1+e^100) ~ 3.7e-44 < eps = 1e-12, E_1 impossible
    cfg = ChainConfig(n_agents=10, sigma=0.1, rag_size=3, n_neighbors=3)
    with pytest.raises(ValueError, match=r"eps = 1e-12 is >= delta_1 = 3\.72e-44.*sigma = 0\.1.*eps=0") as err:
        simulate_chain(cfg, 5, 0, levels=1)
    assert float(thresholds(0.1, 1)) == pytest.approx(3.72e-44, rel=1e-2)
    with pytest.raises(ValueError, match="delta_2"):
        simulate_chain_many(ChainConfig(n_agents=4, sigma=0.3, rag_size=2, eps=1e-6), 5, 2, 0, levels=(1, 2))
    # eps = 0 (the exact chain) and eps below every threshold are fine
    simulate_chain(ChainConfig(n_agents=10, sigma=0.1, rag_size=3, n_neighbors=3, eps=0.0), 5, 0, levels=1)
    simulate_chain(ChainConfig(n_agents=4, sigma=0.3, rag_size=2), 5, 0, levels=(1, 2))
    # no levels requested: nothing to check
    simulate_chain(cfg, 5, 0)


def _same(a, b):
    for key in ("log_weights", "rag", "hit_time", "event_final", "draws_in_window", "trajectory_log_weights"):
        x, y = getattr(a, key), getattr(b, key)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)


def test_chunking_does_not_change_results():
    cfg = ChainConfig(n_agents=5, sigma=0.3, rag_size=2, n_neighbors=2, eps=0.0)
    whole = simulate_chain_many(cfg, 20, 7, 11, levels=1, record="weights", chunk_size=7)
    parts = simulate_chain_many(cfg, 20, 7, 11, levels=1, record="weights", chunk_size=3)
    _same(whole, parts)
    assert parts.provenance["replicates"] == 7 and not parts.interrupted


def test_ctrl_c_keeps_finished_chunks(monkeypatch):
    cfg = ChainConfig(n_agents=5, sigma=0.3, rag_size=2, n_neighbors=2, eps=0.0)
    full = simulate_chain_many(cfg, 20, 9, 5, levels=1, chunk_size=2)
    real_run, calls = chain_mod._run, []

    def interrupting(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:  # call 1 validates, calls 2-3 finish 4 replicates, then Ctrl-C
            raise KeyboardInterrupt
        return real_run(*args, **kwargs)

    monkeypatch.setattr(chain_mod, "_run", interrupting)
    with pytest.warns(RuntimeWarning, match="keeping the 4 of 9"):
        part = simulate_chain_many(cfg, 20, 9, 5, levels=1, chunk_size=2)
    assert part.interrupted and part.provenance["replicates"] == 4
    assert part.provenance["replicates_requested"] == 9
    np.testing.assert_array_equal(part.log_weights, full.log_weights[:4])
    np.testing.assert_array_equal(part.hit_time, full.hit_time[:4])


def test_montecarlo_ctrl_c_keeps_replicates(monkeypatch):
    from theory.montecarlo import theorem2_montecarlo

    real_run, calls = chain_mod._run, []

    def interrupting(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_run(*args, **kwargs)

    monkeypatch.setattr(chain_mod, "_run", interrupting)
    real_many = chain_mod.simulate_chain_many
    monkeypatch.setattr("theory.montecarlo.simulate_chain_many",
                        lambda *a, **k: real_many(*a, **{**k, "chunk_size": 5}))
    with pytest.warns(RuntimeWarning):
        res = theorem2_montecarlo(6, 2, 2, 0.3, 1, 10, 40, seed=0)
    assert res["remain"].trials == 5
    assert res.parameters["interrupted"] and res.parameters["replicates_requested"] == 40
    assert any("interrupted" in n and "5 of 40" in n for n in res.notes)


def test_montecarlo_default_does_not_claim_inconsistency():
    """Without neighbour restriction Theorem 2 does not apply: no 'NO' in the consistency column."""
    from gmmproxy.cli import main

    out = CliRunner().invoke(main, ["theory", "montecarlo", "--agents", "6", "--rag-size", "2", "--horizon", "40",
                                    "--replicates", "200", "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = [ln.split(",") for ln in out.output.splitlines() if ln.startswith("0.2,")]
    assert len(rows) == 3
    assert [r[-1] for r in rows] == ["n/a"] * 3

"""gmmproxy calibrate: the missing-extra message, bad input, validate --json."""
import builtins
import json

import pytest
from click.testing import CliRunner

from gmmproxy.cli import main


def test_missing_extra_prints_one_line_and_exits_2(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_pyabc(name, *a, **k):
        if name == "pyabc" or name.startswith("pyabc."):
            raise ImportError("No module named 'pyabc'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_pyabc)
    log = tmp_path / "x.jsonl"
    log.write_text("{}\n")
    r = CliRunner().invoke(main, ["calibrate", "fit", str(log), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert r.output.strip() == "Error: calibration needs the 'calibrate' extra: pip install 'gmmproxy[calibrate]'"


def test_bad_prior_is_one_line(tmp_path):
    pytest.importorskip("pyabc")
    log = tmp_path / "x.jsonl"
    log.write_text("{}\n")
    r = CliRunner().invoke(main, ["calibrate", "fit", str(log), "--out", str(tmp_path / "o"),
                                  "--prior", "sigma=0,1"])
    assert r.exit_code == 2
    assert "prior of sigma is log-uniform and needs low > 0" in r.output
    assert "Traceback" not in r.output


def test_validate_json_via_cli(tmp_path):
    pytest.importorskip("pyabc")
    from gmmproxy.bridge.calibration.fit import fit
    from gmmproxy.bridge.calibration.model import ProxyModel
    from gmmproxy.bridge.calibration.simulator import simulate_silos, write_proxy_logs
    from gmmproxy.bridge.calibration.batch import Geometry
    from gmmproxy.bridge.calibration.model import Condition

    model = ProxyModel(free=("time_scale",), fixed={"rag_size": 1, "sigma": 0.1})
    silos = simulate_silos(model, [{"time_scale": 1.0}], [Condition(0.3, 3, 8, 25)], 2, Geometry(8), 0)[0][0]
    logs = write_proxy_logs(silos, tmp_path, p_mirror=0.3, n_neighbors=3)
    fit(logs, tmp_path / "c", model=model, population_size=10, max_generations=1, replicates=2, loco=False,
        progress=False)
    r = CliRunner().invoke(main, ["calibrate", "validate", str(tmp_path / "c"), *logs, "--json", "--draws", "10"])
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert obj["conditions"][0]["replicates"] == 2
    assert set(obj["score"]) >= {"calibrated", "baseline"}
    r = CliRunner().invoke(main, ["calibrate", "predict", str(tmp_path / "c"), "--p-mirror", "0.3",
                                  "--neighbors", "3", "--steps", "25", "--replicates", "5", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["replicates"] == 5
    # a population size other than the fitted logs' (the paper's geometry exists for every n)
    r = CliRunner().invoke(main, ["calibrate", "predict", str(tmp_path / "c"), "--p-mirror", "0.3",
                                  "--neighbors", "3", "--steps", "25", "--replicates", "5", "--n-agents", "12",
                                  "--json"])
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert obj["n_agents"] == 12 and obj["n_silos_mean"][0] == 12.0 and len(obj["n_silos_mean"]) == 25
    r = CliRunner().invoke(main, ["calibrate", "predict", str(tmp_path / "c"), "--p-mirror", "0.3",
                                  "--neighbors", "3", "--steps", "25", "--replicates", "5", "--n-agents", "12"])
    assert r.exit_code == 0 and r.output.startswith("p = 0.3, k = 3, n = 12, 25 steps"), r.output
    r = CliRunner().invoke(main, ["calibrate", "predict", str(tmp_path / "c"), "--p-mirror", "0.3",
                                  "--neighbors", "3", "--n-agents", "1"])
    assert r.exit_code == 2 and "--n-agents" in r.output, r.output
    # outputs are checked before any work: a missing folder, an existing file without --force
    r = CliRunner().invoke(main, ["calibrate", "predict", str(tmp_path / "c"), "--p-mirror", "0.3",
                                  "--n-neighbors", "3", "--save", str(tmp_path / "no" / "e.npz")])
    assert r.exit_code == 2 and "--save" in r.output and "does not exist" in r.output, r.output
    (tmp_path / "old.png").write_bytes(b"x")
    r = CliRunner().invoke(main, ["calibrate", "validate", str(tmp_path / "c"), *logs, "--draws", "10",
                                  "--plot", str(tmp_path / "old.png")])
    assert r.exit_code == 2 and "--force" in r.output, r.output
    assert (tmp_path / "old.png").read_bytes() == b"x"

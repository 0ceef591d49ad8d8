"""Runs shorter than the calibration's N(t) times: N(t) unknown there, every other statistic still compared."""
import json

import numpy as np
import pytest

pytest.importorskip("pyabc")
pytest.importorskip("pandas")

from gmmproxy.bridge.calibration import simulator  # noqa: E402
from gmmproxy.bridge.calibration.batch import Geometry  # noqa: E402
from gmmproxy.bridge.calibration.fit import fit, load_result  # noqa: E402
from gmmproxy.bridge.calibration.model import Condition, ProxyModel  # noqa: E402
from gmmproxy.bridge.calibration.statistics import summary_statistics  # noqa: E402
from gmmproxy.bridge.calibration.validate import validate  # noqa: E402

MODEL = ProxyModel(free=("time_scale",), fixed={"rag_size": 1, "sigma": 0.1})


def _strict(text):
    def bad(token):
        raise ValueError(f"not strict JSON: {token}")
    return json.loads(text, parse_constant=bad)


def test_late_times_are_unknown_not_an_error_when_asked():
    silos = np.zeros((3, 8, 5), dtype=np.int64)
    silos[:, 0] = np.arange(5)
    with pytest.raises(ValueError, match=r"times must be < the number of steps T = 8; got \[10\]"):
        summary_statistics(silos, (5, 10))
    st = summary_statistics(silos, (5, 10), late_times="nan")
    np.testing.assert_array_equal(st["n_silos_t5"], [1.0, 1.0, 1.0])
    assert np.all(np.isnan(st["n_silos_t10"]))
    np.testing.assert_array_equal(st["time_to_single_silo"], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="late_times must be 'error' or 'nan'"):
        summary_statistics(silos, (5,), late_times="drop")


def test_fit_validate_and_predict_with_runs_shorter_than_a_time(tmp_path):
    (tmp_path / "logs").mkdir()
    logs = []
    for (p, k, T) in ((0.2, 3, 30), (0.6, 2, 12)):  # the second condition ends before t = 20
        s, copied = simulator.simulate_silos(MODEL, [{"time_scale": 1.0}], [Condition(p, k, 10, T)], 3,
                                             Geometry(10), 4, return_copied=True)[0][0]
        logs += simulator.write_proxy_logs(s, tmp_path / "logs", p_mirror=p, n_neighbors=k, copied=copied)
    res = fit(logs, tmp_path / "c", model=MODEL, seed=0, max_generations=1, population_size=12, replicates=2,
              loco=False, times=(5, 10, 20), progress=False)
    meta = _strict((tmp_path / "c" / "calibration.json").read_text())
    short = [o for o in meta["observed"] if o["condition"]["n_steps"] == 12][0]
    assert short["statistics"]["n_silos_t20"] == [None, None, None]
    loaded = load_result(tmp_path / "c")
    short_oc = [oc for oc in loaded.observed if oc.condition.n_steps == 12][0]
    assert np.all(np.isnan(short_oc.statistics["n_silos_t20"]))
    table = validate(loaded, draws=10, baseline_replicates=10)
    by_T = {c["n_steps"]: c for c in table["conditions"]}
    assert "n_silos_t20" not in by_T[12]["statistics"] and "n_silos_t10" in by_T[12]["statistics"]
    assert "n_silos_t20" in by_T[30]["statistics"]
    assert np.isfinite(table["score"]["calibrated"]) and np.isfinite(table["score"]["baseline"])
    _strict(json.dumps(table))
    # the score leaves the unknown entry out: recompute it from the table
    scales = table["score"]["scales"]
    errs = [abs(st["predicted_mean"] - st["observed_mean"]) / scales[name]
            for c in table["conditions"] for name, st in c["statistics"].items()
            if name in ("silos_final", "time_to_single_silo", "n_silos_t5", "n_silos_t10", "n_silos_t20",
                        "switch_rate_mean")]
    assert len(errs) == 2 * 6 - 1
    assert table["score"]["calibrated"] == pytest.approx(np.mean(errs), rel=1e-12)

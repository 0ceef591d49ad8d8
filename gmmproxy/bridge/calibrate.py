"""Calibrate the proxy to logged LLM runs: the public entry points (see docs/calibration.md).

``fit(logs, out, ...)`` -> :class:`CalibrationResult` (posterior as a pandas DataFrame),
``predict(result, p_mirror, n_neighbors, ...)`` -> :class:`~gmmproxy.trajectory.Ensemble`,
``validate(result, logs)`` -> the ``validate --json`` dict, ``load_result(folder)``.
"""
from gmmproxy.bridge.calibration.fit import CalibrationResult, fit, load_result
from gmmproxy.bridge.calibration.predict import predict
from gmmproxy.bridge.calibration.statistics import summary_statistics
from gmmproxy.bridge.calibration.validate import validate

__all__ = ["CalibrationResult", "fit", "load_result", "predict", "summary_statistics", "validate"]

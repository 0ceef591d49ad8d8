"""Calibration of the proxy to logged LLM runs (public entry points in :mod:`gmmproxy.bridge.calibrate`).

* :mod:`.statistics` -- the one summary-statistics function for proxy and LLM trajectories;
* :mod:`.model` -- free parameters, priors, the map from an LLM condition to the proxy;
* :mod:`.batch`, :mod:`.simulator` -- the batched kernel's front and condition-level simulation;
* :mod:`.observed` -- logged runs grouped by condition, their statistics and scales;
* :mod:`.fit` -- ABC-SMC with pyABC, resume; :mod:`.loco` -- leave-one-condition-out posteriors;
* :mod:`.predict`, :mod:`.validate`, :mod:`.report` -- posterior predictive runs, the validation
  table and score, the report with figures.
"""

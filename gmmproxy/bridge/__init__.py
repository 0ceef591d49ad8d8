"""The bridge between logged LLM runs and the proxy.

* :mod:`gmmproxy.bridge.flowers` -- flower names, default memories, label extraction.
* :mod:`gmmproxy.bridge.importer` -- published CSV logs -> our log format.
* :mod:`gmmproxy.bridge.trajectory` -- a log -> :class:`LLMTrajectory` (silo labels in the
  proxy's array conventions, texts, embeddings, metadata).
* :mod:`gmmproxy.cli.bridge` -- ``gmmproxy llm import``, ``gmmproxy llm silos``,
  ``gmmproxy perspective`` (the old path ``gmmproxy.bridge.cli`` is a deprecated alias).

Submodules are imported on demand so that ``import gmmproxy.bridge`` stays cheap.
"""

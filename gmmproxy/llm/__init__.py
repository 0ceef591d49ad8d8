"""Slim LLM side of gmmproxy: backends, the flower experiment runner, logs, embedders.

Importing this package is cheap: httpx, torch and transformers are only imported when
a backend that needs them is created. The backends and the runner are reachable as
attributes (loaded on first use)::

    from gmmproxy.llm import FlowerParameters, OpenAIBackend, run_flowers
"""
from __future__ import annotations

import importlib

from .backend import Backend, BackendError, request_seeds

# public name -> module (relative) that defines it, imported on first access
_LAZY = {
    "OpenAIBackend": ".openai_backend",
    "TransformersBackend": ".transformers_backend",
    "ReplayBackend": ".replay_backend",
    "run_flowers": ".runner",
    "FlowerParameters": ".runner",
    "load_memories": ".runner",
    "DEFAULT_TEMPLATE": ".runner",
}

__all__ = ["Backend", "BackendError", "request_seeds", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The error raised when an optional extra (LLM client, embeddings, ...) is not installed."""
from __future__ import annotations

__all__ = ["MissingExtraError"]


class MissingExtraError(ImportError):
    """An optional dependency is missing; the message names the ``pip install`` line.

    A subclass of ImportError, so ``except ImportError`` keeps working; the
    command line prints it as one line and exits with status 2.
    """

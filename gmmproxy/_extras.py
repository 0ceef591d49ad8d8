"""Optional dependencies: import them or fail with one line naming the extra to install."""
from __future__ import annotations

import importlib

__all__ = ["MissingExtraError", "require"]


class MissingExtraError(ImportError):
    """An optional dependency is missing; the message says which extra provides it."""


def require(module: str, extra: str, purpose: str):
    """Import and return ``module``, or raise :class:`MissingExtraError`.

    The message reads e.g. ``sweeps on a Dask cluster need the 'distributed'
    extra: pip install 'gmmproxy[distributed]'``.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(
            f"{purpose} need{'s' if not purpose.endswith('s') else ''} the {extra!r} extra "
            f"(module {module!r} is missing): pip install 'gmmproxy[{extra}]'") from None

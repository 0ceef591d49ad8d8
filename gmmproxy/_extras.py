"""Optional dependencies: import them or fail with one line naming the extra to install."""
from __future__ import annotations

import importlib

__all__ = ["MissingExtraError", "require"]


class MissingExtraError(ImportError):
    """An optional dependency is missing; the message says which extra provides it."""


def require(module: str, extra: str, purpose: str):
    """Import and return ``module``, or raise :class:`MissingExtraError`.

    The message reads e.g. ``sweeps on a Dask cluster: the 'distributed'
    extra is not installed (no module 'distributed'); pip install
    'gmmproxy[distributed]'``.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(f"{purpose}: the {extra!r} extra is not installed (no module {module!r}); "
                                f"pip install 'gmmproxy[{extra}]'") from None

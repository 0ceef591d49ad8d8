"""Old module paths that moved: a stand-in module that forwards to the new one with a DeprecationWarning."""
from __future__ import annotations

import importlib
import sys
import types
import warnings

__all__ = ["install_moved_module"]


class _MovedModule(types.ModuleType):
    """Forwards every attribute to ``self._new_name`` and warns that the old path is deprecated."""

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__") and name != "__all__":
            raise AttributeError(name)  # import machinery probes (__path__, __file__, ...): not a user's lookup
        value = getattr(importlib.import_module(self._new_name), name)
        warnings.warn(f"{self.__name__}.{name}: the module {self.__name__} is deprecated; "
                      f"use {self._public_hint}", DeprecationWarning, stacklevel=2)
        return value

    def __dir__(self):
        return sorted(set(dir(importlib.import_module(self._new_name))) | {"__all__"})


def install_moved_module(old_name: str, new_name: str, public_hint: str) -> None:
    """Register ``old_name`` in ``sys.modules`` as a deprecated alias of the module ``new_name``.

    The alias is never set as an attribute of its package, so a public
    function of the same name (``gmmproxy.simulate``) keeps its place, while
    ``from gmmproxy.simulate import simulate_many`` and
    ``importlib.import_module("gmmproxy.simulate")`` still reach the code.
    """
    mod = _MovedModule(old_name, f"Deprecated alias of {new_name}; use {public_hint}.")
    mod._new_name = new_name
    mod._public_hint = public_hint
    sys.modules.setdefault(old_name, mod)

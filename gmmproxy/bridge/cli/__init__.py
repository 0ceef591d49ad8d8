"""Deprecated alias of :mod:`gmmproxy.cli.bridge`, where the bridge's commands and ``silo_report`` now live."""
import warnings

from gmmproxy.cli.bridge import import_command, perspective_command, silo_report, silos_command

__all__ = ["import_command", "silos_command", "perspective_command", "silo_report"]

warnings.warn("gmmproxy.bridge.cli is deprecated; import from gmmproxy.cli.bridge instead",
              DeprecationWarning, stacklevel=2)

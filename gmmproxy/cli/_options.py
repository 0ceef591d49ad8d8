"""Options shared by the commands: parameter flags from the one name table, and output files.

Every model parameter has one flag, its API name with dashes
(``n_neighbors`` -> ``--n-neighbors``); the short spellings of
:data:`gmmproxy._names.ALIASES` (``--neighbors``, ``--agents``,
``--components``) stay accepted. Output options are checked before any work
by :func:`check_outputs` (the rule is in :mod:`gmmproxy._outputs`).
"""
from __future__ import annotations

import click

from gmmproxy._names import ALIASES
from gmmproxy._outputs import check_output

__all__ = ["flags", "param_option", "force_option", "check_outputs"]


def flags(name: str) -> list[str]:
    """``--canonical-name`` followed by the accepted aliases (``n_agents`` -> ``--n-agents``, ``--agents``)."""
    main = "--" + name.replace("_", "-")
    aliases = ["--" + a.replace("_", "-") for a, c in ALIASES.items() if c == name]
    return [main] + [a for a in aliases if a != main]


def param_option(name: str, **kwargs):
    """A click option for API parameter ``name``, spelled by :func:`flags`, stored under ``name``."""
    return click.option(*flags(name), name, **kwargs)


def force_option(func):
    return click.option("--force", is_flag=True, help="Replace output files that already exist.")(func)


def check_outputs(force: bool, **outputs) -> None:
    """Check every given output (``option -> path``; None = not requested) before any work starts."""
    seen = {}
    for option, path in outputs.items():
        if path is None:
            continue
        flag = "--" + option.rstrip("_").replace("_", "-")
        p = check_output(path, option=flag, force=force)
        key = str(p.resolve())
        if key in seen:
            raise ValueError(f"{flag} and {seen[key]} name the same file {str(path)!r}")
        seen[key] = flag


def parse_auto_or_count(value: str, option: str):
    """``"auto"`` or an integer >= 1 given as text (a dimension, a number of components)."""
    if value == "auto":
        return "auto"
    try:
        d = int(value)
    except ValueError:
        raise ValueError(f"{option} must be 'auto' or an int >= 1; got {value!r}") from None
    if d < 1:
        raise ValueError(f"{option} must be 'auto' or an int >= 1; got {d}")
    return d

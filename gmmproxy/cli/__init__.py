"""The ``gmmproxy`` command line: the top-level group, which loads one module per command group on demand.

Sub-commands (one module per command group in this package, plus ``theory.cli``) are
registered by import path and only imported when used, so ``gmmproxy --help`` stays fast and never imports torch.
"""
from __future__ import annotations

import importlib
import linecache
import os
import sys
import traceback
from pathlib import Path

import click

from gmmproxy._extras import MissingExtraError

# name -> "module:attribute" of a click command or group
_LAZY_COMMANDS = {
    "simulate": "gmmproxy.cli.simulate:simulate_command",
    "sweep": "gmmproxy.cli.sweep:sweep_command",
    "theory": "theory.cli:theory_group",
    "llm": "gmmproxy.cli.llm:llm_group",
    "perspective": "gmmproxy.cli.bridge:perspective_command",
    "warmup": "gmmproxy.cli.warmup:warmup_command",
    "calibrate": "gmmproxy.cli.calibrate:calibrate_group",
}
# extra commands attached to lazily loaded groups: group -> {name: "module:attr"}
_LAZY_GROUP_EXTRAS = {
    "llm": {
        "import": "gmmproxy.cli.bridge:import_command",
        "silos": "gmmproxy.cli.bridge:silos_command",
    },
    "calibrate": {
        "components": "gmmproxy.cli.calibrate_components:components_command",
    },
}


def _load(path: str):
    module_name, attr = path.split(":")
    return getattr(importlib.import_module(module_name), attr)


class _LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(_LAZY_COMMANDS))

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is not None or name not in _LAZY_COMMANDS:
            return cmd
        cmd = _load(_LAZY_COMMANDS[name])
        for extra_name, extra_path in _LAZY_GROUP_EXTRAS.get(name, {}).items():
            if extra_name not in cmd.commands:
                cmd.add_command(_load(extra_path), extra_name)
        return cmd

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except MissingExtraError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)
        except (ValueError, TypeError) as exc:
            if not _raised_by_validation(exc):
                _internal_error(ctx)
            # a bad parameter value: one line and exit 2, like click's own usage errors
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)
        except OSError as exc:
            # the machine said no (disk full, permission changed mid-run): not a bug, not a usage error
            where = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
            click.echo(f"Error: cannot access{where}: {exc.strerror or exc}", err=True)
            ctx.exit(1)
        except Exception:
            _internal_error(ctx)


# where validation code lives: the gmmproxy package and its sibling theory package
_PACKAGE_ROOTS = tuple(str(p) + os.sep for p in (Path(__file__).resolve().parents[1],
                                                  Path(__file__).resolve().parents[2] / "theory"))


def _raised_by_validation(exc: BaseException) -> bool:
    """True when a ``raise`` statement in gmmproxy or theory raised ``exc`` (a checked input).

    Validation code raises ValueError/TypeError explicitly with a message
    naming the parameter. The same exception types also come out of NumPy,
    SciPy or Python itself when *our* code has a bug (a shape mismatch, a
    wrong call); those must keep their traceback, not pass for a user error.
    """
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = str(Path(tb.tb_frame.f_code.co_filename).resolve())
    if not filename.startswith(_PACKAGE_ROOTS):
        return False
    return linecache.getline(tb.tb_frame.f_code.co_filename, tb.tb_lineno).lstrip().startswith("raise")


def _internal_error(ctx):
    from gmmproxy import __version__

    traceback.print_exc()
    click.echo(f"gmmproxy {__version__}: internal error (a bug, not a problem with your input). Please report "
               "it with the command line and the traceback above.", err=True)
    ctx.exit(1)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gmmproxy")
def main():
    """Interacting Gaussian-mixture agents as a proxy for interacting LLM agents."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

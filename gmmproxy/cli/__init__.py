"""The ``gmmproxy`` command line: the top-level group, which loads one module per command group on demand.

Sub-commands (one module per command group in this package, plus ``theory.cli``) are
registered by import path and only imported when used, so ``gmmproxy --help`` stays fast and never imports torch.
"""
from __future__ import annotations

import importlib
import sys

import click

# name -> "module:attribute" of a click command or group
_LAZY_COMMANDS = {
    "simulate": "gmmproxy.cli.simulate:simulate_command",
    "sweep": "gmmproxy.cli.sweep:sweep_command",
    "theory": "theory.cli:theory_group",
    "llm": "gmmproxy.cli.llm:llm_group",
    "perspective": "gmmproxy.cli.bridge:perspective_command",
    "calibrate": "gmmproxy.cli.calibrate:calibrate_group",
}
# extra commands attached to lazily loaded groups: group -> {name: "module:attr"}
_LAZY_GROUP_EXTRAS = {
    "llm": {
        "import": "gmmproxy.cli.bridge:import_command",
        "silos": "gmmproxy.cli.bridge:silos_command",
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
        # Bad parameter values surface as ValueError from the validating layer:
        # print them as one line and exit 2, like click's own usage errors.
        try:
            return super().invoke(ctx)
        except (ValueError, TypeError) as exc:
            if isinstance(exc, click.ClickException):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gmmproxy")
def main():
    """Interacting Gaussian-mixture agents as a proxy for interacting LLM agents."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

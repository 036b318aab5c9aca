"""Top-level ``reprobe`` click group; user errors become one line on stderr and exit code 2."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import warnings

import click

from ..errors import ReprobeError, ReprobeWarning


class CliError(click.ClickException):
    """A :class:`ReprobeError` on its way out of the CLI: ``Error: …`` and exit code 2."""

    exit_code = 2


class ReprobeGroup(click.Group):
    """A click group that turns :class:`ReprobeError` (and interrupted runs) into clean exits."""

    def invoke(self, ctx: click.Context):
        try:
            with warnings.catch_warnings():
                # The commands print the probe's warnings themselves ("warning: …"), once.
                warnings.simplefilter("ignore", ReprobeWarning)
                return super().invoke(ctx)
        except ReprobeError as e:
            raise CliError(str(e)) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)


@click.group(cls=ReprobeGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="reprobe")
def cli() -> None:
    """reprobe: predict whether a deep network will train, before training it.

    Decoders rebuild every stage's input from its output; the depth where reconstruction
    entropy saturates (the cutoff) tells how far information travels.
    """


def _add_commands() -> None:
    # Each module of reprobe.cli may export COMMANDS; importing them here keeps one place that
    # builds the CLI without every feature editing this file.
    pkg = importlib.import_module("reprobe.cli")
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name in ("main", "__main__") or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"reprobe.cli.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_add_commands()


def main() -> None:  # console-script entry point
    cli(prog_name="reprobe")


if __name__ == "__main__":
    main()

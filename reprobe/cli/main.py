"""Top-level ``reprobe`` click group; every error becomes one line on stderr and exit code 2.

User errors (:class:`ReprobeError`, bad option values) say how to fix them. Any other exception
(a bug, a torch error, running out of memory) is still one ``Error:`` line; ``reprobe --debug …``
(or ``REPROBE_DEBUG=1``) shows its traceback instead. Ctrl-C prints one line saying what was kept.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import warnings

import click

from ..core.errors import ParamMessage, ReprobeError, ReprobeWarning

#: Exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_EXIT = 130


class CliError(click.ClickException):
    """A :class:`ReprobeError` on its way out of the CLI: ``Error: …`` and exit code 2."""

    exit_code = 2


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def describe_exception(e: BaseException) -> str:
    """One line for an unexpected exception, with the fix where we know it."""
    text = _one_line(str(e))
    if isinstance(e, MemoryError) or "can't allocate memory" in text or "out of memory" in text.lower():
        return ("out of memory" + (f" ({text})" if text else "")
                + "; lower --depth, --width, --image-size, --batch-size or --samples")
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _close_progress_bars() -> None:
    """Clear progress bars an exception left open, so that the error starts its own line."""
    try:
        from tqdm import tqdm
    except ImportError:
        return
    for bar in list(getattr(tqdm, "_instances", None) or []):
        bar.close()


class ReprobeGroup(click.Group):
    """A click group that turns every error (and Ctrl-C) into one clean line."""

    def invoke(self, ctx: click.Context):
        def debug() -> bool:  # set by the group's callback, which runs inside super().invoke
            return bool((ctx.obj or {}).get("debug"))

        try:
            with warnings.catch_warnings():
                # The commands print the probe's warnings themselves ("warning: …"), once.
                warnings.simplefilter("ignore", ReprobeWarning)
                return super().invoke(ctx)
        except click.exceptions.UsageError as e:
            # click prints "Usage: … Try … Error: …" on three lines; one is enough.
            raise CliError(_one_line(e.format_message())) from None
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except ReprobeError as e:
            _close_progress_bars()
            if debug():
                raise
            from .options import flag_for

            raise CliError(_one_line(e.spelled(flag_for))) from None  # parameters named as flags
        except KeyboardInterrupt as e:
            _close_progress_bars()
            if debug():
                raise
            from .options import flag_for

            text = e.spelled(flag_for) if isinstance(e, ParamMessage) else str(e)  # e.g. sweep's Interrupted
            click.echo(f"Error: {_one_line(text) or 'interrupted'}", err=True)
            sys.exit(INTERRUPTED_EXIT)
        except Exception as e:
            _close_progress_bars()
            if debug():
                raise
            raise CliError(describe_exception(e) + " (rerun as `reprobe --debug …` for the traceback)") from None


@click.group(cls=ReprobeGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="reprobe")
@click.option("--debug", is_flag=True, envvar="REPROBE_DEBUG",
              help="show the full traceback of an unexpected error (also REPROBE_DEBUG=1)")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """reprobe: predict whether a deep network will train, before training it.

    Decoders rebuild every stage's input from its output; the depth where reconstruction
    entropy saturates (the cutoff) tells how far information travels.
    """
    ctx.ensure_object(dict)["debug"] = debug


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

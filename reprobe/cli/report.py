"""``reprobe report``: a self-contained HTML page from saved runs, comparisons and sweeps."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("folders", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out_file", type=click.Path(dir_okay=False), default=None,
              help="HTML file to write (default: FOLDER/report.html for one folder, report.html for several)")
def report_cmd(folders, out_file):
    """Render saved run, compare or sweep FOLDERS into one HTML page (nothing is re-probed).

    A run folder has result.json, a comparison summary.json + runs/, a sweep sweep.json.
    """
    from ..report import write_report
    from .options import command_line

    if out_file is None:
        out_file = Path(folders[0]) / "report.html" if len(folders) == 1 else Path("report.html")
    path = write_report(list(folders), out_file, command=command_line())
    click.echo(f"wrote {path}")


COMMANDS = [report_cmd]

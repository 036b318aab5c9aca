"""``reprobe compare``: probe several models on the same data and rank their trainability."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..core.format import format_number
from .options import (data_kwargs, data_options, executor_kwargs, executor_options, model_kwargs, model_options,
                      probe_kwargs, probe_options)


def compare_model_options(f):
    """The shared model options, with ``--model`` repeatable (NAME[:key=value,…])."""
    f = model_options(f)
    for i, p in enumerate(f.__click_params__):
        if p.name == "model":
            f.__click_params__[i] = click.Option(
                ["--model", "models"], multiple=True, required=True, metavar="NAME[:k=v,…]",
                help="model to compare (repeatable): a name (`reprobe list models`), optionally with its own "
                     "options after the last ':', e.g. mlp:depth=50,sigma_w2=1.2 or timm:resnet18. "
                     "Per-model options override the shared ones below.")
    return f


@click.command("compare")
@compare_model_options
@data_options
@probe_options
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="output folder (default: runs/compare-<time>); must be new or empty unless --force")
@click.option("--force", is_flag=True, help="replace the results in an existing --out folder")
@click.option("--report/--no-report", "write_html", default=True, show_default=True,
              help="write OUT/report.html")
@click.option("--quiet", "-q", is_flag=True, help="no progress bars, no table")
@click.option("--predictor", "predictors", multiple=True, metavar="NAME",
              help="also score every model with this trainability predictor (repeatable; `reprobe list predictors`)")
@executor_options
def compare_cmd(models, out, force, write_html, quiet, predictors, **params):
    """Probe several models on the same data and rank them by predicted trainability.

    Example: reprobe compare --model mlp:depth=30,sigma_w2=1.0 --model mlp:depth=30,sigma_w2=1.76

    Writes OUT/runs/<model>/ (one run folder each), OUT/summary.json, OUT/summary.csv and
    OUT/report.html (entropy curves, ranking, reconstructions, stage tables). Exits with code 1
    when a model failed (the others are still ranked and written).
    """
    from ..experiments.compare import compare_models, parse_model_spec
    from ..core.outdir import claimed
    from ..report import write_report
    from .options import command_line

    run = executor_kwargs(params)
    specs = [parse_model_spec(m) for m in models]
    out_dir = Path(out) if out else Path("runs") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    echo = (lambda s: None) if quiet else (lambda s: click.echo(s, err=True))
    command = command_line()

    def write_page(folder):
        write_report([folder], folder / "report.html", command=command, allow_incomplete=True)

    with claimed(out_dir, force=force):
        try:
            summary = compare_models(
                specs, out_dir, data=params["data"], data_options=data_kwargs(params),
                model_options=model_kwargs(params), probe_options=probe_kwargs(params, progress=not quiet),
                command=command, report=write_page if write_html else None, echo=echo, predictors=predictors, **run,
            )
        except KeyboardInterrupt:
            raise KeyboardInterrupt(f"interrupted; {out_dir} is incomplete (marked by its INCOMPLETE file); "
                                    "run again with --force") from None
    metric = summary["rank_metric"]
    if not quiet:
        click.echo(f"\nRanking by the verdict (undecidable last; a collapsed last stage never above one that is not; "
                   f"then predicted deepest trainable net / L; then ℓ*/L of {metric}):")
        w = max(len(e["name"]) for e in summary["models"])
        for e in summary["models"]:
            c = e["cutoffs"].get(metric)
            click.echo(f"  {e['rank']:>2}. {e['name']:<{w}}  ℓ* = {'-' if c is None else c:>4} of L = {e['depth']:<4} {e['reason']}")
            scores = ", ".join(f"{n} {_score(d)}" for n, d in (e.get("predictors") or {}).items())
            if scores:
                click.echo(f"      {'':<{w}}  predictors: {scores}")
    for f in summary["failed"]:
        click.echo(f"warning: {f['name']} failed: {f['error']}", err=True)
    files = "summary.json, summary.csv" + (", report.html" if write_html else "")
    click.echo(f"wrote {out_dir}/runs/ ({len(summary['models'])} runs), {files}")
    if summary["failed"]:
        raise click.exceptions.Exit(1)  # the warnings above say which model failed and why


def _score(d: dict) -> str:
    v = d.get("score")
    return format_number(v, missing="n/a")


COMMANDS = [compare_cmd]

"""``reprobe validate``: score the prediction, the ℓ* rules and mean field against a grid's trained nets."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("validate")
@click.argument("grid_dir", type=click.Path(file_okay=False))
@click.option("--acc-threshold", type=click.FloatRange(0, 1), default=None,
              help="accuracy that counts as trained (default: 2 × chance)")
@click.option("--activation", default="tanh", show_default=True, help="activation, for mean field's 6ξ_c")
@click.option("--metric", default=None, help="curve of the prediction's ξ̂ (default: relative_entropy)")
@click.option("--json", "as_json", is_flag=True, help="print a JSON object instead of the table")
def validate_cmd(grid_dir, acc_threshold, activation, metric, as_json):
    """How good are the predictions? Score them against the trained nets of GRID_DIR.

    GRID_DIR holds a sweep's points.jsonl and the trained nets of `reprobe train-grid` (or
    `sweep --verify`). Prints, for reprobe's prediction (depth ≤ c·ξ̂), the paper's ℓ* rules and mean
    field's 6ξ_c side by side: the share of cells where the rule agrees with training, the AUROC of
    its predicted depth over the cell's depth, and the Spearman correlation across σ_w² of its
    depth with the deepest depth that trained.
    """
    from ..experiments.sweep import validate_grid

    res = validate_grid(Path(grid_dir), acc_threshold, activation, **({"metric": metric} if metric else {}))
    if as_json:
        click.echo(json.dumps({**res, "rules": [r.to_dict() for r in res["rules"]]}, allow_nan=False))
        return
    click.echo(f"ground truth: {res['cells']} trained cells, trainable ⇔ accuracy ≥ {res['acc_threshold']:.3f}")
    click.echo(f"  {'rule':<34} {'cells':>5} {'agreement':>10} {'AUROC':>6} {'spearman':>9}")
    for r in res["rules"]:
        click.echo(f"  {r.rule:<34} {r.cells:>5} {_fmt3(r.agreement):>10} {_fmt3(r.auroc):>6} {_fmt3(r.spearman):>9}")


def _fmt3(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


COMMANDS = [validate_cmd]

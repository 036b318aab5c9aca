"""``reprobe sweep``, ``reprobe train-grid``: phase diagrams and trainability over a grid.

* ``sweep`` probes one net per grid point (σ_w², σ_b², depth, width), in parallel, resumable,
  writing ``points.jsonl``, ``sweep.json``, ``summary.csv`` and ``phase.png`` (and with ``--verify``
  also trains every probed net: ground truth in the same records, ``trained.png``, agreement numbers).
  Each point gets reprobe's prediction: the deepest trainable net is c·ξ̂ stages, ξ̂ the measured
  correlation length, and its verdict at the point's depth.
* ``train-grid`` trains nets on a grid (typically several depths ≤ the probed L) into
  ``trained.jsonl`` next to a sweep's ``points.jsonl``; both commands then report how well the
  prediction (``depth ≤ c·ξ̂``), the paper's ``depth ≤ ℓ*`` and mean field's ``depth ≤ 6ξ_c`` predict
  ``accuracy ≥ --acc-threshold`` (``reprobe validate`` scores them in full).

Both call the library (:func:`reprobe.experiments.sweep.run_sweep`, :func:`~reprobe.experiments.sweep.run_train_grid`);
this module parses, draws the pictures and the page through their ``finish`` callback, and prints.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import click

from .grid_options import family_options, grid_options, run_options, train_options, training_kwargs
from ..probe.config import SEED_RANGE
from .options import (FLAG_NAMES, POSITIVE_INT, WholeRange, command_line, data_kwargs, data_options, executor_kwargs, executor_options,
                      probe_kwargs, probe_options)

def _grid_run(params: Dict[str, Any], out, resume: bool, jobs: Optional[int], quiet: bool) -> Dict[str, Any]:
    """The keywords both grid commands give the library: the grid, data, model, executor and callbacks."""
    def finish(summary: Dict[str, Any]) -> List[str]:
        return _draw(Path(out), summary, params["activation"])

    return dict(model=params["model"], sigma_w2=params["sigma_w2"], sigma_b2=params["sigma_b2"], depth=params["depth"],
                width=params.get("width") or (None,), data=params["data"], jobs=jobs, resume=resume,
                acc_threshold=params.get("acc_threshold"), activation=params["activation"], seed=params["seed"],
                progress=not quiet, data_options=data_kwargs(params), model_options={"shape": params["net_shape"]},
                command=command_line(), warn=lambda w: click.echo(f"warning: {w}", err=True),
                echo=None if quiet else (lambda line: click.echo(line, err=True)), finish=finish,
                **executor_kwargs({**params, "jobs": jobs}))


def _draw(out: Path, summary: Dict[str, Any], activation: str) -> List[str]:
    """phase.png and trained.png, and the folder's report.html (re-render it with `reprobe report OUT`)."""
    from ..figures.phase import draw_sweep
    from ..report import write_report

    files = draw_sweep(out, summary["probes"], summary["trained"], acc_threshold=summary["acc_threshold"],
                       activation=activation)
    if summary["probes"] or summary["trained"]:
        write_report([out], out / "report.html", command=summary["command"])
        files.append("report.html")
    return files


@click.command("sweep")
@family_options
@grid_options
@data_options
@probe_options
@run_options
@executor_options
@click.option("--verify", is_flag=True, help="also train every probed net (ground truth; see --train-*)")
@train_options("train-")
@click.option("--predictor", "predictors", multiple=True, metavar="NAME",
              help="also score every probed net with this trainability predictor (repeatable; `reprobe list "
                   "predictors`); partial_jacobian adds its χ = 1 line to phase.png")
@click.option("--batch", "batch", type=POSITIVE_INT, default=1, show_default=True, metavar="K",
              help="probe up to K equal-shape MLPs (one σ_w² row) together in one batched pass; 1: one at a time")
@click.option("--tensorboard", "tensorboard_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="also log every point to this TensorBoard folder as hparams, with its curves "
                   "(pip install \"reprobe[tensorboard]\")")
def sweep_cmd(out, resume, jobs, quiet, verify, predictors, batch, tensorboard_dir, **params):
    """Probe one net per grid point: entropy per stage, ℓ*, ξ̂ and the verdict across the phase diagram.

    Writes OUT/points.jsonl (one line per finished point; safe to interrupt, --resume continues),
    OUT/sweep.json (summary, mean-field reference, agreement with ground truth if any), OUT/summary.csv
    (one line per point: verdict, predicted deepest trainable depth c·ξ̂, ξ̂, ℓ*) and OUT/phase.png
    (differential entropy over σ_w² × stage, with ℓ*, the predicted depth, 6ξ_c and each predictor's
    critical σ_w²: the probe's ξ̂ peak, mean field's, and with --predictor partial_jacobian χ = 1).

    Ground truth: --verify trains each probed net; or run `reprobe train-grid --out OUT` over
    several depths — a cell (σ_w², depth d) is predicted trainable when d ≤ c·ξ̂.
    """
    from ..experiments.sweep import run_sweep

    t0 = time.perf_counter()
    if tensorboard_dir:
        from ..report.tracker import require_tensorboard

        require_tensorboard()
    res = run_sweep(out, probe=probe_kwargs(params, progress=False), train=training_kwargs(params, "train_") if verify else None,
                    predictors=predictors, batch=batch, names=FLAG_NAMES, **_grid_run(params, out, resume, jobs, quiet))
    if not quiet:
        _print_points(res["probes"], res["theory"])
        _print_critical_lines(res.get("critical_lines") or {})
        _print_agreement(res["agreement"])
    click.echo(f"{res['ran']} points run, {res['skipped']} resumed; wrote {out}/points.jsonl, " + ", ".join(res["files"])
               + f"  ({time.perf_counter() - t0:.1f}s)")
    if tensorboard_dir:
        from ..report.tracker import log_sweep

        n = log_sweep(res["probes"], tensorboard_dir)
        click.echo(f"logged {n} points to TensorBoard: {tensorboard_dir}  (tensorboard --logdir {tensorboard_dir})")


def _fmt(v: Optional[float], spec: str = ".3f", bound: bool = False) -> str:
    if v is None:
        return "-"
    return ("≥" if bound else "") + ("inf" if v == math.inf else format(v, spec))


def _print_points(probes: List[dict], theory: Dict[str, Any]) -> None:
    """One line per probed point: the point, ℓ*, the last stage's entropy, ξ̂, the prediction and its verdict."""
    from ..analysis.sweep_summary import point_rows

    rows = point_rows(probes, theory)
    if not rows:
        return
    click.echo(f"{'σ_w²':>6} {'σ_b²':>6} {'L':>5} {'width':>6} {'ℓ*(RE)':>7} {'ℓ*(S)':>6} {'final S':>9} {'ξ̂':>8} "
               f"{'pred. depth':>11} {'verdict':<12} {'6ξ_c':>7} {'acc':>6}")
    for r in rows:
        cut = [r.get(f"l_star_{m}") for m in ("relative_entropy", "differential_entropy")]
        click.echo(f"{r['sigma_w2']:>6g} {r['sigma_b2']:>6g} {r['depth']:>5} {str(r['width'] or '-'):>6} "
                   f"{str('-' if cut[0] is None else cut[0]):>7} {str('-' if cut[1] is None else cut[1]):>6} "
                   f"{_fmt(r.get('final_differential_entropy')):>9} {_fmt(r['xi'], '.2f', bool(r['xi_is_bound'])):>7} "
                   f"{_fmt(r['predicted_depth'], '.0f', bool(r['predicted_depth_is_bound'])):>11} "
                   f"{r['verdict'] or '-':<12} {_fmt(r['six_xi_c'], '.1f'):>7} {_fmt(r['accuracy']):>6}")


def _print_agreement(agree: Dict[str, Any]) -> None:
    if not agree:
        return
    p, t = agree["probe"], agree["theory"]
    click.echo(f"ground truth: {agree['cells']} trained cells, trainable ⇔ accuracy ≥ {agree['acc_threshold']:.3f}")
    click.echo(f"  {'rule':<22} {'agreement':>10} {'spearman':>9}")
    if agree.get("prediction"):
        q = agree["prediction"]
        click.echo(f"  {'prediction: ≤ c·ξ̂':<23} {_na(q['fraction']):>10} {_na(q['spearman']):>9}")  # ̂ takes no column
    click.echo(f"  {'probe: depth ≤ ℓ*':<22} {_na(p['fraction']):>10} {_na(p['spearman']):>9}")
    click.echo(f"  {'mean field: ≤ 6ξ_c':<22} {_na(t['fraction']):>10} {_na(t['spearman']):>9}")


def _na(v: Optional[float]) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def _print_critical_lines(lines: Dict[str, Any]) -> None:
    """One line per σ_b² (depth, width): each predictor's critical σ_w² and its distance from mean field's."""
    from ..analysis.critical_lines import LINE_NAMES

    labels = {"mean_field": "mean field", "probe_xi_peak": "probe ξ̂ peak", "partial_jacobian": "partial Jacobian χ=1"}
    for key, row in lines.items():
        parts = []
        for name in [n for n in LINE_NAMES if n in row]:
            v, rel = row[name], (row.get("vs_mean_field") or {}).get(name)
            parts.append(f"{labels[name]} " + ("-" if v is None else f"{v:.3f}") + ("" if rel is None else f" ({rel:+.1%})"))
        notes = [f"{labels.get(n, n)} {text}" for n, text in (row.get("notes") or {}).items()]
        click.echo(f"critical σ_w² at {key.replace(',', ', ')}: " + ", ".join(parts) + "".join(f"; {note}" for note in notes))


@click.command("train-grid")
@family_options
@grid_options
@data_options
@run_options
@executor_options
@train_options("")
@click.option("--seed", type=WholeRange(*SEED_RANGE), default=0, show_default=True, help="seed of weights, split and shuffling")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N")
def train_grid_cmd(out, resume, jobs, quiet, **params):
    """Ground truth: train a net at each grid point (SGD) and record its accuracy.

    Writes OUT/trained.jsonl (resumable like a sweep). When OUT also holds a sweep's points.jsonl,
    updates OUT/sweep.json with how well the prediction (depth ≤ c·ξ̂), `depth ≤ ℓ*` (ℓ* of the probed
    net at the same σ_w², σ_b², width — the same depth if probed, else the deepest) and `depth ≤ 6ξ_c`
    agree with `accuracy ≥ --acc-threshold`, and draws OUT/trained.png.
    """
    from ..experiments.sweep import run_train_grid

    t0 = time.perf_counter()
    res = run_train_grid(out, train=training_kwargs(params), **_grid_run(params, out, resume, jobs, quiet))
    if not quiet:
        click.echo(f"{'σ_w²':>6} {'σ_b²':>6} {'L':>5} {'acc':>7} {'loss':>8}")
        for t in sorted(res["store"].records, key=lambda r: (r["sigma_b2"], r["depth"], r["sigma_w2"])):
            tl = (t.get("training") or {}).get("train_loss")
            click.echo(f"{t['sigma_w2']:>6g} {t['sigma_b2']:>6g} {t['depth']:>5} {t['accuracy']:>7.3f} "
                       f"{('%.3f' % tl) if tl is not None else 'nan':>8}")
        _print_agreement(res["agreement"])
    click.echo(f"{res['ran']} nets trained, {res['skipped']} resumed; wrote {out}/trained.jsonl, " + ", ".join(res["files"])
               + f"  ({time.perf_counter() - t0:.1f}s)")


COMMANDS = [sweep_cmd, train_grid_cmd]

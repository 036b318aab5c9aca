"""``reprobe sweep``, ``reprobe critical``, ``reprobe train-grid``: phase diagrams and trainability.

* ``sweep`` probes one net per grid point (σ_w², σ_b², depth, width), in parallel, resumable,
  writing ``points.jsonl``, ``sweep.json`` and ``phase.png`` (and with ``--verify`` also trains
  every probed net: ground truth in the same records, ``trained.png``, agreement numbers).
* ``train-grid`` trains nets on a grid (typically several depths ≤ the probed L) into
  ``trained.jsonl`` next to a sweep's ``points.jsonl``; both commands then report how well
  ``depth ≤ ℓ*`` and ``depth ≤ 6ξ_c`` predict ``accuracy ≥ --acc-threshold``.
* ``critical`` finds the σ_w² of deepest information propagation by golden-section search.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import click

from ..core.errors import ReprobeError
from .options import (FLAG_NAMES, NON_NEGATIVE, POSITIVE, POSITIVE_INT, FiniteFloat, _stack, data_kwargs, data_options,
                      executor_kwargs, executor_options, probe_kwargs, probe_options)

GRID_HELP = "START:STOP:STEP (inclusive) or a list a,b,c"


def family_options(f):
    """--model, --activation, --shape (the grid axes are separate options)."""
    return _stack(
        click.option("--model", "model", default="mlp", show_default=True,
                     help="model name; any builder taking sigma_w2/sigma_b2 (`reprobe list models`)"),
        click.option("--activation", default="tanh", show_default=True, help="activation of the random net"),
        click.option("--shape", "net_shape", type=click.Choice(["wide", "shrinking"]), default="wide",
                     show_default=True, help="mlp layer widths"),
    )(f)


def grid_options(f):
    return _stack(
        click.option("--sigma-w2", "sigma_w2", default="1.0:4.0:0.25", show_default=True, metavar="GRID",
                     help=f"weight variances σ_w²: {GRID_HELP}"),
        click.option("--sigma-b2", "sigma_b2", default="0.05", show_default=True, metavar="GRID",
                     help=f"bias variances σ_b²: {GRID_HELP}"),
        click.option("--depth", "depth", default="50", show_default=True, metavar="GRID",
                     help=f"depths (stages) L: {GRID_HELP}"),
        click.option("--width", "width", default=None, metavar="GRID",
                     help=f"hidden widths (cnn/resnet: channels): {GRID_HELP} (default: the model's, 784 for "
                          "MNIST MLPs)"),
    )(f)


def run_options(f):
    return _stack(
        click.option("--out", type=click.Path(file_okay=False), required=True, help="output folder"),
        click.option("--resume", is_flag=True, help="continue a sweep in --out: skip the points already finished"),
        click.option("--jobs", "-j", type=POSITIVE_INT, default=None,
                     help="parallel worker processes (default: number of cores; 1 = in this process)"),
        click.option("--acc-threshold", type=FiniteFloat(min=0, max=1), default=None,
                     help="accuracy that counts as trained (default: the protocol's: v2 halfway from chance to perfect on the "
                          "training set, v1 2 × chance held out)"),
        click.option("--quiet", "-q", is_flag=True, help="no progress bar, no table"),
    )(f)


def train_options(prefix: str):
    """Training options; ``prefix`` is "" for train-grid and "train-" for sweep --verify."""
    p = f"--{prefix}"
    n = prefix.replace("-", "_")

    def deco(f):
        return _stack(
            click.option(f"{p}lr", f"{n}lr", type=POSITIVE, multiple=True, metavar="LR",
                         help="learning rate, repeatable. None (default): protocol v2, the best of 0.001, 0.00464, "
                              "0.0215 and 0.1, judged on training accuracy; several: v2 over those; once: the "
                              "single-rate protocol v1, judged on held-out accuracy"),
            click.option(f"{p}epochs", f"{n}epochs", type=POSITIVE_INT, default=None,
                         help="passes over the training data per rate (v1 default: 1)"),
            click.option(f"{p}steps", f"{n}steps", type=POSITIVE_INT, default=None,
                         help="optimizer steps per rate (v2 default: 1000)"),
            click.option(f"{p}batch-size", f"{n}batch_size", type=POSITIVE_INT, default=64, show_default=True,
                         help="training batch size"),
            click.option(f"{p}momentum", f"{n}momentum", type=NON_NEGATIVE, default=0.0, show_default=True,
                         help="SGD momentum"),
            click.option(f"{p}optimizer", f"{n}optimizer", type=click.Choice(["sgd", "adam"]), default="sgd",
                         show_default=True, help="optimizer"),
        )(f)

    return deco


def _train_kwargs(params: Dict[str, Any], prefix: str = "", target: Optional[float] = None) -> Dict[str, Any]:
    from ..experiments.ground_truth import train_settings

    return train_settings(  # fails now, not after the first point was probed
        lr=list(params[f"{prefix}lr"]) or None, epochs=params[f"{prefix}epochs"], steps=params[f"{prefix}steps"],
        batch_size=params[f"{prefix}batch_size"], momentum=params[f"{prefix}momentum"],
        optimizer=params[f"{prefix}optimizer"], train_samples=params.get("train_samples"), acc_threshold=target,
        device="cpu" if params.get("device") in (None, "auto") else params["device"])


def _check_jobs(jobs: Optional[int]) -> None:
    if jobs is not None and jobs < 1:
        raise ReprobeError(f"--jobs must be at least 1, got {jobs}")


def _grid(params: Dict[str, Any]):
    from ..experiments.grid import sweep_grid

    return sweep_grid(params["sigma_w2"], params["sigma_b2"], params["depth"], params.get("width") or (None,))


def _command() -> str:
    from .options import command_line

    return command_line()


def _model_options(params) -> Dict[str, Any]:
    return {"activation": params["activation"], "shape": params["net_shape"]}


def _tasks(grid, params, probe: Optional[dict], train: Optional[dict]) -> List[dict]:
    from ..experiments.grid import expand_grid

    base = {"model": params["model"], "model_options": _model_options(params), "data": params["data"],
            "data_options": data_kwargs(params), "probe": probe, "train": train}
    return [{**p, **base} for p in expand_grid(grid["sigma_w2"], grid["sigma_b2"], grid["depth"], grid["width"],
                                                params.get("seed", 0))]


def _check_model(params, grid):
    """Load the data and build the model at the first grid point, so that a bad name or option
    fails here, once, before any worker starts. Returns (num_classes, bundle)."""
    from ..models import build_model
    from ..experiments.points import _bundle, _width_key

    bundle = _bundle(params["data"], data_kwargs(params))  # cached: in-process points reuse it
    opts = {**_model_options(params), "sigma_w2": grid["sigma_w2"][0], "sigma_b2": grid["sigma_b2"][0],
            "depth": min(grid["depth"])}
    if grid["width"][0] is not None:
        opts[_width_key(params["model"])] = min(grid["width"])
    build_model(params["model"], bundle.input_shape, bundle.num_classes, **opts)
    from ..probe.memory import check_model_memory

    biggest = {**opts, "depth": max(grid["depth"])}
    if grid["width"][0] is not None:
        biggest[_width_key(params["model"])] = max(grid["width"])
    if "metrics" in params:  # a probing sweep: the probe's buffers count too
        check_model_memory(params["model"], bundle, biggest, probe_kwargs(params, progress=False), names=FLAG_NAMES)
    return bundle.num_classes, bundle


def finalize(out: Path, *, meta: Dict[str, Any], acc_threshold: float, activation: str, quiet: bool,
             metric: str = "relative_entropy") -> Dict[str, Any]:
    """Summarise ``out`` (:func:`~reprobe.experiments.sweep.finalize_sweep`: sweep.json), draw
    phase.png and trained.png, and write the folder's report.html."""
    from ..experiments.sweep import finalize_sweep
    from ..figures.phase import draw_sweep

    res = finalize_sweep(out, meta=meta, acc_threshold=acc_threshold, activation=activation, metric=metric)
    res["files"] += draw_sweep(out, res["probes"], res["trained"], metric=metric, acc_threshold=acc_threshold,
                               activation=activation)
    if res["probes"] or res["trained"]:
        # Every sweep folder carries its own readable page (re-render with `reprobe report OUT`).
        from ..report import write_report

        write_report([out], out / "report.html", command=res["command"])
        res["files"].append("report.html")
    return res


def _print_table(probes: List[dict], theory: Dict[str, Any]) -> None:
    from ..analysis.records import as_points
    from ..experiments.sweep import six_xi

    if not probes:
        return
    click.echo(f"{'σ_w²':>6} {'σ_b²':>6} {'L':>5} {'width':>6} {'ℓ*(RE)':>7} {'ℓ*(S)':>6} {'final S':>9} "
               f"{'6ξ_c':>7} {'acc':>6}")
    for p in sorted(as_points(probes), key=lambda r: (r.sigma_b2, r.depth, r.width or 0, r.sigma_w2)):
        c = p.cutoffs
        s = p.final("differential_entropy")
        xi = six_xi(theory, p.sigma_w2, p.sigma_b2)
        acc = p.accuracy
        click.echo(f"{p.sigma_w2:>6g} {p.sigma_b2:>6g} {p.depth:>5} {str(p.width or '-'):>6} "
                   f"{str(c.get('relative_entropy', '-')):>7} {str(c.get('differential_entropy', '-')):>6} "
                   f"{('%.3f' % s) if s is not None else '-':>9} "
                   f"{('inf' if xi == math.inf else ('%.1f' % xi if xi is not None else '-')):>7} "
                   f"{('%.3f' % acc) if acc is not None else '-':>6}")


def _print_agreement(agree: Dict[str, Any]) -> None:
    if not agree:
        return
    p, t = agree["probe"], agree["theory"]

    def f(v):
        return "n/a" if v is None else f"{v:.3f}"

    click.echo(f"ground truth: {agree['cells']} trained cells, trainable ⇔ accuracy ≥ {agree['acc_threshold']:.3f}")
    click.echo(f"  {'rule':<22} {'agreement':>10} {'spearman':>9}")
    if agree.get("prediction"):
        q = agree["prediction"]
        click.echo(f"  {'prediction: ≤ c·ξ̂':<23} {f(q['fraction']):>10} {f(q['spearman']):>9}")  # ̂ takes no column
    click.echo(f"  {'probe: depth ≤ ℓ*':<22} {f(p['fraction']):>10} {f(p['spearman']):>9}")
    click.echo(f"  {'mean field: ≤ 6ξ_c':<22} {f(t['fraction']):>10} {f(t['spearman']):>9}")


def _print_critical_lines(lines: Dict[str, Any]) -> None:
    """One line per σ_b² (depth, width): each predictor's critical σ_w² and its distance from mean field's."""
    from ..analysis.critical_lines import LINE_NAMES

    labels = {"mean_field": "mean field", "probe_xi_peak": "probe ξ̂ peak", "partial_jacobian": "partial Jacobian χ=1"}
    for key, row in lines.items():
        parts = []
        for name in LINE_NAMES:
            if name not in row:
                continue
            v, rel = row[name], (row.get("vs_mean_field") or {}).get(name)
            parts.append(f"{labels[name]} " + ("-" if v is None else f"{v:.3f}") + ("" if rel is None else f" ({rel:+.1%})"))
        notes = [f"{labels.get(n, n)} {text}" for n, text in (row.get("notes") or {}).items()]
        click.echo(f"critical σ_w² at {key.replace(',', ', ')}: " + ", ".join(parts)
                   + "".join(f"; {note}" for note in notes))


def _threshold(params, num_classes: int, train: Optional[Dict[str, Any]] = None) -> float:
    """--acc-threshold, else the training protocol's target (v2: halfway from chance to perfect), else 2 × chance."""
    from ..experiments.ground_truth import default_target

    thr = params.get("acc_threshold")
    if thr is None:
        return default_target(train["split"] if train else "test", num_classes)
    if not (0 <= thr <= 1):
        raise ReprobeError(f"--acc-threshold is a fraction in [0, 1], got {thr}")
    return thr


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
def sweep_cmd(out, resume, jobs, quiet, verify, predictors, tensorboard_dir, **params):
    """Probe one net per grid point: entropy per stage and ℓ* across the phase diagram.

    Writes OUT/points.jsonl (one line per finished point; safe to interrupt, --resume continues),
    OUT/sweep.json (summary, mean-field reference, agreement with ground truth if any) and
    OUT/phase.png (differential entropy over σ_w² × stage, with ℓ*, 6ξ_c and each predictor's
    critical σ_w²: the probe's ξ̂ peak, mean field's, and with --predictor partial_jacobian χ = 1).

    Ground truth: --verify trains each probed net; or run `reprobe train-grid --out OUT` over
    several depths ≤ L — a cell (σ_w², depth d) is predicted trainable when d ≤ ℓ*.
    """
    from ..experiments.sweep import check_predictors, with_predictors

    out = Path(out)
    _check_jobs(jobs)
    if tensorboard_dir:
        from ..report.tracker import require_tensorboard

        require_tensorboard()
    predictors = check_predictors(predictors)  # unknown names fail before any work
    run = {**executor_kwargs({**params, "jobs": jobs}), "batch": params["batch"]}
    grid = _grid(params)
    num_classes, bundle = _check_model(params, grid)
    train = _train_kwargs(params, "train_", params.get("acc_threshold")) if verify else None
    thr = _threshold(params, num_classes, train)
    kw = probe_kwargs(params, progress=False)
    tasks = with_predictors(_tasks(grid, params, kw, train), predictors)
    with _locked(out):
        probes = _sweep(out, resume, jobs, quiet, params, grid, kw, tasks, train, thr, run)
    if tensorboard_dir:
        from ..report.tracker import log_sweep

        n = log_sweep(probes, tensorboard_dir)
        click.echo(f"logged {n} points to TensorBoard: {tensorboard_dir}  (tensorboard --logdir {tensorboard_dir})")


def _locked(out: Path):
    """Hold ``out`` for this command: a second sweep into it fails at once instead of mixing points."""
    from ..core.outdir import SWEEP_LOCK, claimed

    return claimed(out, marker=SWEEP_LOCK, must_be_empty=False)


def _run_grid(path: Path, tasks: List[dict], resume: bool, jobs: Optional[int], quiet: bool, desc: str,
              run: Dict[str, Any]) -> Dict[str, Any]:
    """The library's :func:`~reprobe.experiments.sweep.run_grid`, its warnings and resume line on stderr."""
    from ..experiments.sweep import run_grid

    return run_grid(path, tasks, resume=resume, jobs=jobs, progress=not quiet, desc=desc,
                    warn=lambda w: click.echo(f"warning: {w}", err=True),
                    echo=None if quiet else (lambda line: click.echo(line, err=True)), **run)


def _sweep(out, resume, jobs, quiet, params, grid, kw, tasks, train, thr, run) -> List[dict]:
    """Run the grid, summarise it and print the tables; returns the probed points."""
    t0 = time.perf_counter()
    done = _run_grid(out / "points.jsonl", tasks, resume, jobs, quiet, "sweep", run)
    meta = {"config": {"model": params["model"], "model_options": _model_options(params), "data": params["data"],
                       "data_options": data_kwargs(params), "probe": kw, "train": train, "acc_threshold": thr,
                       "seed": params["seed"], "wall_time_last_run": done["seconds"],
                       "predictors": tasks[0].get("predictors", [])},
            "grid": grid, "command": _command()}
    res = finalize(out, meta=meta, acc_threshold=thr, activation=params["activation"], quiet=quiet)
    if not quiet:
        _print_table(res["probes"], res["theory"])
        _print_critical_lines(res.get("critical_lines") or {})
        _print_agreement(res["agreement"])
    click.echo(f"{done['ran']} points run, {done['skipped']} resumed; wrote {out}/points.jsonl, " + ", ".join(res["files"])
               + f"  ({time.perf_counter() - t0:.1f}s)")
    return res["probes"]


@click.command("train-grid")
@family_options
@grid_options
@data_options
@run_options
@executor_options
@train_options("")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of weights, split and shuffling")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N")
def train_grid_cmd(out, resume, jobs, quiet, **params):
    """Ground truth: train a net at each grid point (SGD) and record its test accuracy.

    Writes OUT/trained.jsonl (resumable like a sweep). When OUT also holds a sweep's points.jsonl,
    updates OUT/sweep.json with the agreement of `depth ≤ ℓ*` (ℓ* of the probed net at the same
    σ_w², σ_b², width — the same depth if probed, else the deepest) and of `depth ≤ 6ξ_c` with
    `accuracy ≥ --acc-threshold`, and draws OUT/trained.png.
    """
    out = Path(out)
    _check_jobs(jobs)
    run = executor_kwargs({**params, "jobs": jobs})
    grid = _grid(params)
    num_classes, _ = _check_model(params, grid)
    train = _train_kwargs(params, "", params.get("acc_threshold"))
    thr = _threshold(params, num_classes, train)
    tasks = _tasks(grid, params, None, train)
    with _locked(out):
        _train_grid(out, resume, jobs, quiet, params, grid, tasks, train, thr, run)


def _train_grid(out, resume, jobs, quiet, params, grid, tasks, train, thr, run) -> None:
    t0 = time.perf_counter()
    done = _run_grid(out / "trained.jsonl", tasks, resume, jobs, quiet, "train", run)
    store, n, skipped = done["store"], done["ran"], done["skipped"]
    meta = {"config": {"train_grid": {"model": params["model"], "model_options": _model_options(params),
                                      "data": params["data"], "train": train, "grid": grid,
                                      "command": _command()}, "acc_threshold": thr}}
    res = finalize(out, meta=meta, acc_threshold=thr, activation=params["activation"], quiet=quiet)
    if not quiet:
        click.echo(f"{'σ_w²':>6} {'σ_b²':>6} {'L':>5} {'acc':>7} {'loss':>8}")
        for t in sorted(store.records, key=lambda r: (r["sigma_b2"], r["depth"], r["sigma_w2"])):
            tl = (t.get("training") or {}).get("train_loss")
            click.echo(f"{t['sigma_w2']:>6g} {t['sigma_b2']:>6g} {t['depth']:>5} {t['accuracy']:>7.3f} "
                       f"{('%.3f' % tl) if tl is not None else 'nan':>8}")
        _print_agreement(res["agreement"])
    click.echo(f"{n} nets trained, {skipped} resumed; wrote {out}/trained.jsonl, " + ", ".join(res["files"])
               + f"  ({time.perf_counter() - t0:.1f}s)")


@click.command("critical")
@family_options
@click.option("--depth", type=POSITIVE_INT, default=50, show_default=True, help="number of layers (stages)")
@click.option("--width", type=POSITIVE_INT, default=None, help="hidden width (default: the model's)")
@click.option("--sigma-b2", type=NON_NEGATIVE, default=0.05, show_default=True, help="bias variance σ_b²")
@click.option("--bracket", default="1.0:4.0", show_default=True, metavar="LO:HI", help="σ_w² interval to search")
@click.option("--tol", type=POSITIVE, default=0.05, show_default=True, help="stop when the bracket is this narrow")
@click.option("--score-metric", default="relative_entropy", show_default=True,
              help="metric whose ξ̂ (or cutoff ℓ*) ranks first")
@click.option("--rank-by", type=click.Choice(["chi", "xi", "cutoff"]), default="chi", show_default=True,
              help="chi: bisect for where the partial Jacobian's depth scale ξ_χ = 1/|ln χ| diverges (χ = 1; no "
                   "decoders fitted: fast and precise); xi: the largest reconstruction ξ̂, "
                   "reported with the band within its error of the peak (flat and ridge-dependent near the edge); cutoff: ℓ*, then --tie-break")
@click.option("--tie-break", type=click.Choice(["mean-relative-entropy", "final-differential-entropy",
                                                 "mean-differential-entropy"]),
              default="mean-relative-entropy", show_default=True, help="ranks points with equal ℓ* (e.g. ℓ* = L)")
@data_options
@probe_options
@click.option("--json", "as_json", is_flag=True, help="print a JSON object (sigma_w2, probes, bracket, evaluated)")
@click.option("--quiet", "-q", is_flag=True, help="no per-probe lines")
def critical_cmd(bracket, tol, score_metric, rank_by, tie_break, as_json, quiet, **params):
    """Find the edge of chaos: the σ_w² where signals propagate deepest.

    By default bisects for the partial Jacobian's χ = 1, where its depth scale ξ_χ = 1/|ln χ| (stages
    per e-fold of a perturbation's decay or growth) diverges: one backward pass per net, no decoders,
    8 probes for [1, 4] at --tol 0.05. --rank-by cutoff instead runs a golden-section search over
    probes ranked by ℓ* (ties at L broken by --tie-break); --rank-by xi scans σ_w² for the largest
    reconstruction ξ̂, refines where a peak stands out, and prints the band within ξ̂'s error of the
    peak (or says the peak is flat). Both depend on the ridge and find a band, not the point.
    """
    from ..analysis.critical import describe_tie_break, find_critical
    from ..analysis.records import as_point
    from ..experiments.critical import probe_evaluator

    parts = bracket.split(":")
    try:
        lo, hi = (float(parts[0]), float(parts[1])) if len(parts) == 2 else (None, None)
    except ValueError:
        lo = hi = None
    if lo is None:
        raise ReprobeError(f"cannot read --bracket {bracket!r}; use LO:HI, e.g. 1.0:4.0")
    if params["depth"] < 1:
        raise ReprobeError(f"--depth must be at least 1, got {params['depth']}")
    if rank_by == "chi":
        return _critical_by_chi(lo, hi, tol, as_json, quiet, params)
    evaluate = probe_evaluator(
        params["model"], params["data"], depth=params["depth"], width=params["width"], sigma_b2=params["sigma_b2"],
        seed=params["seed"], model_options=_model_options(params), data_options=data_kwargs(params),
        probe_options=probe_kwargs(params, progress=False))

    def on_probe(sw, rec, s):
        if not quiet and not as_json:
            point = as_point(rec)
            ell = point.cutoff(score_metric)
            xi = f"ξ̂ = {s[0]:.3g}, " if rank_by == "xi" and s[0] >= 0 else ""
            click.echo(f"  probe σ_w² = {sw:.4f}: {xi}ℓ* = {'-' if ell is None else ell} of {point.depth}, "
                       f"{describe_tie_break(tie_break, s[1])}", err=True)

    res = find_critical(evaluate, lo, hi, tol, metric=score_metric, tie_break=tie_break, rank_by=rank_by,
                        on_probe=on_probe)
    obj = res.to_dict()
    obj.update({"model": params["model"], "depth": params["depth"], "width": params["width"],
                "sigma_b2": params["sigma_b2"]})
    obj["mean_field_sigma_w2"] = _mean_field_sigma_w2(params)
    if as_json:
        click.echo(json.dumps(obj, allow_nan=False, default=str))
        return
    mfs = obj["mean_field_sigma_w2"]
    ell = res.l_star
    xi = f"ξ̂ = {res.score[0]:.3g}, " if rank_by == "xi" and res.score[0] >= 0 else ""
    click.echo(f"critical σ_w² ≈ {res.sigma_w2:.3f} ({xi}ℓ* = {'-' if ell is None else ell} of {params['depth']}; "
               f"{res.location()}) after {res.probes} probes in {res.time:.1f}s"
               + (f"; mean field: {mfs:.3f}" if mfs is not None else ""))


def _mean_field_sigma_w2(params) -> Optional[float]:
    from .. import theory as mf

    try:
        return mf.critical_sigma_w2(params["activation"], params["sigma_b2"])
    except ReprobeError:
        return None


def _format_xi_chi(chi: float) -> str:
    from ..analysis.chi_crossing import chi_depth_scale

    xi = chi_depth_scale(chi)
    return "∞" if xi is None else f"{xi:.3g} stages"


def _critical_by_chi(lo: float, hi: float, tol: float, as_json: bool, quiet: bool, params) -> None:
    """``critical --rank-by chi``: bisect for the partial Jacobian's χ = 1."""
    from ..analysis.chi_crossing import find_chi_crossing
    from ..experiments.critical import chi_evaluator

    log_chi = chi_evaluator(params["model"], params["data"], depth=params["depth"], width=params["width"],
                            sigma_b2=params["sigma_b2"], seed=params["seed"], model_options=_model_options(params),
                            data_options=data_kwargs(params))

    def on_probe(sw, chi):
        if not quiet and not as_json:
            click.echo(f"  probe σ_w² = {sw:.4f}: partial Jacobian χ = {chi:.4f}, ξ_χ = {_format_xi_chi(chi)}", err=True)

    res = find_chi_crossing(log_chi, lo, hi, tol, on_probe=on_probe)
    obj = {**res.to_dict(), "model": params["model"], "depth": params["depth"], "width": params["width"],
           "sigma_b2": params["sigma_b2"], "mean_field_sigma_w2": _mean_field_sigma_w2(params)}
    if as_json:
        click.echo(json.dumps(obj, allow_nan=False, default=str))
        return
    mfs = obj["mean_field_sigma_w2"]
    click.echo(f"critical σ_w² ≈ {res.sigma_w2:.3f} (partial Jacobian χ = 1; bracket [{res.bracket[0]:.3f}, "
               f"{res.bracket[1]:.3f}]) after {res.probes} probes in {res.time:.1f}s"
               + (f"; mean field: {mfs:.3f}" if mfs is not None else ""))


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


COMMANDS = [sweep_cmd, critical_cmd, train_grid_cmd, validate_cmd]

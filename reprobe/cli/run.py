"""``reprobe run``, ``reprobe stages``, ``reprobe list``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence, Optional

import click

from ..analysis import GATE_LEVELS, Prediction, correlation_lengths, describe, describe_prediction, recheck_prediction
from ..analysis.verdict import cutoff_words
from ..data import DATASETS, load_dataset
from ..core.errors import ReprobeError
from ..core.format import format_number
from .exit_codes import GATE_FAILED_EXIT, UNDECIDABLE_EXIT
from .options import FLAG_NAMES, check_options_apply, data_kwargs, data_options, model_kwargs, model_options, probe_kwargs, probe_options


def _fmt(v: Optional[float]) -> str:
    return format_number(v, missing="nan")


def print_result_table(result, echo=click.echo) -> None:
    """Per-stage table and the cutoffs, as printed by ``reprobe run``."""
    names = list(result.metrics)
    stages = result.stage_dicts()
    w_name = max([5] + [len(s["name"]) for s in stages])
    w_type = max([4] + [len(s["type"]) for s in stages])
    w_shape = max([5] + [len("x".join(map(str, s["shape"]))) for s in stages])
    header = f"{'ℓ':>4}  {'stage':<{w_name}}  {'type':<{w_type}}  {'shape':<{w_shape}}" + "".join(f"  {m:>20}" for m in names)
    echo(header)
    echo("-" * len(header))
    for i, s in enumerate(stages):
        row = f"{i + 1:>4}  {s['name']:<{w_name}}  {s['type']:<{w_type}}  {'x'.join(map(str, s['shape'])):<{w_shape}}"
        row += "".join(f"  {_fmt(result.metrics[m][i]):>20}" for m in names)
        echo(row)
    L = result.depth
    echo("")
    echo(f"cutoff ℓ* ({result.cutoff_detector}, η={result.config.get('eta')}), of L = {L} stages:")
    pred = _prediction(result)
    for m in names:
        c = result.cutoffs.get(m)
        words = cutoff_words(m, c, L, result.metrics[m], (result.saturation or {}).get(m), pred.failed)
        echo(f"  {m:<22} ℓ* = {c if c is not None else '-':>4}   {words}")
    echo("correlation length ξ̂ (stages per e-fold of the approach to saturation; the head is left out):")
    for m, fit in correlation_lengths(result.metrics, [s["shape"] for s in stages], result.saturation).items():
        echo(f"  {m:<22} {describe(fit)}")
    echo("")
    echo(f"verdict: {describe_prediction(pred)}")


def _prediction(result) -> Prediction:
    """The verdict re-derived from the result's own numbers (a stored one is never shown unchecked)."""
    return recheck_prediction(result)[0]


def print_predictors(scores, echo=click.echo) -> None:
    """One line per predictor: score (higher = more trainable), depth scale, or why there is none."""
    if not scores:
        return
    echo("predictors (higher score = predicted more trainable):")
    for name, d in scores.items():
        if d.get("score") is None:
            echo(f"  {name:<18} -          {d.get('reason') or 'no score'}")
            continue
        scale = "" if d.get("depth_scale") is None else f"   depth scale {_fmt(d['depth_scale'])}"
        echo(f"  {name:<18} {_fmt(d['score']):>10}{scale}")


def cutoff_summary(result) -> str:
    """One line: every metric's ℓ* of L, and the verdict (what ``-q`` keeps of the table)."""
    L = result.depth
    cuts = {m: result.cutoffs.get(m) for m in result.metrics}
    parts = ", ".join(f"{m.replace('_', ' ')} {'-' if c is None else c}" for m, c in cuts.items())
    pred = _prediction(result)
    depth = "" if pred.max_trainable_depth is None else (
        f" (nets {'of at least' if pred.depth_is_bound else 'up to ≈'} {pred.max_trainable_depth:.0f} stages train)")
    cause = f": {pred.reason.split('; ')[0]}" if pred.failed or pred.verdict == "undecidable" else ""
    return f"ℓ* of L = {L} ({result.cutoff_detector}): {parts} — verdict: {pred.verdict}{depth}{cause}"


#: What ``reprobe run`` writes into its folder, in the order "wrote …" names them.
RUN_FILES = ("result.json", "entropy.png", "reconstructions.png", "reconstructions.npy", "report.html", "decoders.pt")


@click.command("run")
@model_options
@data_options
@probe_options
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="output folder (default: runs/<model>-<time>); must be new or empty unless --force")
@click.option("--force", is_flag=True, help="replace the results in an existing --out folder")
@click.option("--save-decoders", is_flag=True, help="also store the trained decoders (decoders.pt) with the run")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar, no table: only the cutoffs in one line")
@click.option("--report/--no-report", "write_html_report", default=True, show_default=True,
              help="also write OUT/report.html (a self-contained page; `reprobe report` re-renders it)")
@click.option("--predictor", "predictors", multiple=True, metavar="NAME",
              help="also score the net with this trainability predictor (repeatable; `reprobe list predictors`)")
@click.option("--fail-on", type=click.Choice(GATE_LEVELS), default="none", show_default=True,
              help=f"CI gate: exit {GATE_FAILED_EXIT} when the verdict is at or below this level (trainable > marginal > "
                   f"untrainable), exit {UNDECIDABLE_EXIT} when it is undecidable; none: always 0")
@click.option("--tensorboard", "tensorboard_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="also log curves, reconstructions, verdict and config to this TensorBoard folder "
                   "(pip install \"reprobe[tensorboard]\")")
def run_cmd(out, force, save_decoders, quiet, write_html_report, predictors, fail_on, tensorboard_dir, **params):
    """Probe one network: fit decoders, measure reconstruction entropy per stage, find ℓ*.

    Writes result.json, entropy.png, reconstructions.png, reconstructions.npy and report.html
    (and decoders.pt with --save-decoders) into --out. The folder holds an INCOMPLETE marker until
    everything is written: an interrupted run never looks finished, and a second run into the same
    folder fails at once.

    Exit codes: 0 done (and the --fail-on gate passed), 2 bad input or an error, 3 the verdict is at
    or below --fail-on, 4 --fail-on is set and the verdict is undecidable, 130 interrupted.
    """
    from ..core.outdir import claimed

    check_options_apply(params["model"])
    probe_kwargs(params)  # bad probe options (a metric given twice …) fail before the folder is claimed
    from ..predictors import get_predictor

    for name in predictors:  # unknown names fail before any work
        get_predictor(name)
    if tensorboard_dir:
        from ..report.tracker import require_tensorboard

        require_tensorboard()
    t0 = time.perf_counter()
    out_dir = Path(out) if out else Path("runs") / f"{params['model'].replace(':', '-').replace('/', '-')}-{time.strftime('%Y%m%d-%H%M%S')}"
    with claimed(out_dir, force=force):
        try:
            result = _probe_into(out_dir, params, quiet, save_decoders, write_html_report, t0, list(predictors))
        except KeyboardInterrupt:
            raise KeyboardInterrupt(f"interrupted; {out_dir} is incomplete (marked by its INCOMPLETE file); "
                                    "run again with --force") from None
    if quiet:
        click.echo(cutoff_summary(result))
    else:
        print_result_table(result)
    print_predictors(result.predictors)
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    written = [f for f in RUN_FILES if (out_dir / f).is_file()]
    click.echo(f"wrote {out_dir}/{', '.join(written)}"
               + f"  (fit {result.timings.get('fit', 0):.1f}s, evaluate {result.timings.get('evaluate', 0):.1f}s)")
    if tensorboard_dir:
        _log_tensorboard(result, tensorboard_dir)
    _gate(_prediction(result).verdict, fail_on)


def _log_tensorboard(result, logdir) -> None:
    """Write the run to a TensorBoard folder and say where."""
    from ..report.tracker import log_result, summary_writer

    writer = summary_writer(logdir)
    try:
        log_result(result, writer)
    finally:
        writer.close()
    click.echo(f"logged to TensorBoard: {logdir}  (tensorboard --logdir {logdir})")


def _gate(verdict: str, fail_on: str) -> None:
    """Exit with the gate's code: 3 when ``verdict`` is at or below ``fail_on``, 4 when undecidable."""
    from ..analysis import fails_gate

    if fail_on == "none":
        return
    if verdict == "undecidable":
        click.echo(f"gate: the verdict is undecidable, so --fail-on {fail_on} cannot pass (exit {UNDECIDABLE_EXIT})", err=True)
        raise click.exceptions.Exit(UNDECIDABLE_EXIT)
    if fails_gate(verdict, fail_on):
        click.echo(f"gate: verdict {verdict} is at or below --fail-on {fail_on} (exit {GATE_FAILED_EXIT})", err=True)
        raise click.exceptions.Exit(GATE_FAILED_EXIT)


def _probe_into(out_dir: Path, params: dict, quiet: bool, save_decoders: bool, html: bool, t0: float,
                predictors: Sequence[str] = ()):
    """Load the data, probe the model and write every file of the run into ``out_dir``."""
    from ..probe.memory import check_model_memory
    from .options import command_line
    from ..experiments.run import run_named

    kw = probe_kwargs(params, progress=not quiet)
    bundle = load_dataset(params["data"], **data_kwargs(params))
    check_model_memory(params["model"], bundle, model_kwargs(params), kw, names=FLAG_NAMES)
    result, _, probe = run_named(
        params["model"], params["data"], model_options=model_kwargs(params), bundle=bundle,
        keep_probe=save_decoders, names=FLAG_NAMES, predictors=predictors, **kw,
    )
    result.extra["command"] = command_line()
    result.timings["total"] = time.perf_counter() - t0
    result.save(out_dir)
    if html:
        from ..report import write_report

        write_report([out_dir], out_dir / "report.html", command=result.extra.get("command"),
                     allow_incomplete=True)
    if save_decoders and probe is not None:
        probe.save_decoders(out_dir / "decoders.pt")
    return result


@click.command("stages")
@model_options
@click.option("--data", default="mnist-5k", show_default=True, help="dataset that fixes the input shape")
@click.option("--data-root", type=click.Path(file_okay=False), default=None, help="cache folder for downloadable data")
@click.option("--stage", "stage_names", multiple=True, help="module name of a stage (repeatable)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print a JSON list of {name, type, shape, …}")
def stages_cmd(as_json, **params):
    """List a model's stages (a dry run on one input): name, type, output shape."""
    import torch

    from ..models import build_model
    from ..probe import CascadeProbe

    from ..experiments.run import build_for_data

    check_options_apply(params["model"])
    extra = {k: params[k] for k in ("image_size", "subset") if params.get(k) is not None}
    bundle = load_dataset(params["data"], root=params.get("data_root"), seed=params["seed"], **extra)
    model, bundle = build_for_data(params["model"], bundle, model_kwargs(params))
    x = torch.stack([bundle.test[i][0] for i in range(min(2, len(bundle.test)))])
    adapter_options = {"preset": params["preset"]} if params.get("preset") else None
    with CascadeProbe(model, list(params["stage_names"]) or None, adapter_options=adapter_options,
                      progress=False) as probe:
        stages = probe.dry_run(x)
        adapter = probe.adapter
    for w in probe.warnings:
        click.echo(f"warning: {w}", err=True)
    rows = [s.to_dict() for s in stages]
    for r in rows:
        r.pop("decoder", None)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{params['model']}: {len(rows)} stages (adapter: {adapter}), input {'x'.join(map(str, bundle.input_shape))}")
    for r in rows:
        extra = ""
        if r.get("channels"):
            extra = f"  channels={r['channels']}" + (f" stride={r['reduction']:g}" if r.get("reduction") else "")
        click.echo(f"{r['index']:>4}  {r['name']:<30} {r['type']:<18} {'x'.join(map(str, r['shape']))}{extra}")


LISTS = ("models", "datasets", "metrics", "cutoffs", "adapters", "decoders", "predictors")


@click.command("list")
@click.argument("what", type=click.Choice(LISTS))
def list_cmd(what):
    """List registered models, datasets, metrics, cutoff detectors, adapters, decoders or predictors."""
    from .. import metrics as m
    from ..adapters import get_adapter, list_adapters
    from ..models import MODELS, resolver_descriptions
    from ..probe import get_decoder, list_decoders

    if what == "predictors":
        from ..predictors import get_predictor, list_predictors

        for name in list_predictors():
            click.echo(f"{name:<24} {get_predictor(name).help.replace('``', '')}")
    elif what == "models":
        for name in MODELS.names():
            click.echo(f"{name:<24} {MODELS.help(name)}")
        for d in resolver_descriptions():
            click.echo(f"{'':<24} {d}")
    elif what == "datasets":
        for name in DATASETS.names():
            click.echo(f"{name:<24} {DATASETS.help(name)}")
    elif what == "metrics":
        for name in m.list_metrics():
            click.echo(f"{name:<24} {m.METRICS.help(name)}")
    elif what == "cutoffs":
        for name in m.list_cutoffs():
            click.echo(f"{name:<24} {m.CUTOFFS.help(name)}")
    elif what == "adapters":
        for a in map(get_adapter, list_adapters()):
            click.echo(f"{a.name:<24} priority {a.priority:>4}  {a.help}")
    elif what == "decoders":
        for d in map(get_decoder, list_decoders()):
            click.echo(f"{d.name:<24} priority {d.priority:>4}  {d.help}")


COMMANDS = [run_cmd, stages_cmd, list_cmd]

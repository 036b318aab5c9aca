"""The page of a run folder (``result.json``): verdict, curves, reconstructions, stages, settings."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple


from ..analysis.prediction import recheck_prediction
from ..analysis.ranking import rank_metric_for, reason_for
from ..analysis.records import CompareEntry
from ..core.io import finite_or_none
from .page import HOW_TO_READ, attr, collapsible, esc, fmt, fmt_params, fmt_seconds, img_tag, kv_table, table
from .folders import PathLike
from .parts import prediction_cards, recon_html, shape_text, timing_rows, verdict_badge


def stage_table(result, limit_open: int = 16) -> str:
    """Per-stage table (name, type, shape, metric values, decoder MSE); collapsible when long."""
    stages = result.stage_dicts()
    metrics = list(result.metrics)
    headers = ["ℓ", "stage", "type", "shape"] + [m.replace("_", " ") for m in metrics] + ["decoder MSE"]
    rows, attrs = [], []
    cut = {m: result.cutoffs.get(m) for m in metrics}
    for i, s in enumerate(stages):
        row = [i + 1, s.get("name"), s.get("type"), shape_text(s.get("shape"))]
        for m in metrics:
            vals = result.metrics.get(m) or []
            v = vals[i] if i < len(vals) else None
            txt = fmt(finite_or_none(v))
            if cut.get(m) == i + 1:
                txt += " ◀ ℓ*"
            row.append(txt)
        dm = result.decoder_mse[i] if i < len(result.decoder_mse) else None
        row.append(fmt(finite_or_none(dm)))
        rows.append(row)
        attrs.append(f'data-stage="{i + 1}"')
    nums = list(range(4, 4 + len(metrics) + 1)) + [0]
    html_table = table(headers, rows, num_cols=nums, row_attrs=attrs)
    label = f"Stages ({len(stages)}): name, type, output shape, metric values"
    return collapsible(label, html_table, open_=len(stages) <= limit_open)


def load_run(folder: Path):
    from ..probe.result import ProbeResult

    return ProbeResult.load(folder)


def render_run_section(folder: PathLike, anchor: str = "run") -> Tuple[str, str, Optional[str]]:
    """(title, html, command) of one saved run."""
    from ..figures.report import single_curve_figure

    folder = Path(folder)
    result = load_run(folder)
    L = result.depth
    metric = rank_metric_for(list(result.metrics))
    cut = result.cutoffs.get(metric)
    name = result.extra.get("compare_name") or result.model.get("spec") or result.model.get("class") or folder.name
    opts = result.model.get("options") or {}
    checked, note = recheck_prediction(result)  # never the stored verdict beside numbers it no longer follows from
    pred = checked.to_dict()
    entry = CompareEntry(depth=L, cutoffs=dict(result.cutoffs),
                         finals={m: finite_or_none(result.final(m)) for m in result.metrics},
                         saturation=dict(result.saturation or {}), prediction=pred)
    reason = reason_for(entry, metric)
    data_name = (result.data or {}).get("name", "?")
    title = f"Probe run: {name} on {data_name}"
    h = [f'<section id="{esc(anchor)}" data-kind="run" data-folder="{attr(str(folder))}">']
    h.append('<div class="cards">')
    for k, v, extra in (
        ("model", name, ""),
        ("depth L", L, f' data-depth="{attr(L)}"'),
        *prediction_cards(pred),
        (f"cutoff ℓ* ({metric.replace('_', ' ')})", "–" if cut is None else cut, f' data-cutoff="{attr(cut)}"'),
        ("parameters", fmt_params(result.model.get("parameters")), ""),
        ("probe time", fmt_seconds((result.timings.get("fit") or 0) + (result.timings.get("evaluate") or 0)), ""),
    ):
        h.append(f'<div class="card"{extra}><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div></div>')
    h.append("</div>")
    if pred.get("reason"):
        reason = f"{pred['reason']} (ℓ*: {reason})"
    h.append(f'<p data-reason>{verdict_badge(cut, L, pred).html} {esc(reason)}.</p>')
    h.append(HOW_TO_READ)
    h.append("<h2>Entropy vs depth</h2>")
    h.append(img_tag(single_curve_figure(result.metrics, result.cutoffs, result.cutoff_detector),
                     "metric curves", f"Per-stage metrics of {name}; dashed: cutoff ℓ* ({result.cutoff_detector}, η = {result.config.get('eta')})."))
    cuts = ", ".join(f"{m.replace('_', ' ')}: ℓ* = {'–' if c is None else c}" for m, c in result.cutoffs.items())
    h.append(f"<p>Cutoffs of L = {L} stages — {esc(cuts)}.</p>")
    h.append("<h2>Reconstructions</h2>")
    h.append(recon_html(result, cut, 4, "Held-out inputs (left) and their reconstructions from stages ℓ through the decoder cascade; red: ℓ*."))
    h.append("<h2>Stages</h2>")
    h.append(stage_table(result))
    h.append("<h2>Details</h2>")
    h.append("<h3>Model</h3>" + kv_table([("spec", result.model.get("spec")), ("class", result.model.get("class")),
                                          ("adapter", result.model.get("adapter")), ("parameters", result.model.get("parameters"))]
                                         + [(f"option {k}", v) for k, v in opts.items()]))
    h.append("<h3>Data</h3>" + kv_table(list((result.data or {}).items())))
    h.append("<h3>Timings</h3>" + kv_table(timing_rows(result.timings)))
    h.append(collapsible("Probe settings", kv_table(list(result.config.items()))))
    warnings = list(result.warnings) + ([note] if note else [])
    if warnings:
        h.append("<h3>Warnings</h3><ul>" + "".join(f'<li class="warn">{esc(w)}</li>' for w in warnings) + "</ul>")
    cmd = result.extra.get("command")
    if cmd:
        h.append(f'<h3>Produced by</h3><pre class="cmd">{esc(cmd)}</pre>')
    h.append("</section>")
    return title, "\n".join(h), cmd

"""Self-contained HTML reports for saved runs, comparisons and sweeps.

Nothing is re-probed: a report is drawn from what the folders hold.

* a **run** folder has ``result.json`` (+ ``reconstructions.npy``), written by ``reprobe run``;
* a **comparison** folder has ``summary.json`` + ``runs/<slug>/``, written by ``reprobe compare``;
* a **sweep** folder has ``sweep.json`` (schema ``reprobe.sweep/1``), maybe ``points.jsonl`` and
  ``phase.png`` (and other ``*.png``), written by ``reprobe sweep``.

Use :func:`write_report` (``paths`` → one HTML file) or the ``render_*`` functions (→ HTML string).

Layer: beside :mod:`reprobe.figures`, above :mod:`reprobe.experiments`; experiments never import it
(the CLI writes a comparison's or sweep's page after the library has written its files).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..core.errors import ReprobeError
from ..analysis.ranking import rank_metric_for, reason_for
from ..analysis.records import CompareEntry, as_entry
from ..analysis.validation import spearman
from ..core.io import finite_or_none
from .page import HOW_TO_READ, Raw, attr, collapsible, esc, fmt, fmt_params, fmt_seconds, img_tag, kv_table, page, table

__all__ = ["write_report", "render_report", "render_run", "render_compare", "render_sweep", "detect_kind"]

PathLike = Union[str, Path]


# ----------------------------------------------------------------------------- helpers

def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ReprobeError(f"{path} is corrupt ({str(e).splitlines()[0]}); re-run the {what}") from None
    except OSError as e:
        raise ReprobeError(f"cannot read {path}: {e.strerror}") from None


def _has_schema(path: Path, prefix: str) -> bool:
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(obj, dict) and str(obj.get("schema", "")).startswith(prefix)


def detect_kind(path: PathLike, allow_incomplete: bool = False) -> Tuple[str, Path]:
    """``("run" | "compare" | "sweep", folder)`` for a saved folder (or a file inside it).

    A folder whose command has not finished (it still has its ``INCOMPLETE`` marker) is refused
    unless ``allow_incomplete`` (the command itself renders its page before it finishes).
    """
    p = Path(path)
    if p.is_file() and p.name in ("result.json", "summary.json", "sweep.json"):
        p = p.parent
    if not p.exists():
        raise ReprobeError(f"{p} does not exist; pass a folder written by reprobe run, compare or sweep")
    if not p.is_dir():
        raise ReprobeError(f"{p} is not a folder; pass a folder written by reprobe run, compare or sweep")
    if not allow_incomplete:
        from ..core.outdir import check_complete

        check_complete(p)
    has_run = (p / "result.json").is_file()
    # a run folder may hold other files too: a stray summary.json / sweep.json only wins when it is ours
    if (p / "summary.json").is_file() and (not has_run or _has_schema(p / "summary.json", "reprobe.compare/")):
        return "compare", p
    if (p / "sweep.json").is_file() and (not has_run or _has_schema(p / "sweep.json", "reprobe.sweep/")):
        return "sweep", p
    if has_run:
        return "run", p
    if (p / "points.jsonl").is_file():  # a sweep stopped before it wrote sweep.json
        return "sweep", p
    raise ReprobeError(f"{p} is not a reprobe run, comparison or sweep folder (no result.json, summary.json or sweep.json)")


#: How each verdict of the prediction is coloured.
_VERDICT_CLASS = {"trainable": "good", "marginal": "unknown", "untrainable": "bad", "undecidable": "unknown"}


def _prediction_badge(pred: Optional[dict]) -> Optional[Raw]:
    """The prediction's verdict as a badge, with the predicted depth (None without a prediction)."""
    if not pred or not pred.get("verdict"):
        return None
    v = pred["verdict"]
    depth = finite_or_none(pred.get("max_trainable_depth"))
    tail = "" if depth is None else f": nets {'of at least' if pred.get('depth_is_bound') else 'up to ≈'} {depth:.0f} stages"
    return Raw(f'<span class="verdict {_VERDICT_CLASS.get(v, "unknown")}" data-verdict="{attr(v)}">{esc("predicted " + v + tail)}</span>')


def _prediction_cards(pred: Optional[dict]) -> List[Tuple[str, Any, str]]:
    """Cards for the prediction: predicted deepest trainable net and ξ̂ (none without a prediction)."""
    if not pred or pred.get("verdict") is None:
        return []
    depth, xi = finite_or_none(pred.get("max_trainable_depth")), finite_or_none(pred.get("xi"))
    at_least = "≥ " if pred.get("depth_is_bound") else "≈ "
    return [("predicted deepest trainable", "–" if depth is None else f"{at_least}{depth:.0f}",
             f' data-max-trainable-depth="{attr(depth)}"'),
            (f"correlation length ({str(pred.get('metric', '')).replace('_', ' ')})",  # labels are upper-cased: no ξ
             "–" if xi is None else (f"ξ̂ ≥ {xi:.3g}" if pred.get("xi_is_bound") else f"ξ̂ = {xi:.3g}"), "")]


def _verdict(cut: Optional[int], L: Optional[int], pred: Optional[dict] = None) -> Raw:
    badge = _prediction_badge(pred)
    if badge is not None:
        return badge
    if cut is None or not L:
        return Raw('<span class="verdict unknown">undecided</span>')
    if cut >= L:
        return Raw('<span class="verdict good">predicted trainable</span>')
    return Raw(f'<span class="verdict bad">predicted untrainable: lost by ℓ = {int(cut)}</span>')


def _shape(s: Any) -> str:
    if isinstance(s, (list, tuple)):
        return "×".join(str(x) for x in s)
    return str(s) if s is not None else "–"


def _stage_table(result, limit_open: int = 16) -> str:
    """Per-stage table (name, type, shape, metric values, decoder MSE); collapsible when long."""
    stages = result.stage_dicts()
    metrics = list(result.metrics)
    headers = ["ℓ", "stage", "type", "shape"] + [m.replace("_", " ") for m in metrics] + ["decoder MSE"]
    rows, attrs = [], []
    cut = {m: result.cutoffs.get(m) for m in metrics}
    for i, s in enumerate(stages):
        row = [i + 1, s.get("name"), s.get("type"), _shape(s.get("shape"))]
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


def _recon_html(result, cutoff: Optional[int], examples: int, caption: str) -> str:
    if result.reconstructions is None:
        return '<p class="warn">No reconstructions.npy in this run folder.</p>'
    from ..figures.report import recon_strip

    arr = result.reconstructions.detach().cpu().float().numpy() if hasattr(result.reconstructions, "detach") else np.asarray(result.reconstructions)
    if arr.ndim < 3 or arr.shape[0] < 2 or arr.shape[1] < 1:
        return '<p class="warn">reconstructions.npy is empty.</p>'
    return img_tag(recon_strip(arr, cutoff, examples=examples), "reconstructions", caption)


def _load_run(folder: Path):
    from ..probe.result import ProbeResult

    return ProbeResult.load(folder)


def _timing_rows(timings: Dict[str, Any]) -> List[tuple]:
    return [(k, fmt_seconds(v)) for k, v in timings.items()]


# ----------------------------------------------------------------------------- run

def render_run_section(folder: PathLike, anchor: str = "run") -> Tuple[str, str, Optional[str]]:
    """(title, html, command) of one saved run."""
    from ..figures.report import single_curve_figure

    folder = Path(folder)
    result = _load_run(folder)
    L = result.depth
    metric = rank_metric_for(list(result.metrics))
    cut = result.cutoffs.get(metric)
    name = result.extra.get("compare_name") or result.model.get("spec") or result.model.get("class") or folder.name
    opts = result.model.get("options") or {}
    entry = CompareEntry(depth=L, cutoffs=dict(result.cutoffs),
                         finals={m: finite_or_none(result.final(m)) for m in result.metrics})
    reason = reason_for(entry, metric)
    data_name = (result.data or {}).get("name", "?")
    title = f"Probe run: {name} on {data_name}"
    h = [f'<section id="{esc(anchor)}" data-kind="run" data-folder="{attr(str(folder))}">']
    h.append('<div class="cards">')
    for k, v, extra in (
        ("model", name, ""),
        ("depth L", L, f' data-depth="{attr(L)}"'),
        *_prediction_cards(result.prediction),
        (f"cutoff ℓ* ({metric.replace('_', ' ')})", "–" if cut is None else cut, f' data-cutoff="{attr(cut)}"'),
        ("parameters", fmt_params(result.model.get("parameters")), ""),
        ("probe time", fmt_seconds((result.timings.get("fit") or 0) + (result.timings.get("evaluate") or 0)), ""),
    ):
        h.append(f'<div class="card"{extra}><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div></div>')
    h.append("</div>")
    pred = result.prediction
    if pred and pred.get("reason"):
        reason = f"{pred['reason']} (ℓ*: {reason})"
    h.append(f'<p data-reason>{_verdict(cut, L, pred).html} {esc(reason)}.</p>')
    h.append(HOW_TO_READ)
    h.append("<h2>Entropy vs depth</h2>")
    h.append(img_tag(single_curve_figure(result.metrics, result.cutoffs, result.cutoff_detector),
                     "metric curves", f"Per-stage metrics of {name}; dashed: cutoff ℓ* ({result.cutoff_detector}, η = {result.config.get('eta')})."))
    cuts = ", ".join(f"{m.replace('_', ' ')}: ℓ* = {'–' if c is None else c}" for m, c in result.cutoffs.items())
    h.append(f"<p>Cutoffs of L = {L} stages — {esc(cuts)}.</p>")
    h.append("<h2>Reconstructions</h2>")
    h.append(_recon_html(result, cut, 4, "Held-out inputs (left) and their reconstructions from stages ℓ through the decoder cascade; red: ℓ*."))
    h.append("<h2>Stages</h2>")
    h.append(_stage_table(result))
    h.append("<h2>Details</h2>")
    h.append("<h3>Model</h3>" + kv_table([("spec", result.model.get("spec")), ("class", result.model.get("class")),
                                          ("adapter", result.model.get("adapter")), ("parameters", result.model.get("parameters"))]
                                         + [(f"option {k}", v) for k, v in opts.items()]))
    h.append("<h3>Data</h3>" + kv_table(list((result.data or {}).items())))
    h.append("<h3>Timings</h3>" + kv_table(_timing_rows(result.timings)))
    h.append(collapsible("Probe settings", kv_table(list(result.config.items()))))
    if result.warnings:
        h.append("<h3>Warnings</h3><ul>" + "".join(f'<li class="warn">{esc(w)}</li>' for w in result.warnings) + "</ul>")
    cmd = result.extra.get("command")
    if cmd:
        h.append(f'<h3>Produced by</h3><pre class="cmd">{esc(cmd)}</pre>')
    h.append("</section>")
    return title, "\n".join(h), cmd


def render_run(folder: PathLike, command: Optional[str] = None) -> str:
    """HTML page for one run folder."""
    return render_report([folder], command=command)


# ----------------------------------------------------------------------------- compare

def load_compare(folder: Path) -> Tuple[dict, Dict[str, Any]]:
    """summary.json and the loaded run of every model (clear error for missing/corrupt runs)."""
    summary = _read_json(folder / "summary.json", "comparison")
    if not isinstance(summary, dict) or not isinstance(summary.get("models"), list):
        raise ReprobeError(f"{folder / 'summary.json'} is not a reprobe comparison summary (no 'models' list); re-run reprobe compare")
    runs = {}
    for i, e in enumerate(summary["models"]):
        if not isinstance(e, dict) or "name" not in e:
            raise ReprobeError(f"{folder / 'summary.json'}: model entry {i} has no name; re-run reprobe compare")
        rel = e.get("run") or f"runs/{e.get('slug', '')}"
        run_dir = folder / rel
        if not (run_dir / "result.json").is_file():
            raise ReprobeError(f"run folder {run_dir} of model {e['name']!r} is missing (no result.json); re-run reprobe compare")
        runs[e["name"]] = _load_run(run_dir)
    return summary, runs


def _compare_ranking(models: List[CompareEntry], metric: str, metrics: List[str], summary: dict, anchor: str) -> List[str]:
    """The ranking table (and the models that failed)."""
    h: List[str] = []
    h.append(f'<h2 id="{esc(anchor)}-ranking">Ranking by predicted trainability</h2>')
    h.append(f"<p>Ranked by the prediction: predicted deepest trainable net over L (higher first; undecidable last), "
             f"then by ℓ*/L of {esc(metric.replace('_', ' '))} and its final value.</p>")
    other = [m for m in metrics if m != metric and m != "mse"]
    headers = ["rank", "model", "L", "ℓ*", "ℓ*/L", f"final {metric.replace('_', ' ')}"] + \
              [f"ℓ* of {m.replace('_', ' ')}" for m in other] + ["parameters", "probe time", "prediction"]
    rows, attrs = [], []
    for e in models:
        L = e.depth
        c = e.cutoff(metric)
        frac = e.cutoff_fractions.get(metric)  # as stored: the page's data attributes show it verbatim
        fin = e.finals.get(metric)
        pred = Raw(f'{_verdict(c, L, e.prediction).html}<br><span class="reason" data-reason>{esc(e.reason)}</span>')
        rows.append([e.rank, Raw(f'<a href="#{esc(anchor)}-m-{esc(e.slug or e.rank)}">{esc(e.name)}</a>'),
                     L, "–" if c is None else c, "–" if frac is None else f"{frac:.2f}", fmt(finite_or_none(fin))]
                    + ["–" if e.cutoff(m) is None else e.cutoff(m) for m in other]
                    + [fmt_params(e.parameters), fmt_seconds(e.probe_time), pred])
        attrs.append(f'data-model="{attr(e.name)}" data-rank="{attr(e.rank)}" data-depth="{attr(L)}" '
                     f'data-cutoff="{attr(c)}" data-cutoff-fraction="{attr(frac)}" data-final="{attr(fin)}" '
                     f'data-parameters="{attr(e.parameters)}"')
    h.append(table(headers, rows, num_cols=[0, 2, 3, 4, 5] + list(range(6, 6 + len(other) + 2)), row_attrs=attrs, cls="ranking"))
    failed = summary.get("failed") or []
    if failed:
        h.append("<h3>Models that could not be probed</h3><ul>" + "".join(
            f'<li class="error" data-failed="{attr(f.get("name"))}"><strong>{esc(f.get("name"))}</strong>: {esc(f.get("error"))}</li>'
            for f in failed) + "</ul>")
    return h


def _compare_curves(models: List[CompareEntry], runs: Dict[str, Any], metric: str, metrics: List[str], anchor: str) -> List[str]:
    """One figure per metric with every model's curve."""
    from ..figures.report import curves_figure

    h: List[str] = []
    h.append(f'<h2 id="{esc(anchor)}-curves">Entropy vs depth</h2>')
    for m in metrics:
        curves = []
        for e in models:
            r = runs[e.name]
            if m in r.metrics:
                curves.append({"name": e.name, "values": r.metrics[m], "cutoff": r.cutoffs.get(m)})
        if not curves:
            continue
        fig = img_tag(curves_figure(curves, m), f"{m} vs depth",
                      f"{m.replace('_', ' ')} of every model: left against the stage index ℓ, right against the normalised depth ℓ/L so nets of different depth line up. Open circles mark ℓ*.")
        if m == metric or m != "mse":
            h.append(f"<h3>{esc(m.replace('_', ' '))}</h3>{fig}")
        else:
            h.append(collapsible(m.replace("_", " "), fig))
    return h


def _compare_reconstructions(models: List[CompareEntry], runs: Dict[str, Any], metric: str, anchor: str) -> List[str]:
    h: List[str] = []
    h.append(f'<h2 id="{esc(anchor)}-recon">Reconstructions</h2>')
    h.append("<p>The same held-out inputs (left) reconstructed from a few stages of each model; red label: ℓ*. "
             "Where information is lost, reconstructions turn into the same blurry average image.</p>")
    for e in models:
        r = runs[e.name]
        h.append(f'<div class="strip" data-strip="{attr(e.name)}"><h3>{esc(e.rank)}. {esc(e.name)}</h3>')
        h.append(_recon_html(r, e.cutoff(metric), 2, None))
        h.append("</div>")
    return h


def _compare_models(models: List[CompareEntry], runs: Dict[str, Any], anchor: str) -> List[str]:
    """Per model: its facts, stage table and warnings."""
    h: List[str] = []
    h.append(f'<h2 id="{esc(anchor)}-models">Models</h2>')
    for e in models:
        r = runs[e.name]
        sid = f"{anchor}-m-{e.slug or e.rank}"
        h.append(f'<h3 id="{esc(sid)}">{esc(e.rank)}. {esc(e.name)}</h3>')
        info = [("spec", e.spec), ("class", e.model_class or r.model.get("class")),
                ("adapter", e.adapter or r.model.get("adapter")), ("parameters", e.parameters), ("stages L", e.depth)]
        info += [(f"cutoff ℓ* ({m.replace('_', ' ')})", c) for m, c in e.cutoffs.items()]
        info += [(f"option {k}", v) for k, v in (r.model.get("options") or {}).items()]
        info += [(f"time {k}", Raw(esc(fmt_seconds(v)))) for k, v in e.timings.items()]
        info += [("run folder", e.run)]
        h.append(kv_table(info))
        h.append(_stage_table(r, limit_open=0))
        for w in e.warnings:
            h.append(f'<p class="warn">warning: {esc(w)}</p>')
    return h


def _compare_settings(summary: dict, anchor: str) -> List[str]:
    h: List[str] = []
    h.append(f'<h2 id="{esc(anchor)}-settings">Settings</h2>')
    st = summary.get("settings") or {}
    pairs = []
    for group in ("probe", "model", "data"):
        for k, v in (st.get(group) or {}).items():
            pairs.append((f"{group}: {k}", v))
    h.append(kv_table(pairs) if pairs else "<p>No settings recorded.</p>")
    h.append("<h3>Data</h3>" + kv_table(list((summary.get("data") or {}).items())))
    tt = summary.get("timings") or {}
    if tt:
        h.append("<h3>Timings</h3>" + kv_table(_timing_rows(tt)))
    return h


def _compare_predictors(models: List[CompareEntry], names: List[str], anchor: str) -> List[str]:
    """"How the predictors agree": every predictor's score per model, and each predictor's rank
    correlation with the prediction's ranking (shown when any predictor was run)."""
    if not names or len(models) < 1:
        return []
    h = [f'<h2 id="{esc(anchor)}-predictors">How the predictors agree</h2>',
         "<p>Each predictor's score (higher = predicted more trainable) and its Spearman rank correlation with "
         "the prediction's order (predicted deepest trainable net / L) across the models.</p>"]
    headers = ["model", "prediction (depth / L)"] + names
    rows = []
    for e in models:
        depth, L = e.predicted_depth, e.depth
        rows.append([e.name, "–" if depth is None or not L else f"{depth / L:.3g}"]
                    + [fmt(finite_or_none(e.predictor_score(n))) for n in names])
    h.append(table(headers, rows))
    head = [-(i + 1) for i in range(len(models))]  # models are in the prediction's order
    agree = []
    for n in names:
        vals = [finite_or_none(e.predictor_score(n)) for e in models]
        ok = [(a, v) for a, v in zip(head, vals) if v is not None]
        rho = spearman([a for a, _ in ok], [v for _, v in ok]) if len(ok) >= 3 else None
        agree.append([n, "–" if rho is None else f"{rho:+.2f}", f"{len(ok)} of {len(models)}"])
    h.append(table(["predictor", "Spearman with the prediction's order", "models scored"], agree))
    return h


def render_compare_section(folder: PathLike, anchor: str = "compare") -> Tuple[str, str, Optional[str]]:
    folder = Path(folder)
    summary, runs = load_compare(folder)
    models = sorted(map(as_entry, summary["models"]), key=lambda e: (e.rank is None, e.rank or 0))
    metric = summary.get("rank_metric") or "differential_entropy"
    metrics: List[str] = list(summary.get("metrics") or [])
    for r in runs.values():
        for m in r.metrics:
            if m not in metrics:
                metrics.append(m)
    metrics.sort(key=lambda m: (m != metric, m == "mse"))
    data_name = (summary.get("data") or {}).get("name", "?")
    title = f"Comparison: {len(models)} model{'s' if len(models) != 1 else ''} on {data_name}"
    h = [f'<section id="{esc(anchor)}" data-kind="compare" data-folder="{attr(str(folder))}">']
    if models:
        best = models[0]
        h.append(f'<p class="lead">Predicted most trainable: <strong>{esc(best.name)}</strong> — {esc(best.reason)}.</p>')
    h.append(HOW_TO_READ)

    h += _compare_ranking(models, metric, metrics, summary, anchor)
    h += _compare_predictors(models, list(summary.get("predictors") or []), anchor)
    h += _compare_curves(models, runs, metric, metrics, anchor)
    h += _compare_reconstructions(models, runs, metric, anchor)
    h += _compare_models(models, runs, anchor)
    h += _compare_settings(summary, anchor)
    cmd = summary.get("command")
    if cmd:
        h.append(f'<h3>Produced by</h3><pre class="cmd">{esc(cmd)}</pre>')
    h.append("</section>")
    return title, "\n".join(h), cmd


def render_compare(folder: PathLike, command: Optional[str] = None) -> str:
    """HTML page for one comparison folder."""
    return render_report([folder], command=command)


# ----------------------------------------------------------------------------- sweep

def _flatten(d: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, (str, int, float, bool)) or v is None:
            out[key] = v
        elif isinstance(v, (list, tuple)) and len(v) <= 6 and all(isinstance(x, (int, float, str)) for x in v):
            out[key] = ", ".join(fmt(x) for x in v)
    return out


def load_sweep(folder: Path) -> Tuple[dict, List[dict], List[str]]:
    """sweep.json, its points (from sweep.json or points.jsonl) and notes about skipped lines."""
    notes = []
    if (folder / "sweep.json").is_file() or not (folder / "points.jsonl").is_file():
        sweep = _read_json(folder / "sweep.json", "sweep")
    else:
        sweep = {}
        notes.append("no sweep.json in this folder (an interrupted sweep?): showing the points in points.jsonl")
    if not isinstance(sweep, dict):
        raise ReprobeError(f"{folder / 'sweep.json'} is not a reprobe sweep (expected a JSON object); re-run reprobe sweep")
    points = sweep.get("points")
    if not isinstance(points, list):
        points = []
        pj = folder / "points.jsonl"
        if pj.is_file():
            for n, line in enumerate(pj.read_text(errors="replace").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    notes.append(f"points.jsonl line {n} is not valid JSON (skipped; an interrupted sweep?)")
                    continue
                if isinstance(obj, dict):
                    points.append(obj)
    points = [p for p in points if isinstance(p, dict)]
    return sweep, points, notes


def _any_table(v: Any) -> str:
    if isinstance(v, dict):
        return kv_table(list(_flatten(v).items()))
    if isinstance(v, list):
        if v and all(isinstance(x, dict) for x in v):
            flat = [_flatten(x) for x in v]
            cols: List[str] = []
            for f in flat:
                cols += [k for k in f if k not in cols]
            return table(cols, [[fmt(f.get(c)) for c in cols] for f in flat])
        return f"<p>{esc(', '.join(fmt(x) for x in v))}</p>"
    return f"<p>{esc(fmt(v))}</p>"


def _critical_lines_section(lines: Any, anchor: str) -> List[str]:
    """"Each predictor's critical σ_w²": one row per σ_b², depth and width of sweep.json's ``critical_lines``."""
    if not isinstance(lines, dict) or not lines:
        return []
    rows = []
    for row in lines.values():
        if not isinstance(row, dict):
            continue
        rel = row.get("vs_mean_field") or {}
        band = row.get("probe_xi_band")

        def val(name: str, extra: str = "") -> str:
            if name not in row:
                return "not scored"
            v = finite_or_none(row.get(name))
            r = finite_or_none(rel.get(name))
            return fmt(v) + ("" if r is None else f" ({r:+.1%})") + extra

        flat = f"; flat {fmt(band[0])}–{fmt(band[1])}" if isinstance(band, list) and len(band) == 2 and band[0] != band[1] else ""
        notes = "; ".join(f"{k}: {v}" for k, v in (row.get("notes") or {}).items())
        rows.append([fmt(row.get("sigma_b2")), fmt(row.get("depth")), fmt(row.get("width")), val("mean_field"),
                     val("probe_xi_peak", flat), val("partial_jacobian"), notes])
    return [f'<h2 id="{esc(anchor)}-critical-lines">Each predictor\'s critical σ_w²</h2>',
            "<p>Where each predictor puts the edge of chaos (in brackets: the difference from mean field's): the "
            "probe's ξ̂ peak (flat: the σ_w² whose ξ̂ is within its error of the peak), mean field's χ₁ = 1, and "
            "the partial Jacobian's χ = 1 (<code>reprobe sweep --predictor partial_jacobian</code>).</p>",
            f'<div data-critical-lines>{table(["σ_b²", "depth", "width", "mean field", "probe ξ̂ peak", "partial Jacobian χ = 1", "notes"], rows)}</div>']


def render_sweep_section(folder: PathLike, anchor: str = "sweep") -> Tuple[str, str, Optional[str]]:
    from ..figures.report import sweep_points_figure

    folder = Path(folder)
    sweep, points, notes = load_sweep(folder)
    cfg = sweep.get("config") if isinstance(sweep.get("config"), dict) else {}
    data_name = cfg.get("data", "") if cfg else ""
    title = f"Sweep: {len(points)} point{'s' if len(points) != 1 else ''}" + (f" on {data_name}" if data_name else "")
    h = [f'<section id="{esc(anchor)}" data-kind="sweep" data-folder="{attr(str(folder))}" data-points="{len(points)}">']
    h.append('<p>Each point is one random network (σ_w², σ_b², depth, width) probed with the same settings; '
             'the phase picture shows where the cutoff ℓ* reaches the last stage.</p>')
    h.append(HOW_TO_READ)
    crit = sweep.get("critical")
    if crit is not None:
        h.append(f'<h2 id="{esc(anchor)}-critical">Critical point</h2><div data-critical>{_any_table(crit)}</div>')
    h += _critical_lines_section(sweep.get("critical_lines"), anchor)
    agree = sweep.get("agreement")
    if agree is not None:
        h.append(f'<h2 id="{esc(anchor)}-agreement">Agreement with theory / training</h2><div data-agreement>{_any_table(agree)}</div>')
    pngs = sorted(folder.glob("*.png"), key=lambda p: (p.name != "phase.png", p.name))
    h.append(f'<h2 id="{esc(anchor)}-figures">Figures</h2>')
    if pngs:
        for p in pngs:
            try:
                data = p.read_bytes()
            except OSError:
                continue
            if not data.startswith(b"\x89PNG"):
                h.append(f'<p class="warn">{esc(p.name)} is not a PNG image (skipped).</p>')
                continue
            h.append(img_tag(data, p.stem, p.name))
    else:
        metric = "differential_entropy"
        fig = sweep_points_figure(points, metric)
        if fig:
            h.append(img_tag(fig, "cutoff vs sigma_w2", "Cutoff ℓ* against σ_w² (drawn from the points; no phase.png in the folder)."))
        else:
            h.append("<p>No figures in this sweep folder.</p>")
    theory = sweep.get("theory")
    if theory is not None:
        h.append(f'<h2 id="{esc(anchor)}-theory">Mean-field theory</h2>{_any_table(theory)}')
    h.append(f'<h2 id="{esc(anchor)}-points">Points</h2>')
    if points:
        flat = [_flatten(p) for p in points]
        first = ["sigma_w2", "sigma_b2", "depth", "width"]
        cols = [c for c in first if any(c in f for f in flat)]
        for f in flat:
            cols += [k for k in f if k not in cols]
        cols = cols[:16]
        rows = [[fmt(f.get(c)) for c in cols] for f in flat]
        attrs = [f'data-point="{i}"' for i in range(len(rows))]
        tbl = table(cols, rows, num_cols=list(range(len(cols))), row_attrs=attrs)
        h.append(collapsible(f"{len(points)} points", tbl, open_=len(points) <= 40))
    else:
        h.append("<p>No points recorded yet.</p>")
    for n in notes:
        h.append(f'<p class="warn">{esc(n)}</p>')
    grid = sweep.get("grid")
    if grid is not None:
        h.append("<h3>Grid</h3>" + _any_table(grid))
    if cfg:
        h.append(collapsible("Sweep settings", kv_table(list(_flatten(cfg).items()))))
    cmd = sweep.get("command") if isinstance(sweep.get("command"), str) else None
    if cmd:
        h.append(f'<h3>Produced by</h3><pre class="cmd">{esc(cmd)}</pre>')
    h.append("</section>")
    return title, "\n".join(h), cmd


def render_sweep(folder: PathLike, command: Optional[str] = None) -> str:
    """HTML page for one sweep folder."""
    return render_report([folder], command=command)


# ----------------------------------------------------------------------------- pages

_RENDERERS = {"run": render_run_section, "compare": render_compare_section, "sweep": render_sweep_section}


def render_report(paths: Sequence[PathLike], command: Optional[str] = None, title: Optional[str] = None,
                  allow_incomplete: bool = False) -> str:
    """One HTML page for any mix of run, comparison and sweep folders (finished ones, unless
    ``allow_incomplete``)."""
    if not paths:
        raise ReprobeError("no folders to report on; pass at least one run, compare or sweep folder")
    kinds = [detect_kind(p, allow_incomplete) for p in paths]  # all errors before any rendering
    sections = []
    for i, (kind, folder) in enumerate(kinds):
        anchor = kind if len(kinds) == 1 else f"{kind}-{i + 1}"
        sections.append((anchor,) + _RENDERERS[kind](folder, anchor=anchor))
    if len(sections) == 1:
        page_title = title or sections[0][1]
        body = sections[0][2]
        toc = []
        sub = f"Folder: {kinds[0][1]}"
    else:
        page_title = title or f"reprobe report: {len(sections)} folders"
        body = "\n".join(f'<h2 class="part" id="{esc(a)}-title">{esc(t)}</h2>{b}' for a, t, b, _ in sections)
        toc = [(f"{a}-title", t) for a, t, _, _ in sections]
        sub = "Folders: " + ", ".join(str(f) for _, f in kinds)
    own = {c for *_, c in sections if c}
    return page(page_title, body, subtitle=sub, command=command if command and command not in own else None, toc=toc)


def write_report(paths: Union[PathLike, Sequence[PathLike]], out_file: PathLike, command: Optional[str] = None,
                 allow_incomplete: bool = False) -> Path:
    """Render ``paths`` (run, comparison or sweep folders) into the self-contained HTML ``out_file``.

    Args:
        paths: one folder or a list of them.
        out_file: the .html file to write (parents are created).
        command: the command that asked for the report (shown when it differs from the folders' own).
        allow_incomplete: render folders that still carry their INCOMPLETE marker (for the
            command that is writing them).

    Raises:
        ReprobeError: a folder is missing, corrupt, or not a reprobe folder (the message names it).
    """
    from ..core.io import atomic_write, check_writable_file

    if isinstance(paths, (str, Path)):
        paths = [paths]
    out = Path(out_file)
    check_writable_file(out, "report")
    text = render_report(list(paths), command=command, allow_incomplete=allow_incomplete)

    def w(tmp):
        Path(tmp).write_text(text, encoding="utf-8")

    try:
        atomic_write(out, w)
    except OSError as e:
        raise ReprobeError(f"cannot write report {out}: {e.strerror}") from None
    return out

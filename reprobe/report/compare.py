"""The page of a comparison folder (``summary.json`` and its runs): ranking, curves, predictors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple


from ..analysis.prediction import recheck_prediction
from ..analysis.ranking import rank_entries
from ..analysis.records import CompareEntry, as_entry
from ..analysis.validation import spearman
from ..core.errors import ReprobeError
from ..core.io import finite_or_none
from ..metrics import RANK_METRIC
from .page import HOW_TO_READ, Raw, attr, collapsible, esc, fmt, fmt_params, fmt_seconds, img_tag, kv_table, table
from .folders import PathLike, read_json
from .parts import recon_html, timing_rows, verdict_badge
from .run import load_run, stage_table


def load_compare(folder: Path) -> Tuple[dict, Dict[str, Any]]:
    """summary.json and the loaded run of every model (clear error for missing/corrupt runs)."""
    summary = read_json(folder / "summary.json", "comparison")
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
        runs[e["name"]] = load_run(run_dir)
    return summary, runs


def rechecked_ranking(entries: List[dict], runs: Dict[str, Any], metric: str) -> List[dict]:
    """The entries with each prediction re-derived from its run's numbers, ranked again: a stored
    verdict or rank is never shown beside numbers it no longer follows from."""
    fresh = []
    for e in entries:
        pred, note = recheck_prediction(runs[e["name"]])
        fresh.append({**e, "prediction": pred.to_dict(),
                      "warnings": list(e.get("warnings") or []) + ([note] if note else [])})
    return rank_entries(fresh, metric)


def _compare_ranking(models: List[CompareEntry], metric: str, metrics: List[str], summary: dict, anchor: str) -> List[str]:
    """The ranking table (and the models that failed)."""
    h: List[str] = []
    h.append(f'<h2 id="{esc(anchor)}-ranking">Ranking by predicted trainability</h2>')
    h.append(f"<p>Ranked by the verdict: undecidable last; a net whose last-stage reconstructions collapse never "
             f"above one whose don't; then trainable, marginal, untrainable; then the predicted deepest trainable "
             f"net over L (higher first), ℓ*/L of {esc(metric.replace('_', ' '))} and its final value.</p>")
    other = [m for m in metrics if m != metric and m != "mse"]
    headers = ["rank", "model", "L", "ℓ*", "ℓ*/L", f"final {metric.replace('_', ' ')}"] + \
              [f"ℓ* of {m.replace('_', ' ')}" for m in other] + ["parameters", "probe time", "prediction"]
    rows, attrs = [], []
    for e in models:
        L = e.depth
        c = e.cutoff(metric)
        frac = e.cutoff_fractions.get(metric)  # as stored: the page's data attributes show it verbatim
        fin = e.finals.get(metric)
        pred = Raw(f'{verdict_badge(c, L, e.prediction).html}<br><span class="reason" data-reason>{esc(e.reason)}</span>')
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
        h.append(recon_html(r, e.cutoff(metric), 2, None))
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
        h.append(stage_table(r, limit_open=0))
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
        h.append("<h3>Timings</h3>" + kv_table(timing_rows(tt)))
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
    metric = summary.get("rank_metric") or RANK_METRIC
    models = [as_entry(e) for e in rechecked_ranking(summary["models"], runs, metric)]
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

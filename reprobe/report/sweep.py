"""The page of a sweep folder (``sweep.json`` / ``points.jsonl``): critical point, lines, agreement, points."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple


from ..core.errors import ReprobeError
from ..core.io import finite_or_none
from ..metrics import RANK_METRIC
from .page import HOW_TO_READ, attr, collapsible, esc, fmt, img_tag, kv_table, table
from ..experiments.store import PointStore
from .folders import PathLike, read_json


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
        sweep = read_json(folder / "sweep.json", "sweep")
    else:
        sweep = {}
        notes.append("no sweep.json in this folder (an interrupted sweep?): showing the points in points.jsonl")
    if not isinstance(sweep, dict):
        raise ReprobeError(f"{folder / 'sweep.json'} is not a reprobe sweep (expected a JSON object); re-run reprobe sweep")
    points = sweep.get("points")
    if not isinstance(points, list):
        points = _stored_points(folder / "points.jsonl", notes)
    points = [p for p in points if isinstance(p, dict)]
    return sweep, points, notes


def _stored_points(path: Path, notes: List[str]) -> List[dict]:
    """The finished points of a sweep's ``points.jsonl`` (read as the sweep reads them: lines that are
    not complete points are left out, each with a note)."""
    if not path.is_file():
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = PointStore(path).load()
    notes += [w.replace(f"{path}: ", "points.jsonl: ") + " (an interrupted sweep?)" for w in store.warnings]
    return list(store.records)


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


#: The points table's first columns: the point, then its verdict and the evidence beside it.
_FIRST_COLUMNS = ("sigma_w2", "sigma_b2", "depth", "width", "verdict", "predicted_depth", "xi", "accuracy")


def _with_bounds(row: Dict[str, Any]) -> Dict[str, Any]:
    """``row`` with the predicted depth and ξ̂ written "≥ …" where they are lower bounds (no flag columns)."""
    for key, flag in (("predicted_depth", "predicted_depth_is_bound"), ("xi", "xi_is_bound")):
        if row.pop(flag, False) is True and row.get(key) is not None:
            row[key] = "≥ " + fmt(row[key])
    return row
#: Keys of a full record (points.jsonl) that mean what sweep.json's flat keys mean.
_SAME_AS = {"prediction.verdict": "verdict", "prediction.max_trainable_depth": "predicted_depth", "prediction.xi": "xi",
            "prediction.xi_is_bound": "xi_is_bound", "prediction.depth_is_bound": "predicted_depth_is_bound"}


def _heading(key: str) -> str:
    """A points-table column in words (``cutoffs.relative_entropy`` → "ℓ* (relative entropy)")."""
    from ..analysis.sweep_summary import point_heading

    for prefix, word in (("cutoffs.", "l_star_"), ("final.", "final_")):
        if key.startswith(prefix):
            return point_heading(word + key[len(prefix):])
    if key.startswith("predictors."):
        return f"{key[len('predictors.'):].replace('_', ' ')} score"
    return point_heading(key.replace(".", " "))


def _critical_table(crit: Any) -> str:
    """sweep.json's ``critical``: per σ_b², the best grid σ_w² by the probe beside mean field's critical σ_w²."""
    by_sb = crit.get("by_sigma_b2") if isinstance(crit, dict) else None
    if not isinstance(by_sb, dict):
        return _any_table(crit)
    mean_field = crit.get("mean_field") if isinstance(crit.get("mean_field"), dict) else {}
    rows = [[sb, fmt(r.get("sigma_w2")), fmt(r.get("depth")), fmt(r.get("l_star")), fmt(mean_field.get(sb))]
            for sb, r in by_sb.items() if isinstance(r, dict)]
    method = f"<p>{esc(crit['method'])}.</p>" if isinstance(crit.get("method"), str) else ""
    return method + table(["σ_b²", "best σ_w² on the grid (probe)", "at depth L", "its ℓ*", "mean field's critical σ_w²"],
                          rows, num_cols=[0, 1, 2, 3, 4])


def _theory_table(theory: Any) -> str:
    """sweep.json's ``theory``: mean field's critical σ_w² per σ_b², and 6ξ_c per σ_w² (a column per σ_b²)."""
    six = theory.get("six_xi_c") if isinstance(theory, dict) else None
    if not isinstance(six, dict) or not all(isinstance(r, dict) for r in six.values()):
        return _any_table(theory)
    crit = theory.get("critical_sigma_w2") if isinstance(theory.get("critical_sigma_w2"), dict) else {}
    sbs = list(six)
    sws = list(dict.fromkeys(sw for row in six.values() for sw in row))
    head = (f"<p>Mean field for {esc(str(theory.get('activation', '?')))}: nets deeper than {fmt(theory.get('factor', 6.0))}ξ_c "
            "are predicted untrainable; ξ_c diverges at the critical σ_w² (χ₁ = 1).</p>")
    first = table(["σ_b²", "critical σ_w² (χ₁ = 1)"], [[sb, fmt(crit.get(sb))] for sb in sbs], num_cols=[0, 1])
    rows = [[sw] + [_depth(six[sb].get(sw)) for sb in sbs] for sw in sws]
    return head + first + table(["σ_w²"] + [f"6ξ_c at σ_b² = {sb}" for sb in sbs], rows, num_cols=list(range(len(sbs) + 1)))


def _agreement_table(agree: Any) -> str:
    """sweep.json's ``agreement``: one row per rule (the prediction, ℓ*, mean field) against the trained nets."""
    if not isinstance(agree, dict) or not isinstance(agree.get("probe"), dict):
        return _any_table(agree)
    rules = [("prediction: depth ≤ c·ξ̂", agree.get("prediction")), ("probe: depth ≤ ℓ*", agree.get("probe")),
             ("mean field: depth ≤ 6ξ_c", agree.get("theory"))]
    rows = [[name, fmt(r.get("cells", agree.get("cells"))), fmt(r.get("agree")), fmt(r.get("fraction")),
             fmt(r.get("spearman")), fmt(r.get("auroc"))] for name, r in rules if isinstance(r, dict)]
    head = (f"<p>{esc(fmt(agree.get('cells')))} trained nets; trainable means accuracy ≥ "
            f"{esc(fmt(agree.get('acc_threshold')))}; ℓ* and ξ̂ of {esc(str(agree.get('metric', '?')).replace('_', ' '))}. "
            "Spearman: across σ_w², the rule's depth against the deepest depth that trained.</p>")
    return head + table(["rule", "cells", "agree", "agreement", "Spearman", "AUROC"], rows, num_cols=[1, 2, 3, 4, 5])


def _depth(v: Any) -> str:
    return "∞" if v == "inf" else fmt(v)


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
        h.append(f'<h2 id="{esc(anchor)}-critical">Critical point</h2><div data-critical>{_critical_table(crit)}</div>')
    h += _critical_lines_section(sweep.get("critical_lines"), anchor)
    agree = sweep.get("agreement")
    if agree is not None:
        h.append(f'<h2 id="{esc(anchor)}-agreement">Agreement with theory / training</h2>'
                 f'<div data-agreement>{_agreement_table(agree)}</div>')
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
        metric = RANK_METRIC
        fig = sweep_points_figure(points, metric)
        if fig:
            h.append(img_tag(fig, "cutoff vs sigma_w2", "Cutoff ℓ* against σ_w² (drawn from the points; no phase.png in the folder)."))
        else:
            h.append("<p>No figures in this sweep folder.</p>")
    theory = sweep.get("theory")
    if theory is not None:
        h.append(f'<h2 id="{esc(anchor)}-theory">Mean-field theory</h2><div data-theory>{_theory_table(theory)}</div>')
    h.append(f'<h2 id="{esc(anchor)}-points">Points</h2>')
    if points:
        flat = [_with_bounds({_SAME_AS.get(k, k): v for k, v in _flatten(p).items()}) for p in points]
        cols = [c for c in _FIRST_COLUMNS if any(c in f for f in flat)]
        for f in flat:
            cols += [k for k in f if k not in cols]
        cols = cols[:16]
        rows = [[fmt(f.get(c)) for c in cols] for f in flat]
        attrs = [f'data-point="{i}"' for i in range(len(rows))]
        tbl = table([_heading(c) for c in cols], rows, num_cols=list(range(len(cols))), row_attrs=attrs)
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

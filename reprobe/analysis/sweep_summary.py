"""What a sweep's points say, beside its runner: the mean-field reference, the agreement of the ℓ* and
6ξ_c rules with trained nets, and the grid estimate of the critical point. Pure functions over records.

Agreement with ground truth (:func:`agreement`): a cell is a trained net at ``(σ_w², σ_b², width,
depth d)``. The probe predicts it trainable when ``d ≤ ℓ*``, where ℓ* comes from the probed net at
the same ``(σ_w², σ_b², width)`` and the same depth if there is one, else the deepest probed net
there (ℓ* of a deep net measures how far information travels at that σ_w²). Mean field predicts
trainable when ``d ≤ 6 ξ_c``. Truth: accuracy ≥ ``acc_threshold``. Each rule is scored by
:func:`~reprobe.analysis.validation.score_rule`, as ``reprobe validate`` scores it.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ..core.errors import ReprobeError
from ..core.io import finite_or_none
from .critical import score_record
from .prediction import DEFAULT_METRIC
from .records import SweepPoint, as_point
from .validation import LineKey, line_key, score_rule, spearman


def theory_reference(activation: str, sigma_w2: Iterable[float], sigma_b2: Iterable[float]) -> Dict[str, Any]:
    """Mean-field critical σ_w² per σ_b² and 6ξ_c per (σ_b², σ_w²); {} when the activation is unknown to theory."""
    from .. import theory as mf

    try:
        act = mf.get_activation(activation)
    except ReprobeError:
        return {}
    out: Dict[str, Any] = {"activation": act.name, "factor": 6.0, "critical_sigma_w2": {}, "six_xi_c": {}}
    for sb in sigma_b2:
        try:
            out["critical_sigma_w2"][f"{sb:g}"] = mf.critical_sigma_w2(act, sb)
        except ReprobeError:
            out["critical_sigma_w2"][f"{sb:g}"] = None
        row = {}
        for sw in sigma_w2:
            try:
                d = mf.trainable_depth(act, sw, sb)
                row[f"{sw:g}"] = "inf" if math.isinf(d) else d
            except ReprobeError:
                row[f"{sw:g}"] = None
        out["six_xi_c"][f"{sb:g}"] = row
    return out


def six_xi(theory: Dict[str, Any], sw: float, sb: float) -> Optional[float]:
    """Mean field's 6ξ_c at (σ_w², σ_b²) from :func:`theory_reference` (None where it has none)."""
    v = (theory.get("six_xi_c") or {}).get(f"{sb:g}", {}).get(f"{sw:g}") if theory else None
    if v == "inf":
        return math.inf
    return v


def _probed_lines(probes: List[dict], metric: str) -> Dict[LineKey, List[SweepPoint]]:
    """The probed nets with a cutoff, per (σ_w², σ_b², width) line."""
    lines: Dict[LineKey, List[SweepPoint]] = {}
    for p in map(as_point, probes):
        if p.cutoff(metric) is not None:
            lines.setdefault((round(p.sigma_w2, 6), round(p.sigma_b2, 6), p.width), []).append(p)
    return lines


def _reference(cands: List[SweepPoint], depth: int) -> SweepPoint:
    """The probe that speaks for a trained net of ``depth``: the one of the same depth, else the deepest."""
    same = [p for p in cands if p.depth == depth]
    return same[0] if same else max(cands, key=lambda p: p.depth)


def _cells(trained: List[dict], lines: Dict[LineKey, List[SweepPoint]], theory: Dict[str, Any],
           acc_threshold: float, metric: str) -> List[dict]:
    """One row per trained net on a probed line: its accuracy, ℓ*, 6ξ_c and both rules' verdicts."""
    cells = []
    for t in trained:
        cands = lines.get(line_key(t)) if t.get("accuracy") is not None else None
        if not cands:
            continue
        ref = _reference(cands, t["depth"])
        ell = ref.cutoff(metric)
        xi = six_xi(theory, t["sigma_w2"], t["sigma_b2"])
        cells.append({
            "sigma_w2": t["sigma_w2"], "sigma_b2": t["sigma_b2"], "width": t.get("width"), "depth": t["depth"],
            "accuracy": t["accuracy"], "trainable": t["accuracy"] >= acc_threshold,
            "l_star": ell, "probe_depth": ref.depth, "six_xi_c": xi,
            "probe_predicts": t["depth"] <= ell, "theory_predicts": (None if xi is None else t["depth"] <= xi),
        })
    return cells


def _probe_score(trained: List[dict], lines: Dict[LineKey, List[SweepPoint]], acc_threshold: float,
                 metric: str) -> Tuple[int, int]:
    """(agree, cells) of ``depth ≤ ℓ*``: :func:`score_rule` once per reference probe depth, since a
    trained net takes ℓ* from the probe of its own depth where there is one."""
    groups: Dict[Tuple[LineKey, int], List[dict]] = {}
    for t in trained:
        cands = lines.get(line_key(t))
        if cands and t.get("accuracy") is not None:
            groups.setdefault((line_key(t), _reference(cands, t["depth"]).depth), []).append(t)
    agree = cells = 0
    for (key, depth), ts in groups.items():
        ref = _reference(lines[key], depth)
        s = score_rule("l_star", {key: ref.cutoff(metric)}, ts, acc_threshold)
        agree, cells = agree + s.agree, cells + s.cells
    return agree, cells


def _line_rows(cells: List[dict], lines: Dict[LineKey, List[SweepPoint]], metric: str) -> Dict[Tuple, Dict[float, dict]]:
    """Per (σ_b², width), per σ_w²: ℓ* of the deepest probe, 6ξ_c, the deepest trainable depth and the trained depths.
    ℓ* of a shallow net is capped by its own depth and says nothing about longer propagation."""
    rows: Dict[Tuple, Dict[float, dict]] = {}
    for c in cells:
        g = rows.setdefault((c["sigma_b2"], c["width"]), {})
        row = g.setdefault(c["sigma_w2"], {"l_star": None, "six_xi_c": c["six_xi_c"], "deepest_trainable": 0,
                                           "depths": []})
        if row["l_star"] is None:
            row["l_star"] = max(lines[line_key(c)], key=lambda p: p.depth).cutoff(metric)
        row["depths"].append(c["depth"])
        if c["trainable"]:
            row["deepest_trainable"] = max(row["deepest_trainable"], c["depth"])
    return rows


def _correlations(rows: Dict[Tuple, Dict[float, dict]]) -> Tuple[List[dict], Optional[float], Optional[float]]:
    """Per line and pooled: Spearman across σ_w² of ℓ* (and of 6ξ_c capped at the line's deepest trained
    depth) with the deepest trainable depth."""
    xs_p, xs_t, ys, ys_t = [], [], [], []
    per_line = []
    for (sb, w), line in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        cap = max(max(r["depths"]) for r in line.values())
        sws = sorted(line)
        lp = [line[s]["l_star"] for s in sws]
        dt = [line[s]["deepest_trainable"] for s in sws]
        th = [None if line[s]["six_xi_c"] is None else min(line[s]["six_xi_c"], cap) for s in sws]
        complete = all(v is not None for v in th)
        per_line.append({"sigma_b2": sb, "width": w, "sigma_w2": sws, "l_star": lp, "deepest_trainable": dt,
                         "six_xi_c_capped": th, "spearman_probe": spearman(lp, dt),
                         "spearman_theory": (spearman(th, dt) if complete else None)})
        xs_p += lp
        ys += dt
        if complete:
            xs_t += th
            ys_t += dt
    return per_line, spearman(xs_p, ys), (spearman(xs_t, ys_t) if xs_t else None)


def agreement(probes: List[dict], trained: List[dict], theory: Dict[str, Any], acc_threshold: float,
              metric: str = DEFAULT_METRIC) -> Dict[str, Any]:
    """How well ``depth ≤ ℓ*`` (and ``depth ≤ 6ξ_c``) predicts ``accuracy ≥ acc_threshold`` (see the
    module docstring).

    Returns cell counts and accuracies of both rules, and the Spearman correlation across σ_w²
    (per σ_b², width; pooled) between the rule's depth (ℓ*, or 6ξ_c capped at the deepest trained
    depth) and the deepest trainable depth (0 when none trains); {} without a trained net on a probed line.
    """
    lines = _probed_lines(probes, metric)
    cells = _cells(trained, lines, theory, acc_threshold, metric)
    if not cells:
        return {}
    probe_agree, n = _probe_score(trained, lines, acc_threshold, metric)
    mean_field = {k: six_xi(theory, ps[0].sigma_w2, ps[0].sigma_b2) for k, ps in lines.items()}
    th = score_rule("mean_field", mean_field, [t for t in trained if line_key(t) in lines], acc_threshold)
    per_line, rho_probe, rho_theory = _correlations(_line_rows(cells, lines, metric))
    return {
        "metric": metric,
        "acc_threshold": acc_threshold,
        "rule": "trainable predicted iff depth <= l_star (probe) or depth <= 6 xi_c (mean field); "
                "l_star from the probed net of the same sigma_w2, sigma_b2, width and depth, else the deepest one",
        "cells": n,
        "probe": {"agree": probe_agree, "fraction": probe_agree / n, "spearman": rho_probe},
        "theory": {"agree": th.agree, "cells": th.cells, "fraction": th.agreement, "spearman": rho_theory},
        "lines": per_line,
        "table": cells,
    }


def probe_critical_estimate(probes: Sequence[Union[dict, SweepPoint]], metric: str = DEFAULT_METRIC) -> Dict[str, Any]:
    """Per σ_b² (deepest depth, first width): the grid σ_w² with the best score (ℓ*, then lowest mean
    relative entropy); a grid estimate of the critical point."""
    out = {}
    groups: Dict[float, List[SweepPoint]] = {}
    for p in map(as_point, probes):
        if p.probed:
            groups.setdefault(p.sigma_b2, []).append(p)
    for sb, ps in sorted(groups.items()):
        dmax = max(p.depth for p in ps)
        ps = [p for p in ps if p.depth == dmax]
        best = max(ps, key=lambda p: score_record(p, metric))
        out[f"{sb:g}"] = {"sigma_w2": best.sigma_w2, "depth": dmax, "l_star": best.cutoff(metric)}
    return out


def point_rows(probes: Sequence[Union[dict, SweepPoint]], theory: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One row per probed point, ordered by σ_b², depth, width, σ_w²: the point, its verdict, the predicted
    deepest trainable depth and ξ̂ (``…_is_bound``: a lower bound), mean field's 6ξ_c, each metric's ℓ*
    and last-stage value, and the accuracy where the net was trained. What ``summary.csv``, the printed
    sweep table and the sweep page show (:data:`POINT_HEADINGS` names the columns in words)."""
    points = [p for p in map(as_point, probes) if p.probed]
    metrics = list(dict.fromkeys(m for p in points for m in p.metrics))
    rows = []
    for p in sorted(points, key=lambda r: (r.sigma_b2, r.depth, r.width or 0, r.sigma_w2)):
        pred = p.prediction
        row = {"sigma_w2": p.sigma_w2, "sigma_b2": p.sigma_b2, "depth": p.depth, "width": p.width, "seed": p.seed,
               "verdict": p.verdict, "predicted_depth": p.predicted_depth,
               "predicted_depth_is_bound": bool(pred.get("depth_is_bound")) if pred else None,
               "xi": finite_or_none(pred.get("xi")), "xi_err": finite_or_none(pred.get("xi_err")),
               "xi_is_bound": bool(pred.get("xi_is_bound")) if pred else None,
               "six_xi_c": six_xi(theory, p.sigma_w2, p.sigma_b2)}
        row.update({f"l_star_{m}": p.cutoff(m) for m in metrics})
        row.update({f"final_{m}": p.final(m) for m in metrics})
        row["accuracy"] = p.accuracy if p.has("accuracy") else None
        rows.append(row)
    return rows


#: Column headings in words for :func:`point_rows`' keys (``l_star_<metric>``: "ℓ* (<metric>)").
POINT_HEADINGS = {"sigma_w2": "σ_w²", "sigma_b2": "σ_b²", "depth": "depth L", "width": "width", "seed": "seed",
                  "verdict": "verdict", "predicted_depth": "predicted deepest trainable depth",
                  "predicted_depth_is_bound": "(at least)", "xi": "ξ̂", "xi_err": "ξ̂ error", "xi_is_bound": "ξ̂ at least",
                  "six_xi_c": "mean field 6ξ_c", "accuracy": "accuracy after training"}


def point_heading(key: str) -> str:
    """The heading in words of a :func:`point_rows` column."""
    for prefix, word in (("l_star_", "ℓ*"), ("final_", "last stage")):
        if key.startswith(prefix):
            return f"{word} ({key[len(prefix):].replace('_', ' ')})"
    return POINT_HEADINGS.get(key, key.replace("_", " "))

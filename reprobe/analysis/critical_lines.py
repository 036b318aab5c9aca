"""Each predictor's critical line on a sweep's phase diagram: the σ_w² it calls critical, per σ_b².

Three predictors name a critical σ_w² on a grid of probed nets (one row per σ_b², depth and width):

* ``probe_xi_peak``: where the probe's correlation length ξ̂ (the sweep point's ``prediction.xi``)
  is largest, refined by the vertex of the parabola through the best grid point and its two
  neighbours (:func:`parabola_peak`). At the grid's edge the edge point is returned, with a note.
  ξ̂ is often flat near its peak (the probe's ridge floor caps it), so ``probe_xi_band`` gives the
  σ_w² range whose ξ̂ is within its error of the largest (:func:`peak_band`): the peak is only known
  to lie there.
* ``partial_jacobian``: where the partial-Jacobian norm χ crosses 1 (Doshi, He, Gromov 2023). A
  point's χ is ``exp`` of its mean ``ln χ`` as the predictor scores it
  (:func:`reprobe.analysis.chi.mean_log_chi`, from the record's ``per_stage`` and ``stage_shapes``:
  hidden stage pairs of equal shape after the transient; the pair into a classifier head, a bare
  Linear whose χ is σ_w², is left out); ``ln χ`` is interpolated linearly in σ_w² between the grid
  points either side of 0 (:func:`chi_crossing`).
  For a tanh MLP χ = σ_w² E[φ'(h)²] = mean field's χ₁, so it crosses 1 at mean field's critical σ_w².
* ``mean_field``: the infinite-width critical σ_w² (χ₁ = 1), given by the caller (the sweep's
  ``theory.critical_sigma_w2``).

Pure functions over sweep point records (``points.jsonl`` lines): no torch, no files.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..core.io import is_finite_number
from .chi import TRANSIENT_PAIRS, mean_log_chi  # noqa: F401  (TRANSIENT_PAIRS: re-exported)

#: The predictors a line can come from, in the order tables and legends show them.
LINE_NAMES = ("mean_field", "probe_xi_peak", "partial_jacobian")


def parabola_peak(xs: Sequence[float], ys: Sequence[Optional[float]]) -> Tuple[Optional[float], str]:
    """The x where ``ys`` peaks: the vertex of the parabola through the largest value and its neighbours.

    Args:
        xs: grid positions (any order; unevenly spaced is fine).
        ys: values at them (None/NaN skipped).

    Returns:
        (x of the peak, note). The note is empty for an interior peak; a peak at the grid's edge
        returns the edge point and says so; fewer than three values return the best one. (None, reason)
        when no value is finite.
    """
    pts = sorted((float(x), float(y)) for x, y in zip(xs, ys) if is_finite_number(x) and is_finite_number(y))
    if not pts:
        return None, "no finite value on the grid"
    top = max(y for _, y in pts)
    ties = [k for k, (_, y) in enumerate(pts) if y == top]
    i = ties[len(ties) // 2]  # equal largest values: the middle one
    if len(pts) < 3:
        return pts[i][0], f"only {len(pts)} grid point(s): the best one, not refined"
    if i == 0 or i == len(pts) - 1:
        return pts[i][0], f"largest at the grid's edge (σ_w² = {pts[i][0]:g}): the peak may lie beyond it"
    (x0, y0), (x1, y1), (x2, y2) = pts[i - 1], pts[i], pts[i + 1]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
    if a >= 0:  # flat top (three equal values): no curvature to refine with
        return x1, "flat around the largest value: the grid point, not refined"
    return min(max(-b / (2 * a), x0), x2), ""


#: Relative error of ξ̂ assumed where a point records none.
XI_REL_ERR = 0.02


def peak_band(xs: Sequence[float], ys: Sequence[Optional[float]],
              errs: Optional[Sequence[Optional[float]]] = None) -> Optional[Tuple[float, float]]:
    """The x range around the largest y whose values are within their error of it.

    A grid point is in the band when ``y_max − y ≤ √(err_max² + err²)`` (errors: ``errs``, else
    :data:`XI_REL_ERR` of the value); the band runs over the contiguous such points around the peak.

    Returns:
        (lowest x, highest x), or None when no value is finite.
    """
    errs = list(errs) if errs is not None else [None] * len(xs)
    pts = sorted((float(x), float(y), float(e) if is_finite_number(e) else XI_REL_ERR * abs(float(y)))
                 for x, y, e in zip(xs, ys, errs) if is_finite_number(x) and is_finite_number(y))
    if not pts:
        return None
    i = max(range(len(pts)), key=lambda k: pts[k][1])
    _, ym, em = pts[i]

    def near(k: int) -> bool:
        return ym - pts[k][1] <= math.hypot(em, pts[k][2])

    lo = hi = i
    while lo > 0 and near(lo - 1):
        lo -= 1
    while hi < len(pts) - 1 and near(hi + 1):
        hi += 1
    return pts[lo][0], pts[hi][0]


def chi_crossing(xs: Sequence[float], log_chi: Sequence[Optional[float]]) -> Tuple[Optional[float], str]:
    """The x where ``ln χ`` crosses 0 from below (χ = 1), interpolated linearly between grid points.

    Args:
        xs: σ_w² grid (any order).
        log_chi: mean ``ln χ`` at each (None skipped).

    Returns:
        (σ_w² of the first upward crossing, note); (None, why) when χ stays on one side of 1.
    """
    pts = sorted((float(x), float(y)) for x, y in zip(xs, log_chi) if is_finite_number(x) and is_finite_number(y))
    if not pts:
        return None, "no point has a partial-Jacobian χ"
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if y0 == 0:
            return x0, ""
        if y0 < 0 <= y1:
            return x0 + (x1 - x0) * (-y0) / (y1 - y0), ""
    if pts[-1][1] == 0:
        return pts[-1][0], ""
    if all(y < 0 for _, y in pts):
        return None, f"χ < 1 over the whole grid: the crossing lies above σ_w² = {pts[-1][0]:g}"
    if all(y > 0 for _, y in pts):
        return None, f"χ > 1 over the whole grid: the crossing lies below σ_w² = {pts[0][0]:g}"
    return None, "χ crosses 1 only downwards on this grid"


def line_key(sigma_b2: float, depth: Optional[int], width: Optional[int]) -> str:
    """The key of one row of ``critical_lines``: ``sigma_b2=0.05,depth=30,width=100`` (width left out when the model's)."""
    key = f"sigma_b2={sigma_b2:g},depth={depth}"
    return key if width is None else f"{key},width={width}"


def _group(records: Sequence[Mapping[str, Any]]) -> Dict[Tuple, Dict[float, List[Mapping[str, Any]]]]:
    """Probed records by (σ_b², depth, width), then by σ_w² (several seeds share a σ_w²)."""
    groups: Dict[Tuple, Dict[float, List[Mapping[str, Any]]]] = {}
    for r in records:
        if not r.get("metrics") and not r.get("prediction") and not r.get("predictors"):
            continue  # a trained-only record
        key = (float(r["sigma_b2"]), r.get("depth"), r.get("width"))
        groups.setdefault(key, {}).setdefault(round(float(r["sigma_w2"]), 6), []).append(r)
    return groups


def _mean(vals: Sequence[Optional[float]]) -> Optional[float]:
    vals = [v for v in vals if is_finite_number(v)]
    return sum(vals) / len(vals) if vals else None


def _point_log_chi(r: Mapping[str, Any]) -> Optional[float]:
    pj = (r.get("predictors") or {}).get("partial_jacobian") or {}
    return mean_log_chi(pj.get("per_stage"), r.get("stage_shapes") or None)


def _row(by_sw: Mapping[float, List[Mapping[str, Any]]], mean_field: Optional[float]) -> Dict[str, Any]:
    """One row of :func:`critical_lines` from the records of one (σ_b², depth, width)."""
    sws = sorted(by_sw)
    xi = [_mean([(r.get("prediction") or {}).get("xi") for r in by_sw[s]]) for s in sws]
    row: Dict[str, Any] = {"mean_field": mean_field if is_finite_number(mean_field) else None, "notes": {}}
    row["probe_xi_peak"], note = parabola_peak(sws, xi)
    errs = [_mean([(r.get("prediction") or {}).get("xi_err") for r in by_sw[s]]) for s in sws]
    band = peak_band(sws, xi, errs)
    if band is not None and row["probe_xi_peak"] is not None:
        # The band is read off grid points; the refined peak lies between them and belongs inside it.
        band = (min(band[0], row["probe_xi_peak"]), max(band[1], row["probe_xi_peak"]))
    row["probe_xi_band"] = None if band is None else list(band)
    bounds = [s for s in sws if any((r.get("prediction") or {}).get("xi_is_bound") for r in by_sw[s])]
    if bounds and row["probe_xi_peak"] is not None:
        note = (note + "; " if note else "") + (f"ξ̂ is only a lower bound at σ_w² = {', '.join(f'{s:g}' for s in bounds)} "
                                                "(no saturation within the probed depth)")
    if note:
        row["notes"]["probe_xi_peak"] = note
    grid: Dict[str, Any] = {"sigma_w2": sws, "xi": xi, "xi_err": errs}
    if any("partial_jacobian" in (r.get("predictors") or {}) for rs in by_sw.values() for r in rs):
        lc = [_mean([_point_log_chi(r) for r in by_sw[s]]) for s in sws]
        row["partial_jacobian"], note = chi_crossing(sws, lc)
        if note:
            row["notes"]["partial_jacobian"] = note
        grid["chi"] = [None if v is None else math.exp(v) for v in lc]
    if row["mean_field"] is not None:
        row["vs_mean_field"] = {n: row[n] / row["mean_field"] - 1.0 for n in LINE_NAMES[1:]
                                if row.get(n) is not None}
    row["grid"] = grid
    return row


def critical_lines(records: Sequence[Mapping[str, Any]],
                   mean_field: Optional[Mapping[str, Optional[float]]] = None) -> Dict[str, Dict[str, Any]]:
    """Every predictor's critical σ_w² per (σ_b², depth, width) of a sweep.

    Args:
        records: sweep point records (``prediction`` and, where scored, ``predictors``).
        mean_field: σ_b² as ``f"{sigma_b2:g}"`` → mean field's critical σ_w² (None: unknown).

    Returns:
        :func:`line_key` → ``{"sigma_b2", "depth", "width", "mean_field", "probe_xi_peak",
        "probe_xi_band" ([lo, hi] σ_w² whose ξ̂ is within its error of the peak), "partial_jacobian" (only when points were scored with it), "vs_mean_field" (relative
        difference of each from mean field's), "notes" (name → why a value is missing or rough),
        "grid" (the σ_w² grid and the per-point ξ̂ and χ the lines were read from)}``, rows sorted
        by σ_b², depth and width.
    """
    mean_field = mean_field or {}
    out: Dict[str, Dict[str, Any]] = {}
    for (sb, depth, width), by_sw in sorted(_group(records).items(), key=lambda kv: (kv[0][0], kv[0][1] or 0, kv[0][2] or 0)):
        row = _row(by_sw, mean_field.get(f"{sb:g}"))
        out[line_key(sb, depth, width)] = {"sigma_b2": sb, "depth": depth, "width": width, **row}
    return out

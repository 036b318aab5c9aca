"""How good is a trainability rule? Agreement, Spearman and AUROC against trained networks.

A ground-truth grid is two lists of records (``reprobe sweep`` and ``reprobe train-grid`` write
them as ``points.jsonl`` and ``trained.jsonl``):

* probed points: ``sigma_w2``, ``sigma_b2``, ``width``, ``depth``, ``metrics``, ``cutoffs`` and
  ``stage_shapes``, one net per σ_w² (the deepest probed net of a line speaks for the line);
* trained cells: ``sigma_w2``, ``sigma_b2``, ``width``, ``depth`` and the test ``accuracy``.

A cell is *trainable* when its accuracy reaches the threshold. Each rule turns a line's probe
(or mean field) into a predicted deepest trainable depth D and says "trainable" iff ``depth ≤ D``:

* ``prediction``: ``D = max_trainable_depth`` of :func:`~reprobe.analysis.prediction.predict`;
* ``l_star:<metric>``: ``D = ℓ*`` of the deepest probed net (the paper's rule; capped at its L);
* ``mean_field``: ``D = 6 ξ_c`` from the theory.

Scores per rule: share of cells that agree, AUROC of ``D / depth`` as a score for "trains", and
the Spearman correlation across σ_w² between ``min(D, deepest trained depth)`` and the deepest
depth that trained (0 when none did).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .calibration import Calibration, Grid, fit_form, leave_one_out, make_grid
from .calibration import predicted_depth as calibrated_depth
from .correlation import SaturationFit, correlation_lengths, ends_in_head
from .growth import growth_depth, growth_rate
from .prediction import (
    CALIBRATION, DEFAULT_METRIC, calibration_for, hidden_width, with_overrides,
)
from .records import as_point

LineKey = Tuple[float, float, Optional[int]]


@dataclass(frozen=True)
class RuleScore:
    """One rule's agreement with the trained cells.

    Attributes:
        rule: the rule's name.
        cells: cells the rule could judge.
        agree: cells where the rule and the training agree.
        agreement: ``agree / cells`` (None without cells).
        auroc: area under the ROC curve of ``D / depth`` for "trains" (None if one class is empty).
        spearman: rank correlation across σ_w² of the predicted and the deepest trainable depth.
    """

    rule: str
    cells: int
    agree: int
    agreement: Optional[float]
    auroc: Optional[float]
    spearman: Optional[float]

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def line_key(rec: Mapping) -> LineKey:
    return (round(float(rec["sigma_w2"]), 6), round(float(rec["sigma_b2"]), 6), rec.get("width"))


def deepest_points(points: Iterable[Mapping]) -> Dict[LineKey, Mapping]:
    """The deepest probed net of each (σ_w², σ_b², width) line."""
    best: Dict[LineKey, Mapping] = {}
    for p in points:
        if not p.get("metrics"):
            continue
        k = line_key(p)
        if k not in best or p["depth"] > best[k]["depth"]:
            best[k] = p
    return best


def line_fits(points: Mapping[LineKey, Mapping], metric: str = DEFAULT_METRIC) -> Dict[LineKey, Tuple[SaturationFit, int]]:
    """ξ̂ fit of ``metric`` and the probed depth per line (fitted once; calibration reuses them)."""
    out = {}
    for k, rec in points.items():
        p = as_point(rec)
        fits = correlation_lengths({metric: p.metric(metric)}, p.stage_shapes or (), p.saturation)
        out[k] = (fits[metric], int(p.stages or p.depth))
    return out


def predicted_depths(points: Mapping[LineKey, Mapping], *, metric: str = DEFAULT_METRIC,
                     calibration: Optional[Calibration] = None,
                     fits: Optional[Mapping[LineKey, Tuple[SaturationFit, int]]] = None,
                     widths: Optional[Mapping[LineKey, Optional[int]]] = None,
                     limits: Optional[Mapping[LineKey, Optional[float]]] = None,
                     **overrides: Any) -> Dict[LineKey, Optional[float]]:
    """``max_trainable_depth`` per line, as :func:`~reprobe.analysis.prediction.predict` gives it
    (None when undecidable), with c scaled to each line's hidden width; pass ``fits`` from
    :func:`line_fits`, ``widths`` from :func:`line_widths` and ``limits`` from :func:`line_growth_limits`
    to skip recomputing them. ``overrides``:
    ``depth_per_xi``, ``floor_xi``, ``width_exponent``, ``power`` (see :func:`~reprobe.analysis.prediction.with_overrides`)."""
    fits = fits if fits is not None else line_fits(points, metric)
    widths = widths if widths is not None else line_widths(points)
    limits = limits if limits is not None else line_growth_limits(points)
    out = {}
    for k, (fit, depth) in fits.items():
        cal = with_overrides(calibration or calibration_for(as_point(points[k]).activation_kinds, widths.get(k)),
                             **overrides)
        d = calibrated_depth(fit, depth, cal, widths.get(k))[0]
        out[k] = d if d is None or limits.get(k) is None else min(d, limits[k])
    return out


def line_growth_limits(points: Mapping[LineKey, Mapping]) -> Dict[LineKey, Optional[float]]:
    """The growth limit of each line's net (:mod:`~reprobe.analysis.growth`; None: no limit or not measured)."""
    out = {}
    for k, rec in points.items():
        p = as_point(rec)
        out[k] = growth_depth(growth_rate(p.stage_scale, ends_in_head(p.stage_shapes or ())))
    return out


def line_widths(points: Mapping[LineKey, Mapping]) -> Dict[LineKey, Optional[int]]:
    """The hidden width of each line's net (None unless an MLP; see :func:`~reprobe.analysis.prediction.hidden_width`)."""
    return {k: hidden_width(as_point(p).stage_shapes or ()) for k, p in points.items()}


def cutoff_depths(points: Mapping[LineKey, Mapping], metric: str) -> Dict[LineKey, Optional[float]]:
    return {k: as_point(p).cutoff(metric) for k, p in points.items()}


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> Optional[float]:
    """Probability that a random trainable cell scores above a random untrainable one (ties: ½)."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        return None
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def spearman(a: Sequence[float], b: Sequence[float]) -> Optional[float]:
    """Spearman rank correlation (ties averaged); None with < 3 pairs or a constant side."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return None
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=float)
    ranks[order] = np.arange(len(x), dtype=float)
    for v in np.unique(x):
        ranks[x == v] = ranks[x == v].mean()
    return ranks


def monotone_ceiling(scores: Mapping[LineKey, Optional[float]], trained: Iterable[Mapping],
                     acc_threshold: float) -> Optional[float]:
    """The best agreement that *any* rule "trainable iff depth ≤ f(score)" with f non-decreasing
    could reach on these cells: how much the score's order across lines allows, whatever the
    calibration. A rule ``c·ξ̂`` scoring below it loses to its mapping; no monotone map of the same
    score can pass it. Lines without a score are left out. Dynamic programming over the lines in
    score order (equal scores must get the same depth) and the trained depths as levels.

    Returns:
        The ceiling's share of the scored cells (None without cells).
    """
    ok: Dict[LineKey, Dict[int, bool]] = {}
    for t in trained:
        k = line_key(t)
        if t.get("accuracy") is not None and scores.get(k) is not None:
            ok.setdefault(k, {})[int(t["depth"])] = float(t["accuracy"]) >= acc_threshold
    if not ok:
        return None
    levels = [0] + sorted({d for cells in ok.values() for d in cells})
    best = np.zeros(len(levels))  # best agreement so far with the last line's level ≤ levels[i]
    for score in sorted({scores[k] for k in ok}):
        tied = [k for k in ok if scores[k] == score]
        agree = np.array([sum((d <= lvl) == y for k in tied for d, y in ok[k].items()) for lvl in levels])
        best = np.maximum.accumulate(best + agree)
    return float(best[-1] / sum(len(c) for c in ok.values()))


def score_rule(rule: str, depths: Mapping[LineKey, Optional[float]], trained: Iterable[Mapping],
               acc_threshold: float) -> RuleScore:
    """Score "trainable iff depth ≤ D" with ``depths`` (line → D) against the trained cells."""
    cells = [(line_key(t), int(t["depth"]), float(t["accuracy"]) >= acc_threshold) for t in trained
             if t.get("accuracy") is not None and depths.get(line_key(t)) is not None]
    if not cells:
        return RuleScore(rule, 0, 0, None, None, None)
    agree = sum((d <= depths[k]) == ok for k, d, ok in cells)
    score = auroc([depths[k] / d for k, d, _ in cells], [ok for *_, ok in cells])
    cap = max(d for _, d, _ in cells)
    deepest: Dict[LineKey, int] = {}
    for k, d, ok in cells:
        deepest[k] = max(deepest.get(k, 0), d if ok else 0)
    keys = sorted(deepest)
    rho = spearman([min(depths[k], cap) for k in keys], [deepest[k] for k in keys])
    return RuleScore(rule, len(cells), agree, agree / len(cells), score, rho)


def calibration_grid(points: Mapping[LineKey, Mapping], trained: Iterable[Mapping], acc_threshold: float, *,
                     metric: str = DEFAULT_METRIC, name: str = "grid") -> Grid:
    """One grid's lines (deepest probe each) and trained cells as a :class:`~reprobe.analysis.calibration.Grid`."""
    cells = [(line_key(t), t["depth"], t.get("accuracy")) for t in trained]
    return make_grid(name, line_fits(points, metric), line_widths(points), cells, acc_threshold,
                     line_growth_limits(points))


def calibrate(points: Mapping[LineKey, Mapping], trained: Sequence[Mapping], acc_threshold: float, *,
              metric: str = DEFAULT_METRIC, form: str = "linear",
              width_exponent: Optional[float] = None) -> Tuple[Calibration, RuleScore]:
    """The constants of ``form`` (see :mod:`~reprobe.analysis.calibration`) that agree best with the trained
    cells of one grid; c is quoted at the reference width, scaled to the grid's width by ``width_exponent``
    (None: the shipped one, since one grid of one width cannot tell c from the width law).

    Returns:
        (calibration, score of the calibrated rule in sample). Constants fitted to a grid: report
        :func:`cross_validate` beside the in-sample score.
    """
    p = CALIBRATION.width_exponent if width_exponent is None else width_exponent
    grid = calibration_grid(points, trained, acc_threshold, metric=metric)
    cal, _, _ = fit_form(form, [grid], width_exponent=p)
    depths = predicted_depths(points, calibration=cal, fits=grid.fits, widths=grid.widths, limits=grid.limits)
    return cal, score_rule(f"prediction:{metric} ({form}, fitted)", depths, trained, acc_threshold)


def cross_validate(points: Mapping[LineKey, Mapping], trained: Sequence[Mapping], acc_threshold: float,
                   metric: str = DEFAULT_METRIC, form: str = "linear", width_exponent: Optional[float] = None) -> RuleScore:
    """Leave one σ_w² out: fit ``form`` on the other lines, judge the held-out line's cells."""
    p = CALIBRATION.width_exponent if width_exponent is None else width_exponent
    grid = calibration_grid(points, trained, acc_threshold, metric=metric)
    agree, cells = leave_one_out(form, [grid], "sigma_w2", width_exponent=p)
    return RuleScore(f"prediction:{metric} ({form}, leave-one-σ_w²-out)", cells, agree,
                     agree / cells if cells else None, None, None)


def validate(points: Iterable[Mapping], trained: Sequence[Mapping], acc_threshold: float,
             six_xi: Callable[[float, float], Optional[float]], *, metrics: Sequence[str] = (),
             **prediction_options) -> List[RuleScore]:
    """Every rule side by side: the prediction, ℓ* of each metric, and mean field's 6ξ_c.

    Args:
        points: probed records (see the module docstring).
        trained: trained records.
        acc_threshold: accuracy that counts as trained.
        six_xi: (σ_w², σ_b²) → 6ξ_c, or None where mean field does not apply.
        metrics: the metrics whose ℓ* rule to score (default: all the points measured).
        prediction_options: passed to :func:`predict` (``metric``, ``depth_per_xi``, ``floor_xi``).
    """
    lines = deepest_points(points)
    if not metrics:
        metrics = sorted({m for p in lines.values() for m in as_point(p).cutoffs})
    metric = prediction_options.get("metric", DEFAULT_METRIC)
    rows = [score_rule(f"prediction:{metric}", predicted_depths(lines, **prediction_options), trained, acc_threshold)]
    rows += [score_rule(f"l_star:{m}", cutoff_depths(lines, m), trained, acc_threshold) for m in metrics]
    mf = {k: six_xi(k[0], k[1]) for k in lines}
    rows.append(score_rule("mean_field:6xi_c", mf, trained, acc_threshold))  # ξ_c = inf: every depth trains
    return rows

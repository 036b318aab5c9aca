"""Ranking compared models: pure functions over the entries of ``summary.json``
(:class:`~reprobe.analysis.records.CompareEntry`, or the dicts they are read from).

An entry holds ``depth``, ``cutoffs``, ``cutoff_fraction``, ``final`` and (optionally) ``prediction``;
:func:`rank_entries` orders them by the verdict (:func:`rank_key`: undecidable last, a collapsed last
stage never above one that is not, then trainable > marginal > untrainable, then the predicted depth
over L) and explains each place in one sentence.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence, Union

from ..core.format import MINUS, format_number
from ..metrics import RANK_METRIC
from .records import CompareEntry, as_entry
from .verdict import COLLAPSED, cutoff_words, failed_checks

__all__ = ["rank_metric_for", "metric_words", "reason_for", "rank_key", "rank_entries"]


def rank_metric_for(metrics: Sequence[str]) -> str:
    if RANK_METRIC in metrics:
        return RANK_METRIC
    return metrics[0] if metrics else RANK_METRIC


def _higher_is_more(metric: str) -> bool:
    try:
        from ..metrics import get_metric

        return get_metric(metric).higher_is_more_information
    except Exception:
        return metric == RANK_METRIC


def metric_words(metric: str) -> str:
    return metric.replace("_", " ")


def _num(v: float) -> str:
    return format_number(v, 1, fixed=True, minus=MINUS) if abs(v) >= 1 else format_number(v, 3, minus=MINUS)


def reason_for(entry: Union[Dict[str, Any], CompareEntry], metric: str) -> str:
    """One sentence explaining ``entry``'s rank, from its ℓ* and final value of ``metric``
    (plus any other metric that saturates before the end), in words that agree with its verdict
    (:func:`~reprobe.analysis.verdict.cutoff_words`)."""
    e = as_entry(entry)
    L = e.depth
    cut = e.cutoff(metric)
    final = e.final(metric)
    failed = failed_checks(e.prediction)
    unit = " nats" if "entropy" in metric else ""
    tail = f"; final {metric_words(metric)} {_num(final)}{unit}" if final is not None else f"; final {metric_words(metric)} not finite"
    if cut is None:
        text = f"cutoff undecidable (non-finite {metric_words(metric)} values) in {L} stages" + tail
    elif L and cut >= L:
        text = f"{cutoff_words(metric, cut, L, [], None, failed)} (ℓ* = L = {L})" + tail
    else:
        # the curve is flat from ℓ* to L, so its value at ℓ* is the final one
        words = cutoff_words(metric, cut, L, [final] * cut, e.saturation.get(metric), failed)
        text = f"{words} (ℓ* = {cut} of {L}, ℓ*/L = {cut / L:.2f})" + tail
    others = [f"{metric_words(m)} flat from stage {c}" for m, c in e.cutoffs.items()
              if m != metric and m != "mse" and isinstance(c, int) and L and c < L]
    if others:
        text += " (" + "; ".join(others) + ")"
    return text


#: Where each verdict ranks; no verdict or ``undecidable`` goes last.
_VERDICT_PLACE = {"trainable": 0, "marginal": 1, "untrainable": 2}


def _headroom(e: CompareEntry) -> float:
    """Predicted deepest trainable net over the probed depth (-1 when undecidable or not predicted)."""
    depth, L = e.predicted_depth, e.depth
    if e.verdict in (None, "undecidable") or depth is None or not L:
        return -1.0
    return depth / L


def rank_key(e: CompareEntry) -> tuple:
    """Undecidable last; among the decided, a net whose last-stage reconstructions collapse never
    above one whose don't; then the verdict (trainable > marginal > untrainable); then the predicted
    deepest trainable net over L (higher first)."""
    place = _VERDICT_PLACE.get(e.verdict or "", 3)
    return (place == 3, COLLAPSED in failed_checks(e.prediction), place, -_headroom(e))


def rank_entries(entries: List[Dict[str, Any]], metric: str) -> List[Dict[str, Any]]:
    """Sort by the prediction (:func:`rank_key`), then by ℓ*/L of ``metric``, then by its final
    value (more information first).

    Sets ``rank`` (1 = predicted most trainable) and ``reason`` on each entry; returns them sorted.
    """
    higher = _higher_is_more(metric)
    typed = {id(d): as_entry(d) for d in entries}

    def key(d):
        e = typed[id(d)]
        frac = e.cutoff_fraction(metric)
        final = e.final(metric)
        f = -math.inf if final is None else (final if higher else -final)
        return rank_key(e) + (-(frac if frac is not None else -1.0), -f)

    ordered = sorted(entries, key=key)
    for i, d in enumerate(ordered, 1):
        e = typed[id(d)]
        d["rank"] = i
        cut_reason = reason_for(e, metric)
        d["reason"] = f"{e.verdict}: {e.prediction['reason']} (ℓ*: {cut_reason})" if e.verdict else cut_reason
    return ordered

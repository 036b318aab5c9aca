"""Ranking compared models: pure functions over the entry dicts of ``summary.json``.

An entry holds ``depth``, ``cutoffs``, ``cutoff_fraction``, ``final`` and (optionally) ``prediction``;
:func:`rank_entries` orders them by predicted trainability and explains each place in one sentence.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence

from ..core.format import MINUS, format_number
from ..core.io import finite_or_none

__all__ = ["rank_metric_for", "metric_words", "reason_for", "rank_entries"]


def rank_metric_for(metrics: Sequence[str]) -> str:
    if "differential_entropy" in metrics:
        return "differential_entropy"
    return metrics[0] if metrics else "differential_entropy"


def _higher_is_more(metric: str) -> bool:
    try:
        from ..metrics import get

        return get(metric).higher_is_more_information
    except Exception:
        return metric == "differential_entropy"


def metric_words(metric: str) -> str:
    return metric.replace("_", " ")


def _num(v: float) -> str:
    return format_number(v, 1, fixed=True, minus=MINUS) if abs(v) >= 1 else format_number(v, 3, minus=MINUS)


def reason_for(entry: Dict[str, Any], metric: str) -> str:
    """One sentence explaining ``entry``'s rank, from its ℓ* and final value of ``metric``
    (plus any other metric that saturates before the end)."""
    L = entry.get("depth")
    cuts = entry.get("cutoffs") or {}
    cut = cuts.get(metric)
    final = finite_or_none((entry.get("final") or {}).get(metric))
    unit = " nats" if "entropy" in metric else ""
    tail = f"; final {metric_words(metric)} {_num(final)}{unit}" if final is not None else f"; final {metric_words(metric)} not finite"
    if cut is None:
        text = f"cutoff undecidable (non-finite {metric_words(metric)} values) in {L} stages" + tail
    elif L and cut >= L:
        text = f"information reaches the last stage (ℓ* = L = {L})" + tail
    else:
        text = f"information lost by stage {cut} of {L} (ℓ*/L = {cut / L:.2f})" + tail
    others = [f"{metric_words(m)} saturates at stage {c}" for m, c in cuts.items()
              if m != metric and m != "mse" and isinstance(c, int) and L and c < L]
    if others:
        text += " (" + "; ".join(others) + ")"
    return text


def _headroom(e: Dict[str, Any]) -> float:
    """Predicted deepest trainable net over the probed depth (-1 when undecidable or not predicted)."""
    pred = e.get("prediction") or {}
    depth, L = finite_or_none(pred.get("max_trainable_depth")), e.get("depth")
    if pred.get("verdict") in (None, "undecidable") or depth is None or not L:
        return -1.0
    return depth / L


def rank_entries(entries: List[Dict[str, Any]], metric: str) -> List[Dict[str, Any]]:
    """Sort by the prediction: predicted deepest trainable net / L (higher first; undecidable
    last), then by ℓ*/L of ``metric``, then by its final value (more information first).

    Sets ``rank`` (1 = predicted most trainable) and ``reason`` on each entry; returns them sorted.
    """
    higher = _higher_is_more(metric)

    def key(e):
        frac = finite_or_none((e.get("cutoff_fraction") or {}).get(metric))
        final = finite_or_none((e.get("final") or {}).get(metric))
        f = -math.inf if final is None else (final if higher else -final)
        return (-_headroom(e), -(frac if frac is not None else -1.0), -f)

    ordered = sorted(entries, key=key)
    for i, e in enumerate(ordered, 1):
        e["rank"] = i
        pred = e.get("prediction") or {}
        cut_reason = reason_for(e, metric)
        e["reason"] = f"{pred['verdict']}: {pred['reason']} (ℓ*: {cut_reason})" if pred.get("verdict") else cut_reason
    return ordered

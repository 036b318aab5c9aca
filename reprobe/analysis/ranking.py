"""Ranking compared models: pure functions over the entries of ``summary.json``
(:class:`~reprobe.analysis.records.CompareEntry`, or the dicts they are read from).

An entry holds ``depth``, ``cutoffs``, ``cutoff_fraction``, ``final`` and (optionally) ``prediction``;
:func:`rank_entries` orders them by predicted trainability and explains each place in one sentence.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence, Union

from ..core.format import MINUS, format_number
from .records import CompareEntry, as_entry

__all__ = ["rank_metric_for", "metric_words", "reason_for", "rank_entries"]


def rank_metric_for(metrics: Sequence[str]) -> str:
    if "differential_entropy" in metrics:
        return "differential_entropy"
    return metrics[0] if metrics else "differential_entropy"


def _higher_is_more(metric: str) -> bool:
    try:
        from ..metrics import get_metric

        return get_metric(metric).higher_is_more_information
    except Exception:
        return metric == "differential_entropy"


def metric_words(metric: str) -> str:
    return metric.replace("_", " ")


def _num(v: float) -> str:
    return format_number(v, 1, fixed=True, minus=MINUS) if abs(v) >= 1 else format_number(v, 3, minus=MINUS)


def reason_for(entry: Union[Dict[str, Any], CompareEntry], metric: str) -> str:
    """One sentence explaining ``entry``'s rank, from its ℓ* and final value of ``metric``
    (plus any other metric that saturates before the end)."""
    e = as_entry(entry)
    L = e.depth
    cut = e.cutoff(metric)
    final = e.final(metric)
    unit = " nats" if "entropy" in metric else ""
    tail = f"; final {metric_words(metric)} {_num(final)}{unit}" if final is not None else f"; final {metric_words(metric)} not finite"
    if cut is None:
        text = f"cutoff undecidable (non-finite {metric_words(metric)} values) in {L} stages" + tail
    elif L and cut >= L:
        text = f"information reaches the last stage (ℓ* = L = {L})" + tail
    else:
        text = f"information lost by stage {cut} of {L} (ℓ*/L = {cut / L:.2f})" + tail
    others = [f"{metric_words(m)} saturates at stage {c}" for m, c in e.cutoffs.items()
              if m != metric and m != "mse" and isinstance(c, int) and L and c < L]
    if others:
        text += " (" + "; ".join(others) + ")"
    return text


def _headroom(e: CompareEntry) -> float:
    """Predicted deepest trainable net over the probed depth (-1 when undecidable or not predicted)."""
    depth, L = e.predicted_depth, e.depth
    if e.verdict in (None, "undecidable") or depth is None or not L:
        return -1.0
    return depth / L


def rank_entries(entries: List[Dict[str, Any]], metric: str) -> List[Dict[str, Any]]:
    """Sort by the prediction: predicted deepest trainable net / L (higher first; undecidable
    last), then by ℓ*/L of ``metric``, then by its final value (more information first).

    Sets ``rank`` (1 = predicted most trainable) and ``reason`` on each entry; returns them sorted.
    """
    higher = _higher_is_more(metric)
    typed = {id(d): as_entry(d) for d in entries}

    def key(d):
        e = typed[id(d)]
        frac = e.cutoff_fraction(metric)
        final = e.final(metric)
        f = -math.inf if final is None else (final if higher else -final)
        return (-_headroom(e), -(frac if frac is not None else -1.0), -f)

    ordered = sorted(entries, key=key)
    for i, d in enumerate(ordered, 1):
        e = typed[id(d)]
        d["rank"] = i
        cut_reason = reason_for(e, metric)
        d["reason"] = f"{e.verdict}: {e.prediction['reason']} (ℓ*: {cut_reason})" if e.verdict else cut_reason
    return ordered

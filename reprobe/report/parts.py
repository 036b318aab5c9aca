"""Pieces the run and comparison pages share: the verdict badge and cards, stage shapes, reconstructions."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..core.io import finite_or_none
from .page import Raw, attr, esc, fmt_seconds, img_tag


#: How each verdict of the prediction is coloured.
VERDICT_CLASS = {"trainable": "good", "marginal": "unknown", "untrainable": "bad", "undecidable": "unknown"}


def prediction_badge(pred: Optional[dict]) -> Optional[Raw]:
    """The prediction's verdict as a badge, with the predicted depth (None without a prediction)."""
    if not pred or not pred.get("verdict"):
        return None
    v = pred["verdict"]
    depth = finite_or_none(pred.get("max_trainable_depth"))
    tail = "" if depth is None else f": nets {'of at least' if pred.get('depth_is_bound') else 'up to ≈'} {depth:.0f} stages"
    return Raw(f'<span class="verdict {VERDICT_CLASS.get(v, "unknown")}" data-verdict="{attr(v)}">{esc("predicted " + v + tail)}</span>')


def prediction_cards(pred: Optional[dict]) -> List[Tuple[str, Any, str]]:
    """Cards for the prediction: predicted deepest trainable net and ξ̂ (none without a prediction)."""
    if not pred or pred.get("verdict") is None:
        return []
    depth, xi = finite_or_none(pred.get("max_trainable_depth")), finite_or_none(pred.get("xi"))
    at_least = "≥ " if pred.get("depth_is_bound") else "≈ "
    return [("predicted deepest trainable", "–" if depth is None else f"{at_least}{depth:.0f}",
             f' data-max-trainable-depth="{attr(depth)}"'),
            (f"correlation length ({str(pred.get('metric', '')).replace('_', ' ')})",  # labels are upper-cased: no ξ
             "–" if xi is None else (f"ξ̂ ≥ {xi:.3g}" if pred.get("xi_is_bound") else f"ξ̂ = {xi:.3g}"), "")]


def verdict_badge(cut: Optional[int], L: Optional[int], pred: Optional[dict] = None) -> Raw:
    badge = prediction_badge(pred)
    if badge is not None:
        return badge
    if cut is None or not L:
        return Raw('<span class="verdict unknown">undecided</span>')
    if cut >= L:
        return Raw('<span class="verdict good">predicted trainable</span>')
    return Raw(f'<span class="verdict bad">predicted untrainable: lost by ℓ = {int(cut)}</span>')


def shape_text(s: Any) -> str:
    if isinstance(s, (list, tuple)):
        return "×".join(str(x) for x in s)
    return str(s) if s is not None else "–"


def recon_html(result, cutoff: Optional[int], examples: int, caption: str) -> str:
    if result.reconstructions is None:
        return '<p class="warn">No reconstructions.npy in this run folder.</p>'
    from ..figures.report import recon_strip

    arr = result.reconstructions.detach().cpu().float().numpy() if hasattr(result.reconstructions, "detach") else np.asarray(result.reconstructions)
    if arr.ndim < 3 or arr.shape[0] < 2 or arr.shape[1] < 1:
        return '<p class="warn">reconstructions.npy is empty.</p>'
    return img_tag(recon_strip(arr, cutoff, examples=examples), "reconstructions", caption)


def timing_rows(timings: Dict[str, Any]) -> List[tuple]:
    return [(k, fmt_seconds(v)) for k, v in timings.items()]

"""Cutoff detectors: where does a per-stage entropy curve saturate?

Both detectors return ℓ* as a 1-based stage index: ℓ* = L means the curve is still changing at
the last stage (information reaches the end: predicted trainable at this depth); ℓ* < L means it
has settled from stage ℓ* on. Non-finite values count as "different from the end value"; a
non-finite last value gives ``None`` (undecidable), never a made-up number.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from .registry import register_cutoff


def _tolerance(level: float, eta: float, relative: bool) -> float:
    if not relative:
        return eta
    return eta * abs(level) if level != 0 else eta


def _walk_back(values: np.ndarray, level: float, tol: float) -> int:
    """ℓ* = (last 0-based index whose value is outside ``level ± tol``) + 2, or 1 if none is."""
    for i in range(len(values) - 2, -1, -1):
        v = values[i]
        if not math.isfinite(v) or abs(v - level) > tol:
            return i + 2
    return 1


@register_cutoff(
    "threshold",
    help="paper rule: walk back from L while within η·|value at L| of the last value (η=0.005)",
)
def threshold_cutoff(values: Sequence[float], eta: float = 0.005, relative: bool = True, **_) -> Optional[int]:
    """The paper's rule (Appendix A.2 and its reference code).

    Start at ℓ* = L and walk towards the input while the value stays within the tolerance of the
    value at L; ℓ* is the first stage after the last one outside the tolerance.

    Args:
        values: metric per stage, stage 1 first.
        eta: tolerance; relative to ``|values[-1]|`` unless ``relative=False``.
        relative: treat ``eta`` as relative (reference code) or absolute.

    Returns:
        ℓ* in 1 … L, or None when the last value is not finite.
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0 or not math.isfinite(v[-1]):
        return None
    return _walk_back(v, float(v[-1]), _tolerance(float(v[-1]), eta, relative))


def _running_median(v: np.ndarray, window: int) -> np.ndarray:
    half = window // 2
    out = np.empty_like(v)
    for i in range(len(v)):
        seg = v[max(0, i - half): i + half + 1]
        seg = seg[np.isfinite(seg)]
        out[i] = np.median(seg) if seg.size else np.nan
    # Keep non-finite stages visible to the walk: smoothing must not hide a NaN stage.
    out[~np.isfinite(v)] = np.nan
    return out


@register_cutoff(
    "plateau",
    help="robust: running-median smoothing, noise-scaled tolerance (max of η·|level| and k·σ_noise)",
)
def plateau_cutoff(
    values: Sequence[float],
    eta: float = 0.005,
    n_sigma: float = 3.0,
    window: Optional[int] = None,
    tail_fraction: float = 0.2,
    **_,
) -> Optional[int]:
    """A noise-aware saturation detector (reprobe's own; more stable than ``threshold``).

    The paper notes its threshold rule is noisy: one spike near the end, or fluctuations larger
    than η·|value|, move ℓ* a lot. This detector

    1. smooths the curve with a running median (``window``, default ≈ L/15, odd, ≥ 3), which
       removes isolated spikes without shifting steps;
    2. estimates the noise σ from the last ``tail_fraction`` of the raw curve as
       1.4826·MAD(first differences)/√2 — differences cancel a slow trend, so a curve that is
       still drifting (information still flowing) is not mistaken for noise;
    3. takes the level as the smoothed value at L and the tolerance as
       ``max(eta·|level|, n_sigma·σ)``;
    4. walks back from L on the smoothed curve like the threshold rule.

    Args:
        values: metric per stage, stage 1 first.
        eta: relative floor of the tolerance (as in ``threshold``).
        n_sigma: how many noise standard deviations count as "the same value".
        window: running-median window (odd); default ``max(3, L // 15)`` made odd.
        tail_fraction: fraction of the last stages used to estimate the noise (at least 5 stages).

    Returns:
        ℓ* in 1 … L, or None when the last value is not finite.
    """
    v = np.asarray(values, dtype=float)
    L = v.size
    if L == 0 or not math.isfinite(v[-1]):
        return None
    if L < 3:
        return threshold_cutoff(v, eta=eta)
    w = window or max(3, L // 15)
    w = w + 1 if w % 2 == 0 else w
    smooth = _running_median(v, w)
    tail = v[-max(5, int(round(L * tail_fraction))):]
    tail = tail[np.isfinite(tail)]
    d = np.diff(tail)
    sigma = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2) if d.size >= 2 else 0.0
    level = float(smooth[-1]) if math.isfinite(smooth[-1]) else float(v[-1])
    tol = max(_tolerance(level, eta, True), n_sigma * sigma)
    return _walk_back(smooth, level, tol)

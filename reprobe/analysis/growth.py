"""A signal that only grows: the failure reconstruction cannot see.

A positively homogeneous net (ReLU, linear) above its critical σ_w² multiplies the scale of its
signal at every layer, by ``σ_w²/2`` in mean square for ReLU. A scaled signal keeps all its
information, so the reconstruction curve stays flat, yet the gradients grow with it and no step
size of plain SGD trains the net. The probe records each stage's mean square
(``ProbeResult.stage_scale``); this module turns its growth into a depth limit:

    growth rate g = per-stage slope of ln(mean square) over the deeper half of the net,
    deepest trainable depth ≈ B / g   (g above :data:`MIN_RATE`),

with B = :data:`GROWTH_BUDGET` e-folds of mean-square growth, fitted on the v2 ReLU grid
(``benchmarks/grids/v2/relu-w128``: every σ_w² from 2.5 to 4.0 fails beyond B / ln(σ_w²/2)).
Bounded activations (tanh) and normalised nets (BatchNorm, LayerNorm) do not grow: g ≤ 0, no limit.

Pure functions over plain sequences (numpy, no torch).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

#: B: e-folds of mean-square growth across the net that plain SGD still trains (see the module docstring).
GROWTH_BUDGET = 13.0
#: Fewer finite stages than this give no rate.
MIN_STAGES = 3
#: Slower growth is no growth (it would limit nets only beyond B / MIN_RATE = 1300 stages).
MIN_RATE = 0.01


def growth_rate(stage_scale: Sequence[Optional[float]], head: bool = False) -> Optional[float]:
    """Per-stage growth of ln(mean square) across the deeper half of the body stages (``head``: the last
    stage is a classifier head and is left out), where the signal has left its input's scale behind
    (a tanh net's mean square first settles to its fixed point); None with fewer than
    :data:`MIN_STAGES` usable stages."""
    values = list(stage_scale)[:-1] if head and len(stage_scale) > 1 else list(stage_scale)
    usable = [(i, math.log(v)) for i, v in enumerate(values) if v is not None and math.isfinite(v) and v > 0]
    usable = usable[len(usable) // 2:] if len(usable) >= 2 * MIN_STAGES else usable
    if len(usable) < MIN_STAGES:
        return None
    stage, log_scale = np.array(usable, dtype=float).T
    return float(np.polyfit(stage, log_scale, 1)[0])  # least squares: each layer's gain is a random draw


def growth_depth(rate: Optional[float], budget: float = GROWTH_BUDGET) -> Optional[float]:
    """The deepest net the growth allows, ``budget / rate``; None when the signal does not grow."""
    if rate is None or rate < MIN_RATE:
        return None
    return budget / rate

"""``params``: the parameter count, the baseline every trainability predictor should beat."""

from __future__ import annotations

import torch.nn as nn

from .registry import Batch, PredictorScore, register_predictor


@register_predictor("params", direction="higher", needs=("weights",))
def params(model: nn.Module, batch: Batch) -> PredictorScore:
    """Number of parameters (each shared tensor counted once): the baseline.

    Published comparisons of zero-cost proxies (Ning et al. 2021, "Evaluating efficient performance
    estimators of neural architectures"; White et al. 2022, "A deeper look at zero-cost proxies")
    find that many do no better than this count.

    Mode policy: no forward pass; the mode is irrelevant.

    Args:
        model: the network.
        batch: unused.

    Returns:
        ``score`` = the count (higher = bigger net, conventionally "more trainable/accurate").
    """
    return PredictorScore(score=float(sum(p.numel() for p in model.parameters())))

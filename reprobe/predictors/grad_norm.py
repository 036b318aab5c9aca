"""``grad_norm``: the summed gradient norm at initialisation (Abdelfattah et al. 2021)."""

from __future__ import annotations

import torch.nn as nn

from ._common import layer_weight_grads
from .registry import Batch, PredictorScore, register_predictor


@register_predictor("grad_norm", direction="higher", needs=("inputs", "labels"))
def grad_norm(model: nn.Module, batch: Batch) -> PredictorScore:
    """Σ over Linear/Conv layers of ‖∂L/∂W‖_F, L the cross-entropy on one batch, at initialisation.

    Abdelfattah, Mehrotra, Dudziak, Lane, "Zero-Cost Proxies for Lightweight NAS", ICLR 2021;
    reference code: SamsungLabs/zero-cost-nas, ``foresight/pruners/measures/grad_norm.py`` (sum of the
    per-layer Frobenius norms of the weight gradients of the "prunable" Conv/Linear layers).

    Mode policy: train mode, set here (BatchNorm uses the batch's statistics, dropout is active); the
    runner restores the model's own mode afterwards. The reference code sets no mode: it scores the net
    in whichever mode it is in, which in its scripts is a freshly built net, so train mode. A fresh net
    is therefore scored as there; a net handed over in eval mode is scored here in train mode, where the
    reference would keep eval mode. Gradients come from ``torch.autograd.grad``, so no ``.grad`` is left
    behind.

    Args:
        model: a classifier returning logits ``(batch, classes)``.
        batch: one batch with integer labels.

    Returns:
        ``score`` = Σ_layers ‖∂L/∂W‖_F (higher = more trainable, by the paper's convention).
    """
    model.train()
    total = sum(float(g.detach().double().norm()) for _, g in layer_weight_grads(model, batch))
    return PredictorScore(score=total)

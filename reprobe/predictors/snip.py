"""``snip``: connection sensitivity at initialisation (Lee et al. 2019)."""

from __future__ import annotations

import torch.nn as nn

from ._common import layer_weight_grads
from .registry import Batch, PredictorScore, register_predictor


@register_predictor("snip", direction="higher", needs=("inputs", "labels"))
def snip(model: nn.Module, batch: Batch) -> PredictorScore:
    """Σ |θ ⊙ ∂L/∂θ| over the weights of the Linear/Conv layers, L the cross-entropy on one batch.

    Lee, Ajanthan, Torr, "SNIP: Single-shot Network Pruning based on Connection Sensitivity",
    ICLR 2019; as a NAS proxy in Abdelfattah et al., ICLR 2021 (reference code:
    SamsungLabs/zero-cost-nas, ``foresight/pruners/measures/snip.py``: the gradient of the loss
    with respect to a multiplicative mask at 1, which equals ``θ ⊙ ∂L/∂θ``, in absolute value,
    summed).

    Mode policy: train mode, set here (BatchNorm uses the batch's statistics, dropout is active); the
    model's mode is restored afterwards. The reference code sets no mode: it scores the net in whichever
    mode it is in, which in its scripts is a freshly built net, so train mode. A fresh net is therefore
    scored as there; a net handed over in eval mode is scored here in train mode, where the reference
    would keep eval mode.

    Args:
        model: a classifier returning logits ``(batch, classes)``.
        batch: one batch with integer labels.

    Returns:
        ``score`` = Σ |θ ⊙ ∂L/∂θ| (higher = more trainable, by the proxy's convention).
    """
    model.train()
    total = sum(float((w.detach() * g.detach()).abs().double().sum()) for w, g in layer_weight_grads(model, batch))
    return PredictorScore(score=total)

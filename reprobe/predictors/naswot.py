"""``naswot``: the activation-pattern kernel score of "NAS without training" (Mellor et al. 2021)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..core.activations import ACTIVATION_TYPES
from .registry import Batch, NotApplicable, PredictorScore, register_predictor


def naswot_kernel(codes: torch.Tensor) -> torch.Tensor:
    """K_ij = number of units where inputs i and j have the same binary code (N_A − Hamming distance).

    Args:
        codes: ``(batch, units)`` binary codes (bool or 0/1), one row per input.

    Returns:
        ``(batch, batch)`` float64 kernel ``c cᵀ + (1 − c)(1 − c)ᵀ``.
    """
    c = codes.reshape(codes.shape[0], -1).double()
    return c @ c.T + (1.0 - c) @ (1.0 - c).T


def naswot_score(kernel: torch.Tensor) -> float:
    """log|det K| (``-inf`` for a singular K), as ``np.linalg.slogdet`` in the reference code."""
    sign, logabs = torch.linalg.slogdet(kernel.double())
    return -math.inf if float(sign) == 0.0 else float(logabs)


@register_predictor("naswot", direction="higher", needs=("inputs",))
def naswot(model: nn.Module, batch: Batch) -> PredictorScore:
    """log|det K_H|, K_H the Hamming kernel of the inputs' activation sign patterns on one batch.

    Mellor, Turner, Storkey, Crowley, "Neural Architecture Search without Training", ICML 2021;
    reference code: BayesWatch/nas-without-training (``score_networks.py``: each ReLU's input > 0 is a
    binary code; ``K += c cᵀ + (1−c)(1−c)ᵀ`` over all ReLUs; score = ``slogdet(K)[1]``).

    Codes are read from the *input* of every activation module (ReLU family, tanh, GELU, sigmoid …),
    i.e. the sign of the pre-activation: for ReLU that is the reference's pattern, for tanh it is
    the sign of tanh(x). Activations written as functions in ``forward`` (``F.relu``) are not seen;
    with no activation module the predictor is not applicable.

    Mode policy: train mode, set here (BatchNorm uses the batch's statistics, dropout is active); the
    runner restores the model's own mode afterwards. The reference code sets no mode: it scores the net
    in whichever mode it is in, which in its scripts is a freshly built net, so train mode. A fresh net
    is therefore scored as there; a net handed over in eval mode is scored here in train mode, where the
    reference would keep eval mode. No gradients.

    Args:
        model: the network.
        batch: one batch of inputs (the kernel is batch × batch; the reference uses 128 rows).

    Returns:
        ``score`` = log|det K| (higher = inputs better separated = more trainable); ``-inf`` when
        two inputs share every pattern (K singular).
    """
    acts = [m for m in model.modules() if isinstance(m, ACTIVATION_TYPES)]
    if not acts:
        raise NotApplicable("no activation modules (nn.ReLU, nn.Tanh, …) to read sign patterns from")
    codes: list = []

    def pre_hook(module, inputs):
        if inputs and isinstance(inputs[0], torch.Tensor):
            codes.append((inputs[0].detach() > 0).reshape(inputs[0].shape[0], -1))

    handles = [m.register_forward_pre_hook(pre_hook) for m in acts]
    try:
        model.train()
        with torch.no_grad():
            model(batch.x)
    finally:
        for h in handles:
            h.remove()
    if not codes:
        raise NotApplicable("no activation module ran in the forward pass")
    k = naswot_kernel(torch.cat(codes, dim=1))
    value = naswot_score(k)
    reason = "K is singular (two inputs share every sign pattern)" if value == -math.inf else ""
    return PredictorScore(score=value, reason=reason)

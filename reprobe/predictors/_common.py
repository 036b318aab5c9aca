"""Helpers shared by the predictors (not public)."""

from __future__ import annotations

from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..probe.hooks import StageHooks
from .registry import Batch, NotApplicable

#: The layers zero-cost-nas scores ("prunable" layers): their ``weight`` carries the score.
PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)



def prunable_layers(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """(name, module) of every Linear/Conv layer with a weight, in module order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, PRUNABLE) and getattr(m, "weight", None) is not None]


def cross_entropy_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Cross-entropy of the model's logits on the batch (``NotApplicable`` if the output is not logits)."""
    out = model(batch.x)
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or batch.y is None or batch.y.dim() != 1 \
            or batch.y.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8) or out.shape[0] != batch.y.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise NotApplicable(f"needs class logits (batch, classes) and integer labels; the model returned {shape}")
    return F.cross_entropy(out, batch.y.long())


def layer_weight_grads(model: nn.Module, batch: Batch) -> List[Tuple[nn.Parameter, torch.Tensor]]:
    """(weight, ∂L/∂weight) for every prunable layer, L the cross-entropy on the batch (no ``.grad`` touched)."""
    layers = prunable_layers(model)
    if not layers:
        raise NotApplicable("the model has no Linear or Conv layers")
    weights = [m.weight for _, m in layers]
    for w in weights:
        w.requires_grad_(True)
    with torch.enable_grad():
        loss = cross_entropy_loss(model, batch)
        grads = torch.autograd.grad(loss, weights, allow_unused=True)
    return [(w, torch.zeros_like(w) if g is None else g) for w, g in zip(weights, grads)]


def cut_stages(model: nn.Module, names: List[str]) -> StageHooks:
    """Hooks that cut the autograd graph at each stage output (:meth:`StageHooks.cut`); a stage they
    cannot cut (run twice, not a float tensor) makes the predictor not applicable."""
    return StageHooks.cut(model, names, error=NotApplicable)


def stage_names(model: nn.Module, stages=None) -> List[str]:
    """The probe's stages of ``model`` (``stages`` given: those names), as ``NotApplicable`` when none are found."""
    if stages is not None:
        return [stages] if isinstance(stages, str) else list(stages)
    from ..adapters import find_stages
    from ..core.errors import ReprobeError

    try:
        return list(find_stages(model)[1])
    except ReprobeError as e:
        raise NotApplicable(f"no stages found ({e})") from None

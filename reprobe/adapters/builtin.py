"""Built-in adapters: MLPs, and the generic 'layer + activation' fallback."""

from __future__ import annotations

from typing import List, Optional

import torch.nn as nn

from .common import ACTIVATION_TYPES, PASS_THROUGH_TYPES, has_own_parameters, layer_with_activation, leaf_modules
from .cut_points import on_main_path
from .registry import register_adapter


@register_adapter("mlp", priority=50, help="each Linear (+ the activation after it) is a stage")
def mlp_stages(model: nn.Module, **_) -> Optional[List[str]]:
    """Each Linear(+activation) block is a stage, for models whose only weighted layers are Linear."""
    leaves = leaf_modules(model)
    weighted = [m for _, m in leaves if has_own_parameters(m) and not isinstance(m, PASS_THROUGH_TYPES)]
    if not weighted or not all(isinstance(m, nn.Linear) for m in weighted):
        return None
    return layer_with_activation(leaves, lambda m: isinstance(m, nn.Linear))


@register_adapter("generic", priority=-100,
                  help="every leaf layer with weights (+ its activation) on the main path; blocks with branches as a whole")
def generic_stages(model: nn.Module, **_) -> Optional[List[str]]:
    """Fallback: leaf modules with their own parameters (norms excluded), each followed by its
    activation if one comes next, moved onto the main path (:mod:`~reprobe.adapters.cut_points`):
    a layer with a branch around it (squeeze-excitation, parallel branches, a residual or dense
    block) gives way to the smallest block around it whose output the rest of the net reads alone,
    and the classifier head is left out. Models that ``torch.fx`` cannot trace keep the layers as
    they are. The probe re-orders stages by execution order."""
    leaves = leaf_modules(model)
    names = layer_with_activation(
        leaves,
        lambda m: has_own_parameters(m) and not isinstance(m, PASS_THROUGH_TYPES + ACTIVATION_TYPES),
    )
    return on_main_path(model, names) or names or None

"""Helpers adapters share: leaf modules, activations, 'parameterised layer + its activation'."""

from __future__ import annotations

from typing import Iterable, List, Tuple

import torch.nn as nn

from ..core.activations import ACTIVATION_TYPES

#: Modules that sit between a layer and its activation without being a stage of their own.
PASS_THROUGH_TYPES: Tuple[type, ...] = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d,
    nn.InstanceNorm2d, nn.LocalResponseNorm, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout, nn.Identity,
)


def leaf_modules(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """(name, module) of modules without children, in registration order."""
    return [(n, m) for n, m in model.named_modules() if n and not any(True for _ in m.children())]


def has_own_parameters(m: nn.Module) -> bool:
    return any(True for _ in m.parameters(recurse=False))


def layer_with_activation(leaves: List[Tuple[str, nn.Module]], is_layer) -> List[str]:
    """For each leaf where ``is_layer(module)``: the name of the activation that follows it
    (skipping norms/dropout in between), else the layer's own name."""
    names: List[str] = []
    for i, (name, m) in enumerate(leaves):
        if not is_layer(m):
            continue
        chosen = name
        for later_name, later in leaves[i + 1:]:
            if isinstance(later, ACTIVATION_TYPES):
                chosen = later_name
                break
            if isinstance(later, PASS_THROUGH_TYPES):
                continue
            break
        names.append(chosen)
    return _unique(names)


def _unique(names: Iterable[str]) -> List[str]:
    seen, out = set(), []
    for n in names:
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out

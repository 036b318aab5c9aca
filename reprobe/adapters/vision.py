"""Adapters for vision models: VGG, ResNet (torchvision and timm), any timm model.

Presets (adapter option ``preset``, CLI ``--preset``), with an optional ``+head`` suffix (or
option ``head=True``) that adds the classifier layers as the last stages:

* VGG: ``layers`` (default: every conv+ReLU pair and every max-pool of ``features``: 18 stages
  for VGG16) or ``blocks`` (the 5 pooling blocks).
* ResNet: ``blocks`` (default: the stem, then every BasicBlock/Bottleneck — the block is the
  unit, so the ReLU a torchvision block calls twice is never hooked) or ``stages`` (stem, layer1…4).
* other timm models: ``features`` (default: the modules ``feature_info`` names) or ``blocks``.
"""

from __future__ import annotations

import re
from typing import List, Optional, Tuple

import torch.nn as nn

from ..core.errors import ReprobeError
from .common import ACTIVATION_TYPES, PASS_THROUGH_TYPES, has_own_parameters, layer_with_activation, leaf_modules
from .registry import register_adapter

POOL_TYPES = (nn.MaxPool2d, nn.AvgPool2d)
RESNET_BLOCKS = ("BasicBlock", "Bottleneck")


def parse_preset(preset: Optional[str], head: Optional[bool], valid: Tuple[str, ...], default: str) -> Tuple[str, bool]:
    """``"blocks+head"`` → ("blocks", True); checks the preset against ``valid``."""
    p = (preset or default).strip().lower()
    with_head = bool(head)
    if p.endswith("+head"):
        p, with_head = p[: -len("+head")], True
    if p == "head":
        p, with_head = default, True
    if p not in valid:
        raise ReprobeError(f"unknown preset {preset!r} for this model; valid: "
                           + ", ".join(valid) + " (add +head for the classifier layers)")
    return p, with_head


def _head_stages(model: nn.Module, exclude_prefixes: Tuple[str, ...]) -> List[str]:
    leaves = [(n, m) for n, m in leaf_modules(model) if not n.startswith(exclude_prefixes)]
    return layer_with_activation(
        leaves, lambda m: has_own_parameters(m) and not isinstance(m, PASS_THROUGH_TYPES + ACTIVATION_TYPES))


def _is_vgg(model: nn.Module) -> bool:
    features = getattr(model, "features", None)
    return ("VGG" in type(model).__name__.upper() and isinstance(features, nn.Sequential)
            and any(isinstance(m, nn.Conv2d) for m in features) and any(isinstance(m, POOL_TYPES) for m in features))


@register_adapter("vgg", priority=80, help="VGG (torchvision/timm): every conv+ReLU and max-pool (preset blocks: the 5 pools; +head)")
def vgg_stages(model: nn.Module, preset: Optional[str] = None, head: Optional[bool] = None, **_) -> Optional[List[str]]:
    if not _is_vgg(model):
        return None
    p, with_head = parse_preset(preset, head, ("layers", "blocks"), "layers")
    items = [(f"features.{n}", m) for n, m in model.features.named_children()]
    pools = [n for n, m in items if isinstance(m, POOL_TYPES)]
    if p == "blocks":
        names = pools
    else:
        names = layer_with_activation(items, lambda m: isinstance(m, nn.Conv2d))
        names = sorted(set(names) | set(pools), key=lambda n: int(n.split(".")[1]))
    if with_head:
        names += _head_stages(model, ("features.",))
    return names


def _resnet_blocks(model: nn.Module) -> List[str]:
    return [n for n, m in model.named_modules() if type(m).__name__ in RESNET_BLOCKS]


@register_adapter("resnet", priority=70, help="ResNet (torchvision/timm): the stem, then every BasicBlock/Bottleneck (preset stages; +head)")
def resnet_stages(model: nn.Module, preset: Optional[str] = None, head: Optional[bool] = None, **_) -> Optional[List[str]]:
    blocks = _resnet_blocks(model)
    if not blocks or not all(n.count(".") == 1 for n in blocks):
        return None
    p, with_head = parse_preset(preset, head, ("blocks", "stages"), "blocks")
    leaves = leaf_modules(model)
    first_block = blocks[0] + "."
    stem = None
    for n, m in leaves:
        if n.startswith(first_block):
            break
        if not isinstance(m, (nn.Identity, nn.Dropout)):
            stem = n
    names = [stem] if stem else []
    if p == "stages":
        parents = []
        for b in blocks:
            parent = b.rsplit(".", 1)[0]
            if parent not in parents:
                parents.append(parent)
        names += parents
    else:
        names += blocks
    if with_head:
        body = tuple({b.split(".")[0] + "." for b in blocks})
        stem_names = {n for n, _ in leaves[: [n for n, _ in leaves].index(stem) + 1]} if stem else set()
        tail = [(n, m) for n, m in leaves if not n.startswith(body) and n not in stem_names]
        names += layer_with_activation(
            tail, lambda m: has_own_parameters(m) and not isinstance(m, PASS_THROUGH_TYPES + ACTIVATION_TYPES))
    return names


def _feature_modules(model: nn.Module) -> List[str]:
    info = getattr(model, "feature_info", None)
    if info is None:
        return []
    entries = info.info if hasattr(info, "info") else info
    try:
        names = [e["module"] for e in entries]
    except (TypeError, KeyError):
        return []
    named = dict(model.named_modules())
    out: List[str] = []
    for n in names:
        n = n.replace("_", ".") if n not in named and n.replace("_", ".") in named else n
        if n in named and n not in out:
            out.append(n)
    return out


_BLOCK_RE = re.compile(r"^(blocks|stages|layers)\.\d+(\.blocks\.\d+|\.\d+)?$")


@register_adapter("timm", priority=60, help="timm models: the modules feature_info names (preset blocks: every block; +head)")
def timm_stages(model: nn.Module, preset: Optional[str] = None, head: Optional[bool] = None, **_) -> Optional[List[str]]:
    feats = _feature_modules(model)
    if not feats:
        return None
    p, with_head = parse_preset(preset, head, ("features", "blocks"), "features")
    if p == "blocks":
        named = [n for n, _ in model.named_modules() if _BLOCK_RE.match(n)]
        # keep the finest level: drop a module when one of its children is listed too
        blocks = [n for n in named if not any(o.startswith(n + ".") for o in named)]
        names = ([feats[0]] if feats[0] not in blocks and not feats[0].startswith(tuple(b + "." for b in blocks)) else []) + blocks
    else:
        names = list(feats)
    if with_head:
        body = tuple(n.split(".")[0] for n in names)
        leaves = leaf_modules(model)
        last = max(i for i, (n, _) in enumerate(leaves) if n.startswith(tuple(x + "." for x in names)) or n in names)
        tail = [(n, m) for n, m in leaves[last + 1:] if not n.startswith(body)]
        names += layer_with_activation(
            tail, lambda m: has_own_parameters(m) and not isinstance(m, PASS_THROUGH_TYPES + ACTIVATION_TYPES))
    return names

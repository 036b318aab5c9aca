"""Adapter for transformers: the stages are the residual blocks.

A transformer's signal path runs from block to block; the attention and feed-forward layers
inside a block sit on branches that are added back to it, so they are not stages of the path.
Blocks are found as

* ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer`` modules, or
* modules that contain an attention module and are named like ``layers.3``, ``blocks.3``, ``h.3``
  or ``layer.3`` (timm ViT/DeiT, GPT-2, BERT, most hand-written models) or sit in a
  ``Sequential``/``ModuleList`` stack (torchvision's ViT: ``encoder.layers.encoder_layer_3``).

For token models (integer inputs) the probe takes the input of the first block, the embedded
sequence, as z⁰ (see :class:`reprobe.CascadeProbe`).
"""

from __future__ import annotations

import re
from typing import List, Optional

import torch.nn as nn

from .registry import register_adapter

TORCH_BLOCK_TYPES = (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)
_BLOCK_NAME = re.compile(r"(?:^|\.)(?:layers|blocks|h|layer)\.\d+$")


def _is_attention(module: nn.Module) -> bool:
    name = type(module).__name__.lower()
    return isinstance(module, nn.MultiheadAttention) or "attention" in name or name.endswith("attn")


def _has_attention(module: nn.Module) -> bool:
    return any(_is_attention(m) for m in module.modules())


def _finest(names: List[str]) -> List[str]:
    """Drop a block when one of its sub-modules is a block too (Swin: ``layers.0.blocks.1``)."""
    return [n for n in names if not any(o.startswith(n + ".") for o in names)]


@register_adapter("transformer", priority=90,
                  help="transformers: every residual block (TransformerEncoder/DecoderLayer, timm ViT blocks, layers.N/blocks.N/h.N with attention)")
def transformer_stages(model: nn.Module, **_) -> Optional[List[str]]:
    """The residual blocks of a transformer, or None when the model has no attention blocks."""
    by_type = [n for n, m in model.named_modules() if n and isinstance(m, TORCH_BLOCK_TYPES)]
    if by_type:
        return by_type
    stacked = {f"{parent}.{child}" if parent else child
               for parent, stack in model.named_modules() if isinstance(stack, (nn.Sequential, nn.ModuleList))
               for child, _ in stack.named_children()}
    blocks = [n for n, m in model.named_modules()
              if (_BLOCK_NAME.search(n) or n in stacked) and not _is_attention(m) and _has_attention(m)]
    return _finest(blocks) or None

"""Decoders for feature maps (registered with :func:`register_decoder`, above ``linear``).

* ``conv-transpose``: (C, H, W) → (C', H', W') with H' ≥ H: a transposed convolution with
  stride s = round(H'/H), kernel s + 2, padding 1 (so the output is s·H; a final crop or
  interpolation makes it match the target exactly).
* ``upsample-conv``: pooling stages (and maps that shrink back): learned upsampling — resize to the
  target size, then a 3×3 convolution.
* ``reshape``: flatten stages (a vector holding exactly the target's numbers): reshape, with a
  learned scale and shift.
* ``vector-to-map``: a vector stage whose target is a feature map too big for one Linear:
  Linear to a small map, then a transposed convolution / upsampling to the target.

All of them respect ``spec.out_activation`` and train by gradient (Adam) in the probe's single
forward pass per batch. The first decoder targets the (normalised) input image.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .decoders import MAX_LINEAR_PARAMS, DecoderSpec, register_decoder

POOL_STAGE_TYPES = ("MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "MaxPool1d", "AvgPool1d")
#: vector → map decoders use one Linear below this many weights (closed-form fit when small).
DIRECT_LINEAR_PARAMS = 16_000_000


def _activate(y: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "sigmoid":
        return torch.sigmoid(y)
    if kind == "tanh":
        return torch.tanh(y)
    return y


def match_size(y: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Crop (centred) or interpolate ``y`` (N, C, h, w) to exactly ``size``."""
    h, w = y.shape[-2:]
    H, W = size
    if (h, w) == (H, W):
        return y
    if h >= H and w >= W:
        top, left = (h - H) // 2, (w - W) // 2
        return y[..., top:top + H, left:left + W]
    return F.interpolate(y, size=(H, W), mode="bilinear", align_corners=False)


class ConvTransposeDecoder(nn.Module):
    """ConvTranspose2d(C → C', kernel s+2, stride s, padding 1), exact size by crop/interpolate."""

    supports_closed_form = False

    def __init__(self, spec: DecoderSpec):
        super().__init__()
        c_in, h_in, w_in = spec.in_shape
        c_out, h_out, w_out = spec.out_shape
        s = max(1, int(round(h_out / h_in)))
        self.stride = s
        self.out_size = (h_out, w_out)
        self.conv = nn.ConvTranspose2d(c_in, c_out, kernel_size=s + 2, stride=s, padding=1)
        self.out_activation = spec.out_activation

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _activate(match_size(self.conv(z), self.out_size), self.out_activation)


class UpsampleConvDecoder(nn.Module):
    """Learned upsampling: resize to the target size (nearest), then Conv2d 3×3 (C → C')."""

    supports_closed_form = False

    def __init__(self, spec: DecoderSpec):
        super().__init__()
        c_in = spec.in_shape[0]
        c_out, h_out, w_out = spec.out_shape
        self.out_size = (h_out, w_out)
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.out_activation = spec.out_activation

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if tuple(z.shape[-2:]) != self.out_size:
            mode = "nearest" if z.shape[-2] <= self.out_size[0] else "area"
            z = F.interpolate(z, size=self.out_size, mode=mode)
        return _activate(self.conv(z), self.out_activation)


class ReshapeDecoder(nn.Module):
    """Undo a flatten: reshape to the target, times a learned scale plus a learned shift."""

    supports_closed_form = False

    def __init__(self, spec: DecoderSpec):
        super().__init__()
        self.out_shape = tuple(spec.out_shape)
        self.scale = nn.Parameter(torch.ones(()))
        self.shift = nn.Parameter(torch.zeros(()))
        self.out_activation = spec.out_activation
        # an exact inverse must not be squashed unless the target really is bounded
        self.squash = spec.out_activation != "identity"

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = z.reshape(z.shape[0], *self.out_shape) * self.scale + self.shift
        return y.clamp(*{"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}[self.out_activation]) if self.squash else y


class VectorToMapDecoder(nn.Module):
    """Linear (D → c·h·w, a small map), then transposed convolution / upsampling to (C', H', W')."""

    supports_closed_form = False

    def __init__(self, spec: DecoderSpec):
        super().__init__()
        d = int(math.prod(spec.in_shape))
        c_out, h_out, w_out = spec.out_shape
        self.c = min(c_out, 64)
        self.h, self.w = min(h_out, 7), min(w_out, 7)
        self.linear = nn.Linear(d, self.c * self.h * self.w)
        up = DecoderSpec((self.c, self.h, self.w), tuple(spec.out_shape), spec.target_range, spec.out_activation,
                         spec.stage_type, spec.index)
        self.up = ConvTransposeDecoder(up)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.linear(z.reshape(z.shape[0], -1)).reshape(z.shape[0], self.c, self.h, self.w)
        return self.up(y)


def _is_map(shape) -> bool:
    return len(shape) == 3


@register_decoder("reshape", priority=60, help="flatten stages: reshape back to the feature map (learned scale/shift)")
def _reshape_builder(spec: DecoderSpec) -> Optional[nn.Module]:
    if len(spec.in_shape) == 1 and len(spec.out_shape) > 1 and math.prod(spec.in_shape) == math.prod(spec.out_shape) \
            and spec.stage_type == "Flatten":
        return ReshapeDecoder(spec)
    return None


@register_decoder("upsample-conv", priority=55, help="pooling stages (or maps that shrink back): resize to the target, then conv 3x3")
def _upsample_builder(spec: DecoderSpec) -> Optional[nn.Module]:
    if not (_is_map(spec.in_shape) and _is_map(spec.out_shape)):
        return None
    smaller = spec.out_shape[1] < spec.in_shape[1] or spec.out_shape[2] < spec.in_shape[2]
    if spec.stage_type in POOL_STAGE_TYPES or smaller:
        return UpsampleConvDecoder(spec)
    return None


@register_decoder("conv-transpose", priority=50, help="feature maps: transposed convolution back to the previous map")
def _conv_transpose_builder(spec: DecoderSpec) -> Optional[nn.Module]:
    if _is_map(spec.in_shape) and _is_map(spec.out_shape):
        return ConvTransposeDecoder(spec)
    return None


@register_decoder("map-to-vector", priority=45, help="a feature map back to a vector: flatten + Linear (pooled when big)")
def _map_to_vector_builder(spec: DecoderSpec) -> Optional[nn.Module]:
    if not (_is_map(spec.in_shape) and len(spec.out_shape) == 1):
        return None
    if math.prod(spec.in_shape) * spec.out_shape[0] <= MAX_LINEAR_PARAMS:
        return None  # flatten-linear handles it (closed form when small)
    return MapToVectorDecoder(spec)


class MapToVectorDecoder(nn.Module):
    """Average-pool a big map to at most 4×4, flatten, Linear to the vector."""

    supports_closed_form = False

    def __init__(self, spec: DecoderSpec):
        super().__init__()
        c, h, w = spec.in_shape
        self.pool_size = (min(h, 4), min(w, 4))
        self.linear = nn.Linear(c * self.pool_size[0] * self.pool_size[1], spec.out_shape[0])
        self.out_activation = spec.out_activation

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.linear(F.adaptive_avg_pool2d(z, self.pool_size).flatten(1))
        return _activate(y, self.out_activation)


@register_decoder("vector-to-map", priority=40, help="a vector stage whose target is a big feature map: Linear to a small map + upsampling")
def _vector_to_map_builder(spec: DecoderSpec) -> Optional[nn.Module]:
    if len(spec.in_shape) != 1 or not _is_map(spec.out_shape):
        return None
    if spec.in_shape[0] * math.prod(spec.out_shape) <= DIRECT_LINEAR_PARAMS:
        return None  # one Linear + reshape (the ``linear`` builder, closed form)
    return VectorToMapDecoder(spec)

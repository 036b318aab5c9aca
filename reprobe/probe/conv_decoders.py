"""Decoders for feature maps (registered with :func:`register_decoder`, above ``linear``).

Every decoder here is linear in its weights, so ``fit="ridge"`` solves it exactly from one pass of
statistics (:mod:`.ridge`); ``fit="adam"`` trains the same modules by gradient.

* ``subpixel-conv``: (C, h, w) → (C', H, W). A k×k convolution to C'·r² channels followed by a
  pixel shuffle by r = H/h — the sub-pixel form of a transposed convolution. Stride-1 stages have
  r = 1; pooling and strided stages r = 2, 4, …; a stage that grows the map gets its input folded
  by space-to-depth first. Odd and non-integer sizes are handled by cropping (or edge-replicating)
  the r·h × r·w output to H × W, aligned at the top left like strided convolutions and pooling.
* ``reshape``: flatten stages (a vector holding exactly the target's numbers): reshape, with a
  fitted scale and shift.
* ``map-to-vector``: a big feature map back to a vector: average-pool to at most 4×4, Linear.
* ``vector-to-map``: a vector stage whose target map is too big for one Linear: Linear to the map
  at 1/f resolution, nearest-neighbour upsampling by f (exact least squares: the fit's target is
  the f×f block mean).

All of them respect ``spec.out_activation``. The first decoder targets the (normalised) input.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from .decoders import MAX_LINEAR_PARAMS, ClosedFormMixin, DecoderSpec, register_decoder, squash

POOL_STAGE_TYPES = ("MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "MaxPool1d", "AvgPool1d")
#: vector → map decoders use one Linear up to this many weights, and a lower-resolution map beyond.
DIRECT_LINEAR_PARAMS = MAX_LINEAR_PARAMS
#: Sub-pixel decoders use their k×k kernel up to this many patch features (3×3 × 512 channels,
#: VGG's widest stage) and a 1×1 kernel beyond, so that the Gram matrix of ResNet-50's 1024- and
#: 2048-channel stages stays within the closed-form limit instead of falling back to gradient fits.
MAX_KERNEL_FEATURES = 4608


def fit_size(y: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Crop (bottom/right) or edge-replicate ``y`` (N, C, h, w) to exactly ``size``.

    Top-left alignment matches strided convolutions and floor-mode pooling, whose output pixel i
    covers input pixels from s·i on.
    """
    H, W = size
    y = y[..., :H, :W]
    h, w = y.shape[-2:]
    if (h, w) != (H, W):
        y = F.pad(y, (0, W - w, 0, H - h), mode="replicate")
    return y


def _space_to_depth(z: torch.Tensor, s: Tuple[int, int]) -> torch.Tensor:
    """Fold s_h×s_w blocks into channels (zero-padding the map to a multiple of s first)."""
    if s == (1, 1):
        return z
    h, w = z.shape[-2:]
    z = F.pad(z, (0, -w % s[1], 0, -h % s[0]))
    return rearrange(z, "b c (h sh) (w sw) -> b (c sh sw) h w", sh=s[0], sw=s[1])


def _gather_patches(z: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, k: int) -> torch.Tensor:
    """The k×k zero-padded patches of ``z`` (N, C, h, w) centred at (ys, xs) (N, P each):
    (N, P, C·k²) in conv-weight order (channel, then row, then column of the kernel)."""
    n, c, h, w = z.shape
    offsets = torch.arange(k, device=z.device) - k // 2
    py = ys[:, :, None, None] + offsets[:, None]  # (N, P, k, 1)
    px = xs[:, :, None, None] + offsets[None, :]  # (N, P, 1, k)
    inside = ((py >= 0) & (py < h) & (px >= 0) & (px < w)).reshape(n, 1, -1)
    flat = (py.clamp(0, h - 1) * w + px.clamp(0, w - 1)).reshape(n, 1, -1)
    vals = z.reshape(n, c, h * w).gather(2, flat.expand(n, c, flat.shape[2])) * inside  # (N, C, P·k²)
    return vals.reshape(n, c, ys.shape[1], k * k).permute(0, 2, 1, 3).reshape(n, ys.shape[1], c * k * k)


class SubPixelGeometry(NamedTuple):
    """How a sub-pixel decoder maps (C, h, w) to (C', H, W): see :func:`subpixel_geometry`."""

    fold: Tuple[int, int]  # space-to-depth factor of the input (a stage that grew the map)
    grid: Tuple[int, int]  # the (folded) input grid the convolution runs on
    r: Tuple[int, int]  # pixel-shuffle factor back to the target
    kernel: int
    features: int  # C·fold² · k²: one patch
    targets: int  # C'·r²: the sub-pixels one position predicts


def fitting_kernel(channels: int, kernel: int) -> int:
    """The largest odd kernel up to ``kernel`` whose patches of ``channels`` channels stay within
    :data:`MAX_KERNEL_FEATURES` (1 when even 3×3 does not fit)."""
    k = kernel if kernel % 2 else kernel - 1
    while k > 1 and channels * k * k > MAX_KERNEL_FEATURES:
        k -= 2
    return max(k, 1)


def subpixel_geometry(in_shape, out_shape, kernel: int = 3) -> SubPixelGeometry:
    """Fold, grid, shuffle factor, kernel and sizes of the sub-pixel decoder (C, h, w) → (C', H, W)."""
    c, h, w = in_shape
    c_out, H, W = out_shape
    fold = (max(1, round(h / H)) if h > H else 1, max(1, round(w / W)) if w > W else 1)
    grid = (math.ceil(h / fold[0]), math.ceil(w / fold[1]))
    r = (max(1, round(H / grid[0])), max(1, round(W / grid[1])))
    c_in = c * fold[0] * fold[1]
    k = fitting_kernel(c_in, kernel) if grid != (1, 1) else 1
    return SubPixelGeometry(fold, grid, r, k, c_in * k * k, c_out * r[0] * r[1])


class SubPixelConvDecoder(ClosedFormMixin, nn.Module):
    """k×k Conv2d (C·s² → C'·r²) + pixel shuffle by r, cropped/replicated to the target size.

    Args:
        spec: the stage's shapes (C, h, w) → (C', H, W) and output activation.
        kernel: k (odd). 1×1 maps, and inputs wider than :data:`MAX_KERNEL_FEATURES` / k²
            channels, use k = 1.
    """

    def __init__(self, spec: DecoderSpec, kernel: int = 3):
        super().__init__()
        g = subpixel_geometry(spec.in_shape, spec.out_shape, kernel)
        self.fold, self.grid, self.r, self.kernel = g.fold, g.grid, g.r, g.kernel
        H, W = self.out_size = tuple(spec.out_shape[1:])
        self.conv = nn.Conv2d(g.features // (g.kernel ** 2), g.targets, g.kernel, padding=g.kernel // 2)
        self.out_activation = spec.out_activation
        self.bounds = spec.bounds
        self.n_features, self.n_targets = g.features, g.targets
        # Only positions whose r×r output block lies inside the target are fitted: a cropped
        # (odd-sized) target has no values for the rest, and padding them would bias the fit.
        self.fitted_grid = (min(self.grid[0], H // self.r[0]), min(self.grid[1], W // self.r[1]))
        self.rows_per_input = self.fitted_grid[0] * self.fitted_grid[1]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.conv(_space_to_depth(z, self.fold))
        y = rearrange(y, "b (c rh rw) h w -> b c (h rh) (w rw)", rh=self.r[0], rw=self.r[1])
        return squash(fit_size(y, self.out_size), self.out_activation, self.bounds, self.closed_form)

    def design(self, z, y, positions=None, generator=None):
        z = _space_to_depth(z, self.fold)
        (gh, gw), (vh, vw) = self.grid, self.fitted_grid
        t = rearrange(y[..., :vh * self.r[0], :vw * self.r[1]], "b c (h rh) (w rw) -> b (c rh rw) h w",
                      rh=self.r[0], rw=self.r[1])
        n, k = z.shape[0], self.kernel
        if positions is None or positions >= vh * vw:
            a = F.unfold(z, k, padding=k // 2).reshape(n, self.n_features, gh, gw)[..., :vh, :vw]
            return (rearrange(a, "b d h w -> (b h w) d"), rearrange(t, "b k h w -> (b h w) k"))
        ys = torch.randint(vh, (n, positions), generator=generator).to(z.device)
        xs = torch.randint(vw, (n, positions), generator=generator).to(z.device)
        patches = _gather_patches(z, ys, xs, k)
        rows = torch.arange(n, device=z.device)[:, None]
        return patches.reshape(-1, self.n_features), t[rows, :, ys, xs].reshape(-1, self.n_targets)

    def set_solution(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.conv.weight.copy_(weight.reshape(self.conv.weight.shape).to(self.conv.weight.dtype))
        self.conv.bias.copy_(bias.to(self.conv.bias.dtype))


class ReshapeDecoder(ClosedFormMixin, nn.Module):
    """Undo a flatten: reshape to the target, times a fitted scale plus a fitted shift."""

    n_features, n_targets = 1, 1

    def __init__(self, spec: DecoderSpec):
        super().__init__()
        self.out_shape = tuple(spec.out_shape)
        self.scale = nn.Parameter(torch.ones(()))
        self.shift = nn.Parameter(torch.zeros(()))
        self.out_activation = spec.out_activation
        self.bounds = spec.bounds
        self.rows_per_input = math.prod(self.out_shape)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = z.reshape(z.shape[0], *self.out_shape) * self.scale + self.shift
        # an exact inverse must not be squashed: clamp to the target's range instead
        return y.clamp(*self.bounds) if self.bounds is not None else y

    def design(self, z, y, positions=None, generator=None):
        a, t = z.reshape(z.shape[0], -1), y.reshape(y.shape[0], -1)
        if positions is not None and positions < a.shape[1]:
            idx = torch.randint(a.shape[1], (positions,), generator=generator).to(a.device)
            a, t = a[:, idx], t[:, idx]
        return a.reshape(-1, 1), t.reshape(-1, 1)

    def set_solution(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.scale.copy_(weight.reshape(()))
        self.shift.copy_(bias.reshape(()))


class MapToVectorDecoder(ClosedFormMixin, nn.Module):
    """Average-pool a big map to at most 4×4, flatten, Linear to the vector."""

    def __init__(self, spec: DecoderSpec):
        super().__init__()
        c, h, w = spec.in_shape
        self.pool_size = (min(h, 4), min(w, 4))
        self.n_features, self.n_targets = c * self.pool_size[0] * self.pool_size[1], spec.out_shape[0]
        self.linear = nn.Linear(self.n_features, self.n_targets)
        self.out_activation = spec.out_activation
        self.bounds = spec.bounds

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return squash(self.linear(self._pooled(z)), self.out_activation, self.bounds, self.closed_form)

    def _pooled(self, z: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(z, self.pool_size).flatten(1)

    def design(self, z, y, positions=None, generator=None):
        return self._pooled(z), y.reshape(y.shape[0], -1)

    def set_solution(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.linear.weight.copy_(weight.to(self.linear.weight.dtype))
        self.linear.bias.copy_(bias.to(self.linear.bias.dtype))


class VectorToMapDecoder(ClosedFormMixin, nn.Module):
    """Linear (D → C'·⌈H/f⌉·⌈W/f⌉), nearest upsampling by f, crop/replicate to (C', H, W).

    Nearest upsampling repeats each value f² times, so least squares on the full-resolution target
    is least squares on its f×f block means: the closed form stays exact.
    """

    def __init__(self, spec: DecoderSpec, factor: int):
        super().__init__()
        d = int(math.prod(spec.in_shape))
        c_out, H, W = spec.out_shape
        self.factor = factor
        self.low = (math.ceil(H / factor), math.ceil(W / factor))
        self.c_out, self.out_size = c_out, (H, W)
        self.n_features, self.n_targets = d, c_out * self.low[0] * self.low[1]
        self.linear = nn.Linear(d, self.n_targets)
        self.out_activation = spec.out_activation
        self.bounds = spec.bounds

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.linear(z.reshape(z.shape[0], -1)).reshape(z.shape[0], self.c_out, *self.low)
        y = fit_size(F.interpolate(y, scale_factor=self.factor, mode="nearest"), self.out_size)
        return squash(y, self.out_activation, self.bounds, self.closed_form)

    def design(self, z, y, positions=None, generator=None):
        f = self.factor
        y = fit_size(y, (self.low[0] * f, self.low[1] * f))
        return z.reshape(z.shape[0], -1), F.avg_pool2d(y, f).flatten(1)

    def set_solution(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.linear.weight.copy_(weight.to(self.linear.weight.dtype))
        self.linear.bias.copy_(bias.to(self.linear.bias.dtype))


def _is_map(shape) -> bool:
    return len(shape) == 3


@register_decoder("reshape", priority=60, help="flatten stages: reshape back to the feature map (fitted scale/shift)",
                  example=DecoderSpec((18,), (2, 3, 3), stage_type="Flatten"))
def _reshape_builder(spec: DecoderSpec) -> Optional[nn.Module]:
    if len(spec.in_shape) == 1 and len(spec.out_shape) > 1 and math.prod(spec.in_shape) == math.prod(spec.out_shape) \
            and spec.stage_type == "Flatten":
        return ReshapeDecoder(spec)
    return None


@register_decoder("subpixel-conv", priority=50,
                  help="feature maps: k x k conv to C*r^2 channels + pixel shuffle (any stride; closed form)",
                  example=DecoderSpec((4, 4, 4), (3, 8, 8)))
def _subpixel_builder(spec: DecoderSpec) -> Optional[nn.Module]:
    if _is_map(spec.in_shape) and _is_map(spec.out_shape):
        return SubPixelConvDecoder(spec, kernel=spec.kernel)
    return None


def _too_big_for_one_linear(spec: DecoderSpec) -> bool:
    """A Linear between the two stages would have more weights than :data:`DIRECT_LINEAR_PARAMS`."""
    return math.prod(spec.in_shape) * math.prod(spec.out_shape) > DIRECT_LINEAR_PARAMS


@register_decoder("map-to-vector", priority=45, help="a feature map back to a vector: flatten + Linear (pooled when big)",
                  prefer=_too_big_for_one_linear, example=DecoderSpec((3, 6, 6), (5,)))
def _map_to_vector_builder(spec: DecoderSpec) -> Optional[nn.Module]:
    if not (_is_map(spec.in_shape) and len(spec.out_shape) == 1):
        return None
    return MapToVectorDecoder(spec)  # chosen only for big maps (``prefer``): flatten-linear handles the rest


@register_decoder("vector-to-map", priority=40, help="a vector stage whose target is a big feature map: Linear to a coarser map + upsampling",
                  prefer=_too_big_for_one_linear, example=DecoderSpec((6,), (2, 4, 4)))
def _vector_to_map_builder(spec: DecoderSpec) -> Optional[nn.Module]:
    if len(spec.in_shape) != 1 or not _is_map(spec.out_shape):
        return None
    # chosen only when one Linear would be too big (``prefer``; else the ``linear`` kind): f = 1 below that
    d, size = spec.in_shape[0], math.prod(spec.out_shape)
    factor = math.ceil(math.sqrt(d * size / DIRECT_LINEAR_PARAMS))
    return VectorToMapDecoder(spec, factor)

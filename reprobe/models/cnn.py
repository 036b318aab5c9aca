"""The paper's random convolutional families: a plain tanh CNN and a tanh ResNet.

Weights are drawn W ~ N(0, σ_w²/fan_in) with fan_in = C_in·k_h·k_w for convolutions (N_in for
Linear layers), biases b ~ N(0, σ_b²), as for the MLPs. Each conv(+activation) layer, each
residual block and the class layer are probe stages (the models name them in ``reprobe_stages``).
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence

import torch
import torch.nn as nn

from ..core.errors import ReprobeError
from .mlp import activation_module
from .registry import register_model


def fan_in(m: nn.Module) -> int:
    """C_in·k_h·k_w for convolutions, N_in for Linear layers."""
    w = m.weight
    return int(math.prod(w.shape[1:]))


@torch.no_grad()
def init_sigma(model: nn.Module, sigma_w2: float, sigma_b2: float, seed: Optional[int] = None) -> None:
    """W ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²) for every Conv/Linear in ``model`` (seeded)."""
    if sigma_w2 <= 0 or sigma_b2 < 0 or not math.isfinite(sigma_w2) or not math.isfinite(sigma_b2):
        raise ReprobeError(f"need sigma_w2 > 0 and sigma_b2 >= 0, got {sigma_w2}, {sigma_b2}")
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(sigma_w2 / fan_in(m)))
            if m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * math.sqrt(sigma_b2))


def _check(depth: int, channels: int, kernel: int) -> None:
    if depth < 1:
        raise ReprobeError(f"depth must be at least 1, got {depth}")
    if channels < 1:
        raise ReprobeError(f"channels must be at least 1, got {channels}")
    if kernel < 1 or kernel % 2 == 0:
        raise ReprobeError(f"kernel must be odd and >= 1, got {kernel}")


class PlainCNN(nn.Module):
    """``depth`` conv layers (same padding, ``channels`` wide) with φ, global average pool, Linear.

    Stages: ``convs.{2i+1}`` (each conv + φ), then ``fc`` (class logits).
    """

    def __init__(self, in_channels: int, num_classes: int, depth: int = 10, channels: int = 32, kernel: int = 3,
                 sigma_w2: float = 1.76, sigma_b2: float = 0.05, activation: str = "tanh", seed: Optional[int] = 0):
        super().__init__()
        _check(depth, channels, kernel)
        layers: List[nn.Module] = []
        c = in_channels
        for _ in range(depth):
            layers += [nn.Conv2d(c, channels, kernel, padding=kernel // 2), activation_module(activation)]
            c = channels
        self.convs = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        self.sigma_w2, self.sigma_b2, self.activation = float(sigma_w2), float(sigma_b2), activation
        self.reprobe_stages = [f"convs.{2 * i + 1}" for i in range(depth)] + ["fc"]
        init_sigma(self, sigma_w2, sigma_b2, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.convs(x)).flatten(1))


class TanhResidualBlock(nn.Module):
    """x + conv₂(φ(conv₁(x))): the residual block of mean-field residual networks."""

    def __init__(self, channels: int, kernel: int, activation: str):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel, padding=kernel // 2)
        self.act = activation_module(activation)
        self.conv2 = nn.Conv2d(channels, channels, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class TanhResNet(nn.Module):
    """Stem conv + φ, ``depth`` residual blocks, global average pool, Linear.

    Stages: ``stem`` (conv + φ), ``blocks.0`` … ``blocks.{depth-1}``, ``fc``.
    """

    def __init__(self, in_channels: int, num_classes: int, depth: int = 10, channels: int = 32, kernel: int = 3,
                 sigma_w2: float = 1.76, sigma_b2: float = 0.05, activation: str = "tanh", seed: Optional[int] = 0):
        super().__init__()
        _check(depth, channels, kernel)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, kernel, padding=kernel // 2), activation_module(activation))
        self.blocks = nn.Sequential(*[TanhResidualBlock(channels, kernel, activation) for _ in range(depth)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        self.sigma_w2, self.sigma_b2, self.activation = float(sigma_w2), float(sigma_b2), activation
        self.reprobe_stages = ["stem"] + [f"blocks.{i}" for i in range(depth)] + ["fc"]
        init_sigma(self, sigma_w2, sigma_b2, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.blocks(self.stem(x))).flatten(1))


def _in_channels(input_shape: Sequence[int]) -> int:
    if len(input_shape) != 3:
        raise ReprobeError(f"cnn/resnet models need image inputs (C, H, W), got shape {tuple(input_shape)}")
    return int(input_shape[0])


@register_model("cnn", help="the paper's plain random tanh CNN (depth conv layers, channels wide; σ_w²/(C_in·k²) init)")
def _build_cnn(input_shape: Sequence[int], num_classes: int, depth: int = 10, channels: Optional[int] = None,
               kernel: int = 3, sigma_w2: float = 1.76, sigma_b2: float = 0.05, activation: str = "tanh",
               seed: Optional[int] = 0) -> nn.Module:
    return PlainCNN(_in_channels(input_shape), num_classes, depth, 32 if channels is None else channels, kernel, sigma_w2, sigma_b2, activation, seed)


@register_model("resnet", help="random tanh ResNet: stem, depth residual blocks x + W₂φ(W₁x), classes")
def _build_resnet(input_shape: Sequence[int], num_classes: int, depth: int = 10, channels: Optional[int] = None,
                  kernel: int = 3, sigma_w2: float = 1.76, sigma_b2: float = 0.05, activation: str = "tanh",
                  seed: Optional[int] = 0) -> nn.Module:
    return TanhResNet(_in_channels(input_shape), num_classes, depth, 32 if channels is None else channels, kernel, sigma_w2, sigma_b2, activation, seed)

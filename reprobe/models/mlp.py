"""The paper's random fully connected networks (Thurn et al. 2024, §2)."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn as nn

from ..core.activations import ACTIVATIONS, MLP_ACTIVATIONS
from ..core.errors import ReprobeError
from .registry import register_model

#: Activations an MLP can use, by name (from the one table, :mod:`reprobe.core.activations`).
ACTIVATION_MODULES = {name: ACTIVATIONS[name] for name in MLP_ACTIVATIONS}


def activation_module(name: str) -> nn.Module:
    """An activation module by name; unknown names list the valid ones."""
    if name not in ACTIVATION_MODULES:
        from ..core.errors import unknown_name_message

        raise ReprobeError(unknown_name_message("activation", name, ACTIVATION_MODULES))
    return ACTIVATION_MODULES[name]()


def layer_widths(depth: int, width: int, in_features: int, num_classes: int, shape: str = "wide") -> list[int]:
    """Output widths of the ``depth`` Linear layers (the last one is the class layer).

    ``wide``: ``width`` … ``width``, 400, classes (the paper's MNIST nets); a net of depth 2 is
    400, classes. ``shrinking``: widths taper linearly from ``in_features`` to ``num_classes``.
    """
    if depth < 1:
        raise ReprobeError(f"depth must be at least 1, got {depth}")
    if shape == "wide":
        if depth == 1:
            return [num_classes]
        return [width] * (depth - 2) + [400, num_classes]
    if shape == "shrinking":
        return [
            max(num_classes, int(round(in_features + (num_classes - in_features) * (l / depth))))
            for l in range(1, depth)
        ] + [num_classes]
    raise ReprobeError(f"unknown MLP shape {shape!r}; valid shapes: wide, shrinking")


class MLP(nn.Sequential):
    """A random MLP: Flatten, then ``depth`` Linear layers, each hidden one followed by φ.

    Weights are drawn W ~ N(0, σ_w²/N_in), biases b ~ N(0, σ_b²). Each Linear(+activation) block
    is one probe stage, so the probe sees ``depth`` stages, the last being the class logits.
    """

    def __init__(
        self,
        depth: int,
        width: int,
        sigma_w2: float,
        sigma_b2: float,
        activation: str = "tanh",
        shape: str = "wide",
        in_features: int = 784,
        num_classes: int = 10,
        seed: Optional[int] = None,
    ):
        if sigma_w2 <= 0 or sigma_b2 < 0 or not math.isfinite(sigma_w2) or not math.isfinite(sigma_b2):
            raise ReprobeError(f"need sigma_w2 > 0 and sigma_b2 >= 0, got {sigma_w2}, {sigma_b2}")
        if width < 1:
            raise ReprobeError(f"width must be at least 1, got {width}")
        widths = layer_widths(depth, width, in_features, num_classes, shape)
        layers: list[nn.Module] = [nn.Flatten()]
        n_in = in_features
        for i, n_out in enumerate(widths):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(widths) - 1:
                layers.append(activation_module(activation))
            n_in = n_out
        super().__init__(*layers)
        self.sigma_w2, self.sigma_b2 = float(sigma_w2), float(sigma_b2)
        self.activation, self.shape, self.widths = activation, shape, widths
        self.reset_parameters(seed)

    @torch.no_grad()
    def reset_parameters(self, seed: Optional[int] = None) -> None:
        """Redraw W ~ N(0, σ_w²/N_in), b ~ N(0, σ_b²) (seeded when ``seed`` is given)."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        for m in self:
            if isinstance(m, nn.Linear):
                w = torch.randn(m.weight.shape, generator=gen) * math.sqrt(self.sigma_w2 / m.in_features)
                b = torch.randn(m.bias.shape, generator=gen) * math.sqrt(self.sigma_b2)
                m.weight.copy_(w)
                m.bias.copy_(b)


def mlp(
    depth: int = 50,
    width: Optional[int] = None,
    sigma_w2: float = 1.76,
    sigma_b2: float = 0.05,
    activation: str = "tanh",
    shape: str = "wide",
    in_features: int = 784,
    num_classes: int = 10,
    seed: Optional[int] = 0,
) -> MLP:
    """The paper's networks: ``depth`` Linear layers with W ~ N(0, σ_w²/N_in), b ~ N(0, σ_b²).

    Args:
        depth: number of Linear layers, the class layer included (= number of probe stages).
        width: hidden width of ``wide`` nets (default: ``in_features``, 784 for MNIST).
        sigma_w2, sigma_b2: weight and bias variances (σ_w² is scaled by fan-in).
        activation: ``tanh`` (paper), ``relu``, ``gelu``, ``sigmoid``, ``silu``, ``elu``, ``linear``.
        shape: ``wide`` (width…width, 400, classes) or ``shrinking`` (linear taper).
        in_features: input size (flattened).
        num_classes: output size.
        seed: seed of the weight draw (None: torch's global RNG).

    Returns:
        An :class:`MLP` (an ``nn.Sequential`` starting with ``nn.Flatten``).
    """
    return MLP(depth, in_features if width is None else width, sigma_w2, sigma_b2, activation, shape, in_features, num_classes, seed)


@register_model("mlp", help="the paper's random tanh MLP (wide: width…width, 400, classes; or shrinking)")
def _build_mlp(input_shape: Sequence[int], num_classes: int, depth: int = 50, width: Optional[int] = None,
               sigma_w2: float = 1.76, sigma_b2: float = 0.05, activation: str = "tanh", shape: str = "wide",
               seed: Optional[int] = 0) -> nn.Module:
    return mlp(depth=depth, width=width, sigma_w2=sigma_w2, sigma_b2=sigma_b2, activation=activation, shape=shape,
               in_features=int(math.prod(input_shape)), num_classes=num_classes, seed=seed)

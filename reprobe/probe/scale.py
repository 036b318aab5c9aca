"""How large each stage's activations are: the mean square per stage, and the activations a model uses.

Reconstruction cannot see a signal that only grows: a positively homogeneous net (ReLU, linear)
scaled up keeps all its information, yet its gradients grow with it and plain SGD fails. The mean
square per stage lets :mod:`reprobe.analysis.growth` see that growth beside the reconstruction loss.
"""

from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn as nn

#: Activation modules recognised by :func:`activation_names` (the name is the class name, lower case).
ACTIVATION_MODULES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
                      nn.Mish, nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus)


class StageScale:
    """Accumulates the mean square of each stage's finite activations over evaluation chunks."""

    def __init__(self, depth: int):
        self._sums = [0.0] * depth
        self._counts = [0] * depth

    def add(self, stage: int, activations: torch.Tensor) -> None:
        finite = activations[torch.isfinite(activations)]
        self._sums[stage] += float(finite.double().pow(2).sum())
        self._counts[stage] += int(finite.numel())

    def values(self) -> List[Optional[float]]:
        """Mean square per stage (None for a stage without a finite value)."""
        return [s / n if n else None for s, n in zip(self._sums, self._counts)]


def activation_names(model: nn.Module) -> List[str]:
    """The kinds of activation modules in ``model`` (``["relu"]``, ``["gelu", "tanh"]``, …), sorted;
    functional activations (``torch.relu`` inside ``forward``) are not seen."""
    return sorted({type(m).__name__.lower() for m in model.modules() if isinstance(m, ACTIVATION_MODULES)})

"""The one table of activation modules: what the adapters skip as layers, what NASWOT reads sign
patterns from, and (by name) what the built-in MLPs are built with."""

from __future__ import annotations

from typing import Dict, Tuple

import torch.nn as nn

#: Every elementwise activation module reprobe recognises, by name.
ACTIVATIONS: Dict[str, type] = {
    "tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "sigmoid": nn.Sigmoid, "silu": nn.SiLU, "elu": nn.ELU,
    "linear": nn.Identity, "relu6": nn.ReLU6, "leaky_relu": nn.LeakyReLU, "prelu": nn.PReLU, "rrelu": nn.RReLU,
    "selu": nn.SELU, "celu": nn.CELU, "mish": nn.Mish, "hardtanh": nn.Hardtanh, "hardsigmoid": nn.Hardsigmoid,
    "hardswish": nn.Hardswish, "softplus": nn.Softplus, "softsign": nn.Softsign, "tanhshrink": nn.Tanhshrink,
    "logsigmoid": nn.LogSigmoid, "threshold": nn.Threshold,
}

#: The names the built-in MLPs take as their activation.
MLP_ACTIVATIONS: Tuple[str, ...] = ("tanh", "relu", "gelu", "sigmoid", "silu", "elu", "linear")

#: The activation module types (the table without the identity, which is no nonlinearity).
ACTIVATION_TYPES: Tuple[type, ...] = tuple(t for t in ACTIVATIONS.values() if t is not nn.Identity)

"""Decoders c^ℓ: map stage ℓ's output back to stage ℓ-1's (the first one to the input).

Decoders are chosen through a registry of builders ``builder(spec) -> nn.Module | None``, tried by
descending priority; the first that returns a module wins. This module provides the ``linear``
decoder for vector stages (the paper's single Linear layer with an output activation) and a
``flatten-linear`` fallback for any small shapes. Feature-map decoders (transposed convolutions,
learned upsampling) register here too.

A decoder may offer a closed-form least-squares fit (``supports_closed_form``); the probe then
fits it exactly in one pass (``fit="ridge"``) instead of by gradient steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import torch
import torch.nn as nn

from .._registry import Registry
from ..errors import ReprobeError

OUTPUT_ACTIVATIONS = ("auto", "sigmoid", "tanh", "identity")


@dataclass(frozen=True)
class DecoderSpec:
    """What a decoder must do.

    Attributes:
        in_shape: shape of one stage-ℓ output (no batch dim).
        out_shape: shape of one stage-(ℓ-1) output, or of the input for ℓ = 1.
        target_range: (min, max) of the target values seen while probing.
        out_activation: ``sigmoid`` (targets in [0, 1]), ``tanh`` ([-1, 1]) or ``identity``.
        stage_type: class name of the stage module (a hint for builders).
        index: ℓ (1-based).
    """

    in_shape: Tuple[int, ...]
    out_shape: Tuple[int, ...]
    target_range: Tuple[float, float] = (-math.inf, math.inf)
    out_activation: str = "identity"
    stage_type: str = ""
    index: int = 0

    @property
    def bounds(self) -> Optional[Tuple[float, float]]:
        """Value bounds implied by the output activation (None when unbounded)."""
        return {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}.get(self.out_activation)


def choose_out_activation(lo: float, hi: float, requested: str = "auto") -> str:
    """``auto``: sigmoid for targets within [0, 1], tanh within [-1, 1], identity otherwise."""
    if requested not in OUTPUT_ACTIVATIONS:
        raise ReprobeError(f"decoder activation must be one of {', '.join(OUTPUT_ACTIVATIONS)}, got {requested!r}")
    if requested != "auto":
        return requested
    if lo >= 0.0 and hi <= 1.0:
        return "sigmoid"
    if lo >= -1.0 and hi <= 1.0:
        return "tanh"
    return "identity"


DecoderBuilder = Callable[[DecoderSpec], Optional[nn.Module]]
DECODERS: Registry[Tuple[int, DecoderBuilder]] = Registry("decoder")


def register_decoder(name: str, priority: int = 0, help: str = ""):
    """Decorator registering ``builder(spec) -> nn.Module | None``; higher priority is tried first."""

    def deco(fn: DecoderBuilder) -> DecoderBuilder:
        DECODERS.register(name, (priority, fn), help=help or (fn.__doc__ or "").strip().split("\n")[0])
        return fn

    return deco


def build_decoder(spec: DecoderSpec, kind: Optional[str] = None) -> nn.Module:
    """Build the decoder for ``spec`` (``kind`` forces one builder by name)."""
    if kind is not None:
        module = DECODERS.get(kind)[1](spec)
        if module is None:
            raise ReprobeError(f"decoder {kind!r} cannot map {spec.in_shape} to {spec.out_shape}")
        return module
    for name, (_, builder) in sorted(DECODERS.items(), key=lambda kv: -kv[1][0]):
        module = builder(spec)
        if module is not None:
            module.decoder_kind = name
            return module
    raise ReprobeError(
        f"no decoder can map stage {spec.index} output {spec.in_shape} to {spec.out_shape}; "
        "register one with reprobe.probes.register_decoder"
    )


class LinearDecoder(nn.Module):
    """Flatten → Linear → reshape → output activation (the paper's decoder).

    With a closed-form fit the Linear is the exact ridge solution of ``target ≈ W·z + b`` and the
    output is clamped to the activation's range instead of squashed (a squashing function would
    need an iterative fit).
    """

    supports_closed_form = True

    def __init__(self, spec: DecoderSpec):
        super().__init__()
        self.in_shape, self.out_shape = tuple(spec.in_shape), tuple(spec.out_shape)
        self.linear = nn.Linear(math.prod(self.in_shape), math.prod(self.out_shape))
        self.out_activation = spec.out_activation
        self.bounds = spec.bounds
        self.closed_form = False  # set by fit_closed_form: then clamp instead of squash

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.linear(z.reshape(z.shape[0], -1))
        if self.closed_form:
            if self.bounds is not None:
                y = y.clamp(*self.bounds)
        elif self.out_activation == "sigmoid":
            y = torch.sigmoid(y)
        elif self.out_activation == "tanh":
            y = torch.tanh(y)
        return y.reshape(z.shape[0], *self.out_shape)

    @torch.no_grad()
    def fit_closed_form(self, gram: torch.Tensor, cross: torch.Tensor, ridge: float) -> None:
        """Set W, b to the ridge solution from accumulated statistics.

        Args:
            gram: ``AᵀA`` with A = [z, 1] (n × (D_in+1)), shape (D_in+1, D_in+1).
            cross: ``AᵀY`` with Y the targets, shape (D_in+1, D_out).
            ridge: regularisation relative to the mean diagonal of the Gram matrix (bias not
                penalised), so it means the same for activations of any scale.
        """
        g = gram.to(torch.float64)
        c = cross.to(torch.float64)
        d = g.shape[0]
        scale = float(torch.diagonal(g)[:-1].mean().clamp_min(1e-12))
        reg = torch.full((d,), ridge * scale, dtype=torch.float64, device=g.device)
        reg[-1] = 1e-9 * max(scale, 1.0)
        g = g + torch.diag(reg)
        L, info = torch.linalg.cholesky_ex(g)
        if int(info) == 0:
            sol = torch.cholesky_solve(c, L)
        else:  # numerically singular even with the ridge: least squares is still well defined
            sol = torch.linalg.lstsq(g, c).solution
        self.linear.weight.copy_(sol[:-1].T.to(self.linear.weight.dtype))
        self.linear.bias.copy_(sol[-1].to(self.linear.bias.dtype))
        self.closed_form = True


#: Vector decoders beyond this many input×output features would not fit in memory / time.
MAX_LINEAR_PARAMS = 64_000_000


@register_decoder("linear", priority=0, help="Linear back to the previous stage (vector stages; the paper's decoder)")
def _linear_builder(spec: DecoderSpec) -> Optional[nn.Module]:
    if len(spec.in_shape) != 1:
        return None
    return LinearDecoder(spec)


@register_decoder("flatten-linear", priority=-100, help="fallback: flatten any stage, Linear, reshape to the target")
def _flatten_linear_builder(spec: DecoderSpec) -> Optional[nn.Module]:
    if math.prod(spec.in_shape) * math.prod(spec.out_shape) > MAX_LINEAR_PARAMS:
        return None
    return LinearDecoder(spec)

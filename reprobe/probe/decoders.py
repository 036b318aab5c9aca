"""Decoders c^ℓ: map stage ℓ's output back to stage ℓ-1's (the first one to the input).

Decoders are chosen through a registry of builders ``builder(spec) -> nn.Module | None``, tried by
descending priority; the first that returns a module wins. This module provides the ``linear``
decoder for vector stages (the paper's single Linear layer with an output activation) and a
``flatten-linear`` fallback for any small shapes. Feature-map decoders (sub-pixel convolutions,
reshapes, pooled and upsampled Linear maps: :mod:`reprobe.probe.conv_decoders`) register here too.

Every built-in decoder is linear in its weights and offers a closed-form least-squares fit
(:class:`ClosedFormMixin`); the probe then fits it exactly in one pass (``fit="ridge"``) instead
of by gradient steps (``fit="adam"``, the paper's procedure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import torch
import torch.nn as nn

from ..core.registry import Registry
from ..core.errors import ReprobeError
from .ridge import ridge_solution

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
        kernel: k of the k×k kernel that feature-map decoders use (odd).
    """

    in_shape: Tuple[int, ...]
    out_shape: Tuple[int, ...]
    target_range: Tuple[float, float] = (-math.inf, math.inf)
    out_activation: str = "identity"
    stage_type: str = ""
    index: int = 0
    kernel: int = 3

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
#: Decoder builders by name, with their priorities (higher is tried first).
DECODERS: Registry[DecoderBuilder] = Registry("decoder")


def register_decoder(name: str, priority: int = 0, help: str = ""):
    """Decorator registering ``builder(spec) -> nn.Module | None``; higher priority is tried first."""

    def deco(fn: DecoderBuilder) -> DecoderBuilder:
        return DECODERS.register(name, fn, help=help, priority=priority)

    return deco


def build_decoder(spec: DecoderSpec, kind: Optional[str] = None) -> nn.Module:
    """Build the decoder for ``spec`` (``kind`` forces one builder by name)."""
    if kind is not None:
        module = DECODERS.get(kind)(spec)
        if module is None:
            raise ReprobeError(f"decoder {kind!r} cannot map {spec.in_shape} to {spec.out_shape}")
        return module
    for name, builder in DECODERS.by_priority():
        module = builder(spec)
        if module is not None:
            module.decoder_kind = name
            return module
    raise ReprobeError(
        f"no decoder can map stage {spec.index} output {spec.in_shape} to {spec.out_shape}; "
        "register one with reprobe.probe.register_decoder"
    )


class ClosedFormMixin:
    """What a decoder that is linear in its weights offers the probe's closed-form fit.

    Subclasses set ``n_features`` (D), ``n_targets`` (K), ``rows_per_input`` and implement
    :meth:`design` and :meth:`set_solution`. After the fit, ``closed_form`` is True: outputs are
    then clamped to the activation's range instead of squashed (a squashing function would need
    an iterative fit).
    """

    supports_closed_form = True
    closed_form = False
    n_features: int
    n_targets: int
    rows_per_input: int = 1

    def design(self, z: torch.Tensor, y: torch.Tensor, positions: Optional[int] = None,
               generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Matched rows (features A: rows × D, targets Y: rows × K) for stage outputs ``z`` and
        targets ``y``; ``positions`` samples that many rows per input where an input has several."""
        raise NotImplementedError

    def set_solution(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Load the solved ``weight`` (K × D) and ``bias`` (K,) into the module's parameters."""
        raise NotImplementedError

    @torch.no_grad()
    def fit_closed_form(self, gram: torch.Tensor, cross: torch.Tensor, ridge: float) -> None:
        """Set the weights to the ridge solution from accumulated statistics (see :mod:`.ridge`)."""
        weight, bias = ridge_solution(gram, cross, ridge)
        self.set_solution(weight, bias)
        self.closed_form = True


def squash(y: torch.Tensor, activation: str, bounds: Optional[Tuple[float, float]], closed_form: bool) -> torch.Tensor:
    """The output activation: clamp to ``bounds`` after a closed-form fit, else sigmoid/tanh/identity."""
    if closed_form:
        return y.clamp(*bounds) if bounds is not None else y
    if activation == "sigmoid":
        return torch.sigmoid(y)
    if activation == "tanh":
        return torch.tanh(y)
    return y


class LinearDecoder(ClosedFormMixin, nn.Module):
    """Flatten → Linear → reshape → output activation (the paper's decoder).

    With a closed-form fit the Linear is the exact ridge solution of ``target ≈ W·z + b``.
    """

    def __init__(self, spec: DecoderSpec):
        super().__init__()
        self.in_shape, self.out_shape = tuple(spec.in_shape), tuple(spec.out_shape)
        self.n_features, self.n_targets = math.prod(self.in_shape), math.prod(self.out_shape)
        self.linear = nn.Linear(self.n_features, self.n_targets)
        self.out_activation = spec.out_activation
        self.bounds = spec.bounds

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = squash(self.linear(z.reshape(z.shape[0], -1)), self.out_activation, self.bounds, self.closed_form)
        return y.reshape(z.shape[0], *self.out_shape)

    def design(self, z, y, positions=None, generator=None):
        return z.reshape(z.shape[0], -1), y.reshape(y.shape[0], -1)

    def set_solution(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.linear.weight.copy_(weight.to(self.linear.weight.dtype))
        self.linear.bias.copy_(bias.to(self.linear.bias.dtype))


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

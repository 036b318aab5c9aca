"""Decoders c^ℓ: map stage ℓ's output back to stage ℓ-1's (the first one to the input).

Decoders are chosen through a registry of kinds (``register_decoder``, ``get_decoder``,
``list_decoders``), each a builder ``builder(spec) -> nn.Module | None``, tried by descending
priority; the first that returns a module wins. Each kind answers for its own size
(:func:`decoder_size`, behind the memory estimate). This module provides the ``linear`` decoder for
vector stages (the paper's single Linear layer with an output activation) and a ``flatten-linear``
fallback for any small shapes; the feature-map decoders (:mod:`.conv_decoders`) register here too.

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


@dataclass(frozen=True)
class DecoderKind:
    """A registered kind of decoder, as :func:`get_decoder` returns it.

    Attributes:
        name: registry name (what ``decoder_kind`` of a built module and ``reprobe list decoders`` show).
        build: ``build(spec) -> nn.Module | None``: None where the kind cannot map these shapes.
        priority: automatic choice tries higher priorities first.
        help: one line for listings.
        prefer: automatic choice tries this kind only where ``prefer(spec)`` is true (None: wherever
            it builds); a kind forced by name is built wherever it can map the shapes.
        example: a small spec of this kind's own form (the contract tests fit and check every kind on it).
    """

    name: str
    build: DecoderBuilder
    priority: int = 0
    help: str = ""
    prefer: Optional[Callable[[DecoderSpec], bool]] = None
    example: Optional[DecoderSpec] = None


@dataclass(frozen=True)
class DecoderSize:
    """What one stage's decoder costs, read off the decoder itself (see :func:`decoder_size`).

    Attributes:
        kind: the decoder kind chosen for the stage.
        parameters: its number of weights.
        features: D, features of one row of its closed-form fit (None: no closed form).
        targets: K, targets of one row of its closed-form fit (None: no closed form).
    """

    kind: str
    parameters: int
    features: Optional[int]
    targets: Optional[int]


#: Decoder kinds by name, with their priorities (higher is tried first).
DECODERS: Registry[DecoderKind] = Registry("decoder")


def register_decoder(name: str, priority: int = 0, help: str = "", *,
                     prefer: Optional[Callable[[DecoderSpec], bool]] = None, example: Optional[DecoderSpec] = None):
    """Decorator registering ``builder(spec) -> nn.Module | None`` as decoder kind ``name``.

    Args:
        name: the kind's name.
        priority: higher is tried first when the probe chooses a stage's decoder.
        help: one line for ``reprobe list decoders``.
        prefer: see :class:`DecoderKind` (e.g. a kind meant only for stages too big for another).
        example: a small spec the builder maps (see :class:`DecoderKind`); the contract tests need it.
    """

    return DECODERS.decorator(name, lambda fn, doc: DecoderKind(name, fn, priority, doc, prefer, example), help=help,
                              priority=priority)


#: ``get_decoder(name)``: the decoder kind registered as ``name``; unknown names raise a
#: :class:`ReprobeError` listing the valid ones.
get_decoder = DECODERS.get
#: ``list_decoders()``: names of the decoder kinds in the order the probe tries them (highest priority first).
list_decoders = DECODERS.listed


def build_decoder(spec: DecoderSpec, kind: Optional[str] = None) -> nn.Module:
    """Build the decoder for ``spec`` (``kind`` forces one kind by name); the module's ``decoder_kind`` names it."""
    if kind is not None:
        module = get_decoder(kind).build(spec)
        if module is None:
            raise ReprobeError(f"decoder {kind!r} cannot map {spec.in_shape} to {spec.out_shape}")
        module.decoder_kind = kind
        return module
    for _, entry in DECODERS.by_priority():
        module = None if entry.prefer is not None and not entry.prefer(spec) else entry.build(spec)
        if module is not None:
            module.decoder_kind = entry.name
            return module
    raise ReprobeError(
        f"no decoder can map stage {spec.index} output {spec.in_shape} to {spec.out_shape}; "
        "register one with reprobe.probe.register_decoder"
    )


def decoder_size(spec: DecoderSpec, kind: Optional[str] = None) -> DecoderSize:
    """The size of the decoder :func:`build_decoder` would build for ``spec``, without allocating it.

    The decoder is built on PyTorch's ``meta`` device (shapes only, no memory, no random numbers
    drawn), so the answer is the chosen kind's own: its parameters, and the ``n_features`` /
    ``n_targets`` of its closed-form fit when it ``supports_closed_form``.
    """
    with torch.device("meta"):
        module = build_decoder(spec, kind)
    closed = getattr(module, "supports_closed_form", False)
    return DecoderSize(module.decoder_kind, sum(p.numel() for p in module.parameters()),
                       int(module.n_features) if closed else None, int(module.n_targets) if closed else None)


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


@register_decoder("linear", priority=0, help="Linear back to the previous stage (vector stages; the paper's decoder)",
                  example=DecoderSpec((6,), (5,)))
def _linear_builder(spec: DecoderSpec) -> Optional[nn.Module]:
    if len(spec.in_shape) != 1:
        return None
    return LinearDecoder(spec)


@register_decoder("flatten-linear", priority=-100, help="fallback: flatten any stage, Linear, reshape to the target",
                  example=DecoderSpec((2, 3, 3), (4,)))
def _flatten_linear_builder(spec: DecoderSpec) -> Optional[nn.Module]:
    if math.prod(spec.in_shape) * math.prod(spec.out_shape) > MAX_LINEAR_PARAMS:
        return None
    return LinearDecoder(spec)

"""Model registry: names → builders ``builder(input_shape, num_classes, **options) -> nn.Module``.

``build_model(spec, …)`` resolves a spec string. Exact registry names come first; then each
*resolver* (functions registered with :func:`register_resolver`, e.g. for ``timm:NAME`` or
``file.py:factory``) gets a chance, by priority (all built-ins: 0), then in registration order.
"""

from __future__ import annotations

import inspect
from typing import Callable, Optional, Sequence

import torch.nn as nn

from ..core.registry import Registry
from ..core.errors import ReprobeError, unknown_name_message

ModelBuilder = Callable[..., nn.Module]
#: A resolver returns a model for specs it understands and None for the others.
Resolver = Callable[..., Optional[nn.Module]]

MODELS: Registry[ModelBuilder] = Registry("model")
#: Resolvers by their description, tried after the exact names (highest priority first, then in
#: registration order).
RESOLVERS: Registry[Resolver] = Registry("resolver")


def register_model(name: str, *, help: str = ""):
    """Decorator registering ``builder(input_shape, num_classes, **options)`` as model ``name``."""
    return MODELS.register(name, help=help)


def register_resolver(description: str, priority: int = 0):
    """Decorator registering ``resolver(spec, input_shape, num_classes, **options)``.

    ``description`` is shown in ``reprobe list models`` and in unknown-model errors, e.g.
    ``"timm:NAME (any timm model)"``. Resolvers are tried highest ``priority`` first, equal
    priorities in registration order.
    """

    def deco(fn: Resolver) -> Resolver:
        return RESOLVERS.register(description, fn, help=description, priority=priority)

    return deco


def resolver_descriptions() -> list[str]:
    """The registered resolvers' descriptions, in the order they are tried."""
    return [d for d, _ in RESOLVERS.by_priority()]


def _accepted(fn: Callable, options: dict) -> dict:
    """Options ``fn`` accepts (all of them when it takes ``**kwargs``)."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(options)
    return {k: v for k, v in options.items() if k in params}


def width_option(spec: str) -> Optional[str]:
    """The builder option a sweep's ``width`` axis sets: ``width`` (MLPs), ``channels`` (conv nets
    without a width), or None when the model takes neither (a registered name) or is not registered
    (resolved models take ``width`` as given)."""
    if spec not in MODELS:
        return "width"
    params = inspect.signature(MODELS.get(spec)).parameters
    for name in ("width", "channels"):
        if name in params:
            return name
    return None


def build_model(
    spec: str,
    input_shape: Sequence[int],
    num_classes: int,
    strict: bool = False,
    **options,
) -> nn.Module:
    """Build the model named by ``spec`` for inputs of ``input_shape`` (no batch dim).

    Args:
        spec: a registered name (``mlp`` …) or anything a resolver understands.
        input_shape: shape of one input, e.g. ``(1, 28, 28)``.
        num_classes: size of the output layer.
        strict: when True, options the builder does not take are an error instead of ignored
            (the CLI passes e.g. ``--sigma-w2`` to every model; builders take what they use).
        **options: builder options (depth, width, sigma_w2, …).

    Raises:
        ReprobeError: unknown spec (the message lists valid names), or bad options.
    """
    if spec in MODELS:
        builder = MODELS.get(spec)
        kwargs = _accepted(builder, options)
        unused = set(options) - set(kwargs)
        if strict and unused:
            raise ReprobeError(f"model {spec!r} does not take option(s) {', '.join(sorted(unused))}")
        return builder(input_shape=tuple(input_shape), num_classes=num_classes, **kwargs)
    for _, resolver in RESOLVERS.by_priority():
        model = resolver(spec, input_shape=tuple(input_shape), num_classes=num_classes, **options)
        if model is not None:
            return model
    extra = resolver_descriptions()
    raise ReprobeError(
        unknown_name_message("model", spec, MODELS.names(), hint=("Also: " + "; ".join(extra) + ".") if extra else "")
    )

"""Adapters find the stages of a model: the modules whose outputs are z¹ … z^L.

An adapter is a function ``find(model, **options) -> list[str] | None`` returning module names
(as in ``model.named_modules()``) or None when it does not apply. ``find_stages`` tries them in
descending priority; the generic fallback comes last. A model can also name its own stages with
a ``reprobe_stages`` attribute (a list of module names), which always wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional

import torch.nn as nn

from ..core.errors import ReprobeError
from ..core.registry import Registry

StageFinder = Callable[..., Optional[List[str]]]


@dataclass(frozen=True)
class Adapter:
    """One registered adapter, as :func:`get_adapter` returns it."""

    name: str
    find: StageFinder
    priority: int
    help: str = ""


#: Stage finders by name, with their priorities (higher is tried first).
ADAPTERS: Registry[StageFinder] = Registry("adapter")

HOW_TO_NAME_STAGES = (
    "name them: CascadeProbe(model, stages=['layer1', 'layer2', ...]) or stages=(nn.Linear,), "
    "set model.reprobe_stages = [...], or on the CLI --stage NAME (repeatable); "
    "`reprobe stages --model ...` lists the modules"
)


def register_adapter(name: str, priority: int = 0, help: str = ""):
    """Decorator registering ``find(model, **options) -> list[str] | None`` as adapter ``name``.

    Higher ``priority`` is tried first. Family adapters (VGG, ResNet, …) use 10–100; the generic
    fallback uses -100.
    """

    return ADAPTERS.decorator(name, help=help, priority=priority)


def get_adapter(name: str) -> Adapter:
    """The adapter registered as ``name``; unknown names raise a :class:`ReprobeError` listing the valid ones."""
    return Adapter(name, ADAPTERS.get(name), ADAPTERS.priority(name), ADAPTERS.help(name))


#: ``list_adapters()``: names of the registered adapters in the order :func:`find_stages` tries them
#: (highest priority first).
list_adapters = ADAPTERS.listed


def adapters() -> list[Adapter]:
    """Registered adapters, highest priority first (``[get_adapter(n) for n in list_adapters()]``)."""
    return [get_adapter(name) for name in list_adapters()]


def find_stages(model: nn.Module, adapter: Optional[str] = None, **options) -> tuple[str, list[str]]:
    """Module names of the stages of ``model`` and the adapter that found them.

    Args:
        model: any ``nn.Module``.
        adapter: force one adapter by name (default: first that applies).
        **options: adapter options (e.g. ``preset="blocks"``); adapters ignore what they don't use.

    Raises:
        ReprobeError: no adapter found stages (the message says how to name them).
    """
    named = getattr(model, "reprobe_stages", None)
    if named and adapter is None:
        _check_options_used(model, "reprobe_stages", None, options)
        return "reprobe_stages", list(named)
    candidates = ADAPTERS.by_priority() if adapter is None else [(adapter, ADAPTERS.get(adapter))]
    for name, find in candidates:
        names = find(model, **options)
        if names:
            _check_options_used(model, name, find, options)
            return name, list(names)
    raise ReprobeError(f"could not find the stages of {type(model).__name__} automatically; {HOW_TO_NAME_STAGES}")


def _check_options_used(model: nn.Module, adapter: str, find: Optional[StageFinder], options: dict) -> None:
    """An option such as ``preset`` that the chosen adapter does not take would be ignored (and
    still recorded with the run): refuse it, naming the adapters that do take it."""
    import inspect

    takes = set() if find is None else set(inspect.signature(find).parameters)
    for key, value in options.items():
        if value is None or key in takes:
            continue
        users = sorted(name for name, find in ADAPTERS.items() if key in inspect.signature(find).parameters)
        source = ("the model names its own stages (reprobe_stages)" if adapter == "reprobe_stages"
                  else f"its stages come from the adapter {adapter!r}, which has no {key}s")
        raise ReprobeError(
            f"{key} {value!r} does not apply to {type(model).__name__}: {source}; {key}s exist for the adapters "
            f"{', '.join(users) or 'none'} (see `reprobe list adapters`)")

"""Registries for per-stage metrics and cutoff detectors.

A *metric* takes ``(original, reconstruction)`` — two tensors of shape ``(N, ...)`` holding the
held-out inputs and their reconstructions from one stage — and returns one float for that stage.
A *cutoff detector* takes the per-stage values of one metric (stage 1 … L, in order) and returns
the cutoff ℓ* as a 1-based stage index (ℓ* = L: information reaches the end).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

import torch

from ..core.registry import Registry

MetricFn = Callable[[torch.Tensor, torch.Tensor], float]
CutoffFn = Callable[..., Optional[int]]


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric.

    Attributes:
        name: registry name.
        fn: ``fn(original, reconstruction) -> float``.
        higher_is_more_information: True when larger values mean *more* of the input survived
            (differential entropy), False when larger values mean *more* was lost (relative
            entropy, MSE). Reports use it to rank models and to word explanations.
    """

    name: str
    fn: MetricFn
    higher_is_more_information: bool

    def __call__(self, original: torch.Tensor, reconstruction: torch.Tensor) -> float:
        return float(self.fn(original, reconstruction))


METRICS: Registry[MetricSpec] = Registry("metric")
CUTOFFS: Registry[CutoffFn] = Registry("cutoff detector")


def register_metric(name: str, *, higher_is_more_information: bool = False, help: str = ""):
    """Decorator that registers ``fn(original, reconstruction) -> float`` as metric ``name``.

    Example:
        >>> import reprobe.metrics as rm
        >>> @rm.register_metric("l1")
        ... def l1(original, reconstruction):
        ...     return (original - reconstruction).abs().mean().item()

    Args:
        name: the name used by ``get_metric(name)``, ``CascadeProbe(metrics=[...])`` and ``--metric``.
        higher_is_more_information: see :class:`MetricSpec`.
        help: one-line description for ``reprobe list metrics`` (defaults to the docstring).
    """

    return METRICS.decorator(name, lambda fn, doc: MetricSpec(name, fn, higher_is_more_information), help=help)


#: ``get_metric(name)``: the metric registered as ``name``, callable as ``get_metric(name)(original,
#: reconstruction)``; an unknown name raises a :class:`ReprobeError` listing the valid ones.
get_metric = METRICS.get
#: ``list_metrics()``: the names of all registered metrics, in registration order.
list_metrics = METRICS.listed


#: Earlier names of :func:`get_metric` and :func:`list_metrics`, kept for callers of the public API.
get, available = get_metric, list_metrics


def register_cutoff(name: str, *, help: str = ""):
    """Decorator that registers ``fn(values, **options) -> int | None`` as cutoff detector ``name``.

    ``values`` is the per-stage metric curve (stage 1 first). Return the cutoff as a 1-based stage
    index, or None when it cannot be decided (e.g. non-finite values at the end of the curve).
    Detectors receive every option the probe was given (``eta`` …) and must accept ``**kwargs``.
    """

    return CUTOFFS.decorator(name, help=help)


#: ``get_cutoff(name)``: the cutoff detector registered as ``name`` (unknown names: a :class:`ReprobeError`).
get_cutoff = CUTOFFS.get
#: ``list_cutoffs()``: the names of all registered cutoff detectors, in registration order.
list_cutoffs = CUTOFFS.listed


def compute_cutoff(name: str, values: Sequence[Optional[float]], **options) -> Optional[int]:
    """Run detector ``name`` on a metric curve; ``None`` entries are passed on as NaN."""
    clean = [float("nan") if v is None else float(v) for v in values]
    if not clean:
        return None
    return get_cutoff(name)(clean, **options)


def saturation_levels(x, names: Sequence[str]) -> Dict[str, Optional[float]]:
    """Each loss metric of the inputs ``x`` against their mean image (None where not finite, and for
    metrics where higher means more information, such as the differential entropy, which has no such level).

    Where a net has lost its input, every reconstruction is the same image, the decoders' intercept:
    the mean input. A per-stage curve of a loss metric therefore saturates at this level, and
    fixing the fitted asymptote there lets ξ̂ be read from short curves.
    """
    import math

    mean = x.mean(dim=0, keepdim=True).expand_as(x)
    out: Dict[str, Optional[float]] = {}
    for name in names:
        if get_metric(name).higher_is_more_information:
            out[name] = None
            continue
        v = float(get_metric(name)(x, mean))
        out[name] = v if math.isfinite(v) else None
    return out

"""Predictor registry: names → functions that score how trainable an untrained network is.

A predictor is a function ``fn(model, batch, **options) -> PredictorScore`` registered with
:func:`register_predictor`. ``batch`` is a :class:`Batch` (one batch of inputs, labels when the
data has them, and the original data for predictors that want more than one batch). The runner
(:func:`reprobe.predictors.score`) fills in the name, the direction and the time, and gives the
model back as it was (mode, ``requires_grad``, hooks, parameter values).

A predictor that does not apply to a model raises :class:`NotApplicable` with the reason; the
runner turns it into ``PredictorScore(applicable=False, score=None, reason="not applicable: …")``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, List, Optional, Sequence, Tuple

import torch

from ..core.errors import ReprobeError
from ..core.registry import Registry

__all__ = [
    "DIRECTIONS",
    "NEEDS",
    "Batch",
    "NotApplicable",
    "Predictor",
    "PredictorScore",
    "PREDICTORS",
    "register_predictor",
    "get_predictor",
    "list_predictors",
]

#: ``higher``: a higher score means more trainable; ``lower``: a lower one does.
DIRECTIONS = ("higher", "lower")
#: What a predictor may need: ``inputs`` (a batch of inputs), ``labels`` (their targets),
#: ``weights`` (only the model).
NEEDS = ("weights", "inputs", "labels")


class NotApplicable(Exception):
    """Raised by a predictor that does not apply to this model or data; the message is the reason."""


@dataclass
class Batch:
    """What a predictor gets to look at.

    Attributes:
        x: one batch of inputs (batch dimension first), or None when no data was given.
        y: the batch's labels, or None.
        data: the data as the caller gave it (a tensor, an ``(x, y)`` pair or a DataLoader).
    """

    x: Optional[torch.Tensor]
    y: Optional[torch.Tensor] = None
    data: Any = None


@dataclass(frozen=True)
class PredictorScore:
    """One predictor's verdict on one network.

    Attributes:
        name: the predictor.
        score: the number (None when not applicable or undefined; see ``reason``).
        direction: ``"higher"`` or ``"lower"``: which way is more trainable.
        per_stage: per-stage values (e.g. the partial Jacobian's χ per stage pair), or None.
        depth_scale: a depth in stages the predictor derives (e.g. ``1/|mean ln χ|``), or None.
        applicable: False when the predictor does not apply (then ``score`` is None).
        reason: why a value is missing, or what the score means when that is not obvious.
        seconds: wall time the predictor took.
    """

    name: str = ""
    score: Optional[float] = None
    direction: str = "higher"
    per_stage: Optional[List[Optional[float]]] = None
    depth_scale: Optional[float] = None
    applicable: bool = True
    reason: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """A JSON-safe dict: NaN and ±inf become None (``reason`` says why where it matters)."""
        d = asdict(self)
        d["score"] = _finite(d["score"])
        d["depth_scale"] = _finite(d["depth_scale"])
        if d["per_stage"] is not None:
            d["per_stage"] = [_finite(v) for v in d["per_stage"]]
        d["seconds"] = _finite(d["seconds"])
        return d


def _finite(v: Any) -> Optional[float]:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


PredictorFn = Callable[..., PredictorScore]


@dataclass(frozen=True)
class Predictor:
    """A registered predictor.

    Attributes:
        name: registry name.
        fn: ``fn(model, batch, **options) -> PredictorScore``.
        direction: which way is more trainable (:data:`DIRECTIONS`).
        needs: what it reads (:data:`NEEDS`).
        help: one line for listings.
    """

    name: str
    fn: PredictorFn
    direction: str = "higher"
    needs: Tuple[str, ...] = ("inputs",)
    help: str = ""

    def __call__(self, model, batch: Batch, **options) -> PredictorScore:
        return self.fn(model, batch, **options)


PREDICTORS: Registry[Predictor] = Registry("predictor")


def register_predictor(name: str, *, direction: str = "higher", needs: Sequence[str] = ("inputs",), help: str = ""):
    """Decorator registering ``fn(model, batch, **options) -> PredictorScore`` as predictor ``name``.

    Args:
        name: the registry name.
        direction: ``"higher"`` (default) when a higher score means more trainable, else ``"lower"``.
        needs: any of ``"weights"``, ``"inputs"``, ``"labels"``; the runner answers "not applicable"
            when the data lacks what the predictor needs.
        help: one line (default: the first line of the docstring).
    """
    if direction not in DIRECTIONS:
        raise ReprobeError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    needs = tuple(needs)
    bad = [n for n in needs if n not in NEEDS]
    if bad:
        raise ReprobeError(f"unknown needs {bad}; valid: {', '.join(NEEDS)}")

    return PREDICTORS.decorator(name, lambda fn, doc: Predictor(name, fn, direction, needs, doc), help=help)


#: ``get_predictor(name)``: the predictor called ``name``; unknown names raise a one-line
#: :class:`ReprobeError` listing the valid ones.
get_predictor = PREDICTORS.get
#: ``list_predictors()``: every registered predictor name, in registration order.
list_predictors = PREDICTORS.listed


def finish(result: PredictorScore, **changes: Any) -> PredictorScore:
    """``result`` with fields replaced (used by the runner)."""
    return replace(result, **changes)

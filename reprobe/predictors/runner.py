"""Run predictors on a model and one batch, giving the model back exactly as it was.

:func:`score` is the one entry point: it takes one batch of ``data``, and for each name calls the
predictor inside :func:`~reprobe.probe.state.restored` (the probe's own toolkit), which saves and restores

* the train/eval mode of every module,
* every parameter's ``requires_grad`` and ``.grad``,
* every parameter's and buffer's value (predictors that change weights, like synflow, work on a
  copy; the snapshot is the safety net, also when a predictor raises),
* the hooks: any forward, pre-forward or backward hook a predictor added is removed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Dict, Optional, Sequence, Union

import torch
import torch.nn as nn

from ..core.errors import ReprobeError
from ..probe.state import model_device, restored
from .registry import Batch, NotApplicable, PredictorScore, finish, get_predictor

__all__ = ["BATCH_SIZE", "score", "restored", "one_batch"]

#: Rows of the one batch the predictors see when ``data`` is a tensor or a Dataset (a DataLoader's
#: first batch is used as it comes; zero-cost-nas and NASWOT use 64–128).
BATCH_SIZE = 64

def one_batch(data: Any, batch_size: int = BATCH_SIZE) -> Batch:
    """The first batch of ``data``: a tensor ``x``, an ``(x, y)`` pair, a Dataset or a DataLoader.

    Tensors and pairs are cut to their first ``batch_size`` rows; a DataLoader's first batch is
    taken as it is; a Dataset's first ``batch_size`` items are stacked.
    """
    if data is None:
        return Batch(None, None, None)
    x, y = None, None
    if isinstance(data, torch.Tensor):
        x = data[:batch_size]
    elif isinstance(data, (tuple, list)) and data and isinstance(data[0], torch.Tensor):
        x = data[0][:batch_size]
        if len(data) > 1 and isinstance(data[1], torch.Tensor):
            y = data[1][:batch_size]
    elif isinstance(data, torch.utils.data.DataLoader):
        first = next(iter(data), None)
        if first is None:
            raise ReprobeError("the data loader is empty; give at least one batch")
        if isinstance(first, torch.Tensor):
            x = first
        elif isinstance(first, (tuple, list)) and first and isinstance(first[0], torch.Tensor):
            x = first[0]
            y = first[1] if len(first) > 1 and isinstance(first[1], torch.Tensor) else None
    elif isinstance(data, torch.utils.data.Dataset):
        items = [data[i] for i in range(min(batch_size, len(data)))]  # type: ignore[arg-type]
        if items and isinstance(items[0], (tuple, list)):
            x = torch.stack([torch.as_tensor(it[0]) for it in items])
            y = torch.as_tensor([int(it[1]) for it in items])
        elif items:
            x = torch.stack([torch.as_tensor(it) for it in items])
    if x is None:
        raise ReprobeError(f"predictors need a tensor, an (x, y) pair, a Dataset or a DataLoader, got {type(data).__name__}")
    if x.dtype == torch.bool:
        x = x.float()
    return Batch(x, y, data)


def score(model: nn.Module, data: Any = None, names: Union[str, Sequence[str]] = ("params",), *,
          batch_size: int = BATCH_SIZE, options: Optional[Mapping[str, Mapping[str, Any]]] = None,
          restore_values: bool = True) -> Dict[str, PredictorScore]:
    """Score ``model`` with each predictor in ``names`` on one batch of ``data``.

    Args:
        model: the untrained network.
        data: a tensor of inputs, an ``(x, y)`` pair, a Dataset or a DataLoader; one batch is used
            (the loader's first, or the first ``batch_size`` rows), except by ``reconstruction``,
            which fits its decoders on part of all of ``data`` and measures on inputs it held out
            (as :func:`reprobe.check`). Predictors that need labels answer "not applicable" without them.
        names: predictor names (see ``reprobe.predictors.list_predictors()``).
        batch_size: rows of the batch cut from a tensor or a Dataset (default :data:`BATCH_SIZE`).
        options: predictor name → keyword options for it.
        restore_values: snapshot the weights and copy them back after each predictor.

    Returns:
        name → :class:`PredictorScore`, in the order given.

    Raises:
        ReprobeError: an unknown predictor name (checked before anything runs), or unusable data.
    """
    if isinstance(names, str):
        names = [names]
    predictors = [get_predictor(n) for n in names]  # unknown names fail before any work
    options = dict(options or {})
    unknown = [k for k in options if k not in names]
    if unknown:
        raise ReprobeError(f"options given for predictor(s) {', '.join(map(repr, unknown))} that are not run")
    batch = one_batch(data, batch_size)
    if batch.x is not None:
        device = model_device(model)
        batch = Batch(batch.x.to(device), None if batch.y is None else batch.y.to(device), data)
    out: Dict[str, PredictorScore] = {}
    for pred in predictors:
        start = time.perf_counter()
        missing = [n for n in pred.needs if (n == "inputs" and batch.x is None) or (n == "labels" and batch.y is None)]
        if missing:
            res = PredictorScore(applicable=False, reason=f"not applicable: needs {' and '.join(missing)}")
        else:
            try:
                with restored(model, values=restore_values):
                    res = pred(model, batch, **options.get(pred.name, {}))
            except NotApplicable as e:
                msg = str(e)
                res = PredictorScore(applicable=False, reason=msg if msg.startswith("not applicable") else f"not applicable: {msg}")
        if not res.applicable:
            res = finish(res, score=None)
        out[pred.name] = finish(res, name=pred.name, direction=pred.direction, seconds=time.perf_counter() - start)
    return out

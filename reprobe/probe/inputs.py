"""The probe's data helpers: inputs from a DataLoader, a Dataset or a tensor, as batches of ``x``.

Batches may be tensors, ``(x, y)`` pairs or dicts of tensors (keyword inputs, :mod:`.keyword_inputs`);
labels are dropped, boolean masks become floats and integer batches (token ids) stay as they are.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Iterator, List, Mapping, Optional, Tuple

import torch
from torch.utils.data import DataLoader, Dataset

from ..core.errors import ReprobeError
from .checks import ignored_batch_parts
from .keyword_inputs import KeywordBatch, ModelInput, concat, keyword_batch, pair_with_mask, whole_batch

#: Called with a note on the inputs (parts of a batch left unused), said once.
Note = Callable[[str], None]


def as_input(batch: Any, note: Optional[Note] = None) -> ModelInput:
    """The inputs of one batch: a tensor, the first item of an ``(x, y)`` pair, ``(ids, mask)`` as
    keyword inputs, or a dict of tensors; ``note`` hears of batch parts left unused."""
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise ReprobeError("got an empty batch")
        paired = pair_with_mask(batch)
        if paired is None:
            ignored = ignored_batch_parts(batch) if note is not None else None
            if ignored:
                note(ignored)
        batch = paired if paired is not None else batch[0]
    if isinstance(batch, Mapping):
        return keyword_batch(batch)
    if isinstance(batch, KeywordBatch):
        return batch
    if not isinstance(batch, torch.Tensor):
        raise ReprobeError(f"batches must be tensors, (x, y) pairs or dicts of tensors, got {type(batch).__name__}")
    # Integer batches (token ids) reach the model as they are; only masks become numbers.
    if batch.dtype == torch.bool:
        batch = batch.float()
    return batch


def embedded_input(stage_input: Optional[torch.Tensor], first_stage: str) -> torch.Tensor:
    """z⁰ of a token model: the first stage's input, which must be a float tensor."""
    if stage_input is None or not stage_input.is_floating_point():
        raise ReprobeError(
            f"the model takes integer inputs, so the cascade starts at the input of the first stage "
            f"({first_stage!r}), but that is not a float tensor; make the first stage a module that runs after "
            "the embedding"
        )
    return stage_input


def iter_inputs(data: Any, batch_size: int, shuffle: bool = False, seed: int = 0,
                note: Optional[Note] = None) -> Iterator[ModelInput]:
    """Batches of inputs from a tensor, keyword batch or Dataset (cut into ``batch_size`` rows,
    shuffled by ``seed``) or from any iterable of batches (a DataLoader, taken as it comes)."""
    data = whole_batch(data)
    if isinstance(data, (torch.Tensor, KeywordBatch)):
        if shuffle:
            data = data[torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))]
        for i in range(0, len(data), batch_size):
            yield as_input(data[i:i + batch_size])
        return
    if isinstance(data, Dataset) and not isinstance(data, DataLoader):
        gen = torch.Generator().manual_seed(seed)
        data = DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=gen)
    if not isinstance(data, Iterable):
        raise ReprobeError(f"expected a DataLoader, Dataset or tensor, got {type(data).__name__}")
    for batch in data:
        yield as_input(batch, note)


def rebatch(it: Iterator[torch.Tensor], min_rows: int) -> Iterator[torch.Tensor]:
    """Join consecutive batches until each has at least ``min_rows`` rows (the last may have fewer)."""
    if min_rows <= 0:
        yield from it
        return
    buf: List[torch.Tensor] = []
    rows = 0
    for x in it:
        buf.append(x)
        rows += x.shape[0]
        if rows >= min_rows:
            yield concat(buf)
            buf, rows = [], 0
    if buf:
        yield concat(buf)


def first_input(data: Any, batch_size: int) -> torch.Tensor:
    """The first batch of training inputs."""
    for x in iter_inputs(data, batch_size):
        return x
    raise ReprobeError("the training data is empty; give the probe at least one batch")


def take(data: Any, n: int, batch_size: int, note: Optional[Note] = None) -> ModelInput:
    """The first ``n`` inputs of the test data (fewer if it has fewer)."""
    xs, rows = [], 0
    for x in iter_inputs(data, max(batch_size, n), note=note):
        xs.append(x)
        rows += x.shape[0]
        if rows >= n:
            break
    if not xs:
        raise ReprobeError("the test data is empty; the probe needs held-out inputs to evaluate")
    return concat(xs)[:n]


def dataset_len(data: Any) -> Optional[int]:
    """How many inputs ``data`` holds, if it knows."""
    try:
        if isinstance(data, DataLoader):
            return len(data.dataset)  # type: ignore[arg-type]
        return len(data)
    except TypeError:
        return None


def finite_range(t: torch.Tensor) -> Tuple[float, float]:
    """(min, max) of the finite values of ``t``; (-inf, inf) when none is finite."""
    f = t[torch.isfinite(t)]
    if f.numel() == 0:
        return (-math.inf, math.inf)
    return (float(f.min()), float(f.max()))


def all_finite(z: torch.Tensor) -> bool:
    """Are all values finite? (The sum is, unless a value is not or the sum overflows: only then
    are the values checked one by one.)"""
    return math.isfinite(float(z.sum())) or bool(torch.isfinite(z).all())

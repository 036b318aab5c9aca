"""Probe a net on inputs held out from the fit, without using up anyone's randomness.

:func:`probe_held_out` splits the data itself (:func:`split_inputs`: a DatasetBundle's own splits,
else a seeded random split), fits a :class:`~reprobe.probe.CascadeProbe` on one part and measures on
the other. It is the one computation behind :func:`reprobe.check` and the ``reconstruction``
predictor (:func:`reprobe.predictors.score`), so the two never disagree.

Nothing of the caller's randomness is used up: torch's, NumPy's and Python's global random states
(CUDA's where CUDA is already initialised) and the generators of a DataLoader that is read are
restored afterwards (:func:`rng_kept`), so training after a probe is bit-for-bit the training
without it. Buffer values are copied back too; the probe itself restores mode, ``requires_grad``,
device and hooks.
"""

from __future__ import annotations

import contextlib
import random
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, Subset

from ..core.errors import ReprobeError, param
from ..data import DatasetBundle
from .inputs import as_input
from .probe import CascadeProbe
from .result import ProbeResult

__all__ = ["SAMPLES", "FIT_SAMPLES", "MIN_INPUTS", "probe_held_out", "split_inputs", "rng_kept", "buffers_kept"]

#: Held-out inputs measured by default (the paper's 100).
SAMPLES = 100
#: Inputs to fit on by default: what the closed-form decoders read at most (``ridge_samples``).
FIT_SAMPLES = 2048
#: Fewest inputs that can be split: 2 to fit on, 2 to measure.
MIN_INPUTS = 4


def probe_held_out(model: nn.Module, data: Any, *, samples: int = SAMPLES, fit_samples: Optional[int] = None,
                   seed: int = 0, stages: Any = None, batch_input: Optional[Callable[[Any], torch.Tensor]] = None,
                   **probe_options: Any) -> Tuple[ProbeResult, Dict[str, Any]]:
    """Fit a probe on part of ``data`` and evaluate it on ``samples`` inputs held out from the fit.

    Args:
        model: the network.
        data: a DataLoader, Dataset, tensor of inputs, ``(x, y)`` pair of tensors, or DatasetBundle.
            A DataLoader is read only as far as needed (``fit_samples + samples`` inputs).
        samples: held-out inputs to measure (fewer when the data is small: half of it, with a warning).
        fit_samples: at most this many inputs to fit on (default: ``ridge_samples`` if given, else 2048).
        seed: the split, the decoders' initialisation and shuffling.
        stages: the stages (module names, a type, …; default: found by the adapters), as ``CascadeProbe``.
        batch_input: how to get the model's input from one batch of a DataLoader (default: the
            batch, or its first element).
        **probe_options: more ``CascadeProbe`` options (``ridge``, ``device``, ``metrics``, ``progress`` …;
            ``progress`` defaults to False).

    Returns:
        (the result, with the split described in ``result.data`` and what was cut in ``result.warnings``;
        that description).

    Raises:
        ReprobeError: bad options, data with fewer than 4 inputs, a model whose stages cannot be found.
    """
    fit_samples = _fit_samples(fit_samples, probe_options)
    probe_options.setdefault("progress", False)
    with rng_kept(_generators(data)), buffers_kept(model):
        fit, held, info, notes = split_inputs(data, samples, fit_samples, seed, batch_input)
        with CascadeProbe(model, stages, samples=info["held_out"], seed=seed, **probe_options) as probe:
            result = probe.fit(fit).evaluate(held)
    result.warnings = list(probe.warnings) + [w for w in result.warnings if w not in probe.warnings] + notes
    result.data = info
    return result, info


def _fit_samples(fit_samples: Optional[int], probe_options: Dict[str, Any]) -> int:
    if fit_samples is None:
        ridge = probe_options.get("ridge_samples")
        return FIT_SAMPLES if ridge is None else int(ridge)
    if isinstance(fit_samples, bool) or not isinstance(fit_samples, int) or fit_samples < 2:
        raise ReprobeError(f"{param('fit_samples')} must be a whole number of at least 2, got {fit_samples!r}")
    return fit_samples


def split_inputs(data: Any, samples: int, fit_samples: int, seed: int = 0,
                 batch_input: Optional[Callable[[Any], torch.Tensor]] = None) -> Tuple[Any, Any, Dict[str, Any], List[str]]:
    """Split ``data`` into inputs to fit on and held-out inputs to measure, never the same ones.

    A DatasetBundle keeps its own splits (train: a seeded subset of ``fit_samples``; test: the first
    ``samples``). Anything else is split at random with its own seeded generator: ``samples`` held
    out (at most half of the inputs), up to ``fit_samples`` of the rest to fit on. A Dataset is split
    by index (no copy); a DataLoader or an IterableDataset is read, ``fit_samples + samples`` inputs
    at most, into one tensor.

    Args:
        data: a DatasetBundle, Dataset, DataLoader, tensor, or ``(x, y)`` pair of tensors.
        samples: held-out inputs wanted (at least 2).
        fit_samples: at most this many inputs to fit on.
        seed: the split's seed.
        batch_input: the model input of one loader batch (default: the batch or its first element).

    Returns:
        (fit data, held-out data, a description for ``result.data``, warnings about what was cut).
    """
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
        raise ReprobeError(f"{param('samples')} must be a whole number of at least 2, got {samples!r}")
    if isinstance(data, DatasetBundle):
        fit = data.train
        if fit_samples < len(fit):
            fit = Subset(fit, torch.randperm(len(fit), generator=torch.Generator().manual_seed(seed))[:fit_samples].tolist())
        held = min(samples, len(data.test))
        info = {**data.describe(), "fit_inputs": len(fit), "held_out": held, "split": "the bundle's train/test splits"}
        return fit, data.test, info, _cut(samples, held, len(data.test) + len(fit))
    if isinstance(data, (tuple, list)) and data and isinstance(data[0], torch.Tensor):
        data = data[0]
    if isinstance(data, Dataset) and not isinstance(data, IterableDataset):
        return _split_indexable(data, samples, fit_samples, seed, type(data).__name__)
    if isinstance(data, torch.Tensor):
        return _split_indexable(data, samples, fit_samples, seed, "tensor")
    x = _read_inputs(data, fit_samples + samples, batch_input)
    return _split_indexable(x, samples, fit_samples, seed, type(data).__name__)


def _split_indexable(data: Any, samples: int, fit_samples: int, seed: int, kind: str):
    n = len(data)
    if n < MIN_INPUTS:
        raise ReprobeError(f"a check needs at least {MIN_INPUTS} inputs (2 to fit on, 2 held out); the data has {n}")
    held = min(samples, n // 2)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    held_idx, fit_idx = order[:held], order[held:held + fit_samples]
    if isinstance(data, torch.Tensor):
        fit, test = data[fit_idx], data[held_idx]
    else:
        fit, test = Subset(data, fit_idx.tolist()), Subset(data, held_idx.tolist())
    info = {"name": kind, "inputs": n, "fit_inputs": len(fit_idx), "held_out": held,
            "split": f"seeded random split (seed {seed})"}
    return fit, test, info, _cut(samples, held, n)


def _cut(samples: int, held: int, n: int) -> List[str]:
    if held >= samples:
        return []
    return [f"samples={samples} asked for, but the data holds {n} inputs: {held} were held out and measured"]


def _read_inputs(data: Any, n: int, batch_input: Optional[Callable[[Any], torch.Tensor]]) -> torch.Tensor:
    """The first ``n`` model inputs of a DataLoader (or any iterable of batches), as one tensor."""
    if isinstance(data, IterableDataset):
        data = DataLoader(data, batch_size=64)
    if not isinstance(data, DataLoader) and not hasattr(data, "__iter__"):
        raise ReprobeError(f"check needs a DataLoader, Dataset, tensor or DatasetBundle, got {type(data).__name__}")
    xs, rows = [], 0
    for batch in data:
        if batch_input is None and isinstance(batch, Mapping):
            raise ReprobeError(f"the batches are dicts ({', '.join(map(str, list(batch)[:4]))}); pass "
                               f"{param('batch_input')}, a function from a batch to the model's input (lambda b: b[\"x\"])")
        x = batch_input(batch) if batch_input is not None else as_input(batch)
        if not isinstance(x, torch.Tensor):
            raise ReprobeError(f"{param('batch_input')} must return a tensor, got {type(x).__name__}")
        xs.append(x.detach().cpu())
        rows += x.shape[0]
        if rows >= n:
            break
    if not xs:
        raise ReprobeError("the data is empty; a check needs at least 4 inputs")
    return torch.cat(xs)[:n]


def _generators(data: Any) -> List[torch.Generator]:
    """The generators that reading ``data`` (a DataLoader) advances: its own, its sampler's."""
    if not isinstance(data, DataLoader):
        return []
    found = [getattr(data, "generator", None), getattr(data.sampler, "generator", None),
             getattr(getattr(data.batch_sampler, "sampler", None), "generator", None)]
    out: List[torch.Generator] = []
    for g in found:
        if isinstance(g, torch.Generator) and all(g is not o for o in out):
            out.append(g)
    return out


@contextlib.contextmanager
def rng_kept(generators: Sequence[torch.Generator] = ()) -> Iterator[None]:
    """Restore torch's, NumPy's and Python's global random states (CUDA's when initialised) and
    ``generators`` on exit, also when the block raises.

    Args:
        generators: more ``torch.Generator`` objects to restore (e.g. a DataLoader's).
    """
    cpu, np_state, py_state = torch.get_rng_state(), np.random.get_state(), random.getstate()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    gens = [(g, g.get_state()) for g in generators]
    try:
        yield
    finally:
        torch.set_rng_state(cpu)
        np.random.set_state(np_state)
        random.setstate(py_state)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        for g, state in gens:
            g.set_state(state)


@contextlib.contextmanager
def buffers_kept(model: nn.Module) -> Iterator[None]:
    """Copy every buffer's value back on exit (a forward may update running statistics). By name:
    moving a model between devices replaces its buffer tensors."""
    with torch.no_grad():
        saved = {name: b.detach().clone() for name, b in model.named_buffers()}
    try:
        yield
    finally:
        with torch.no_grad():
            for name, b in model.named_buffers():
                v = saved.get(name)
                if v is not None and b.shape == v.shape and not torch.equal(b, v.to(b.device)):
                    b.copy_(v)

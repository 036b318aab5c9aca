"""BatchNorm at initialisation: probe the net that training sees, not the identity map.

A freshly built net's BatchNorm layers hold untouched running statistics (mean 0, variance 1, no
batch tracked). The probe runs the net in eval mode, where those statistics make every BatchNorm
the identity: it would probe an unnormalised net that training never sees (training normalises
each batch), and its verdict would follow the input's scale. resnet18 at random weights went from
``marginal`` on raw [0, 1] inputs to ``trainable`` on ImageNet-normalised ones.

So, before fitting, the probe re-estimates those statistics on its own training inputs, as BN
recalibration does (reset, ``momentum=None`` for a cumulative average, forward passes with the
BatchNorm layers in train mode and no gradients), keeps them, and puts them into the model only
while it runs the model (:func:`using_statistics`). The model gets back its own buffers, momentum
and train/eval modes after every probe operation. BatchNorm layers that have tracked batches
(pretrained or trained models) keep their own statistics. ``recalibrate_bn=False`` turns this off.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

#: Inputs the running statistics are re-estimated on (a cumulative average over them). At 64² the
#: deepest ResNet stage is 2×2, so this gives each channel's variance over 1024 values.
RECALIBRATION_INPUTS = 256

Statistics = Dict[str, Tuple[torch.Tensor, torch.Tensor]]


def untouched_batchnorms(model: nn.Module) -> List[Tuple[str, _BatchNorm]]:
    """BatchNorm layers whose running statistics were never updated: mean 0, variance 1, 0 batches."""
    found = []
    for name, m in model.named_modules():
        if not (isinstance(m, _BatchNorm) and m.track_running_stats and m.running_mean is not None):
            continue
        tracked = m.num_batches_tracked
        if (tracked is None or int(tracked) == 0) and not bool(m.running_mean.any()) \
                and bool((m.running_var == 1).all()):
            found.append((name, m))
    return found


@contextlib.contextmanager
def _kept_state(layers: List[Tuple[str, _BatchNorm]]) -> Iterator[None]:
    """Give ``layers`` back their buffers, momentum and train/eval mode, whatever happens inside."""
    saved = [(m, {k: b.clone() for k, b in m.named_buffers(recurse=False) if b is not None}, m.momentum, m.training)
             for _, m in layers]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, buffers, momentum, training in saved:
                for k, b in buffers.items():
                    getattr(m, k).copy_(b)
                m.momentum = momentum
                m.train(training)


def estimate_statistics(model: nn.Module, batches: Iterable[torch.Tensor], run: Callable[[torch.Tensor], None],
                        max_inputs: int = RECALIBRATION_INPUTS) -> Tuple[Optional[Statistics], int]:
    """Running statistics of the model's untouched BatchNorm layers, re-estimated on ``batches``.

    Args:
        model: the net (the caller has put it in eval mode on its device; only the BatchNorm layers
            are switched to train mode here, so dropout stays off).
        batches: input batches (tensors).
        run: runs the model on one batch (the probe's own call, with its error messages).
        max_inputs: stop after this many inputs.

    Returns:
        (layer name → (running mean, running variance), inputs used), or (None, 0) when no layer is
        untouched. The model's own buffers, momentum and modes are back as they were.
    """
    layers = untouched_batchnorms(model)
    if not layers:
        return None, 0
    seen = 0
    with _kept_state(layers), torch.no_grad():
        for _, m in layers:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over all batches, not an exponential one
            m.train()
        for x in batches:
            x = x[: max_inputs - seen]
            run(x)
            seen += int(x.shape[0])
            if seen >= max_inputs:
                break
        stats = {name: (m.running_mean.clone(), m.running_var.clone()) for name, m in layers}
    return (stats if seen else None), seen


@contextlib.contextmanager
def using_statistics(model: nn.Module, stats: Optional[Statistics]) -> Iterator[None]:
    """Run the model with ``stats`` in its BatchNorm layers; its own buffers come back afterwards."""
    if not stats:
        yield
        return
    modules = dict(model.named_modules())
    layers = [(name, modules[name]) for name in stats]
    with _kept_state(layers):
        with torch.no_grad():
            for name, m in layers:
                mean, var = stats[name]
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
        yield

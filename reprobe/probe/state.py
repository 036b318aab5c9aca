"""Giving a model back as it was found: :func:`restored` and :func:`frozen`.

* :func:`restored` saves, and on exit (also when the block raises) restores, every module's train/eval
  mode, every parameter's ``requires_grad`` and ``.grad``, removes hooks added inside the block, and
  (``values=True``) copies back every parameter's and buffer's value. The predictors run in it.
* :func:`frozen` is :func:`restored` (without the value snapshot) around a model set up for
  probing: eval mode, ``requires_grad`` off, moved to the probe's device and moved back on exit,
  with re-estimated BatchNorm statistics swapped in when given (:mod:`.batchnorm`).
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import torch
import torch.nn as nn

from .batchnorm import Statistics, using_statistics

__all__ = ["frozen", "restored", "model_device"]

_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
               "_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_forward_pre_hooks_with_kwargs",
               "_state_dict_hooks", "_load_state_dict_pre_hooks")


def model_device(model: nn.Module) -> torch.device:
    """Where the model lives: the device of its first parameter (or buffer); cpu for neither."""
    first = next(model.parameters(), None)
    if first is None:
        first = next(model.buffers(), None)
    return first.device if first is not None else torch.device("cpu")


@contextlib.contextmanager
def restored(model: nn.Module, *, values: bool = True) -> Iterator[nn.Module]:
    """Give ``model`` back as it was on exit, also when the block raises.

    Restores every module's ``training`` flag, every parameter's ``requires_grad`` and ``.grad``,
    removes hooks added to any module inside the block, and (``values=True``) copies back every
    parameter's and buffer's value from a snapshot taken at entry.

    Args:
        model: the network.
        values: snapshot and restore parameter/buffer values (costs one copy of the weights).
    """
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad, p.grad) for p in model.parameters()]
    hooks = [(m, {k: set(getattr(m, k).keys()) for k in _HOOK_DICTS if hasattr(m, k)}) for m in model.modules()]
    snapshot = None
    if values:
        with torch.no_grad():
            snapshot = [(t, t.detach().clone()) for t in list(model.parameters()) + list(model.buffers())]
    try:
        yield model
    finally:
        for m, before in hooks:
            for k, keys in before.items():
                d = getattr(m, k)
                for key in [key for key in d.keys() if key not in keys]:
                    del d[key]
        for m, was in modes:
            m.training = was
        for p, flag, grad in flags:
            p.requires_grad_(flag)
            p.grad = grad
        if snapshot is not None:
            with torch.no_grad():
                for t, v in snapshot:
                    if t.shape == v.shape and not torch.equal(t, v):
                        t.copy_(v)


@contextlib.contextmanager
def frozen(model: nn.Module, device: torch.device, statistics: Optional[Statistics] = None) -> Iterator[nn.Module]:
    """``model`` in eval mode with ``requires_grad`` off, on ``device``, running with the BatchNorm
    ``statistics`` if given; on exit (also when the block raises) back on its own device with its own
    modes, flags, hooks and BatchNorm buffers (:func:`restored`)."""
    home = model_device(model)
    with restored(model, values=False):
        try:
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            if home != device:
                model.to(device)
            with using_statistics(model, statistics):
                yield model
        finally:
            if home != device:
                model.to(home)

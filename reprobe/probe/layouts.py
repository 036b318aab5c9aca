"""Which axis of a stage's 4-D output holds the channels: channel-first (N, C, H, W) or channel-last (N, H, W, C).

Swin and other timm models hand on channel-last maps between blocks. Read as C×H×W they are
nonsense to a convolutional decoder (its "channels" are image rows), and stage 1 cannot be
reconstructed. The probe therefore decides each stage's layout from evidence, and turns
channel-last outputs to channel-first before any decoder sees them (decoders map each stage to the
one before it, both channel-first, so nothing has to be turned back).

The evidence, in order:

1. **The dry run's dataflow.** The last layer with a known feature count that ran before the stage
   finished (a conv's ``out_channels``, a Linear's ``out_features``, a norm's feature count) says how
   many channels the stage carries; the axis of that size is the channel axis. This tells a Swin
   block (its MLP ends in ``Linear(·, 96)``, output (16, 16, 96)) from a ConvNeXt block (a Linear too,
   but the output is permuted back: (96, 16, 16)).
2. **The model's own metadata,** when both axes have that size (C = W): timm's ``output_fmt``
   (``"NHWC"`` for Swin).
3. Otherwise channel-first, the PyTorch convention.
"""

from __future__ import annotations

import contextlib
from typing import Dict, Iterator, Optional, Tuple

import torch
import torch.nn as nn

CHANNEL_FIRST = "NCHW"
CHANNEL_LAST = "NHWC"


def feature_count(module: nn.Module) -> Optional[int]:
    """How many channels (features) a layer's output carries, or None for layers that keep their input's."""
    if isinstance(module, nn.Linear):
        return int(module.out_features)
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)):
        return int(module.out_channels)
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
        return int(module.num_features)
    if isinstance(module, nn.GroupNorm):
        return int(module.num_channels)
    if isinstance(module, nn.LayerNorm) and module.normalized_shape:
        return int(module.normalized_shape[-1])
    return None


class LastLayerTrace:
    """During one forward: for each stage module, the feature count of the last layer (with a known
    count) that had run when the stage finished, from hooks on every leaf module.

    Use as a context manager around the dry run's forward; the hooks are removed on exit.
    """

    def __init__(self, model: nn.Module, stage_modules: Dict[str, nn.Module]):
        self.model = model
        self.stage_modules = stage_modules
        self.features: Dict[str, int] = {}
        self._last: Optional[int] = None
        self._handles: list = []

    def __enter__(self) -> "LastLayerTrace":
        for m in self.model.modules():
            if feature_count(m) is not None:
                self._handles.append(m.register_forward_hook(self._note_layer))
        for name, m in self.stage_modules.items():
            self._handles.append(m.register_forward_hook(self._stage_hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _note_layer(self, module: nn.Module, inputs, output) -> None:
        self._last = feature_count(module)

    def _stage_hook(self, name: str):
        def hook(module: nn.Module, inputs, output) -> None:
            # a stage that is itself a counted layer ran its own hook first (registered earlier)
            if name not in self.features and self._last is not None:
                self.features[name] = self._last
        return hook


def model_output_format(model: nn.Module) -> Optional[str]:
    """The layout the model declares for its feature maps (timm's ``output_fmt``), if any."""
    fmt = getattr(model, "output_fmt", None)
    fmt = getattr(fmt, "name", fmt)  # timm's Format enum or a plain string
    return fmt if fmt in (CHANNEL_FIRST, CHANNEL_LAST) else None


def stage_layout(shape: Tuple[int, ...], channels: Optional[int], declared: Optional[str]) -> Optional[str]:
    """The layout of one stage's output of ``shape`` (no batch axis); None for outputs that are not 3-D maps.

    Args:
        shape: the stage output's shape without the batch axis.
        channels: the feature count of the last layer that ran before it (:class:`LastLayerTrace`).
        declared: the model's declared format (:func:`model_output_format`).
    """
    if len(shape) != 3:
        return None
    first, last = channels is not None and shape[0] == channels, channels is not None and shape[-1] == channels
    if last and not first:
        return CHANNEL_LAST
    if first and not last:
        return CHANNEL_FIRST
    return declared or CHANNEL_FIRST


def to_channel_first(z: torch.Tensor, layout: Optional[str]) -> torch.Tensor:
    """``z`` (N, H, W, C) as (N, C, H, W) when ``layout`` is channel-last; otherwise ``z`` itself."""
    if layout == CHANNEL_LAST:
        return z.permute(0, 3, 1, 2).contiguous()
    return z


@contextlib.contextmanager
def tracing_last_layers(model: nn.Module, stage_modules: Dict[str, nn.Module]) -> Iterator[LastLayerTrace]:
    """:class:`LastLayerTrace` as a ``with`` block (hooks removed even when the forward raises)."""
    trace = LastLayerTrace(model, stage_modules)
    with trace:
        yield trace

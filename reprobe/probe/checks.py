"""Checks on what a user hands the probe: the model, its inputs, and stage activations.

Each check raises one :class:`ReprobeError` that names the argument at fault and the real cause:
a dtype, a device, or a shape mismatch between model and inputs are told apart, because the fix
differs (``model.float()``, ``model.to(...)``, reshaping the data). Notes (:func:`ignored_batch_parts`)
say what the probe changed or left out of its input, once, without stopping it.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..core.errors import ReprobeError, param

#: The dtype the decoders fit and reconstruct in; stage outputs of another float dtype cannot feed them.
DECODER_DTYPE = torch.float32


def _shape(t: torch.Tensor) -> str:
    return "×".join(map(str, t.shape)) if t.dim() else "a scalar"


def model_devices(model: nn.Module) -> set:
    """The devices the model's parameters and buffers live on."""
    return {t.device for t in list(model.parameters()) + list(model.buffers())}


def check_model(model: nn.Module) -> None:
    """The model has real weights on one device (the probe moves it whole, and back)."""
    devices = model_devices(model)
    if any(d.type == "meta" for d in devices):
        raise ReprobeError(
            f"{param('model')} ({type(model).__name__}) has parameters on the meta device (shapes without data), so "
            "it cannot run; materialise it first (model.to_empty(device='cpu') then initialise or load weights)")
    if len(devices) > 1:
        shown = ", ".join(sorted(str(d) for d in devices))
        raise ReprobeError(
            f"{param('model')} ({type(model).__name__}) has parameters on several devices ({shown}); the probe runs "
            "the model on one device: move it there whole (model.to(device)) before probing")


def check_tensor(x: Any, argument: str) -> None:
    """A tensor handed to the probe holds data (a meta tensor has a shape and nothing else)."""
    if isinstance(x, torch.Tensor) and x.device.type == "meta":
        raise ReprobeError(f"{param(argument)} is a meta tensor (shape {_shape(x)}, no data); give a tensor with values")


def check_input_shape(x: torch.Tensor, fitted_shape: Optional[Sequence[int]], argument: str) -> torch.Tensor:
    """``x``, when it has the shape the probe was fitted on (float inputs; token ids may vary)."""
    if fitted_shape is None or not x.is_floating_point() or tuple(x.shape[1:]) == tuple(fitted_shape):
        return x
    raise ReprobeError(
        f"{param(argument)} has inputs of shape {'×'.join(map(str, x.shape[1:]))} (batch first), but the probe was "
        f"fitted on inputs of shape {'×'.join(map(str, fitted_shape))}; give inputs of the fitted shape, or fit a new "
        "probe on these")


def check_stage_input(z: Any, stage_shape: Optional[Sequence[int]], stage: str) -> None:
    """``z`` can go down the cascade from ``stage``: a float tensor of the stage's shape, batch first."""
    if not isinstance(z, torch.Tensor):
        raise ReprobeError(f"{param('z')} must be a tensor of stage {stage}'s outputs, got {type(z).__name__}")
    check_tensor(z, "z")
    if not z.is_floating_point():
        raise ReprobeError(f"{param('z')} has dtype {z.dtype}; the decoders take float activations (z.float())")
    if stage_shape is not None and tuple(z.shape[1:]) != tuple(stage_shape):
        want = "×".join(map(str, stage_shape))
        raise ReprobeError(
            f"{param('z')} has shape {_shape(z)}, but stage {stage} outputs N×{want}; give a batch of that stage's "
            f"outputs, shape (N, {', '.join(map(str, stage_shape))})")


def check_decodable(outputs: Iterable[Tuple[Optional[str], torch.Tensor]]) -> None:
    """Inputs (name None) and stage outputs the float32 decoders can fit: half precision (or double) cannot."""
    for name, out in outputs:
        if out.is_floating_point() and out.dtype != DECODER_DTYPE:
            what = "the inputs are" if name is None else f"stage {name!r} outputs"
            raise ReprobeError(
                f"{what} {str(out.dtype).replace('torch.', '')}; the probe's decoders fit in float32: probe a float32 "
                "copy of the model (model.float()) with float32 inputs (x.float())")


def model_failure(model: nn.Module, x: torch.Tensor, error: Exception) -> ReprobeError:
    """The one-line error for a model that failed on the probe's inputs ``x``, naming the real cause."""
    first = " ".join(str(error).split())[:300]
    raw = f"({type(error).__name__}: {first})"
    name = type(model).__name__
    devices = model_devices(model)
    if (devices and x.device not in devices) or "same device" in first or "device type" in first:
        shown = ", ".join(sorted(str(d) for d in devices))
        return ReprobeError(f"{name} failed: its weights are on {shown} and the inputs on {x.device} {raw}; put model "
                            f"and inputs on one device (the probe's {param('device')} setting)")
    if x.dim() == 1:
        return ReprobeError(f"{name} failed on inputs of shape {_shape(x)} {raw}; these look like labels: batches are "
                            "x or (x, y) pairs with the input first")
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    if _dtype_mismatch(model, x, first, dtypes):
        weights = "/".join(sorted(str(d).replace("torch.", "") for d in dtypes)) or "float"
        given = str(x.dtype).replace("torch.", "")
        fix = ("integer inputs go to the model as token ids, so give images as floats (x.float() / 255 for uint8 "
               "pixels)" if not x.is_floating_point() else
               "the probe fits in float32: probe model.float() with float32 inputs (x.float())")
        return ReprobeError(f"{name} failed on {given} inputs: its weights are {weights} {raw}; {fix}")
    return ReprobeError(f"{name} failed on inputs of shape {_shape(x)} {raw}; give inputs of the shape the model "
                        "expects (batch first)")


def _dtype_mismatch(model: nn.Module, x: torch.Tensor, message: str, dtypes: set) -> bool:
    """Whether a model's failure on ``x`` comes from the dtypes of inputs and weights, not the shape."""
    if any(s in message for s in ("dtype", "scalar type", "Input type")):
        return True
    if x.is_floating_point():
        return bool(dtypes) and x.dtype not in dtypes
    return x.dtype != torch.bool and not any(isinstance(m, nn.Embedding) for m in model.modules())


def _label_like(part: Any, rows: int) -> bool:
    """A batch element that reads as class labels: integers, one per input."""
    if isinstance(part, torch.Tensor):
        return part.dim() <= 1 and not part.is_floating_point() and (part.dim() == 0 or part.shape[0] == rows)
    return isinstance(part, (list, tuple)) and len(part) == rows and all(isinstance(v, int) for v in part)


def ignored_batch_parts(batch: Any) -> Optional[str]:
    """A note when a tuple batch carries more than ``(x, labels)``: the probe reads only its first element."""
    if not isinstance(batch, (tuple, list)) or len(batch) < 2 or not isinstance(batch[0], torch.Tensor):
        return None
    rows = batch[0].shape[0] if batch[0].dim() else 0
    if len(batch) == 2 and _label_like(batch[1], rows):
        return None  # (x, y): y is a label, as documented
    kinds = ", ".join(_describe(p) for p in batch[1:])
    return (f"batches are tuples of {len(batch)}: the probe reads the first element (shape {_shape(batch[0])}) as the "
            f"input and ignores the rest ({kinds}); put the input first if it is another one")


def _describe(part: Any) -> str:
    if isinstance(part, torch.Tensor):
        return f"{str(part.dtype).replace('torch.', '')} {_shape(part)}"
    return type(part).__name__

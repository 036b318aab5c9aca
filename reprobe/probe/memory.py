"""A memory estimate of a probe run, checked before anything big is allocated.

``--depth 1000000`` or ``--width 10000000`` would otherwise fail minutes later with an allocation
error, or take the machine down. For reprobe's own families (mlp, cnn, resnet) the sizes of the
model, the decoders, the fit statistics and the evaluation follow from the options alone, so the
estimate comes before the model is built. It is rough (float32 tensors, the largest buffers
only): it is there to stop runs that cannot fit, not to budget ones that might.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..core.errors import ReprobeError
from .decoders import DecoderSize

Shape = Tuple[int, ...]
FLOAT = 4  # bytes


@dataclass
class ModelSize:
    """What the estimate needs of a model: its parameter count and stage output shapes."""

    parameters: int
    stages: List[Shape]
    input_shape: Shape
    size_options: Tuple[str, ...]  # the options that make it big, e.g. ("depth", "width")
    stage_types: Optional[List[str]] = None  # class names of the stage modules, where known (they choose decoders)


def _mlp_size(input_shape: Shape, num_classes: int, opts: Mapping[str, Any]) -> ModelSize:
    from ..models.mlp import layer_widths

    n_in = math.prod(input_shape)
    widths = layer_widths(int(opts.get("depth", 50)), int(opts.get("width") or n_in), n_in, num_classes,
                          opts.get("shape") or "wide")
    params = sum((a + 1) * b for a, b in zip([n_in] + widths[:-1], widths))
    return ModelSize(params, [(w,) for w in widths], (n_in,), ("depth", "width"))


def _conv_size(residual: bool) -> Callable[[Shape, int, Mapping[str, Any]], ModelSize]:
    def size(input_shape: Shape, num_classes: int, opts: Mapping[str, Any]) -> Optional[ModelSize]:
        if len(input_shape) != 3:
            return None  # the builder explains the error
        c_in, h, w = input_shape
        depth, ch = int(opts.get("depth", 10)), int(opts.get("channels") or 32)
        k2 = int(opts.get("kernel", 3)) ** 2
        convs = depth * 2 + 1 if residual else depth  # resnet: a stem and two convs per block
        params = c_in * ch * k2 + (convs - 1) * ch * ch * k2 + (ch + 1) * num_classes
        stages = [(ch, h, w)] * (depth + (1 if residual else 0)) + [(num_classes,)]
        return ModelSize(params, stages, (c_in, h, w), ("depth", "channels", "image_size"))

    return size


#: Models whose size follows from their options (others are sized after they are built).
ESTIMATORS: Dict[str, Callable[..., Optional[ModelSize]]] = {
    "mlp": _mlp_size, "cnn": _conv_size(False), "resnet": _conv_size(True)}


def _decoder_sizes(size: ModelSize, kernel: Optional[int]) -> List[DecoderSize]:
    """Each stage's decoder size, as the decoder registry answers it for the stage's shapes and the
    probe's ``decoder_kernel`` (None: the decoders' default), once per distinct pair of shapes (a
    deep net repeats the same few)."""
    from .decoders import DecoderSpec, decoder_size

    shapes = [size.input_shape] + list(size.stages)
    types = size.stage_types or [""] * len(size.stages)
    known: Dict[Tuple[Shape, Shape, str], DecoderSize] = {}
    out = []
    for index, (inp, target, stage_type) in enumerate(zip(shapes[1:], shapes[:-1], types), start=1):
        key = (tuple(inp), tuple(target), stage_type)  # each decoder maps a stage back to its input
        if key not in known:
            options = {} if kernel is None else {"kernel": int(kernel)}
            known[key] = decoder_size(DecoderSpec(key[0], key[1], stage_type=stage_type, index=index, **options))
        out.append(known[key])
    return out


def probe_bytes(size: ModelSize, probe: Mapping[str, Any], test_inputs: Optional[int] = None) -> Dict[str, float]:
    """Bytes by part: model, decoders (with optimizer state), statistics, fit activations, evaluation.

    The decoders are the ones the decoder registry chooses for each stage (with the probe's
    ``decoder_kernel``), sized by themselves (:func:`reprobe.probe.decoders.decoder_size`).
    """
    from .fitting import MAX_CLOSED_FORM_BYTES, MAX_CLOSED_FORM_FEATURES

    from .config import ProbeConfig

    default = ProbeConfig()
    fit = probe.get("fit", default.fit)
    batch = int(probe.get("batch_size", default.batch_size))
    samples = int(probe.get("samples", default.samples))
    if test_inputs is not None:
        samples = min(samples, test_inputs)
    shapes = [size.input_shape] + list(size.stages)
    decoders = stats = 0.0
    gradient = fit != "ridge"
    for dec in _decoder_sizes(size, probe.get("decoder_kernel")):
        decoders += dec.parameters
        if fit == "ridge" and dec.features is not None and dec.features <= MAX_CLOSED_FORM_FEATURES:
            stats += (dec.features + 1) * (dec.features + 1 + dec.targets)
        else:
            gradient = True
    stats_bytes = min(FLOAT * stats, MAX_CLOSED_FORM_BYTES)
    rows = batch if gradient else max(batch, 1024)
    per_input = sum(math.prod(s) for s in shapes)
    return {
        "model": FLOAT * size.parameters,
        "decoders": FLOAT * decoders * (3 if gradient else 1),  # weights, gradients, Adam moments
        "fit statistics": stats_bytes,
        "fit activations": FLOAT * 2 * rows * per_input,  # stage outputs and the hooks' copies
        "evaluation": FLOAT * (len(shapes) * samples * math.prod(size.input_shape) + samples * per_input),
    }


def available_bytes() -> Optional[int]:
    """Memory this process could still get (MemAvailable on Linux), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _gpu_free_bytes(device: str) -> Optional[int]:
    from .config import resolve_device

    dev = resolve_device(device)
    if dev.type != "cuda":
        return None
    import torch

    return int(torch.cuda.mem_get_info(dev)[0])


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.3g} PB"


_PART_OPTIONS = {"fit activations": ("batch_size",), "evaluation": ("samples",)}


def check_model_memory(model: str, bundle, model_options: Mapping[str, Any], probe_options: Mapping[str, Any],
                       names: Optional[Mapping[str, str]] = None) -> Optional[Dict[str, float]]:
    """Refuse a run of ``model`` on ``bundle`` whose estimate exceeds the memory available.

    Only models in :data:`ESTIMATORS` are checked (others: returns None). ``names`` maps option
    names to how the caller spells them (the CLI: ``{"depth": "--depth", …}``).

    Raises:
        ReprobeError: the estimate is larger than the available RAM (or the GPU's free memory),
            naming the options to lower.
    """
    estimator = ESTIMATORS.get(model)
    if estimator is None:
        return None
    shape = tuple(bundle.input_shape)
    try:
        size_opt = model_options.get("image_size")
        if size_opt and len(shape) == 3:  # the run resizes images to it
            h, w = (size_opt, size_opt) if isinstance(size_opt, (int, float)) else tuple(size_opt)[-2:]
            shape = (shape[0], int(h), int(w))
        size = estimator(shape, int(bundle.num_classes), model_options)
    except (TypeError, ValueError, ReprobeError):
        return None  # options the builder will refuse, in its own words
    if size is None:
        return None
    parts = probe_bytes(size, probe_options, len(bundle.test))
    _check(parts, available_bytes(), "memory", size, names)
    gpu = _gpu_free_bytes(str(probe_options.get("device", "auto")))
    if gpu is not None:
        _check({k: v for k, v in parts.items() if k != "evaluation"}, gpu, "GPU memory", size, names)
    return parts


def _check(parts: Dict[str, float], available: Optional[int], what: str, size: ModelSize,
           names: Optional[Mapping[str, str]]) -> None:
    total = sum(parts.values())
    if available is None or total <= available:
        return
    names = names or {}
    biggest = sorted(parts, key=parts.get, reverse=True)
    shown = ", ".join(f"{k} {fmt_bytes(parts[k])}" for k in biggest if parts[k] >= total / 100)
    lower = " or ".join(names.get(o, o) for o in size.size_options)
    extra = _PART_OPTIONS.get(biggest[0])
    if extra:
        lower += " (or " + " or ".join(names.get(o, o) for o in extra) + ")"
    raise ReprobeError(f"this probe needs about {fmt_bytes(total)} of {what} ({shown}), but "
                       f"{fmt_bytes(available)} is available; lower {lower}")


def check_probe_memory(probe, test_inputs: Optional[int] = None, names: Optional[Mapping[str, str]] = None) -> None:
    """After the dry run (stage shapes known) and before the fit: refuse a probe of any model whose
    decoders, statistics and evaluation would not fit the memory left (the model already lives there).

    Raises:
        ReprobeError: naming the options to lower (``image_size`` and ``batch_size`` or ``samples``).
    """
    if probe.input_shape is None or any(s.shape is None for s in probe.stages):
        return
    size = ModelSize(0, [tuple(s.shape) for s in probe.stages], tuple(probe.input_shape), ("image_size",),
                     [s.type for s in probe.stages])
    parts = probe_bytes(size, probe.config.to_dict(), test_inputs)
    del parts["model"]
    _check(parts, available_bytes(), "memory", size, names)
    gpu = _gpu_free_bytes(probe.config.device)
    if gpu is not None:
        _check({k: v for k, v in parts.items() if k != "evaluation"}, gpu, "GPU memory", size, names)

"""The probe's fit: one decoder built per stage, and the passes over the training inputs that feed
them (:class:`~reprobe.probe.fitting.DecoderFitter` does the fitting itself)."""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from .checks import check_input_shape
from .conv_decoders import MAX_KERNEL_FEATURES
from .decoders import DecoderSpec, build_decoder, choose_out_activation
from .fitting import DecoderFitter, FitPlan
from .inputs import Note, dataset_len, iter_inputs, rebatch
from .stages import StageInfo


def build_decoders(stages: Sequence[StageInfo], input_shape: Tuple[int, ...], target_ranges: Sequence[Tuple[float, float]],
                   config: Any, device: torch.device, warn: Callable[[str], None]) -> nn.ModuleList:
    """One decoder c^ℓ per stage, mapping its output shape to the previous one's, seeded by ``config.seed``.

    Sets each stage's ``decoder`` kind; ``warn`` hears of a stage whose feature-map decoder uses a
    smaller kernel than ``config.decoder_kernel``. ``target_ranges``: (min, max) of z⁰ … z^{L-1}.
    """
    torch.manual_seed(config.seed)
    shapes = [input_shape] + [s.shape for s in stages]
    decoders = []
    for l, s in enumerate(stages, start=1):
        lo, hi = target_ranges[l - 1]
        spec = DecoderSpec(
            in_shape=tuple(shapes[l]),
            out_shape=tuple(shapes[l - 1]),
            target_range=(lo, hi),
            out_activation=choose_out_activation(lo, hi, config.decoder_activation),
            stage_type=s.type,
            index=l,
            kernel=config.decoder_kernel,
        )
        dec = build_decoder(spec)
        s.decoder = getattr(dec, "decoder_kind", type(dec).__name__)
        used = getattr(dec, "kernel", config.decoder_kernel)
        if len(spec.in_shape) == 3 and used != config.decoder_kernel:
            warn(f"stage {l} ({s.name}): decoder_kernel {config.decoder_kernel} would give its decoder "
                 f"{spec.in_shape[0]}·{config.decoder_kernel}² patch features (over {MAX_KERNEL_FEATURES}, or a "
                 f"1×1 map); it uses {used}×{used}, the largest that fits")
        decoders.append(dec)
    # channels_last: ~10 % faster convolutions on CPU (oneDNN) and GPU; only 4-D weights change.
    return nn.ModuleList(decoders).to(device, memory_format=torch.channels_last)


def inputs_to_read(train: Any, limit: Optional[int]) -> Optional[int]:
    """How many training inputs a pass reads (for the progress bar): the data's size, capped by ``limit``."""
    total = dataset_len(train)
    return limit if total is None else (total if limit is None else min(total, limit))


def fit_epoch(train: Any, fitter: DecoderFitter, plan: FitPlan, forward: Callable[[torch.Tensor], List[torch.Tensor]],
              config: Any, epoch: int, epochs: int, depth: int, input_shape: Optional[Tuple[int, ...]] = None,
              note: Optional[Note] = None) -> int:
    """One pass over the training inputs, each batch's ``forward`` (``[z⁰, …, z^L]``) fed to ``fitter``;
    returns how many inputs were read. Batches are checked against ``input_shape`` (when given);
    ``note`` hears of batch parts left unused."""
    limit = plan.input_limit
    # Closed-form statistics are big GEMMs: feed them big batches when nothing trains by gradient.
    # (vector stages only: a feature map gives many rows per input already)
    min_rows = 1024 if not plan.gradient and all(p is None for p in plan.positions) else 0
    bar = tqdm(total=inputs_to_read(train, limit), unit="img", disable=not config.progress, leave=False,
               desc=f"fitting {depth} decoders" + (f" (epoch {epoch + 1}/{epochs})" if epochs > 1 else ""))
    seen = 0
    with bar:
        batches = iter_inputs(train, config.batch_size, shuffle=bool(plan.gradient), seed=config.seed + epoch, note=note)
        if input_shape is not None:
            batches = (check_input_shape(x, input_shape, "train") for x in batches)
        for x in rebatch(batches, min_rows):
            if limit is not None:
                x = x[: limit - seen]
            fitter.step(forward(x), epoch)
            seen += x.shape[0]
            bar.update(x.shape[0])
            if (limit is not None and seen >= limit) or fitter.statistics_complete():
                break
    fitter.end_epoch()
    return seen

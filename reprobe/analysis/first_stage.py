"""The stage-1 gate: no verdict from a probe that cannot read its own first stage.

Every later stage is decoded through stage 1's decoder, so when stage 1 itself cannot be
reconstructed, the whole curve measures the probe's failure, not the net's loss. Swin's
channel-last maps read as C×H×W gave a stage-1 R² of −0.28 and still a confident verdict.

R² here is ``1 − mse₁ / mse_sat``: stage 1's reconstruction error against that of the mean input
(the MSE's saturation level, which the probe measures), so 0 is "no better than the mean image".

A first stage with fewer values than the input (an MLP narrower than its input) loses information
by construction; the gate leaves it alone, as that loss is the net's, not the probe's.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

#: Below this stage-1 R², the verdict is ``undecidable``. A first stage that keeps its input, as any
#: layer at initialisation that does not narrow it does, reconstructs with R² ≈ 0.9 or more (resnet18
#: 0.96, Swin 0.84-0.94, tanh MLPs on digits above 0.95); half the input's variance lost in one layer
#: means the decoders cannot undo it, not that the net lost it.
FIRST_STAGE_MIN_R2 = 0.5


def first_stage_r2(metrics: Mapping[str, Sequence[Optional[float]]],
                   saturation: Optional[Mapping[str, Optional[float]]]) -> Optional[float]:
    """Stage 1's reconstruction R² (``1 − mse₁ / mse_sat``), or None when the MSE or its level is missing."""
    mse = metrics.get("mse")
    level = (saturation or {}).get("mse")
    if not mse or mse[0] is None or not level or not math.isfinite(float(mse[0])):
        return None
    return 1.0 - float(mse[0]) / float(level)


def first_stage_gate(metrics: Mapping[str, Sequence[Optional[float]]],
                     saturation: Optional[Mapping[str, Optional[float]]],
                     stage_shapes: Sequence[Sequence[int]] = (), stage_names: Sequence[str] = (),
                     input_shape: Sequence[int] = ()) -> Optional[str]:
    """The reason the verdict must be ``undecidable`` (stage 1 unreadable), or None when it may be given
    (also when stage 1 has fewer values than ``input_shape``: a bottleneck; without ``input_shape`` a
    vector stage 1 is given the benefit of the doubt)."""
    r2 = first_stage_r2(metrics, saturation)
    if r2 is None or r2 >= FIRST_STAGE_MIN_R2:
        return None
    if input_shape and stage_shapes and math.prod(stage_shapes[0]) < math.prod(input_shape):
        return None
    if not input_shape and stage_shapes and len(stage_shapes[0]) == 1:
        return None  # a vector stage of unknown input size may be a bottleneck (an MLP narrower than its input)
    name = f"stage 1 ({stage_names[0]})" if stage_names else "stage 1"
    shape = tuple(stage_shapes[0]) if stage_shapes else None
    return (f"{name} cannot be reconstructed (R² {r2:.2f} < {FIRST_STAGE_MIN_R2}), so no later stage can be "
            f"read either; likely cause: {_likely_cause(shape)}")


def _likely_cause(shape: Optional[tuple]) -> str:
    if shape is not None and len(shape) == 3:
        return (f"its output {shape} is read as channels × height × width, and it is laid out otherwise, or its "
                "decoder's kernel is too small to undo it (try a larger decoder_kernel, or name a later module as "
                "stage 1)")
    if shape is not None and len(shape) == 2:
        return (f"its output {shape} mixes tokens more than a per-token decoder can undo (name a later module as "
                "stage 1)")
    return "the first stage keeps less than its input (a narrow or saturated layer), or the decoder cannot undo it"

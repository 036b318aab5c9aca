"""Saving trained decoders, and reading them back for a probe on the same stages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

import torch
import torch.nn as nn

from ..core.errors import ReprobeError
from .stages import StageInfo

#: Version of :meth:`CascadeProbe.save_decoders` files. 2: closed-form sub-pixel conv decoders.
DECODERS_FORMAT = "reprobe.decoders/2"


def save_decoders(path: Any, decoders: nn.ModuleList, stages: Sequence[StageInfo], input_shape: Tuple[int, ...],
                  target_ranges: Sequence[Tuple[float, float]], config: Dict[str, Any]) -> None:
    """Store the decoders (and what is needed to rebuild them) with ``torch.save``; they end on the CPU."""
    torch.save(
        {
            "format": DECODERS_FORMAT,
            "input_shape": list(input_shape),
            "stages": [s.to_dict() for s in stages],
            "target_ranges": [list(r) for r in target_ranges],
            "config": config,
            "decoders": decoders.cpu().state_dict(),
            "closed_form": [bool(getattr(d, "closed_form", False)) for d in decoders],
        },
        path,
    )


@dataclass
class SavedDecoders:
    """What :func:`read_decoders` found: the probe's own stages in the saved order (their shapes set
    from the file), and what rebuilds the decoders."""

    stages: List[StageInfo]
    input_shape: Tuple[int, ...]
    target_ranges: List[Tuple[float, float]]
    decoder_kernel: int
    state: Dict[str, Any]
    closed_form: List[bool]
    path: Any


def read_decoders(path: Any, stages: Sequence[StageInfo]) -> SavedDecoders:
    """Read a :func:`save_decoders` file for a probe on ``stages`` (the same module names)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise ReprobeError(f"cannot read decoders from {path}: {e}") from None
    found = state.get("format") if isinstance(state, dict) else None
    if found != DECODERS_FORMAT:
        raise ReprobeError(f"decoders in {path} have format {found!r}, not {DECODERS_FORMAT!r} (saved by another "
                           "reprobe version, whose decoders differ); fit the probe again and save them anew")
    names = [s["name"] for s in state["stages"]]
    if names != [s.name for s in stages] and sorted(names) != sorted(s.name for s in stages):
        raise ReprobeError(f"decoders in {path} were trained for stages {names[:5]}…, not this model's")
    by_name = {s.name: s for s in stages}
    for d in state["stages"]:
        s = by_name[d["name"]]
        s.index, s.shape = d["index"], tuple(d["shape"])
        s.channels, s.reduction, s.layout = d.get("channels"), d.get("reduction"), d.get("layout")
    return SavedDecoders(
        stages=[by_name[n] for n in names],
        input_shape=tuple(state["input_shape"]),
        target_ranges=[tuple(r) for r in state["target_ranges"]],
        decoder_kernel=int(state["config"].get("decoder_kernel", 3)),  # the saved decoders' shape
        state=state["decoders"],
        closed_form=list(state["closed_form"]),
        path=path,
    )


def load_weights(decoders: nn.ModuleList, saved: SavedDecoders) -> None:
    """Put the saved weights into decoders built for them; they stay frozen (``requires_grad`` off)."""
    try:
        decoders.load_state_dict(saved.state)
    except RuntimeError as e:
        raise ReprobeError(f"decoders in {saved.path} do not fit this probe's decoders ({str(e).splitlines()[0]}); "
                           "fit the probe again and save them anew") from None
    for d, cf in zip(decoders, saved.closed_form):
        if hasattr(d, "closed_form"):
            d.closed_form = cf
        d.requires_grad_(False)

"""The stages of a probed model: :class:`StageInfo`, one tap point each (before a fit and after a load)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple


@dataclass
class StageInfo:
    """One tap point: like timm's ``feature_info``.

    Attributes:
        index: ℓ, 1-based in execution order.
        name: module name in ``model.named_modules()``.
        type: module class name.
        shape: output shape of one input (no batch dim); None until the first batch (or the
            ``example_input``) has run.
        channels: C for (C, H, W) outputs.
        reduction: input height / output height for feature maps (the stride so far).
        decoder: decoder kind used for this stage (after fit).
        layout: ``NCHW`` or ``NHWC`` for feature maps (:mod:`reprobe.probe.layouts`): how the module
            lays out its output. ``shape``, ``channels`` and the decoders are channel-first either way.
    """

    index: int
    name: str
    type: str
    shape: Optional[Tuple[int, ...]] = None
    channels: Optional[int] = None
    reduction: Optional[float] = None
    decoder: Optional[str] = None
    layout: Optional[str] = None

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["shape"] = list(self.shape) if self.shape is not None else None
        return d

    def __repr__(self) -> str:
        if self.shape is None:
            shape = "shape=None (known after the first batch; pass CascadeProbe(model, example_input=x) to know it now)"
        else:
            shape = f"shape={self.shape}, channels={self.channels}, reduction={self.reduction}"
        return f"StageInfo(index={self.index}, name={self.name!r}, type={self.type!r}, {shape}, decoder={self.decoder!r})"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "StageInfo":
        """The stage a :meth:`to_dict` (a ``result.json`` entry) describes; keys it does not know are ignored.

        Args:
            d: ``{"index", "name", "type", "shape", "channels", "reduction", "decoder"}``.

        Returns:
            The :class:`StageInfo` (``shape`` as a tuple).
        """
        known = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        if kw.get("shape") is not None:
            kw["shape"] = tuple(int(s) for s in kw["shape"])
        return cls(**kw)

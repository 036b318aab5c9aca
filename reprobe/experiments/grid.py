"""Sweep grids: axes from numbers, ``START:STOP:STEP`` specs or lists, and the points they span.

A grid point is ``(σ_w², σ_b², depth, width, seed)``; :func:`point_key` is its identity in stores.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..analysis.records import KEY_FIELDS, point_key  # noqa: F401  (re-exported: the grid's identity)
from ..core.errors import ReprobeError, param
from ..probe.config import MAX_WHOLE


GRID_AXES = ("sigma_w2", "sigma_b2", "depth", "width")


MAX_GRID = 100_000


def parse_values(spec: Any, name: str = "value", integer: bool = False) -> List[float]:
    """Numbers from ``START:STOP:STEP`` (inclusive of STOP within rounding), ``a,b,c`` or one number.

    Raises:
        ReprobeError: for text that is neither, an empty or descending range, step <= 0, NaN/inf,
            non-integers where ``integer``.
    """
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        values = [float(spec)]
    else:
        text = str(spec).strip()
        hint = "use START:STOP:STEP (e.g. 1.0:4.0:0.1) or a list such as 1.0,1.5,2.0"
        try:
            if ":" in text:
                parts = [float(p) for p in text.split(":")]
                if len(parts) != 3:
                    raise ValueError
                start, stop, step = parts
                if not all(math.isfinite(v) for v in parts):
                    raise ValueError
                if step <= 0:
                    raise ReprobeError(f"{param(name)} {spec!r}: the step must be > 0; {hint}")
                if stop < start:
                    raise ReprobeError(f"{param(name)} {spec!r}: STOP is below START; {hint}")
                count = int(math.floor((stop - start) / step + 1e-6)) + 1
                if count > MAX_GRID:
                    raise ReprobeError(f"{param(name)} {spec!r} has {count} values; at most {MAX_GRID}")
                values = [round(start + i * step, 10) for i in range(count)]
            else:
                values = [float(p) for p in text.split(",") if p.strip()]
        except ValueError:
            raise ReprobeError(f"cannot read {param(name)} {spec!r}; {hint}") from None
    if not values:
        raise ReprobeError(f"{param(name)} {spec!r} gives no values")
    if not all(math.isfinite(v) for v in values):
        raise ReprobeError(f"{param(name)} {spec!r}: values must be finite numbers")
    if integer:
        if any(abs(v - round(v)) > 1e-9 for v in values):
            raise ReprobeError(f"{param(name)} {spec!r}: needs whole numbers, e.g. 10,20,40 or 10:40:10")
        values = [int(round(v)) for v in values]
    return list(dict.fromkeys(values))  # keep order, drop duplicates (linear time)


def expand_grid(sigma_w2: Sequence[float], sigma_b2: Sequence[float], depth: Sequence[int],
                width: Sequence[Optional[int]], seed: int = 0) -> List[Dict[str, Any]]:
    """All grid points (σ_b² outermost, then depth, width, σ_w²), as dicts with the key fields."""
    pts = [
        {"sigma_w2": float(sw), "sigma_b2": float(sb), "depth": int(d), "width": (None if w is None else int(w)),
         "seed": int(seed)}
        for sb in sigma_b2 for d in depth for w in width for sw in sigma_w2
    ]
    if len(pts) > MAX_GRID:
        raise ReprobeError(f"the grid has {len(pts)} points; at most {MAX_GRID} — use coarser ranges")
    return pts


def _axis(spec: Any, name: str, integer: bool = False) -> List[Any]:
    """One grid axis from a number, a spec string (``START:STOP:STEP``, ``a,b,c``) or a sequence of them."""
    if spec is None or (isinstance(spec, (list, tuple)) and all(v is None for v in spec)):
        if name == "width":
            return [None]
        raise ReprobeError(f"{param(name)} needs at least one value")
    items = spec if isinstance(spec, (list, tuple, range)) else [spec]
    values = [v for item in items for v in parse_values(item, name, integer=integer)]
    if not values:
        raise ReprobeError(f"{param(name)} gives no values")
    return list(dict.fromkeys(values))


def sweep_grid(sigma_w2: Any, sigma_b2: Any = (0.05,), depth: Any = (50,), width: Any = (None,)) -> Dict[str, list]:
    """The checked grid axes of a sweep (each a number, a spec string or a sequence)."""
    grid = {"sigma_w2": _axis(sigma_w2, "sigma_w2"), "sigma_b2": _axis(sigma_b2, "sigma_b2"),
            "depth": _axis(depth, "depth", integer=True), "width": _axis(width, "width", integer=True)}
    if any(v <= 0 for v in grid["sigma_w2"]):
        raise ReprobeError(f"{param('sigma_w2')} values must be > 0")
    if any(v < 0 for v in grid["sigma_b2"]):
        raise ReprobeError(f"{param('sigma_b2')} values must be >= 0")
    if any(d < 1 for d in grid["depth"]):
        raise ReprobeError(f"{param('depth')} values must be at least 1")
    if any(w is not None and w < 1 for w in grid["width"]):
        raise ReprobeError(f"{param('width')} values must be at least 1")
    for name in ("depth", "width"):
        if any(v is not None and v > MAX_WHOLE for v in grid[name]):
            raise ReprobeError(f"{param(name)} values must be at most {MAX_WHOLE}, got {max(grid[name])}")
    return grid

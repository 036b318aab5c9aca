"""Generic file and JSON helpers: atomic writes, strict-JSON values, writable-path checks."""

from __future__ import annotations

import json
import math
import numbers
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .errors import ReprobeError


def atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    os.close(fd)
    try:
        write(tmp)
        # mkstemp makes 0600 files; give the result the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_writable_file(path, what: str = "file") -> None:
    """Make ``path``'s folder, or raise a one-line :class:`ReprobeError` when ``path`` cannot be
    written: a folder in its way, a parent that is a file, a folder we may not write. Call it
    before the work whose result goes there."""
    path = Path(path)
    if path.is_dir():
        raise ReprobeError(f"cannot write {what} {path}: it is a folder; give a file name")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ReprobeError(f"cannot write {what} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ReprobeError(f"cannot write {what} {path}: no permission to write in {parent}")
    try:  # the folders it goes into are made now, so that nothing fails after the work
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ReprobeError(f"cannot write {what} {path}: {e.strerror or e}") from None


def write_json(path: Path, obj: Any) -> None:
    def w(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, allow_nan=False)
            f.write("\n")

    atomic_write(path, w)


def json_safe(v: Any) -> Any:
    """``v`` with NaN/inf floats as None, numpy scalars as Python numbers, tuples as lists and dict
    keys as strings: what strict JSON (``allow_nan=False``) accepts."""
    if isinstance(v, (np.floating, np.integer)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    return v


def nan_array(values) -> np.ndarray:
    """Stored values (``None`` where not finite) as a float array with NaN in their place."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def is_finite_number(v: Any) -> bool:
    """Is ``v`` a finite real number, numpy's included (None, NaN, inf, text and bools are not)?"""
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and math.isfinite(v)


def finite_or_none(v: Any) -> Optional[float]:
    """A finite number as float, anything else (None, NaN, inf, text, bool) as None."""
    return float(v) if is_finite_number(v) else None

"""The resumable JSONL store of finished grid points, and the settings check on resume.

Finished points go to ``points.jsonl`` (probes) or ``trained.jsonl`` (ground-truth training), one
JSON object per line, appended, flushed and fsynced by the driver process alone as each point
finishes (workers only send results back). A sweep can be killed at any time: resuming reads the
file, ignores a half-written last line (with a warning, cutting it off), and skips points already
there, so no point is lost or duplicated.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Dict, List

from ..core.errors import ReprobeError, param
from ..core.io import json_safe
from .grid import point_key


class PointStore:
    """An append-only JSONL file of finished points, written only by the parent process."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.records: List[dict] = []
        self.keys: set = set()
        self.warnings: List[str] = []

    def load(self, repair: bool = False) -> "PointStore":
        """Read finished points. A half-written last line is ignored with a warning (and cut off
        when ``repair``, so that the next append starts on a fresh line); duplicates are dropped."""
        self.records, self.keys = [], set()
        if not self.path.is_file():
            return self
        data = self.path.read_bytes()
        pos = good_end = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            complete = nl != -1
            end = nl + 1 if complete else len(data)
            raw = data[pos:end].strip()
            is_last = end >= len(data)
            obj = None
            if raw:
                problem = "is not valid JSON"
                try:
                    obj = json.loads(raw.decode("utf-8"))
                    if not complete or not _valid_record(obj):
                        obj, problem = None, "is not a complete grid point"
                except (ValueError, UnicodeDecodeError):
                    obj = None
                if obj is None:
                    line_no = data.count(b"\n", 0, pos) + 1
                    msg = (f"{self.path}: ignoring a half-written {'last line' if is_last else 'line'} "
                           f"(line {line_no} {problem}; {len(raw)} bytes)")
                    self.warnings.append(msg)
                    warnings.warn(msg, stacklevel=2)
                    if is_last:
                        break
                else:
                    k = point_key(obj)
                    if k not in self.keys:
                        self.keys.add(k)
                        self.records.append(obj)
            good_end = end
            pos = end
        if repair and good_end < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(good_end)
                f.flush()
                os.fsync(f.fileno())
        return self

    def __contains__(self, point: Dict[str, Any]) -> bool:
        return point_key(point) in self.keys

    def append(self, record: dict) -> bool:
        """Append one finished point (flushed and fsynced); False when its key is already there."""
        k = point_key(record)
        if k in self.keys:
            return False
        line = json.dumps(json_safe(record), allow_nan=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.keys.add(k)
        self.records.append(record)
        return True


def _valid_record(obj: Any) -> bool:
    """A JSON object whose key fields have the types a grid point has (else it is a corrupt line)."""
    def num(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    def whole(v):
        return isinstance(v, int) and not isinstance(v, bool)

    return (isinstance(obj, dict) and num(obj.get("sigma_w2")) and num(obj.get("sigma_b2"))
            and whole(obj.get("depth")) and whole(obj.get("seed"))
            and (obj.get("width") is None or whole(obj.get("width"))))


def open_store(path: Path, resume: bool) -> PointStore:
    """The store at ``path``; an existing non-empty file without ``resume`` is an error."""
    path = Path(path)
    if path.is_file() and path.stat().st_size > 0 and not resume:
        raise ReprobeError(f"{path} already holds finished points; pass {param('resume', True)} to continue it, "
                           f"or a new {param('out', python='output folder')}")
    return PointStore(path).load(repair=True)


#: The parts of a task that must be equal for points to belong to one sweep (the grid varies).
SETTINGS_FIELDS = ("model", "model_options", "data", "data_options", "probe", "train")


def settings_of(task: Dict[str, Any]) -> Dict[str, Any]:
    """The settings a point was made with, as stored in its record (JSON round-trip safe)."""
    return json.loads(json.dumps({k: task.get(k) for k in SETTINGS_FIELDS}, default=str))


def check_resume_settings(records: List[dict], task: Dict[str, Any], path: Path) -> None:
    """Refuse to resume into ``path`` when its points were made with other settings.

    Mixing them would draw one phase diagram from two different probes or nets without a word.
    Records without stored settings (older files) are not checked.
    """
    current = settings_of(task)
    for rec in records:
        old = rec.get("settings")
        if old is None or old == current:
            continue
        diffs = []
        for key in SETTINGS_FIELDS:
            a, b = old.get(key), current.get(key)
            if a == b:
                continue
            if isinstance(a, dict) and isinstance(b, dict):
                diffs += [f"{key}.{k}: {a.get(k)!r} there, {b.get(k)!r} now" for k in sorted(set(a) | set(b))
                          if a.get(k) != b.get(k)]
            else:
                diffs.append(f"{key}: {a!r} there, {b!r} now")
        raise ReprobeError(
            f"{path} holds points made with other settings ({'; '.join(diffs[:3])}); resume with the same "
            f"options, or start a new sweep with another {param('out', python='output folder')}"
        )

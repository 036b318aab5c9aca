"""Which kind of reprobe folder a path is (run, comparison, sweep), and reading its JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Tuple, Union


from ..core.errors import ReprobeError


PathLike = Union[str, Path]


def read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ReprobeError(f"{path} is corrupt ({str(e).splitlines()[0]}); re-run the {what}") from None
    except OSError as e:
        raise ReprobeError(f"cannot read {path}: {e.strerror}") from None


def _has_schema(path: Path, prefix: str) -> bool:
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(obj, dict) and str(obj.get("schema", "")).startswith(prefix)


def detect_kind(path: PathLike, allow_incomplete: bool = False) -> Tuple[str, Path]:
    """``("run" | "compare" | "sweep", folder)`` for a saved folder (or a file inside it).

    A folder whose command has not finished (it still has its ``INCOMPLETE`` marker) is refused
    unless ``allow_incomplete`` (the command itself renders its page before it finishes).
    """
    p = Path(path)
    if p.is_file() and p.name in ("result.json", "summary.json", "sweep.json"):
        p = p.parent
    if not p.exists():
        raise ReprobeError(f"{p} does not exist; pass a folder written by reprobe run, compare or sweep")
    if not p.is_dir():
        raise ReprobeError(f"{p} is not a folder; pass a folder written by reprobe run, compare or sweep")
    if not allow_incomplete:
        from ..core.outdir import check_complete

        check_complete(p)
    has_run = (p / "result.json").is_file()
    # a run folder may hold other files too: a stray summary.json / sweep.json only wins when it is ours
    if (p / "summary.json").is_file() and (not has_run or _has_schema(p / "summary.json", "reprobe.compare/")):
        return "compare", p
    if (p / "sweep.json").is_file() and (not has_run or _has_schema(p / "sweep.json", "reprobe.sweep/")):
        return "sweep", p
    if has_run:
        return "run", p
    if (p / "points.jsonl").is_file():  # a sweep stopped before it wrote sweep.json
        return "sweep", p
    raise ReprobeError(f"{p} is not a reprobe run, comparison or sweep folder (no result.json, summary.json or sweep.json)")

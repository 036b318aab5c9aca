"""Output folders that are whole or visibly not: claim, mark incomplete, release.

A command that writes a folder first *claims* it: the folder must be new or empty (or replaced on
request), and a marker file is created in it atomically (``O_EXCL``), so that of two commands
started into one folder exactly one gets it. The marker names the process that writes; it is
removed only when everything is written. A folder that still holds the marker is incomplete (the
run was interrupted, crashed, or is still going), and :func:`check_complete` refuses it.

Messages speak of ``--out``, ``--force`` and ``--resume``: only the CLI claims folders.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Iterator, Optional

from .errors import ReprobeError, param

#: The output folder, named in messages (the CLI: --out).
OUT = param("out", python="output folder")

#: Marker of a folder whose run has not finished (interrupted, crashed, or still running).
INCOMPLETE = "INCOMPLETE"
#: Lock of a folder a sweep is appending to (its partial points are meaningful, so not INCOMPLETE).
SWEEP_LOCK = ".reprobe-sweep.lock"

#: Files and folders reprobe writes; ``--force`` removes these (and nothing else) before a new run.
OUTPUTS = ("result.json", "reconstructions.npy", "entropy.png", "reconstructions.png", "report.html", "decoders.pt",
           "summary.json", "summary.csv", "runs", INCOMPLETE)


def _read_marker(path: Path) -> dict:
    try:
        obj = json.loads(path.read_text())
        return obj if isinstance(obj, dict) else {}
    except (OSError, ValueError):
        return {}


def _alive(info: dict) -> bool:
    """False only when the marker's writer is known to be gone: a process of this machine that no
    longer runs. Unknown (another machine, an empty marker being written): assume it still runs."""
    pid, host = info.get("pid"), info.get("host")
    if not isinstance(pid, int) or host != socket.gethostname():
        return True
    if os.name == "nt":
        return True  # os.kill(pid, 0) would send Ctrl-C there; the error message says how to clear it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _busy_error(out: Path, info: dict, marker: str) -> ReprobeError:
    who = f" (pid {info['pid']})" if info.get("pid") else ""
    return ReprobeError(f"another reprobe command{who} is writing to {out}; wait for it to finish or pick another "
                        f"{OUT} (if no reprobe is running, delete {out / marker})")


def _check_existing(out: Path, marker: str, force: bool, resume: bool, must_be_empty: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ReprobeError(f"{OUT} {out} is a file, not a folder; pick another {OUT}")
    if not out.is_dir():
        return
    info = _read_marker(out / marker) if (out / marker).exists() else None
    if info is not None and _alive(info):
        raise _busy_error(out, info, marker)
    if not must_be_empty or force or resume:
        return
    if info is not None:
        raise ReprobeError(f"{out} holds an interrupted run (it still has its {marker} marker); pass {param('force', True)} to "
                           f"replace it, or pick another {OUT}")
    if any(out.iterdir()):
        raise ReprobeError(f"{OUT} {out} already exists and is not empty; pass {param('force', True)} to replace its "
                           f"results, or pick another {OUT}")


def _remove_outputs(out: Path) -> None:
    """Delete what an earlier run wrote (so that no stale decoders.pt survives); other files stay."""
    for name in OUTPUTS:
        p = out / name
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()


def claim(out, *, force: bool = False, resume: bool = False, marker: str = INCOMPLETE,
          must_be_empty: bool = True) -> bool:
    """Make ``out`` this process's folder and mark it with ``marker``; returns whether it was created.

    Raises:
        ReprobeError: ``out`` is a file, cannot be written, is being written by another live
            reprobe process, or (when ``must_be_empty``) holds files and neither ``force`` nor
            ``resume`` was given.
    """
    out = Path(out)
    _check_existing(out, marker, force, resume, must_be_empty)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        stale = out / marker
        if stale.exists() and not _alive(_read_marker(stale)):
            stale.unlink()  # left by an interrupted run that --force/--resume takes over
        if force:
            _remove_outputs(out)
        fd = os.open(out / marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise _busy_error(out, _read_marker(out / marker), marker) from None
    except OSError as e:
        raise ReprobeError(f"cannot write to {OUT} {out}: {e.strerror or e}") from None
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "note": "this folder is incomplete while this file exists; it is removed when the command finishes"}
    with os.fdopen(fd, "w") as f:
        json.dump(info, f)
    return created


def release(out, marker: str = INCOMPLETE) -> None:
    """Remove ``marker``: the folder is complete."""
    with contextlib.suppress(FileNotFoundError):
        (Path(out) / marker).unlink()


@contextlib.contextmanager
def claimed(out, *, force: bool = False, resume: bool = False, marker: str = INCOMPLETE,
            must_be_empty: bool = True) -> Iterator[Path]:
    """:func:`claim` ``out`` for a ``with`` block and :func:`release` it when the block finishes.

    On a :class:`ReprobeError` before anything but the marker was written, no trace is left. After
    an interrupt or crash an ``INCOMPLETE`` marker stays, so the folder never looks complete; a
    sweep's lock is always released (its finished points are valid and ``--resume`` continues).
    """
    out = Path(out)
    created = claim(out, force=force, resume=resume, marker=marker, must_be_empty=must_be_empty)
    try:
        yield out
    except ReprobeError:
        if [p.name for p in out.iterdir()] == [marker]:
            release(out, marker)
            if created:
                with contextlib.suppress(OSError):
                    out.rmdir()
        elif marker != INCOMPLETE:
            release(out, marker)
        raise
    except BaseException:
        if marker != INCOMPLETE:
            release(out, marker)
        raise
    release(out, marker)


def incomplete_message(folder) -> Optional[str]:
    """Why ``folder`` is not a finished result (None when it is); a :class:`ReprobeError` message
    (its parameters marked with :func:`~reprobe.core.errors.param`)."""
    folder = Path(folder)
    if not (folder / INCOMPLETE).exists():
        return None
    info = _read_marker(folder / INCOMPLETE)
    if _alive(info) and info.get("pid"):
        return f"{folder} is incomplete: reprobe (pid {info['pid']}) is still writing it; wait for it to finish"
    return (f"{folder} is incomplete: the command that wrote it was interrupted or failed (it left its "
            f"{INCOMPLETE} marker); run it again with {param('force', True)}")


def check_complete(folder) -> None:
    """Raise :class:`ReprobeError` when ``folder`` still carries the incomplete marker."""
    msg = incomplete_message(folder)
    if msg:
        raise ReprobeError(msg)

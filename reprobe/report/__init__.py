"""Self-contained HTML reports for saved runs, comparisons and sweeps.

Nothing is re-probed: a report is drawn from what the folders hold.

* a **run** folder has ``result.json`` (+ ``reconstructions.npy``), written by ``reprobe run``;
* a **comparison** folder has ``summary.json`` + ``runs/<slug>/``, written by ``reprobe compare``;
* a **sweep** folder has ``sweep.json`` (schema ``reprobe.sweep/1``), maybe ``points.jsonl`` and
  ``phase.png`` (and other ``*.png``), written by ``reprobe sweep``.

Use :func:`write_report` (``paths`` → one HTML file) or the ``render_*`` functions (→ HTML string).

One module per job: :mod:`.page` (HTML primitives and the page frame), :mod:`.folders` (which kind
a folder is), :mod:`.parts` (pieces run and comparison pages share), and one renderer per kind of
folder: :mod:`.run`, :mod:`.compare`, :mod:`.sweep` (which reads ``points.jsonl`` through the
sweep's own :class:`~reprobe.experiments.store.PointStore`).

Layer: beside :mod:`reprobe.figures`, above :mod:`reprobe.experiments`; experiments never import it
(the CLI writes a comparison's or sweep's page after the library has written its files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

from ..core.errors import ReprobeError
from .compare import load_compare, render_compare_section
from .folders import PathLike, detect_kind
from .page import esc, page
from .run import render_run_section
from .sweep import load_sweep, render_sweep_section

__all__ = ["write_report", "render_report", "render_run", "render_compare", "render_sweep", "detect_kind",
           "load_compare", "load_sweep"]


def render_run(folder: PathLike, command: Optional[str] = None) -> str:
    """HTML page for one run folder."""
    return render_report([folder], command=command)


def render_compare(folder: PathLike, command: Optional[str] = None) -> str:
    """HTML page for one comparison folder."""
    return render_report([folder], command=command)


def render_sweep(folder: PathLike, command: Optional[str] = None) -> str:
    """HTML page for one sweep folder."""
    return render_report([folder], command=command)


_RENDERERS = {"run": render_run_section, "compare": render_compare_section, "sweep": render_sweep_section}


def render_report(paths: Sequence[PathLike], command: Optional[str] = None, title: Optional[str] = None,
                  allow_incomplete: bool = False) -> str:
    """One HTML page for any mix of run, comparison and sweep folders (finished ones, unless
    ``allow_incomplete``)."""
    if not paths:
        raise ReprobeError("no folders to report on; pass at least one run, compare or sweep folder")
    kinds = [detect_kind(p, allow_incomplete) for p in paths]  # all errors before any rendering
    sections = []
    for i, (kind, folder) in enumerate(kinds):
        anchor = kind if len(kinds) == 1 else f"{kind}-{i + 1}"
        sections.append((anchor,) + _RENDERERS[kind](folder, anchor=anchor))
    if len(sections) == 1:
        page_title = title or sections[0][1]
        body = sections[0][2]
        toc = []
        sub = f"Folder: {kinds[0][1]}"
    else:
        page_title = title or f"reprobe report: {len(sections)} folders"
        body = "\n".join(f'<h2 class="part" id="{esc(a)}-title">{esc(t)}</h2>{b}' for a, t, b, _ in sections)
        toc = [(f"{a}-title", t) for a, t, _, _ in sections]
        sub = "Folders: " + ", ".join(str(f) for _, f in kinds)
    own = {c for *_, c in sections if c}
    return page(page_title, body, subtitle=sub, command=command if command and command not in own else None, toc=toc)


def write_report(paths: Union[PathLike, Sequence[PathLike]], out_file: PathLike, command: Optional[str] = None,
                 allow_incomplete: bool = False) -> Path:
    """Render ``paths`` (run, comparison or sweep folders) into the self-contained HTML ``out_file``.

    Args:
        paths: one folder or a list of them.
        out_file: the .html file to write (parents are created).
        command: the command that asked for the report (shown when it differs from the folders' own).
        allow_incomplete: render folders that still carry their INCOMPLETE marker (for the
            command that is writing them).

    Raises:
        ReprobeError: a folder is missing, corrupt, or not a reprobe folder (the message names it).
    """
    from ..core.io import atomic_write, check_writable_file

    if isinstance(paths, (str, Path)):
        paths = [paths]
    out = Path(out_file)
    check_writable_file(out, "report")
    text = render_report(list(paths), command=command, allow_incomplete=allow_incomplete)

    def w(tmp):
        Path(tmp).write_text(text, encoding="utf-8")

    try:
        atomic_write(out, w)
    except OSError as e:
        raise ReprobeError(f"cannot write report {out}: {e.strerror}") from None
    return out

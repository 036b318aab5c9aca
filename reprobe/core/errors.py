"""Errors that reprobe reports to people, not to stack traces.

Every mistake a user can make (an unknown name, a bad value, missing data, a model whose
stages cannot be found) raises :class:`ReprobeError` with a one-line message that names the
fix.  The CLI turns it into ``Error: <message>`` on stderr and exit code 2.
"""

from __future__ import annotations

import difflib
from typing import Iterable


class ReprobeError(Exception):
    """A user-facing error: the message is one line and says how to fix the problem."""


class ReprobeWarning(UserWarning):
    """Something the probe found that changes what its numbers mean (e.g. skip connections)."""


def close_matches(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Names from ``candidates`` that look like ``name`` (for "did you mean" hints)."""
    return difflib.get_close_matches(str(name), [str(c) for c in candidates], n=n, cutoff=0.5)


def unknown_name_message(kind: str, name: str, valid: Iterable[str], hint: str = "", where: str = "") -> str:
    """One line: ``unknown <kind> 'x'[ in <where>]; did you mean 'y'? Valid <kind>s: a, b, c.``"""
    valid = sorted(valid)
    close = close_matches(name, valid)
    msg = f"unknown {kind} {name!r}" + (f" in {where}" if where else "")
    if close:
        msg += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    else:
        msg += "."
    shown = ", ".join(valid[:40]) + (f", … ({len(valid)} in all)" if len(valid) > 40 else "")
    plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    msg += f" Valid {plural}" + (f" in {where}" if where else "") + f": {shown}."
    if hint:
        msg += " " + hint
    return msg

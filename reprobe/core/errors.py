"""Errors that reprobe reports to people, not to stack traces.

Every mistake a user can make (an unknown name, a bad value, missing data, a model whose
stages cannot be found) raises :class:`ReprobeError` with a one-line message that names the
fix.  The CLI turns it into ``Error: <message>`` on stderr and exit code 2.

Messages name the offending parameter with :func:`param`: from Python the message reads
``jobs must be at least 1``; the CLI spells the same parameter as its flag (``--jobs must …``)
through :meth:`ReprobeError.spelled`. The library never writes a command-line flag itself.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Callable, Iterable, Optional

_MARK = "\x1f"
_SEP = "\x1e"
_PARAM_RE = re.compile(_MARK + "([^" + _MARK + "]*)" + _MARK)
_UNSET = object()


def param(name: str, value: Any = _UNSET, python: Optional[str] = None) -> str:
    """A parameter named in a :class:`ReprobeError` message.

    From Python it reads ``name`` (``name=value`` when a value is given, or ``python`` verbatim);
    a front end may respell it (the CLI: ``--name``, ``--name VALUE``; a value of True: the flag alone).
    """
    py = python if python is not None else (name if value is _UNSET else f"{name}={value!r}")
    cli = "" if value is _UNSET or value is True else str(value)
    return f"{_MARK}{name}{_SEP}{cli}{_SEP}{py}{_MARK}"


def spell_params(text: str, spell: Optional[Callable[[str, str], str]] = None) -> str:
    """``text`` with its :func:`param` marks written for Python, or by ``spell(name, value)``."""
    def one(m: "re.Match") -> str:
        name, value, py = m.group(1).split(_SEP)
        return py if spell is None else spell(name, value)

    return _PARAM_RE.sub(one, text)


class ParamMessage:
    """Mixed into exceptions whose message may name parameters with :func:`param`."""

    def __str__(self) -> str:
        return spell_params(super().__str__())

    def spelled(self, spell: Callable[[str, str], str]) -> str:
        """The message with every :func:`param` written by ``spell(name, value)`` (e.g. as CLI flags)."""
        return spell_params(super().__str__(), spell)


class ReprobeError(ParamMessage, Exception):
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

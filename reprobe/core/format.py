"""Numbers written for people: one formatter behind the CLI's tables, the report's pages and the
sentences that explain a ranking.

Every caller used to carry its own few lines (``f"{v:.4g}"`` with its own idea of what a missing
value reads); they now differ only in the arguments they pass to :func:`format_number`.
"""

from __future__ import annotations

import math
from typing import Optional

#: What a missing number reads in a report (an en dash).
MISSING = "\u2013"
#: The typographic minus sign that reports use for negative numbers.
MINUS = "\u2212"


def format_number(v: Optional[float], digits: int = 4, *, fixed: bool = False, missing: str = MISSING,
                  minus: str = "-", inf: bool = False) -> str:
    """A number for a table, a report or a sentence.

    Args:
        v: the number (int or float); None is a missing number.
        digits: significant digits (``g`` format), or decimals when ``fixed``.
        fixed: write ``digits`` decimals (``f`` format) instead of significant digits.
        missing: what None and non-finite numbers read (an en dash by default; the CLI: ``nan``, ``n/a``).
        minus: the sign written for negative numbers (``"\u2212"`` in reports).
        inf: write infinities as ``inf`` / ``-inf`` (e.g. a correlation length at criticality)
            instead of ``missing``.

    Returns:
        The formatted number, e.g. ``format_number(1234.5678) == "1235"``,
        ``format_number(0.5, 3, fixed=True) == "0.500"``, ``format_number(None, missing="n/a") == "n/a"``.
    """
    if v is None:
        return missing
    x = float(v)
    if math.isnan(x) or (math.isinf(x) and not inf):
        return missing
    s = f"{v:.{int(digits)}{'f' if fixed else 'g'}}"
    return s.replace("-", minus) if minus != "-" else s

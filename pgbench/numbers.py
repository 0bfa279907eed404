"""The one number formatter of pgbench's tables and texts (terminal, Markdown, HTML)."""

from __future__ import annotations

import math


def fmt(v, digits: int = 3) -> str:
    """``v`` in ``digits`` significant digits: '-' when missing (None, NaN), ``inf`` / ``-inf``,
    whole numbers below a million in full (``1000``, ``12000``), magnitudes of 1e4 and more or
    below 1e-3 in exponent form (``1.23e+04``, ``6.79e-04``), others as ``.{digits}g``; text
    that is not a number as it is."""
    if v is None:
        return "-"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return "-"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    if f == int(f) and abs(f) < 1e6:
        return str(int(f))
    if abs(f) >= 1e4 or abs(f) < 1e-3:
        return f"{f:.{digits - 1}e}"
    return f"{f:.{digits}g}"

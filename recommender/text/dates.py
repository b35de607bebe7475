"""How a date is written for organizers: one convention, one place.

- In a sentence or on print (the why line, the cool-down note, a class page's heading, the
  poster): Chinese print style without spaces, 「2026年12月7日」, as newspapers and notices
  write it; where the sentence already says which day it is as of (the why line), the year is
  left out when it is that year: 「12月7日已开课，暂缓到 2027年3月7日」.
- In tables, forms, filters, file names, exports and JSON fields: ISO 8601, 2026-12-07 (what
  ``<input type="date">`` and spreadsheets read, and what sorts). Those places keep ``date``'s
  own ``isoformat()`` / the ``localdate`` filter; only the sentence form lives here.
"""

from __future__ import annotations

from datetime import date

__all__ = ["date_zh"]


def date_zh(day: date | str, as_of: date | str | None = None) -> str:
    """「2026年12月7日」; 「12月7日」 when ``as_of`` is given and falls in the same year.

    ``day`` and ``as_of`` may be dates or ISO ``YYYY-MM-DD`` text; "" for no day."""
    if not day:
        return ""
    day = date.fromisoformat(day[:10]) if isinstance(day, str) else day
    if isinstance(as_of, str):
        as_of = date.fromisoformat(as_of[:10])
    text = f"{day.month}月{day.day}日"
    return text if as_of is not None and day.year == as_of.year else f"{day.year}年{text}"

"""The filters of a suggestions request and of a page of a list, checked once for every caller
(the organizer API, the dashboard and the CLI).

- ``top``: 1..``MAX_TOP`` (a person's ``--top -1`` or ``?top=h`` is a ValidationFailed, 422 /
  exit code 1, never an error from the ranking).
- ``as_of``: any calendar date is accepted (the OpenAPI schema says ``format: date``), and a
  date before ``EARLIEST_AS_OF`` or after ``LATEST_AS_OF`` is ranked as of that bound: no
  feedback is that old or that far ahead (a submission more than a day in the future is
  refused), so the ranking is the same, and the date arithmetic of the ranking (windows of
  weeks back, the end of the day forward) never leaves the calendar (``9999-12-31`` used to
  be an ``OverflowError``).
- pages: ``page`` up to ``MAX_PAGE`` and ``per_page`` up to ``MAX_PER_PAGE`` (a larger page
  is read as the last one allowed, so an offset always fits a 64-bit integer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from recommender.config import Settings
from recommender.errors import ValidationFailed

__all__ = [
    "EARLIEST_AS_OF",
    "LATEST_AS_OF",
    "MAX_PAGE",
    "MAX_PER_PAGE",
    "MAX_TOP",
    "SuggestionQuery",
    "bounded_as_of",
    "bounded_offset",
    "bounded_page",
    "check_top",
    "parse_suggestion_query",
]

MAX_TOP = 50
MAX_PAGE = 100_000
MAX_PER_PAGE = 200
EARLIEST_AS_OF = date(1900, 1, 1)
LATEST_AS_OF = date(9000, 12, 31)
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # RFC 3339 full-date: no week dates, no other digits


def bounded_as_of(day: date | None) -> date | None:
    """``day`` moved into ``EARLIEST_AS_OF..LATEST_AS_OF`` (None stays None: today)."""
    if day is None:
        return None
    return min(max(day, EARLIEST_AS_OF), LATEST_AS_OF)


def check_top(top: int | None) -> int | None:
    """``top`` when it is 1..MAX_TOP (or None: the setting); ValidationFailed otherwise."""
    if top is None:
        return None
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= MAX_TOP:
        raise ValidationFailed(f"top 应为 1 到 {MAX_TOP} 之间的整数（收到 {top!r}）", field="top", code="invalid_top")
    return top


def bounded_page(page: int, per_page: int) -> tuple[int, int]:
    """``(page, per_page)`` within 1..MAX_PAGE and 1..MAX_PER_PAGE."""
    return min(max(1, int(page)), MAX_PAGE), min(max(1, int(per_page)), MAX_PER_PAGE)


def bounded_offset(offset: int, limit: int) -> tuple[int, int]:
    """``(offset, limit)`` of a list read, within what a page can ask for."""
    return min(max(0, int(offset)), MAX_PAGE * MAX_PER_PAGE), min(max(1, int(limit)), MAX_PER_PAGE)


@dataclass(frozen=True)
class SuggestionQuery:
    """Validated ``top``, ``as_of`` and ``segment`` of a suggestions request."""

    top: int | None
    as_of: date | None
    segment: str | None

    def call(self, service) -> dict:
        return service.suggestions(as_of=self.as_of, top=self.top, segment=self.segment)


def parse_suggestion_query(
    settings: Settings, top: str | int | None, as_of: str | date | None, segment: str | None
) -> SuggestionQuery:
    """Validate the three filters as a person typed them (empty strings mean "not given");
    ValidationFailed (422, or exit code 1 in the CLI) names the one that is wrong."""
    top_value: int | None = None
    if top not in (None, ""):
        try:
            top_value = int(str(top).strip())
        except ValueError:
            raise ValidationFailed(
                f"top 应为 1 到 {MAX_TOP} 之间的整数", field="top", code="invalid_top"
            ) from None
        check_top(top_value)
    day: date | None = None
    if isinstance(as_of, date):
        day = as_of
    elif as_of not in (None, ""):
        text = str(as_of).strip()
        try:
            if not _ISO_DAY.fullmatch(text):
                raise ValueError(text)
            day = date.fromisoformat(text)
        except ValueError:
            raise ValidationFailed("as_of 应为有效日期，格式 YYYY-MM-DD", field="as_of", code="invalid_date") from None
    seg = (segment or "").strip() or None
    if seg is not None and seg not in settings.segments:
        raise ValidationFailed(
            f"未知的人群“{seg[:20]}”，可选：{'、'.join(settings.segments)}", field="segment", code="unknown_segment"
        )
    return SuggestionQuery(top=top_value, as_of=bounded_as_of(day), segment=seg)

"""Query and path parameters shared by the organizer API and the dashboard.

The rules live in :mod:`recommender.service.filters` (the CLI applies the same); here they
are declared so that ``/openapi.json`` says exactly what is accepted: ``top`` an integer
1..50, ``as_of`` a ``format: date`` (any calendar date), ``segment`` one of the configured
segments (the enum is filled in by :mod:`recommender.web.openapi`), a topic id
``[A-Za-z0-9_-]{1,16}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from recommender.service.filters import (
    MAX_PAGE,
    MAX_PER_PAGE,
    MAX_TOP,
    SuggestionQuery,
    parse_suggestion_query,
)

__all__ = [
    "MAX_PER_PAGE",
    "MAX_TOP",
    "TOPIC_ID_PATTERN",
    "Page",
    "PageQuery",
    "SuggestionFilters",
    "SuggestionQuery",
    "TopicId",
    "parse_suggestion_query",
]

#: What a topic id looks like (``T0007``); the store's column holds 16 characters.
TOPIC_ID_PATTERN = r"^[A-Za-z0-9_-]{1,16}$"
TopicId = Annotated[str, Path(pattern=TOPIC_ID_PATTERN, description="A topic id such as T0007.", examples=["T0001"])]


async def suggestion_query(
    request: Request,
    top: Annotated[int | None, Query(ge=1, le=MAX_TOP, description=f"How many suggestions, 1..{MAX_TOP} (default: setting)")] = None,
    as_of: Annotated[
        str | None,
        Query(
            description="Rank as of the end of this day in the organizers' time zone, YYYY-MM-DD (default: their "
            "today); a day before 1900 or after "
            "9000 is ranked as of that bound (no feedback is older or later).",
            json_schema_extra={"format": "date"},
        ),
    ] = None,
    segment: Annotated[
        str | None, Query(description="Only this segment's feedback (one of the configured segments; empty: all)")
    ] = None,
) -> SuggestionQuery:
    if as_of == "":  # the schema says a date; the dashboard's empty filter field has its own route
        as_of = "not-a-date"
    return parse_suggestion_query(request.app.state.settings, top, as_of, segment)


@dataclass(frozen=True)
class Page:
    """``?page=&per_page=`` of a paginated list."""

    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


async def page_query(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> Page:
    return Page(page, per_page)


PageQuery = Annotated[Page, Depends(page_query)]
SuggestionFilters = Annotated[SuggestionQuery, Depends(suggestion_query)]

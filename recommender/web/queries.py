"""Query parameters shared by the organizer API and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Request

from recommender.config import Settings
from recommender.errors import ValidationFailed
from recommender.service import RecommenderService

MAX_TOP = 50
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class SuggestionQuery:
    """Validated ``top``, ``as_of`` and ``segment`` of a suggestions request."""

    top: int | None
    as_of: date | None
    segment: str | None

    def call(self, service: RecommenderService) -> dict:
        return service.suggestions(as_of=self.as_of, top=self.top, segment=self.segment)


def parse_suggestion_query(
    settings: Settings, top: str | int | None, as_of: str | None, segment: str | None
) -> SuggestionQuery:
    """Validate the three filters (empty strings mean "not given"); ValidationFailed → 422."""
    top_value: int | None = None
    if top not in (None, ""):
        try:
            top_value = int(str(top).strip())
        except ValueError:
            top_value = None
        if top_value is None or not 1 <= top_value <= MAX_TOP:
            raise ValidationFailed(f"top 应为 1 到 {MAX_TOP} 之间的整数", field="top", code="invalid_top")
    day: date | None = None
    if as_of not in (None, ""):
        text = str(as_of).strip()
        try:
            if len(text) != 10:
                raise ValueError(text)
            day = date.fromisoformat(text)
        except ValueError:
            raise ValidationFailed("as_of 应为有效日期，格式 YYYY-MM-DD", field="as_of", code="invalid_date") from None
    seg = (segment or "").strip() or None
    if seg is not None and seg not in settings.segments:
        raise ValidationFailed(
            f"未知的人群“{seg}”，可选：{'、'.join(settings.segments)}", field="segment", code="unknown_segment"
        )
    return SuggestionQuery(top=top_value, as_of=day, segment=seg)


async def suggestion_query(
    request: Request,
    top: Annotated[str | None, Query(description=f"How many suggestions, 1..{MAX_TOP} (default: setting)")] = None,
    as_of: Annotated[str | None, Query(description="Rank as of the end of this day, YYYY-MM-DD (default: today)")] = None,
    segment: Annotated[str | None, Query(description="Only this segment's feedback (one of the configured segments)")] = None,
) -> SuggestionQuery:
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
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> Page:
    return Page(page, per_page)


PageQuery = Annotated[Page, Depends(page_query)]
SuggestionFilters = Annotated[SuggestionQuery, Depends(suggestion_query)]

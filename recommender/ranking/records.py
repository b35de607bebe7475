"""The ranking's plain data: its inputs (feedback lines, topics, classes), its knobs and its outputs.

Pure dataclasses, no I/O: the service turns stored feedback into :class:`DemandRecord` rows and
model topics into :class:`TopicCard` rows; :mod:`recommender.ranking.heat` scores one topic
(:class:`TopicHeat`) and :func:`recommender.ranking.rank.rank_topics` lists the
:class:`Suggestion` rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import numpy as np

__all__ = [
    "BREAKDOWN_KEYS",
    "NO_TOPIC_IDS",
    "SESSION_STATUSES",
    "TRENDS",
    "ClassSession",
    "DemandRecord",
    "RankingParams",
    "Suggestion",
    "TopicCard",
    "TopicHeat",
]

TRENDS = ("new", "growing", "steady", "fading")
SESSION_STATUSES = ("planned", "held", "cancelled")
NO_TOPIC_IDS = frozenset({"-1", ""})
BREAKDOWN_KEYS = ("people", "votes", "growth", "cooldown")


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class DemandRecord:
    """One feedback line as the ranking sees it: which topic, when, who (hashed), how many votes."""

    feedback_id: str
    topic_id: str | None
    submitted_at: datetime
    submitter: str | None
    segment: str
    votes: int = 0
    is_repeat: bool = False
    #: The line's words: the ranking looks for the topic's label in it (anywhere in a long line),
    #: to see a specific request rise inside a broader topic. Never shown nor logged.
    text: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.submitted_at.tzinfo is None or self.submitted_at.utcoffset() is None:
            raise ValueError(
                f"submitted_at={self.submitted_at.isoformat()} of feedback {self.feedback_id!r} "
                "should be timezone-aware"
            )


@dataclass(frozen=True)
class TopicCard:
    """A topic of the current model: stable id, label, keywords, example quotes, centroid."""

    topic_id: str
    label: str
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    centroid: np.ndarray | None = field(default=None, compare=False, repr=False)
    theme_id: str | None = None
    theme_label: str | None = None

    def __post_init__(self) -> None:
        # Model output carries lists; keep the card immutable and hashable.
        object.__setattr__(self, "keywords", tuple(self.keywords))
        object.__setattr__(self, "examples", tuple(self.examples))
        if self.centroid is not None:
            vector = np.asarray(self.centroid, dtype=float).ravel()
            object.__setattr__(self, "centroid", vector)


@dataclass(frozen=True)
class ClassSession:
    """A night-school class on a topic: planned, held or cancelled."""

    topic_id: str
    held_on: date
    status: str
    title: str = ""

    def __post_init__(self) -> None:
        if self.status not in SESSION_STATUSES:
            raise ValueError(f"status={self.status!r} should be one of {', '.join(SESSION_STATUSES)}")


@dataclass(frozen=True)
class RankingParams:
    """Knobs of the heat score; the first four and ``zone`` come from :class:`recommender.config.Settings`."""

    half_life_days: float = 45.0
    trend_window_days: int = 30
    cooldown_days: int = 90
    segment_min_people: int = 3
    diversity_threshold: float = 0.8
    #: A theme's topics beyond the first ``theme_slots`` in the list compete with other
    #: themes' topics at ``theme_ratio`` times their score (0 slots: off). See
    #: recommender.ranking.diversity.spread_themes.
    theme_slots: int = 2
    theme_ratio: float = 0.75
    vote_weight: float = 0.5
    growth_weight: float = 1.0
    cooldown_strength: float = 1.0
    trend_min_change: int = 2
    trend_ratio: float = 0.25
    sparkline_months: int = 6
    #: People-equivalents that count in full; beyond, the people component grows with the
    #: square root (``math.inf``: every person counts in full). See recommender.ranking.heat.
    people_knee: float = 4.0
    #: Where the organizers' days begin and end (``as_of`` dates, class days, sparkline months);
    #: the service passes RECOMMENDER_TIMEZONE, a bare call counts UTC days.
    zone: tzinfo = UTC

    def __post_init__(self) -> None:
        rules = (
            ("half_life_days", self.half_life_days > 0, "> 0"),
            ("trend_window_days", self.trend_window_days >= 1, ">= 1"),
            ("cooldown_days", self.cooldown_days >= 0, ">= 0"),
            ("segment_min_people", self.segment_min_people >= 1, ">= 1"),
            ("diversity_threshold", -1.0 <= self.diversity_threshold <= 1.0, "between -1 and 1"),
            ("theme_slots", self.theme_slots >= 0, ">= 0"),
            ("theme_ratio", 0 < self.theme_ratio <= 1, "between 0 (exclusive) and 1"),
            ("vote_weight", self.vote_weight >= 0, ">= 0"),
            ("growth_weight", self.growth_weight >= 0, ">= 0"),
            ("cooldown_strength", 0 <= self.cooldown_strength <= 1, "between 0 and 1"),
            ("trend_min_change", self.trend_min_change >= 1, ">= 1"),
            ("trend_ratio", self.trend_ratio >= 0, ">= 0"),
            ("sparkline_months", self.sparkline_months >= 1, ">= 1"),
            ("people_knee", self.people_knee > 0, "> 0"),
        )
        for name, ok, rule in rules:
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r} should be {rule}")

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> RankingParams:
        """Params from a ``Settings`` object (ranking fields and the organizers' zone), with keyword overrides."""
        values = {
            name: getattr(settings, name)
            for name in ("half_life_days", "trend_window_days", "cooldown_days", "segment_min_people")
        }
        values["zone"] = settings.tz
        values.update(overrides)
        return cls(**values)


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class TopicHeat:
    """The heat of one topic as of a date: rounded components, score and the facts behind them."""

    breakdown: Mapping[str, float]
    score: float
    distinct_people: int
    feedback_count: int
    vote_total: int
    current_people: int
    previous_people: int
    trend: str
    recently_covered: bool = False
    last_class_on: date | None = None
    class_planned_on: date | None = None
    demand_rising_after_class: bool = False
    #: The rise (people, current − previous window) the growth component counted, and the
    #: label phrase it was counted on when the lines saying it rose more than the topic.
    growth_people: int = 0
    rising_phrase: str | None = None


@dataclass(frozen=True)
class Suggestion:
    """One ranked topic; :meth:`to_dict` gives the JSON shape of INTERFACE.md plus extras."""

    topic_id: str
    rank: int
    label: str
    keywords: tuple[str, ...]
    score: float
    score_breakdown: Mapping[str, float]
    feedback_count: int
    distinct_submitters: int
    trend: str
    examples: tuple[str, ...]
    feedback_ids: tuple[str, ...]
    votes: int = 0
    recently_covered: bool = False
    last_class_on: date | None = None
    class_planned_on: date | None = None
    demand_rising_after_class: bool = False
    monthly_counts: tuple[tuple[str, int], ...] = ()
    similar_to: tuple[str, ...] = ()
    theme_id: str | None = None
    theme_label: str | None = None
    recent_people: int = 0
    previous_people: int = 0
    cooldown_until: date | None = None
    #: In words (ranking/explain.py): the why line and the breakdown in people's units.
    why: str = ""
    breakdown_readable: tuple[Mapping[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: INTERFACE.md keys first, then the extra keys."""
        return {
            "topic_id": self.topic_id,
            "rank": self.rank,
            "label": self.label,
            "keywords": list(self.keywords),
            "score": self.score,
            "score_breakdown": dict(self.score_breakdown),
            "feedback_count": self.feedback_count,
            "distinct_submitters": self.distinct_submitters,
            "trend": self.trend,
            "examples": list(self.examples),
            "feedback_ids": list(self.feedback_ids),
            "theme_id": self.theme_id,
            "theme_label": self.theme_label,
            "why": self.why,
            "votes": self.votes,
            "recently_covered": self.recently_covered,
            "last_class_on": _iso(self.last_class_on),
            "cooldown_until": _iso(self.cooldown_until),
            "class_planned_on": _iso(self.class_planned_on),
            "demand_rising_after_class": self.demand_rising_after_class,
            "monthly_counts": [{"month": month, "count": count} for month, count in self.monthly_counts],
            "similar_to": list(self.similar_to),
            "recent_people": self.recent_people,
            "previous_people": self.previous_people,
            "breakdown_readable": [dict(row) for row in self.breakdown_readable],
        }



def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


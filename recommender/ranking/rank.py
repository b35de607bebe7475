"""Ranked topic suggestions: heat score, trend, cool-down, diversity and the privacy floor.

Pure Python over plain dataclasses: no I/O, no database, no web. The service turns stored
feedback into :class:`DemandRecord` rows and model topics into :class:`TopicCard` rows, then
calls :func:`rank_topics`.

Time
    ``as_of`` given as a ``date`` means "at the end of that day (UTC)": lines submitted on that
    day count and ages are measured from the following midnight. A tz-aware ``datetime`` is
    used as is (lines at or before it count). Lines after ``as_of`` are ignored everywhere.

People
    A named submitter (salted hash) is one person however many lines they wrote in a topic;
    lines flagged ``is_repeat`` do not count for people (their original does), unless a
    submitter has nothing but repeats in the topic. Each anonymous line is its own person;
    an anonymous line flagged as a repeat counts for nobody.

Heat score (every component is in "people-equivalents"; rounded to 4 decimals, and the
score is defined as the sum of the rounded components, so ``score_breakdown`` adds up)::

    people   = Σ over people       0.5 ** (age of the person's latest line / half_life_days)
    votes    = vote_weight · log1p(Σ over lines  votes · 0.5 ** (age / half_life_days))
    growth   = growth_weight · (current − previous)   only when the trend is new or growing
    cooldown = −cooldown_strength · (demand a recent class already served), clamped so the
               score is never below 0

With ``growth_weight=1`` each person above the previous window's count counts twice: demand
that is new or rising (what the next class can still answer) outranks steady demand of the
same size, and a specific request that a dozen people raised this month is not buried under
topics that have been steady for months.

``log1p`` gives votes diminishing returns: with ``vote_weight=0.5`` a post with 1,000 likes is
worth about 3.5 people and 10,000 likes about 4.6, so many different people raising an issue
outrank one viral post.

Trend, from distinct people in ``current = (as_of − W, as_of]`` and
``previous = (as_of − 2W, as_of − W]`` with ``W = trend_window_days``:

* ``new``: people in the current window and none at any time before it;
* ``fading``: nobody in the current window;
* ``growing``: previous window empty (but older demand exists), or
  ``current − previous ≥ max(trend_min_change, trend_ratio · previous)``;
* ``fading``: ``previous − current ≥ max(trend_min_change, trend_ratio · previous)``;
* ``steady``: anything else. The absolute floor (default 2 people) keeps 1 → 2 from
  reading as growth; the ratio (default 25 %) scales the bar for busy topics.

Cool-down
    The most recent ``held`` class on or before ``as_of`` within ``cooldown_days`` marks the
    topic ``recently_covered``. The class is taken to have served the demand raised up to and
    including its day: the people whose latest line is on or before that day, the votes of
    those lines, and the growth bonus unless demand rose after the class. That served demand
    is subtracted (``cooldown``), so a covered topic stays in the list but only its new demand
    counts. ``demand_rising_after_class`` compares distinct people after the class with the
    same-length period up to the class day. ``planned`` classes (the earliest on or after
    ``as_of``) are flagged as ``class_planned_on`` and not penalised: the organizer still
    needs to see the demand that justifies the planned class. ``cancelled`` ones are ignored.

In words
    Each suggestion also says why it ranks there (``why``, ``breakdown_readable``: people,
    likes, growth in %, the last class) and, while held back, ``cooldown_until`` (the class
    day + ``cooldown_days``): :mod:`recommender.ranking.explain`.

Diversity
    Greedy maximal marginal relevance with a hard threshold: walk the ranking best first; a
    topic whose centroid has cosine similarity ``≥ diversity_threshold`` with an already
    chosen one moves down, after every topic that is not such a near-duplicate, and is listed
    in ``similar_to`` of the most similar chosen topic. It is never dropped: asked for N
    suggestions, the list has N whenever N topics have demand. Topics without a centroid
    never move. A shared theme does not make two topics duplicates.

Per segment
    With ``segment=...`` only that segment's lines count, and a topic with fewer than
    ``segment_min_people`` distinct people in the segment is not shown for it.

Ties are broken by score (desc), distinct people (desc), then ``topic_id`` (asc); the result
does not depend on the order of the inputs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np

from recommender.ranking.diversity import diversify
from recommender.ranking.explain import TREND_ZH, RankFacts, cooldown_until, readable_breakdown, why_text

__all__ = [
    "ClassSession",
    "DemandRecord",
    "RankingParams",
    "Suggestion",
    "TopicCard",
    "TopicHeat",
    "TRENDS",
    "TREND_ZH",
    "classify_trend",
    "decay_weight",
    "monthly_counts",
    "rank_topics",
    "topic_heat",
]

TRENDS = ("new", "growing", "steady", "fading")
SESSION_STATUSES = ("planned", "held", "cancelled")
NO_TOPIC_IDS = frozenset({"-1", ""})
BREAKDOWN_KEYS = ("people", "votes", "growth", "cooldown")

_PLACES = 4
_SECONDS_PER_DAY = 86400.0
_MAX_EXAMPLES = 3


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
    """Knobs of the heat score; the first four come from :class:`recommender.config.Settings`."""

    half_life_days: float = 45.0
    trend_window_days: int = 30
    cooldown_days: int = 90
    segment_min_people: int = 3
    diversity_threshold: float = 0.8
    vote_weight: float = 0.5
    growth_weight: float = 1.0
    cooldown_strength: float = 1.0
    trend_min_change: int = 2
    trend_ratio: float = 0.25
    sparkline_months: int = 6

    def __post_init__(self) -> None:
        rules = (
            ("half_life_days", self.half_life_days > 0, "> 0"),
            ("trend_window_days", self.trend_window_days >= 1, ">= 1"),
            ("cooldown_days", self.cooldown_days >= 0, ">= 0"),
            ("segment_min_people", self.segment_min_people >= 1, ">= 1"),
            ("diversity_threshold", -1.0 <= self.diversity_threshold <= 1.0, "between -1 and 1"),
            ("vote_weight", self.vote_weight >= 0, ">= 0"),
            ("growth_weight", self.growth_weight >= 0, ">= 0"),
            ("cooldown_strength", 0 <= self.cooldown_strength <= 1, "between 0 and 1"),
            ("trend_min_change", self.trend_min_change >= 1, ">= 1"),
            ("trend_ratio", self.trend_ratio >= 0, ">= 0"),
            ("sparkline_months", self.sparkline_months >= 1, ">= 1"),
        )
        for name, ok, rule in rules:
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r} should be {rule}")

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> RankingParams:
        """Params from a ``Settings`` object (ranking fields), with keyword overrides."""
        values = {
            name: getattr(settings, name)
            for name in ("half_life_days", "trend_window_days", "cooldown_days", "segment_min_people")
        }
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


# --------------------------------------------------------------------------- time


@dataclass(frozen=True)
class _Clock:
    """The ranking's "now": ages are measured from ``instant``; ``day`` is its UTC date."""

    instant: datetime
    day: date
    inclusive: bool

    def includes(self, moment: datetime) -> bool:
        return moment <= self.instant if self.inclusive else moment < self.instant

    def age_days(self, moment: datetime) -> float:
        return max(0.0, (self.instant - moment).total_seconds() / _SECONDS_PER_DAY)


def _clock(as_of: date | datetime) -> _Clock:
    if isinstance(as_of, datetime):
        if as_of.tzinfo is None or as_of.utcoffset() is None:
            raise ValueError(f"as_of={as_of.isoformat()} should be a date or a timezone-aware datetime")
        return _Clock(instant=as_of, day=as_of.astimezone(UTC).date(), inclusive=True)
    return _Clock(instant=_end_of_day(as_of), day=as_of, inclusive=False)


def _end_of_day(day: date) -> datetime:
    """The midnight (UTC) that ends ``day``: lines before it were written on or before ``day``."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def decay_weight(age_days: float, half_life_days: float) -> float:
    """Weight of a line ``age_days`` old: 1 today, 0.5 one half-life ago, never above 1."""
    return 0.5 ** (max(0.0, age_days) / half_life_days)


# --------------------------------------------------------------------------- people


def _people(records: Iterable[DemandRecord]) -> dict[tuple[str, str], list[datetime]]:
    """Person key -> the times of the lines that count for that person (see module docs)."""
    people: dict[tuple[str, str], list[datetime]] = {}
    named_all: dict[str, list[datetime]] = defaultdict(list)
    named_fresh: dict[str, list[datetime]] = defaultdict(list)
    for record in records:
        if record.submitter is None:
            if not record.is_repeat:
                people.setdefault(("anonymous", record.feedback_id), []).append(record.submitted_at)
            continue
        named_all[record.submitter].append(record.submitted_at)
        if not record.is_repeat:
            named_fresh[record.submitter].append(record.submitted_at)
    for submitter, moments in named_all.items():
        people[("submitter", submitter)] = named_fresh.get(submitter) or moments
    return people


def _count_between(people: Mapping[Any, list[datetime]], start: datetime, end: datetime) -> int:
    """Distinct people with a counting line in ``(start, end]``."""
    return sum(1 for moments in people.values() if any(start < m <= end for m in moments))


def classify_trend(current: int, previous: int, earlier: bool, params: RankingParams = RankingParams()) -> str:
    """Trend label from distinct people now vs the window before (``earlier``: any demand before now)."""
    if current == 0:
        return "fading"
    if not earlier:
        return "new"
    if previous == 0:
        return "growing"
    bar = max(params.trend_min_change, params.trend_ratio * previous)
    if current - previous >= bar:
        return "growing"
    if previous - current >= bar:
        return "fading"
    return "steady"


# --------------------------------------------------------------------------- heat


def _votes_component(records: Iterable[DemandRecord], clock: _Clock, params: RankingParams) -> float:
    decayed = math.fsum(
        max(0, r.votes) * decay_weight(clock.age_days(r.submitted_at), params.half_life_days) for r in records
    )
    return params.vote_weight * math.log1p(decayed)


def _sessions_facts(
    sessions: Iterable[ClassSession], clock: _Clock, params: RankingParams
) -> tuple[date | None, bool, date | None]:
    """(last held class on or before as_of, whether it is within the cool-down, next planned class)."""
    held = [s.held_on for s in sessions if s.status == "held" and s.held_on <= clock.day]
    planned = [s.held_on for s in sessions if s.status == "planned" and s.held_on >= clock.day]
    last = max(held, default=None)
    recent = last is not None and (clock.day - last).days < params.cooldown_days
    return last, recent, min(planned, default=None)


def topic_heat(
    records: Iterable[DemandRecord],
    as_of: date | datetime,
    sessions: Iterable[ClassSession] = (),
    *,
    params: RankingParams = RankingParams(),
) -> TopicHeat:
    """Heat of one topic from its lines and classes (all of the same topic; lines after as_of ignored)."""
    return _heat(records, _clock(as_of), tuple(sessions), params)


def _heat(
    records: Iterable[DemandRecord], clock: _Clock, sessions: Sequence[ClassSession], params: RankingParams
) -> TopicHeat:
    lines = sorted((r for r in records if clock.includes(r.submitted_at)), key=_record_key)
    people = _people(lines)
    latest = {key: max(moments) for key, moments in people.items()}

    def people_weight(keys: Iterable[tuple[str, str]]) -> float:
        return math.fsum(decay_weight(clock.age_days(latest[k]), params.half_life_days) for k in keys)

    window = timedelta(days=params.trend_window_days)
    current = _count_between(people, clock.instant - window, clock.instant)
    previous = _count_between(people, clock.instant - 2 * window, clock.instant - window)
    earlier = any(m <= clock.instant - window for moments in people.values() for m in moments)
    trend = classify_trend(current, previous, earlier, params)

    people_raw = people_weight(sorted(people))
    votes_raw = _votes_component(lines, clock, params)
    growth_raw = params.growth_weight * (current - previous) if trend in ("new", "growing") else 0.0

    last_class, recent, planned = _sessions_facts(sessions, clock, params)
    rising = False
    served_raw = 0.0
    if recent and last_class is not None:
        class_end = _end_of_day(last_class)
        span = clock.instant - class_end
        after = _count_between(people, class_end, clock.instant)
        before = _count_between(people, class_end - span, class_end)
        rising = span > timedelta(0) and after > before
        served_people = people_weight(sorted(k for k, m in latest.items() if m < class_end))
        served_votes = _votes_component((r for r in lines if r.submitted_at < class_end), clock, params)
        served_raw = params.cooldown_strength * (served_people + served_votes + (0.0 if rising else growth_raw))

    people_c = _round(people_raw)
    votes_c = _round(votes_raw)
    growth_c = _round(growth_raw)
    before_penalty = _round(people_c + votes_c + growth_c)
    # Clamp the penalty, not the score, so the breakdown still adds up to a score >= 0.
    cooldown_c = _round(-min(_round(served_raw), before_penalty))
    breakdown = {"people": people_c, "votes": votes_c, "growth": growth_c, "cooldown": cooldown_c}
    score = max(0.0, _round(math.fsum(breakdown.values())))

    return TopicHeat(
        breakdown=breakdown,
        score=score,
        distinct_people=len(people),
        feedback_count=len(lines),
        vote_total=sum(max(0, r.votes) for r in lines),
        current_people=current,
        previous_people=previous,
        trend=trend,
        recently_covered=recent,
        last_class_on=last_class,
        class_planned_on=planned,
        demand_rising_after_class=rising,
    )


def _round(value: float) -> float:
    # "+ 0.0" turns -0.0 into 0.0 so JSON never shows "-0.0".
    return round(value, _PLACES) + 0.0


def _record_key(record: DemandRecord) -> tuple[Any, ...]:
    return (
        record.submitted_at,
        record.feedback_id,
        record.submitter or "",
        record.segment,
        record.votes,
        record.is_repeat,
    )


# --------------------------------------------------------------------------- sparkline data


def monthly_counts(
    records: Iterable[DemandRecord], as_of: date | datetime, months: int = 6
) -> list[dict[str, Any]]:
    """Lines per calendar month (UTC), oldest first, for the ``months`` months up to as_of's month."""
    if months < 1:
        raise ValueError(f"months={months} should be >= 1")
    return [{"month": m, "count": n} for m, n in _monthly(records, _clock(as_of), months)]


def _monthly(records: Iterable[DemandRecord], clock: _Clock, months: int) -> tuple[tuple[str, int], ...]:
    year, month = clock.day.year, clock.day.month
    keys = []
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    keys.reverse()
    counts = dict.fromkeys(keys, 0)
    for record in records:
        if clock.includes(record.submitted_at):
            key = record.submitted_at.astimezone(UTC).strftime("%Y-%m")
            if key in counts:
                counts[key] += 1
    return tuple(counts.items())


# --------------------------------------------------------------------------- ranking


def rank_topics(
    topics: Iterable[TopicCard],
    records: Iterable[DemandRecord],
    sessions: Iterable[ClassSession] = (),
    *,
    as_of: date | datetime,
    top: int = 5,
    segment: str | None = None,
    params: RankingParams = RankingParams(),
) -> list[Suggestion]:
    """The ``top`` topics to teach next as of ``as_of``, best first (see the module docs)."""
    if top < 0:
        raise ValueError(f"top={top} should be >= 0")
    clock = _clock(as_of)

    cards: dict[str, TopicCard] = {}
    for card in topics:
        if card.topic_id in cards:
            raise ValueError(f"topic_id={card.topic_id!r} appears more than once in topics")
        cards[card.topic_id] = card

    by_topic: dict[str, list[DemandRecord]] = defaultdict(list)
    for record in records:
        if record.topic_id is None or record.topic_id in NO_TOPIC_IDS or record.topic_id not in cards:
            continue
        if segment is not None and record.segment != segment:
            continue
        if clock.includes(record.submitted_at):
            by_topic[record.topic_id].append(record)

    sessions_by_topic: dict[str, list[ClassSession]] = defaultdict(list)
    for session in sessions:
        sessions_by_topic[session.topic_id].append(session)

    heats: dict[str, TopicHeat] = {}
    for topic_id, topic_records in by_topic.items():
        heat = _heat(topic_records, clock, sessions_by_topic.get(topic_id, ()), params)
        if heat.distinct_people == 0:
            continue
        if segment is not None and heat.distinct_people < params.segment_min_people:
            continue  # privacy floor: too few people in this segment to show the topic for it
        heats[topic_id] = heat

    ordered = sorted(heats, key=lambda t: (-heats[t].score, -heats[t].distinct_people, t))
    centroids = {t: cards[t].centroid for t in ordered}
    chosen, similar = diversify(ordered, centroids, top, params.diversity_threshold)

    suggestions = []
    for rank, topic_id in enumerate(chosen, start=1):
        card, heat, lines = cards[topic_id], heats[topic_id], by_topic[topic_id]
        newest_first = sorted(lines, key=lambda r: (-r.submitted_at.timestamp(), r.feedback_id))
        facts = _facts(heat, clock.day, params)
        suggestions.append(
            Suggestion(
                topic_id=topic_id,
                rank=rank,
                label=card.label,
                keywords=card.keywords,
                score=heat.score,
                score_breakdown=dict(heat.breakdown),
                feedback_count=heat.feedback_count,
                distinct_submitters=heat.distinct_people,
                trend=heat.trend,
                examples=card.examples[:_MAX_EXAMPLES],
                feedback_ids=tuple(r.feedback_id for r in newest_first),
                votes=heat.vote_total,
                recently_covered=heat.recently_covered,
                last_class_on=heat.last_class_on,
                class_planned_on=heat.class_planned_on,
                demand_rising_after_class=heat.demand_rising_after_class,
                monthly_counts=_monthly(lines, clock, params.sparkline_months),
                similar_to=tuple(similar[topic_id]),
                theme_id=card.theme_id,
                theme_label=card.theme_label,
                recent_people=heat.current_people,
                previous_people=heat.previous_people,
                cooldown_until=facts.cooldown_until,
                why=why_text(facts),
                breakdown_readable=tuple(readable_breakdown(facts)),
            )
        )
    return suggestions


def _facts(heat: TopicHeat, day: date, params: RankingParams) -> RankFacts:
    until = cooldown_until(heat.last_class_on, params.cooldown_days) if heat.recently_covered else None
    return RankFacts(
        as_of=day, people=heat.distinct_people, recent_people=heat.current_people,
        previous_people=heat.previous_people, window_days=params.trend_window_days, trend=heat.trend,
        votes=heat.vote_total, last_class_on=heat.last_class_on, recently_covered=heat.recently_covered,
        cooldown_until=until, class_planned_on=heat.class_planned_on,
        demand_rising_after_class=heat.demand_rising_after_class,
    )

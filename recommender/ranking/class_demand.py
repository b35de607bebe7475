"""Demand before and after a class: did holding it change how many people ask?

Pure functions over the ranking's :class:`~recommender.ranking.rank.DemandRecord`. People are
counted as the ranking counts them: distinct submitters, a line without one as its own person.
Records standing for purged months (retention aggregates, ids starting with ``~``) are left
out: they carry a month, not a day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo

from recommender.ranking.rank import DemandRecord

#: Days before a class whose askers are its "before" demand.
DEMAND_WINDOW_DAYS = 30


@dataclass(frozen=True)
class ClassDemand:
    """Distinct people asking on a class's topic in the window before it and since it."""

    before: int
    after: int


def demand_around(
    records: Iterable[DemandRecord],
    classes: Sequence[tuple[str, date]],
    *,
    today: date,
    window_days: int = DEMAND_WINDOW_DAYS,
    tz: tzinfo | None = None,
) -> list[ClassDemand]:
    """For each ``(topic_id, held_on)``: the people asking on that topic in the ``window_days``
    days before ``held_on`` (``held_on`` itself excluded), and from ``held_on`` through ``today``
    (0 for a class still to come). Days are those of ``tz`` (the organizers' time zone;
    default: the records' own, UTC)."""
    if window_days < 1:
        raise ValueError(f"window_days={window_days} should be >= 1")
    wanted = {topic for topic, _ in classes}
    asked: dict[str, list[tuple[date, str]]] = {t: [] for t in wanted}
    for r in records:
        if r.topic_id not in wanted or r.feedback_id.startswith("~"):
            continue
        when = r.submitted_at.astimezone(tz) if tz is not None and r.submitted_at.tzinfo else r.submitted_at
        asked[r.topic_id].append((when.date(), r.submitter or f"line:{r.feedback_id}"))
    out = []
    for topic, held_on in classes:
        start = held_on - timedelta(days=window_days)
        before = {who for day, who in asked[topic] if start <= day < held_on}
        after = {who for day, who in asked[topic] if held_on <= day <= today}
        out.append(ClassDemand(before=len(before), after=len(after)))
    return out

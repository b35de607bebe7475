"""Ranked topic suggestions: heat score, trend, cool-down, diversity and the privacy floor.

Pure Python over plain dataclasses: no I/O, no database, no web. The service turns stored
feedback into :class:`DemandRecord` rows and model topics into :class:`TopicCard` rows, then
calls :func:`rank_topics`. The data it takes and gives is in :mod:`recommender.ranking.records`.

Heat score
    Each topic's score, trend and cool-down as of ``as_of``: :mod:`recommender.ranking.heat`
    (time, people, the score's components, trend, cool-down).

In words
    Each suggestion also says why it ranks there (``why``, ``breakdown_readable``: people,
    likes, growth in people and %, the last class) and, while held back, ``cooldown_until`` (the class
    day + ``cooldown_days``): :mod:`recommender.ranking.explain`.

Diversity
    Greedy maximal marginal relevance with a hard threshold: walk the ranking best first; a
    topic whose centroid has cosine similarity ``≥ diversity_threshold`` with an already
    chosen one moves down, after every topic that is not such a near-duplicate, and is listed
    in ``similar_to`` of the most similar chosen topic. It is never dropped: asked for N
    suggestions, the list has N whenever N topics have demand. Topics without a centroid
    never move. A shared theme does not make two topics duplicates, but a theme does not fill
    the list either: among the topics that are no near-duplicate, one whose theme already
    has ``theme_slots`` (2) topics above it competes with other themes' topics at
    ``theme_ratio`` (0.75) times its score, so it moves below every topic of another theme
    that has at least three quarters of its score, and stays where it is when its theme's
    demand is clearly larger (:func:`recommender.ranking.diversity.spread_themes`). Its why
    line says which: 「同类别「诈骗」已有 2 条建议排在前面，后移 3 位，先排其他类别」 or
    「…，热度是其他类别下一名的 1.6 倍，未后移」. The order does not depend on ``top``.

Per segment
    With ``segment=...`` only that segment's lines count, and a topic with fewer than
    ``segment_min_people`` distinct people in the segment is not shown for it.

Ties are broken by score (desc), distinct people (desc), then ``topic_id`` (asc); the result
does not depend on the order of the inputs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from recommender.ranking import records
from recommender.ranking.diversity import ThemeMove, diversify, spread_themes
from recommender.ranking.explain import TREND_ZH, RankFacts, cooldown_until, readable_breakdown, why_text
from recommender.ranking.heat import (
    classify_trend,
    compute_heat,
    decay_weight,
    make_clock,
    month_counts,
    monthly_counts,
    topic_heat,
)
from recommender.ranking.records import (
    BREAKDOWN_KEYS,
    NO_TOPIC_IDS,
    SESSION_STATUSES,
    TRENDS,
    ClassSession,
    DemandRecord,
    RankingParams,
    Suggestion,
    TopicCard,
    TopicHeat,
)
from recommender.text.excerpt import excerpt

#: The ranking's public names: its data (re-exported from records), the heat functions and rank_topics.
__all__ = [
    *records.__all__,
    "TREND_ZH",
    "classify_trend",
    "decay_weight",
    "monthly_counts",
    "rank_topics",
    "topic_heat",
]

# Quotes of a suggestion; a long one is cut around the words the topic is named by
# (recommender/text/excerpt.py): a 300-character message shown whole fills the card.
_MAX_EXAMPLES = 3


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
    clock = make_clock(as_of, params.zone)

    cards: dict[str, TopicCard] = {}
    for card in topics:
        if card.topic_id in cards:
            raise ValueError(f"topic_id={card.topic_id!r} appears more than once in topics")
        cards[card.topic_id] = card

    by_topic: dict[str, list[DemandRecord]] = defaultdict(list)
    # Every line up to as_of (of the segment), in a topic or not: where a topic's subject is
    # looked up across the store (is it new there too, or a word used all along?).
    store: list[DemandRecord] = []
    for record in records:
        if segment is not None and record.segment != segment:
            continue
        if not clock.includes(record.submitted_at):
            continue
        store.append(record)
        if record.topic_id is None or record.topic_id in NO_TOPIC_IDS or record.topic_id not in cards:
            continue
        by_topic[record.topic_id].append(record)

    sessions_by_topic: dict[str, list[ClassSession]] = defaultdict(list)
    for session in sessions:
        sessions_by_topic[session.topic_id].append(session)

    heats: dict[str, TopicHeat] = {}
    for topic_id, topic_records in by_topic.items():
        heat = compute_heat(
            topic_records, clock, sessions_by_topic.get(topic_id, ()), params, cards[topic_id].label, store
        )
        if heat.distinct_people == 0:
            continue
        if segment is not None and heat.distinct_people < params.segment_min_people:
            continue  # privacy floor: too few people in this segment to show the topic for it
        heats[topic_id] = heat

    ordered = sorted(heats, key=lambda t: (-heats[t].score, -heats[t].distinct_people, t))
    centroids = {t: cards[t].centroid for t in ordered}
    distinct, later, similar = diversify(ordered, centroids, params.diversity_threshold)
    scores = {t: heats[t].score for t in ordered}
    themes = {t: cards[t].theme_id for t in ordered}
    distinct, moves = spread_themes(distinct, scores, themes, params.theme_slots, params.theme_ratio)
    chosen = (distinct + later)[:top]

    suggestions = []
    for rank, topic_id in enumerate(chosen, start=1):
        card, heat, lines = cards[topic_id], heats[topic_id], by_topic[topic_id]
        newest_first = sorted(lines, key=lambda r: (-r.submitted_at.timestamp(), r.feedback_id))
        facts = _facts(heat, clock.day, params, moves.get(topic_id), card.theme_label)
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
                examples=tuple(excerpt(t, (card.label, *card.keywords)) for t in card.examples[:_MAX_EXAMPLES]),
                feedback_ids=tuple(r.feedback_id for r in newest_first),
                votes=heat.vote_total,
                recently_covered=heat.recently_covered,
                last_class_on=heat.last_class_on,
                class_planned_on=heat.class_planned_on,
                demand_rising_after_class=heat.demand_rising_after_class,
                monthly_counts=month_counts(lines, clock, params.sparkline_months),
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


def _facts(
    heat: TopicHeat, day: date, params: RankingParams, move: ThemeMove | None = None, theme_label: str | None = None
) -> RankFacts:
    until = cooldown_until(heat.last_class_on, params.cooldown_days) if heat.recently_covered else None
    counted_rise = heat.breakdown["growth"] > 0 and heat.trend == "growing"
    return RankFacts(
        as_of=day, people=heat.distinct_people, recent_people=heat.current_people,
        previous_people=heat.previous_people, window_days=params.trend_window_days, trend=heat.trend,
        votes=heat.vote_total, last_class_on=heat.last_class_on, recently_covered=heat.recently_covered,
        cooldown_until=until, class_planned_on=heat.class_planned_on,
        demand_rising_after_class=heat.demand_rising_after_class,
        growth_people=heat.growth_people if counted_rise else 0,
        rising_phrase=heat.rising_phrase if counted_rise else None,
        growth_counted=heat.breakdown["growth"] > 0,
        theme_label=theme_label if move else None,
        theme_above=move.above if move else 0,
        theme_places=move.places if move else 0,
        theme_lead=move.lead if move else None,
    )

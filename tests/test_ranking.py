"""Tests of recommender.ranking: hand-computed heat scores, cool-down, privacy floor, diversity, properties."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.config import Settings
from recommender.ranking.rank import (
    BREAKDOWN_KEYS,
    TRENDS,
    ClassSession,
    DemandRecord,
    RankingParams,
    TopicCard,
    classify_trend,
    decay_weight,
    monthly_counts,
    rank_topics,
    topic_heat,
)

AS_OF = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
_counter = iter(range(10**9))


def rec(topic="T1", days_ago=0.0, submitter="auto", *, segment="居民", votes=0, is_repeat=False, fid=None):
    """A demand record ``days_ago`` days before AS_OF; submitter "auto" gives a fresh person."""
    n = next(_counter)
    return DemandRecord(
        feedback_id=fid or f"f{n:05d}",
        topic_id=topic,
        submitted_at=AS_OF - timedelta(days=days_ago),
        submitter=f"p{n}" if submitter == "auto" else submitter,
        segment=segment,
        votes=votes,
        is_repeat=is_repeat,
    )


def card(topic_id, centroid=None, label=None):
    """A topic card with a label derived from its id."""
    return TopicCard(
        topic_id=topic_id,
        label=label or f"主题{topic_id}",
        keywords=("公文", "写作"),
        examples=("例一", "例二", "例三", "例四"),
        centroid=None if centroid is None else np.asarray(centroid, dtype=float),
    )


def by_id(suggestions):
    """Suggestions keyed by topic id."""
    return {s.topic_id: s for s in suggestions}


# --------------------------------------------------------------------------- decay and people


def test_decay_weight_halves_every_half_life():
    """A line one half-life old weighs 0.5, two half-lives 0.25, today 1."""
    assert decay_weight(0, 45) == 1.0
    assert decay_weight(45, 45) == 0.5
    assert decay_weight(90, 45) == 0.25


def test_line_exactly_one_half_life_old_scores_half():
    """One person whose only line is 45 days old contributes exactly 0.5 people."""
    [s] = rank_topics([card("T1")], [rec(days_ago=45)], as_of=AS_OF)
    assert s.score_breakdown["people"] == 0.5
    assert s.score == 0.5


def test_custom_half_life_is_used():
    """half_life_days=10 makes a 10-day-old line weigh 0.5."""
    [s] = rank_topics([card("T1")], [rec(days_ago=10)], as_of=AS_OF, params=RankingParams(half_life_days=10))
    assert s.score_breakdown["people"] == 0.5


def test_same_submitter_five_times_counts_once():
    """Five lines from one submitter are one person weighted by their most recent line."""
    records = [rec(days_ago=d, submitter="alice") for d in (1, 2, 3, 4, 45)]
    [s] = rank_topics([card("T1")], records, as_of=AS_OF)
    assert s.distinct_submitters == 1
    assert s.feedback_count == 5
    assert s.score_breakdown["people"] == round(decay_weight(1, 45), 4)


def test_anonymous_lines_count_as_separate_people():
    """Each anonymous line is its own person."""
    records = [rec(days_ago=45, submitter=None) for _ in range(3)]
    [s] = rank_topics([card("T1")], records, as_of=AS_OF)
    assert s.distinct_submitters == 3
    assert s.score_breakdown["people"] == 1.5


def test_repeat_line_neither_adds_a_person_nor_refreshes_recency():
    """A repeat counts with its original: the person weighs by the original line's age."""
    records = [
        rec(days_ago=45, submitter="bob"),
        rec(days_ago=0, submitter="bob", is_repeat=True),
        rec(days_ago=0, submitter=None, is_repeat=True),
    ]
    [s] = rank_topics([card("T1")], records, as_of=AS_OF)
    assert s.distinct_submitters == 1
    assert s.feedback_count == 3
    assert s.score_breakdown["people"] == 0.5


def test_submitter_with_only_repeats_still_counts_once():
    """A submitter whose topic lines are all repeats is one person (their original sits elsewhere)."""
    records = [rec(days_ago=45, submitter="carol", is_repeat=True), rec(days_ago=90, submitter="carol", is_repeat=True)]
    [s] = rank_topics([card("T1")], records, as_of=AS_OF)
    assert s.distinct_submitters == 1
    assert s.score_breakdown["people"] == 0.5


# --------------------------------------------------------------------------- votes


def test_votes_add_with_diminishing_returns():
    """Votes add vote_weight·log1p(decayed votes): 1 line with 10,000 likes today."""
    [s] = rank_topics([card("T1")], [rec(days_ago=0, votes=10_000)], as_of=AS_OF)
    assert s.score_breakdown["votes"] == round(0.5 * math.log1p(10_000), 4)
    assert s.votes == 10_000


def test_many_recent_people_outrank_one_viral_post():
    """Public messages: issues many people raised recently each get a slot above one viral post."""
    topics = [card(f"T{i}") for i in range(1, 7)]
    records = [rec(f"T{i}", days_ago=2 * k + 1, votes=3) for i in range(1, 6) for k in range(8)]
    records.append(rec("T6", days_ago=0, votes=50_000))
    suggestions = rank_topics(topics, records, as_of=AS_OF, top=5)
    assert [s.topic_id for s in suggestions] == ["T1", "T2", "T3", "T4", "T5"]
    assert all(s.distinct_submitters == 8 for s in suggestions)


# --------------------------------------------------------------------------- trend and growth


@pytest.mark.parametrize(
    ("current", "previous", "earlier", "expected"),
    [
        (3, 0, False, "new"),
        (0, 5, True, "fading"),
        (0, 0, True, "fading"),
        (3, 0, True, "growing"),
        (5, 2, True, "growing"),
        (2, 1, True, "steady"),
        (10, 9, True, "steady"),
        (20, 16, True, "growing"),
        (20, 17, True, "steady"),
        (1, 3, True, "fading"),
        (12, 16, True, "fading"),
        (13, 16, True, "steady"),
    ],
    ids=[
        "new",
        "silent-now",
        "silent-both",
        "back-after-gap",
        "up-by-3",
        "up-by-1-is-noise",
        "up-by-1-of-9",
        "up-25-percent",
        "up-under-25-percent",
        "down-by-2",
        "down-25-percent",
        "down-under-25-percent",
    ],
)
def test_classify_trend_thresholds(current, previous, earlier, expected):
    """Trend labels follow the documented absolute (2 people) and relative (25 %) thresholds."""
    assert classify_trend(current, previous, earlier) == expected


def test_trend_new_and_growth_bonus():
    """A topic first raised inside the window is new; growth = 1 per added person."""
    [s] = rank_topics([card("T1")], [rec(days_ago=d) for d in (1, 2, 3)], as_of=AS_OF)
    assert s.trend == "new"
    assert s.score_breakdown["growth"] == 3.0


def test_trend_growing_steady_fading_from_records():
    """Trend compares distinct people in the last 30 days with the 30 days before."""
    records = (
        [rec("G", days_ago=40)] + [rec("G", days_ago=d) for d in (1, 2, 3, 4)]
        + [rec("S", days_ago=d) for d in (31, 32, 33)] + [rec("S", days_ago=d) for d in (1, 2, 3)]
        + [rec("F", days_ago=d) for d in (31, 32, 33, 34)] + [rec("F", days_ago=1)]
    )
    result = by_id(rank_topics([card("G"), card("S"), card("F")], records, as_of=AS_OF))
    assert (result["G"].trend, result["S"].trend, result["F"].trend) == ("growing", "steady", "fading")
    # 1 → 4 people reads as growing, but a rise of 3 in 5 people is within chance
    # (heat.RISE_SD: 2·√5 ≈ 4.5), so the score counts none of it.
    assert result["G"].score_breakdown["growth"] == 0.0
    assert result["S"].score_breakdown["growth"] == 0.0
    assert result["F"].score_breakdown["growth"] == 0.0


def test_repeat_submitter_counts_once_in_trend_windows():
    """One person writing four times in the window is one person for the trend."""
    records = [rec(days_ago=40, submitter=p) for p in ("x", "y", "w")]
    records += [rec(days_ago=d, submitter="z") for d in (1, 2, 3, 4)]
    [s] = rank_topics([card("T1")], records, as_of=AS_OF)
    assert s.trend == "fading"


# --------------------------------------------------------------------------- cool-down


def test_recent_class_holds_topic_back_and_flags_it():
    """A class held 10 days ago subtracts the demand it served and marks the topic covered."""
    records = [rec("HOT", days_ago=20) for _ in range(4)] + [rec("MILD", days_ago=20) for _ in range(2)]
    sessions = [ClassSession("HOT", AS_OF.date() - timedelta(days=10), "held", "公文写作")]
    result = rank_topics([card("HOT"), card("MILD")], records, sessions, as_of=AS_OF)
    assert [s.topic_id for s in result] == ["MILD", "HOT"]
    hot = result[1]
    assert hot.recently_covered is True
    assert hot.last_class_on == AS_OF.date() - timedelta(days=10)
    assert hot.score == 0.0
    assert hot.score_breakdown["cooldown"] == -(hot.score_breakdown["people"] + hot.score_breakdown["growth"])
    assert hot.demand_rising_after_class is False


def test_class_outside_cooldown_window_is_not_penalised():
    """A class held 100 days ago (window 90) is reported but not held back."""
    sessions = [ClassSession("T1", AS_OF.date() - timedelta(days=100), "held")]
    [s] = rank_topics([card("T1")], [rec(days_ago=5)], sessions, as_of=AS_OF)
    assert s.recently_covered is False
    assert s.last_class_on == AS_OF.date() - timedelta(days=100)
    assert s.score_breakdown["cooldown"] == 0.0


def test_demand_rising_after_class_shows():
    """More people after the class than in the same span before it: flagged, and that demand still counts."""
    as_of = date(2024, 6, 30)
    held = date(2024, 6, 20)

    def at(day):
        """A fresh person's line at midnight UTC of ``day``."""
        moment = datetime.combine(day, datetime.min.time(), UTC)
        return DemandRecord(f"f{next(_counter)}", "T1", moment, f"p{next(_counter)}", "居民")

    before = at(date(2024, 6, 15))
    after = [at(date(2024, 6, 25)) for _ in range(3)]
    sessions = [ClassSession("T1", held, "held")]
    [s] = rank_topics([card("T1")], [before, *after], sessions, as_of=as_of)
    assert s.recently_covered is True
    assert s.demand_rising_after_class is True
    # as_of is a date: ages are measured from the midnight ending it (2024-07-01).
    assert s.score_breakdown["people"] == round(decay_weight(16, 45) + 3 * decay_weight(6, 45), 4)
    assert s.score_breakdown["growth"] == 4.0  # all four people are new; kept because demand rose
    assert s.score_breakdown["cooldown"] == -round(decay_weight(16, 45), 4)
    assert s.score == round(sum(s.score_breakdown.values()), 4)
    assert s.score == pytest.approx(3 * decay_weight(6, 45) + 4.0, abs=2e-4)


def test_planned_class_is_flagged_without_penalty():
    """A planned class shows its date but does not hold the topic back."""
    planned = AS_OF.date() + timedelta(days=7)
    sessions = [
        ClassSession("T1", planned, "planned"),
        ClassSession("T1", AS_OF.date() + timedelta(days=30), "planned"),
        ClassSession("T1", AS_OF.date() - timedelta(days=3), "cancelled"),
    ]
    [s] = rank_topics([card("T1")], [rec(days_ago=45)], sessions, as_of=AS_OF)
    assert s.class_planned_on == planned
    assert s.recently_covered is False
    assert s.last_class_on is None
    assert s.score_breakdown["cooldown"] == 0.0


def test_cooldown_days_zero_disables_cooldown():
    """cooldown_days=0 never holds a topic back."""
    sessions = [ClassSession("T1", AS_OF.date(), "held")]
    [s] = rank_topics([card("T1")], [rec(days_ago=45)], sessions, as_of=AS_OF, params=RankingParams(cooldown_days=0))
    assert s.recently_covered is False
    assert s.score == 0.5


# --------------------------------------------------------------------------- segments and privacy


def test_privacy_floor_drops_under_supported_topics_per_segment():
    """For 网格员 a topic needs 3 distinct 网格员; one person writing often does not lift it."""
    records = [rec("A", days_ago=d, segment="网格员") for d in (1, 2, 3)]
    records += [rec("B", days_ago=d, segment="网格员", submitter="same") for d in (1, 2, 3)]
    records += [rec("B", days_ago=1, segment="网格员")]
    records += [rec("B", days_ago=d, segment="居民") for d in (1, 2, 3, 4, 5)]
    topics = [card("A"), card("B")]
    grid = rank_topics(topics, records, as_of=AS_OF, segment="网格员")
    assert [s.topic_id for s in grid] == ["A"]
    assert grid[0].feedback_count == 3
    assert {s.topic_id for s in rank_topics(topics, records, as_of=AS_OF)} == {"A", "B"}


def test_segment_min_people_is_configurable():
    """segment_min_people=2 shows a topic two people in the segment raised."""
    records = [rec("B", days_ago=1, segment="网格员"), rec("B", days_ago=2, segment="网格员")]
    params = RankingParams(segment_min_people=2)
    assert [s.topic_id for s in rank_topics([card("B")], records, as_of=AS_OF, segment="网格员", params=params)] == ["B"]


def test_segment_scores_count_only_that_segment():
    """Per-segment scores use only the segment's lines."""
    records = [rec("A", days_ago=45, segment="网格员") for _ in range(3)] + [rec("A", days_ago=0, segment="居民")]
    [s] = rank_topics([card("A")], records, as_of=AS_OF, segment="网格员")
    assert s.score_breakdown["people"] == 1.5
    assert s.distinct_submitters == 3


# --------------------------------------------------------------------------- diversity


def test_diversity_moves_near_duplicate_centroids_down():
    """A topic with cosine ≥ 0.8 to a better one moves after the others (listed in that
    one's similar_to); 0.71 is not a near-duplicate."""
    topics = [card("A", [1.0, 0.0]), card("B", [0.99, 0.141]), card("C", [0.0, 1.0]), card("D", [0.7, 0.7])]
    records = [rec("A", 1) for _ in range(5)] + [rec("B", 1) for _ in range(4)]
    records += [rec("C", 1) for _ in range(3)] + [rec("D", 1) for _ in range(2)]
    result = rank_topics(topics, records, as_of=AS_OF, top=3)
    assert [s.topic_id for s in result] == ["A", "C", "D"]
    assert result[0].similar_to == ("B",)
    assert [s.rank for s in result] == [1, 2, 3]


def test_a_full_list_keeps_near_duplicates_at_the_end():
    """Asked for N, the list has N whenever N topics have demand: a near-duplicate is not dropped."""
    topics = [card("A", [1.0, 0.0]), card("B", [0.99, 0.141]), card("C", [0.0, 1.0]), card("D", [0.7, 0.7])]
    records = [rec("A", 1) for _ in range(5)] + [rec("B", 1) for _ in range(4)]
    records += [rec("C", 1) for _ in range(3)] + [rec("D", 1) for _ in range(2)]
    result = rank_topics(topics, records, as_of=AS_OF, top=5)
    assert [s.topic_id for s in result] == ["A", "C", "D", "B"]
    assert [s.rank for s in result] == [1, 2, 3, 4]


def test_diversity_threshold_is_configurable():
    """With threshold 0.999 the two close topics are both shown."""
    topics = [card("A", [1.0, 0.0]), card("B", [0.99, 0.141])]
    records = [rec("A", 1) for _ in range(5)] + [rec("B", 1) for _ in range(4)]
    result = rank_topics(topics, records, as_of=AS_OF, params=RankingParams(diversity_threshold=0.999))
    assert [s.topic_id for s in result] == ["A", "B"]


def test_topics_without_centroid_never_move():
    """Missing centroids disable the diversity check for that topic."""
    topics = [card("A"), card("B", [1.0, 0.0]), card("C", [1.0, 0.0]), card("D")]
    records = [rec("A", 1) for _ in range(4)] + [rec("B", 1) for _ in range(3)] + [rec("C", 1) for _ in range(2)]
    records += [rec("D", 1)]
    assert [s.topic_id for s in rank_topics(topics, records, as_of=AS_OF)] == ["A", "B", "D", "C"]


# --------------------------------------------------------------------------- filtering and ties


def test_future_records_are_ignored():
    """Lines after as_of change nothing: not counted, not listed, not in monthly counts."""
    base = [rec(days_ago=45, fid="old")]
    future = [rec(days_ago=-1, fid="future"), rec(days_ago=-0.001, submitter=None, fid="soon")]
    [before] = rank_topics([card("T1")], base, as_of=AS_OF)
    [after] = rank_topics([card("T1")], base + future, as_of=AS_OF)
    assert after == before
    assert after.feedback_ids == ("old",)


def test_date_as_of_includes_the_whole_day():
    """as_of as a date counts lines written on that day and none from the next."""
    day = date(2024, 6, 30)
    late = DemandRecord("late", "T1", datetime(2024, 6, 30, 23, 59, tzinfo=UTC), "a", "居民")
    next_day = DemandRecord("next", "T1", datetime(2024, 7, 1, 0, 0, tzinfo=UTC), "b", "居民")
    [s] = rank_topics([card("T1")], [late, next_day], as_of=day)
    assert s.feedback_ids == ("late",)


def test_records_without_topic_or_unknown_topic_are_ignored():
    """topic_id "-1", None and ids without a card contribute nothing."""
    records = [rec("-1", 1), rec(None, 1), rec("GONE", 1), rec("T1", 45)]
    [s] = rank_topics([card("T1")], records, as_of=AS_OF)
    assert s.topic_id == "T1"
    assert s.feedback_count == 1


def test_ties_broken_by_people_then_topic_id():
    """Equal scores: more distinct people first, then topic_id ascending."""
    records = [rec("T2", 45), rec("T2", 45), rec("T1", 0, fid="x"), rec("T3", 0, fid="y")]
    params = RankingParams(growth_weight=0.0)
    result = rank_topics([card("T1"), card("T2"), card("T3")], records, as_of=AS_OF, params=params)
    assert [s.score for s in result] == [1.0, 1.0, 1.0]
    assert [s.topic_id for s in result] == ["T2", "T1", "T3"]


def test_feedback_ids_most_recent_first():
    """feedback_ids lists the topic's lines newest first."""
    records = [rec(days_ago=3, fid="c"), rec(days_ago=1, fid="a"), rec(days_ago=2, fid="b")]
    [s] = rank_topics([card("T1")], records, as_of=AS_OF)
    assert s.feedback_ids == ("a", "b", "c")


def test_top_limits_and_zero_gives_nothing():
    """top caps the length; top=0 returns an empty list."""
    topics = [card(f"T{i}") for i in range(4)]
    records = [rec(f"T{i}", i) for i in range(4)]
    assert len(rank_topics(topics, records, as_of=AS_OF, top=2)) == 2
    assert rank_topics(topics, records, as_of=AS_OF, top=0) == []


# --------------------------------------------------------------------------- shape and helpers


def test_to_dict_has_interface_keys_and_is_json_ready():
    """to_dict gives INTERFACE.md's keys plus the documented extras, JSON-serialisable."""
    sessions = [ClassSession("T1", AS_OF.date() - timedelta(days=5), "held")]
    [s] = rank_topics([card("T1")], [rec(days_ago=1, votes=2)], sessions, as_of=AS_OF)
    data = s.to_dict()
    assert list(data) == [
        "topic_id", "rank", "label", "keywords", "score", "score_breakdown", "feedback_count",
        "distinct_submitters", "trend", "examples", "feedback_ids", "theme_id", "theme_label", "why", "votes",
        "recently_covered", "last_class_on", "cooldown_until", "class_planned_on", "demand_rising_after_class",
        "monthly_counts", "similar_to", "recent_people", "previous_people", "breakdown_readable",
    ]
    assert tuple(data["score_breakdown"]) == BREAKDOWN_KEYS
    assert data["last_class_on"] == (AS_OF.date() - timedelta(days=5)).isoformat()
    assert data["class_planned_on"] is None
    assert len(data["examples"]) == 3
    assert data["trend"] in TRENDS
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data


def test_monthly_counts_last_six_months():
    """monthly_counts gives six calendar months up to as_of's month, oldest first."""
    when = [datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 6, 30, tzinfo=UTC), datetime(2024, 1, 31, tzinfo=UTC),
            datetime(2023, 12, 31, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC)]
    records = [DemandRecord(f"f{i}", "T1", t, None, "居民") for i, t in enumerate(when)]
    assert monthly_counts(records, date(2024, 6, 30)) == [
        {"month": "2024-01", "count": 1},
        {"month": "2024-02", "count": 0},
        {"month": "2024-03", "count": 0},
        {"month": "2024-04", "count": 0},
        {"month": "2024-05", "count": 0},
        {"month": "2024-06", "count": 2},
    ]


def test_topic_heat_matches_rank_topics():
    """topic_heat on one topic's lines gives the same breakdown as the ranking."""
    records = [rec(days_ago=d, votes=d) for d in (1, 10, 50)]
    heat = topic_heat(records, AS_OF)
    [s] = rank_topics([card("T1")], records, as_of=AS_OF)
    assert dict(heat.breakdown) == s.score_breakdown
    assert heat.score == s.score


def test_params_from_settings():
    """RankingParams.from_settings reads the ranking fields of Settings."""
    params = RankingParams.from_settings(Settings(half_life_days=30, cooldown_days=60), diversity_threshold=0.9)
    assert (params.half_life_days, params.trend_window_days, params.cooldown_days, params.segment_min_people) == (
        30, 30, 60, 3
    )
    assert params.diversity_threshold == 0.9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"half_life_days": 0}, "half_life_days=0"), ({"trend_window_days": 0}, "trend_window_days=0"),
     ({"cooldown_strength": 2}, "cooldown_strength=2")],
    ids=["half-life", "window", "strength"],
)
def test_invalid_params_name_the_value(kwargs, message):
    """Bad parameters raise ValueError naming the value and the rule."""
    with pytest.raises(ValueError, match=message):
        RankingParams(**kwargs)


def test_naive_datetimes_are_rejected():
    """Naive submitted_at or as_of raise ValueError."""
    with pytest.raises(ValueError, match="timezone-aware"):
        DemandRecord("f", "T1", datetime(2024, 1, 1), None, "居民")
    with pytest.raises(ValueError, match="as_of"):
        rank_topics([card("T1")], [], as_of=datetime(2024, 1, 1))


def test_duplicate_topic_ids_are_rejected():
    """Two cards with one topic_id raise ValueError."""
    with pytest.raises(ValueError, match="T1"):
        rank_topics([card("T1"), card("T1")], [], as_of=AS_OF)


# --------------------------------------------------------------------------- properties

TOPIC_IDS = ("T1", "T2", "T3", "T4", "T5", "T6")
DIRECTIONS = ([1.0, 0.0, 0.0], [0.95, 0.31, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.7])

records_st = st.lists(
    st.builds(
        DemandRecord,
        feedback_id=st.text("abcdef", min_size=1, max_size=3),
        topic_id=st.sampled_from(("T1", "T1", "T2", "T2", "T3", *TOPIC_IDS, "-1", None)),
        submitted_at=st.integers(-5 * 24, 300 * 24).map(lambda h: AS_OF - timedelta(hours=h)),
        submitter=st.one_of(st.none(), st.sampled_from("abcdefgh")),
        segment=st.sampled_from(("居民", "网格员")),
        votes=st.integers(0, 5000),
        is_repeat=st.booleans(),
    ),
    min_size=3,
    max_size=60,
)
topics_st = st.lists(st.one_of(st.none(), st.sampled_from(DIRECTIONS)), min_size=1, max_size=6).map(
    lambda centroids: [card(topic_id, c) for topic_id, c in zip(TOPIC_IDS, centroids)]
)
sessions_st = st.lists(
    st.builds(
        ClassSession,
        topic_id=st.sampled_from(TOPIC_IDS),
        held_on=st.integers(-60, 200).map(lambda d: AS_OF.date() - timedelta(days=d)),
        status=st.sampled_from(("planned", "held", "cancelled")),
    ),
    max_size=6,
)
scenario_st = st.fixed_dictionaries(
    {
        "topics": topics_st,
        "records": records_st,
        "sessions": sessions_st,
        "top": st.integers(1, 6),
        "segment": st.sampled_from((None, "网格员")),
    }
)


def _run(scenario, permute=None):
    """rank_topics on a scenario, optionally with its inputs permuted by ``permute``."""
    topics, records, sessions = scenario["topics"], scenario["records"], scenario["sessions"]
    if permute is not None:
        topics, records, sessions = permute(topics), permute(records), permute(sessions)
    return rank_topics(topics, records, sessions, as_of=AS_OF, top=scenario["top"], segment=scenario["segment"])


@settings(max_examples=80, deadline=None)
@given(scenario_st)
def test_ranking_invariants(scenario):
    """≤ top, ranks 1..n, scores ≥ 0, breakdown sums to score; topics that are no
    near-duplicate of a better one come first, sorted by score, and are pairwise distinct."""
    result = _run(scenario)
    assert len(result) <= scenario["top"]
    assert [s.rank for s in result] == list(range(1, len(result) + 1))
    moved = {t for s in result for t in s.similar_to}
    first = [s for s in result if s.topic_id not in moved]
    assert result[: len(first)] == first
    scores = [s.score for s in first]
    assert scores == sorted(scores, reverse=True)
    centroids = {c.topic_id: c.centroid for c in scenario["topics"]}
    for s in result:
        assert s.score >= 0
        assert tuple(s.score_breakdown) == BREAKDOWN_KEYS
        assert math.isclose(sum(s.score_breakdown.values()), s.score, abs_tol=1e-9)
        assert all(round(v, 4) == v for v in s.score_breakdown.values())
        assert s.trend in TRENDS
        assert s.distinct_submitters >= 1
        if scenario["segment"] is not None:
            assert s.distinct_submitters >= 3
    shown = [centroids[s.topic_id] for s in first if centroids[s.topic_id] is not None]
    for i, a in enumerate(shown):
        for b in shown[i + 1:]:
            assert float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))) < 0.8


@settings(max_examples=60, deadline=None)
@given(scenario_st, st.randoms(use_true_random=False))
def test_ranking_is_stable_under_input_permutation(scenario, rnd):
    """Shuffling topics, records and sessions gives the identical ranking."""

    def shuffled(items):
        """A shuffled copy."""
        items = list(items)
        rnd.shuffle(items)
        return items

    expected = [s.to_dict() for s in _run(scenario)]
    assert [s.to_dict() for s in _run(scenario, shuffled)] == expected
    assert [s.to_dict() for s in _run(scenario, lambda xs: list(reversed(xs)))] == expected


# --------------------------------------------------------------------------- quotes
def test_a_long_quote_is_cut_around_the_topic_label_and_a_short_one_is_whole():
    """A 300-character message quoted whole fills the card, and its start rarely says the
    topic; the suggestion shows the part that says the label. The card keeps the whole line."""
    long_line = "我们是老旧小区的居民，" + "小区建成二十多年，大家都很关心社区的变化，" * 6 + (
        "最想学的是加装电梯怎么申请，要哪些材料，" + "费用分摊一直谈不拢，" * 6
    )
    topic = TopicCard(topic_id="T1", label="加装电梯", keywords=("电梯", "申请"), examples=(long_line, "加装电梯怎么申请"))
    [s] = rank_topics([topic], [rec()], as_of=AS_OF)
    quote, short = s.examples
    assert len(long_line) > 200 and len(quote) < 100
    assert "加装电梯" in quote and quote.startswith("…")
    assert short == "加装电梯怎么申请"
    assert topic.examples[0] == long_line

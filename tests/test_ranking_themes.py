"""Tests of the theme spread in recommender.ranking: a theme with two suggestions above does
not fill the list unless its demand is clearly larger; topics move down, never out, and the
why line says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.ranking.diversity import spread_themes
from recommender.ranking.explain import RankFacts, theme_text, why_text
from recommender.ranking.rank import DemandRecord, RankingParams, TopicCard, rank_topics

AS_OF = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
THEMES = {"G1": "诈骗", "G2": "消防"}


def card(topic_id, theme_id=None, centroid=None):
    """A topic card in theme ``theme_id`` (labelled from THEMES), or in none."""
    return TopicCard(
        topic_id=topic_id,
        label=f"主题{topic_id}",
        keywords=("反诈",),
        examples=("例一",),
        centroid=centroid,
        theme_id=theme_id,
        theme_label=THEMES.get(theme_id),
    )


def people(topic_id, n, days_ago=1.0):
    """``n`` distinct people asking for ``topic_id`` ``days_ago`` days before AS_OF."""
    return [
        DemandRecord(
            feedback_id=f"{topic_id}-{i}",
            topic_id=topic_id,
            submitted_at=AS_OF - timedelta(days=days_ago),
            submitter=f"{topic_id}-p{i}",
            segment="居民",
        )
        for i in range(n)
    ]


def ids(suggestions):
    """The topic ids in rank order."""
    return [s.topic_id for s in suggestions]


def test_other_theme_slightly_weaker_enters_the_top_three():
    """Three strong fraud topics and a slightly weaker fire topic: the third fraud topic moves
    below it, stays in the list, and its why line says why (the others' do not change)."""
    topics = [card("A1", "G1"), card("A2", "G1"), card("A3", "G1"), card("B1", "G2"), card("C1")]
    records = people("A1", 20) + people("A2", 16) + people("A3", 12) + people("B1", 10) + people("C1", 2)
    result = rank_topics(topics, records, as_of=AS_OF, top=5)
    assert ids(result) == ["A1", "A2", "B1", "A3", "C1"]
    assert [s.rank for s in result] == [1, 2, 3, 4, 5]
    moved = result[3]
    assert moved.why.endswith("；同类别「诈骗」已有 2 条建议排在前面，后移 1 位，先排其他类别")
    assert all("同类别" not in s.why for s in result if s.topic_id != "A3")
    # the rule off (or more slots): plain score order, nothing said
    off = rank_topics(topics, records, as_of=AS_OF, top=5, params=RankingParams(theme_slots=0))
    assert ids(off) == ["A1", "A2", "A3", "B1", "C1"]
    assert ids(rank_topics(topics, records, as_of=AS_OF, top=5, params=RankingParams(theme_slots=3))) == ids(off)
    assert all("同类别" not in s.why for s in off)


def test_overwhelming_theme_keeps_its_slots():
    """A theme whose third topic has far more demand than the best other theme's keeps it in
    place, and the why line names the lead instead of a move."""
    topics = [card("A1", "G1"), card("A2", "G1"), card("A3", "G1"), card("B1", "G2")]
    records = people("A1", 40) + people("A2", 36) + people("A3", 30) + people("B1", 5)
    result = rank_topics(topics, records, as_of=AS_OF, top=4)
    assert ids(result) == ["A1", "A2", "A3", "B1"]
    lead = result[2].score / result[3].score
    assert lead > 1 / RankingParams().theme_ratio
    assert result[2].why.endswith(f"；同类别「诈骗」已有 2 条建议排在前面，热度是其他类别下一名的 {lead:.1f} 倍，未后移")
    assert "同类别" not in result[3].why


def test_a_crowded_topic_moves_only_past_close_enough_topics_and_the_order_does_not_depend_on_top():
    """The crowded topic goes after every other-theme topic within the ratio of its score and
    before the first one below it; asked for fewer, the list is a prefix of the longer one."""
    topics = [card(t, "G1") for t in ("A1", "A2", "A3")] + [card(t, "G2") for t in ("B1", "B2")]
    topics += [card("C1"), card("C2")]
    records = people("A1", 30) + people("A2", 25) + people("A3", 20)
    records += people("B1", 19) + people("C1", 18) + people("B2", 17) + people("C2", 3)
    result = rank_topics(topics, records, as_of=AS_OF, top=10)
    assert ids(result) == ["A1", "A2", "B1", "C1", "B2", "A3", "C2"]
    assert "后移 3 位" in result[5].why
    for top in range(1, 8):
        assert ids(rank_topics(topics, records, as_of=AS_OF, top=top)) == ids(result)[:top]


def test_near_duplicates_still_come_after_every_distinct_topic():
    """The theme spread works among the distinct topics; a near-duplicate stays at the end."""
    topics = [card("A1", "G1", [1.0, 0.0]), card("A2", "G1", [0.0, 1.0]), card("A3", "G1", [0.6, 0.8])]
    topics += [card("A4", "G1", [0.99, 0.141]), card("B1", "G2", [-1.0, 0.0])]
    records = people("A1", 20) + people("A2", 18) + people("A3", 16) + people("A4", 15) + people("B1", 14)
    result = rank_topics(topics, records, as_of=AS_OF, top=5)
    assert ids(result) == ["A1", "A2", "B1", "A3", "A4"]
    assert result[0].similar_to == ("A4",)


def test_theme_text_reads_as_a_sentence():
    """Moved, kept for its lead, or nothing to say (no theme label: 同类别 alone)."""
    base = dict(as_of=AS_OF.date(), people=9, recent_people=5, previous_people=0, window_days=30, trend="new")
    assert theme_text(RankFacts(**base)) == ""
    moved = RankFacts(**base, theme_label="诈骗", theme_above=2, theme_places=3)
    assert theme_text(moved) == "同类别「诈骗」已有 2 条建议排在前面，后移 3 位，先排其他类别"
    assert why_text(moved) == "9 人提出，近 30 天 5 人，新出现；近期未开课；" + theme_text(moved)
    kept = RankFacts(**base, theme_above=3, theme_lead=2.04)
    assert theme_text(kept) == "同类别已有 3 条建议排在前面，热度是其他类别下一名的 2.0 倍，未后移"


# --------------------------------------------------------------------------- properties

spread_st = st.lists(
    st.tuples(st.integers(1, 100), st.sampled_from(("G1", "G2", "G3", None))), min_size=0, max_size=12
)


@settings(max_examples=200, deadline=None)
@given(spread_st, st.integers(0, 3), st.sampled_from((0.5, 0.75, 1.0)))
def test_spread_keeps_every_topic_and_moves_only_crowded_ones(items, slots, ratio):
    """Nothing dropped or added; each theme keeps its own order; a topic that was never crowded
    has only topics that came before it in score order above it; each moved topic is named."""
    ordered = [f"T{i}" for i in range(len(items))]
    ranked = sorted(zip(ordered, items, strict=True), key=lambda x: (-x[1][0], x[0]))
    ordered = [t for t, _ in ranked]
    scores = {t: float(s) for t, (s, _) in ranked}
    themes = {t: g for t, (_, g) in ranked}
    chosen, moves = spread_themes(ordered, scores, themes, slots, ratio)
    assert sorted(chosen) == sorted(ordered)
    for theme in ("G1", "G2", "G3"):
        assert [t for t in chosen if themes[t] == theme] == [t for t in ordered if themes[t] == theme]
    position = {t: i for i, t in enumerate(ordered)}
    for i, topic in enumerate(chosen):
        above = chosen[:i]
        if any(position[t] > position[topic] for t in above):
            assert topic in moves and moves[topic].places > 0, (chosen, topic)
        if topic in moves:
            assert themes[topic] is not None and moves[topic].above >= slots
    if slots == 0:
        assert chosen == ordered and moves == {}


themed_st = st.lists(
    st.tuples(st.sampled_from(("G1", "G2", None)), st.integers(1, 30), st.integers(0, 120)), min_size=1, max_size=7
)


@settings(max_examples=80, deadline=None)
@given(themed_st, st.randoms(use_true_random=False))
def test_themed_ranking_is_a_prefix_for_any_top_and_any_input_order(topics_spec, rnd):
    """With themes, the ranking does not depend on the order of the inputs, and asked for
    fewer suggestions it is the first part of the full list (nothing is dropped)."""
    topics = [card(f"T{i}", theme) for i, (theme, _, _) in enumerate(topics_spec)]
    records = [r for i, (_, n, days) in enumerate(topics_spec) for r in people(f"T{i}", n, days)]
    full = rank_topics(topics, records, as_of=AS_OF, top=len(topics))
    assert sorted(ids(full)) == sorted(t.topic_id for t in topics)
    shuffled_topics, shuffled_records = list(topics), list(records)
    rnd.shuffle(shuffled_topics)
    rnd.shuffle(shuffled_records)
    again = rank_topics(shuffled_topics, shuffled_records, as_of=AS_OF, top=len(topics))
    assert [s.to_dict() for s in again] == [s.to_dict() for s in full]
    for top in range(len(topics)):
        assert [s.to_dict() for s in rank_topics(topics, records, as_of=AS_OF, top=top)] == [
            s.to_dict() for s in full[:top]
        ]

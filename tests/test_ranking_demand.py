"""Tests of the ranking's sense of demand: recent, rising demand from distinct people ranks above
large steady background topics (diminishing returns on size, growth against the topic's own
previous window), on small data written here."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from recommender.ranking.explain import RankFacts, why_text
from recommender.ranking.heat import decay_weight, people_points, rise_credibility
from recommender.ranking.rank import ClassSession, DemandRecord, RankingParams, TopicCard, rank_topics, topic_heat

AS_OF = date(2026, 11, 30)
#: Ages are measured from the midnight ending AS_OF.
END = datetime(2026, 12, 1, tzinfo=UTC)


def people(topic: str, ages_days: list[float]) -> list[DemandRecord]:
    """One line per person, ``age`` days before the end of AS_OF."""
    return [
        DemandRecord(f"{topic}-{i}", topic, END - timedelta(days=age), f"{topic}-person-{i}", "居民")
        for i, age in enumerate(ages_days)
    ]


def evenly(n: int, days: float) -> list[float]:
    """``n`` ages spread evenly over the last ``days`` days."""
    return [days * (i + 0.5) / n for i in range(n)]


def ranked(records, **kwargs):
    topics = sorted({r.topic_id for r in records})
    return rank_topics([TopicCard(t, f"主题{t}") for t in topics], records, as_of=AS_OF, top=10, **kwargs)


def test_people_points_count_in_full_up_to_the_knee_then_grow_with_the_square_root():
    """4·(√P − 1) beyond the default knee of 4: 16 → 12, 36 → 20, 64 → 28; no step at the knee."""
    assert [people_points(p, 4.0) for p in (0.0, 0.5, 2.0, 4.0)] == [0.0, 0.5, 2.0, 4.0]
    assert [people_points(p, 4.0) for p in (16.0, 36.0, 64.0)] == pytest.approx([12.0, 20.0, 28.0])
    assert people_points(4.0 + 1e-9, 4.0) == pytest.approx(4.0)
    values = [people_points(p / 4, 4.0) for p in range(1, 800)]
    assert all(b > a for a, b in zip(values, values[1:]))  # more people always score more
    assert people_points(64.0, math.inf) == 64.0


def test_ten_people_this_week_outrank_forty_spread_over_sixty_days():
    """A sudden topic of 10 people in the last week is what an organizer wants to see first;
    40 people at a steady rate over 60 days stay in the list below it."""
    records = people("NEW", evenly(10, 7)) + people("BIG", evenly(40, 60))
    new, big = ranked(records)
    assert (new.topic_id, big.topic_id) == ("NEW", "BIG")
    assert (new.trend, big.trend) == ("new", "steady")
    assert (big.recent_people, big.previous_people) == (20, 20)
    assert big.score_breakdown["growth"] == 0.0
    assert new.score == pytest.approx(48.3, abs=0.1)  # the worked example of ranking/heat.py
    assert big.score == pytest.approx(16.4, abs=0.1)


def test_two_recent_lines_do_not_beat_a_steady_thirty_person_topic():
    """Growth is counted in people, not as a ratio: 0 → 2 people is +2, not infinite growth."""
    records = people("TWO", [1, 2]) + people("STEADY", evenly(30, 60))
    steady, two = ranked(records)
    assert (steady.topic_id, two.topic_id) == ("STEADY", "TWO")
    assert two.score_breakdown["growth"] == 2.0
    assert two.score == pytest.approx(4.0, abs=0.1)
    assert steady.score == pytest.approx(13.7, abs=0.1)


def test_a_specific_recent_request_outranks_broad_steady_catch_alls():
    """The planted-demand case in small: 12 people this month on top of 12 over two months,
    against catch-alls of 40-70 people at a steady rate."""
    records = people("SUBSIDY", evenly(12, 30) + evenly(12, 60))
    for n in (40, 50, 60, 70):
        records += people(f"CATCH{n}", evenly(n, 60))
    result = ranked(records)
    assert result[0].topic_id == "SUBSIDY"
    assert result[0].trend == "growing"
    assert result[0].why.startswith("24 人提出，近 30 天 18 人，上升（比前 30 天多 12 人）")
    assert [s.topic_id for s in result[1:]] == ["CATCH70", "CATCH60", "CATCH50", "CATCH40"]


def test_size_still_orders_topics_of_the_same_shape():
    """Diminishing returns, not a cap: among steady topics more people still rank higher."""
    records = []
    for n in (5, 10, 20, 40, 80):
        records += people(f"S{n:02d}", evenly(n, 60))
    assert [s.topic_id for s in ranked(records)] == ["S80", "S40", "S20", "S10", "S05"]


def test_growth_is_measured_against_the_topics_own_previous_window():
    """The same 20 people this month: a topic that had 8 the month before gets +12, one that
    had 20 gets nothing."""
    rising = people("RISING", evenly(20, 30) + [30 + a for a in evenly(8, 30)])
    flat = people("FLAT", evenly(20, 30) + [30 + a for a in evenly(20, 30)])
    result = {s.topic_id: s for s in ranked(rising + flat)}
    assert result["RISING"].score_breakdown["growth"] == 12.0
    assert result["FLAT"].score_breakdown["growth"] == 0.0
    assert result["RISING"].rank == 1


def test_recency_counts_within_the_people_component():
    """The same number of people, steady: the topic whose people wrote more recently scores more."""
    records = people("FRESH", evenly(30, 60)) + people("OLD", [a + 30 for a in evenly(30, 60)])
    fresh, old = ranked(records)
    assert (fresh.topic_id, old.topic_id) == ("FRESH", "OLD")


def test_a_linear_knee_gives_back_plain_people_counts():
    """people_knee=inf: every person counts in full (the ranking before diminishing returns;
    growth left out, which would put the new topic first)."""
    records = people("NEW", evenly(10, 7)) + people("BIG", evenly(40, 60))
    result = ranked(records, params=RankingParams(people_knee=math.inf, growth_weight=0.0))
    assert [s.topic_id for s in result] == ["BIG", "NEW"]
    expected = sum(decay_weight(a, 45) for a in evenly(40, 60))
    assert result[0].score_breakdown["people"] == round(expected, 4)


def test_a_class_that_served_everyone_holds_a_large_topic_at_zero():
    """Cool-down with diminishing returns: all demand before the class is served, so nothing is left."""
    records = people("BIG", [a + 10 for a in evenly(40, 50)])
    sessions = [ClassSession("BIG", AS_OF - timedelta(days=5), "held")]
    heat = topic_heat(records, AS_OF, sessions)
    assert heat.recently_covered is True
    assert heat.score == 0.0
    assert heat.breakdown["cooldown"] == -(heat.breakdown["people"] + heat.breakdown["growth"])


def test_after_a_class_only_the_new_people_count_as_they_would_alone():
    """The people component of a covered topic is what its people after the class alone score."""
    before = [a + 10 for a in evenly(40, 50)]
    after = evenly(9, 4)
    records = people("BIG", before + after)
    sessions = [ClassSession("BIG", AS_OF - timedelta(days=5), "held")]
    heat = topic_heat(records, AS_OF, sessions)
    alone = topic_heat(people("ALONE", after), AS_OF)
    assert heat.breakdown["growth"] == 0.0
    assert heat.breakdown["people"] + heat.breakdown["cooldown"] == pytest.approx(alone.breakdown["people"], abs=2e-4)
    assert heat.score == pytest.approx(alone.breakdown["people"], abs=2e-4)


def test_why_names_the_rise_only_when_the_score_counted_it():
    """「上升（比前 30 天多 12 人）」 for a counted rise; steady and new topics read as before."""
    base = dict(as_of=AS_OF, people=24, recent_people=18, previous_people=6, window_days=30, trend="growing")
    assert why_text(RankFacts(**base, growth_people=12)) == "24 人提出，近 30 天 18 人，上升（比前 30 天多 12 人）；近期未开课"
    assert why_text(RankFacts(**base)) == "24 人提出，近 30 天 18 人，上升；近期未开课"
    records = people("NEW", evenly(10, 7)) + people("BIG", evenly(40, 60))
    new, big = ranked(records)
    assert new.why == "10 人提出，近 30 天 10 人，新出现；近期未开课"
    assert big.why == "40 人提出，近 30 天 20 人，平稳；近期未开课"


def test_people_knee_must_be_positive():
    with pytest.raises(ValueError, match="people_knee=0"):
        RankingParams(people_knee=0)


def said(topic: str, ages_days: list[float], text: str, start: int = 0) -> list[DemandRecord]:
    """Like :func:`people`, each line saying ``text``."""
    return [
        DemandRecord(f"{topic}-{start + i}", topic, END - timedelta(days=age), f"{topic}-person-{start + i}", "居民", text=text)
        for i, age in enumerate(ages_days)
    ]


def test_a_specific_request_rising_inside_a_steady_topic_counts_as_growth():
    """补贴 has 14 lines in the last 30 days and 22 before: the topic is steady overall. But
    the 10 lines naming its label 购房补贴 are all recent (1 before): the request it is named
    for rose by 9 people, which counts and is named in the why line, so it ranks above a
    steady topic of more people. Without its label in the lines it would rank below."""
    request = said("SUB", evenly(10, 30), "人才购房补贴什么时候发") + said("SUB", [45.0], "购房补贴申请", 10)
    background = said("SUB", evenly(4, 30), "危房补贴标准", 11) + said("SUB", [31.0 + a for a in evenly(21, 29)], "渔船柴油补贴", 15)
    steady = people("ROAD", evenly(48, 60))
    cards = [TopicCard("SUB", "购房补贴"), TopicCard("ROAD", "道路硬化")]
    first, second = rank_topics(cards, request + background + steady, as_of=AS_OF, top=2)
    assert (first.topic_id, second.topic_id) == ("SUB", "ROAD")
    assert (first.recent_people, first.previous_people) == (14, 22)
    # The ten who name it are new demand (one of 11 wrote before): 4 × 10 × 10/11, and the why
    # line names the rise in people.
    assert first.trend == "growing" and first.score_breakdown["growth"] == 36.3636
    assert "提「购房补贴」的比前 30 天多 9 人" in first.why
    unnamed = [TopicCard("SUB", "补贴申请"), TopicCard("ROAD", "道路硬化")]
    assert [s.topic_id for s in rank_topics(unnamed, request + background + steady, as_of=AS_OF, top=2)] == ["ROAD", "SUB"]


def test_a_chance_rise_of_the_lines_saying_the_label_does_not_count():
    """6 people said the label in the last 30 days and 3 before, among 22 steady lines: a
    rise of 3 is what a coin-flip split of 9 people gives (2·√9 = 6 is the bar), so the
    topic stays steady with no growth."""
    label_lines = said("T", evenly(6, 30), "停车收费") + said("T", [31.0 + a for a in evenly(3, 29)], "停车收费", 6)
    rest = said("T", evenly(5, 30), "物业", 9) + said("T", [31.0 + a for a in evenly(8, 29)], "物业", 14)
    (only,) = rank_topics([TopicCard("T", "停车收费")], label_lines + rest, as_of=AS_OF, top=1)
    assert (only.recent_people, only.previous_people) == (11, 11)
    assert only.trend == "steady" and only.score_breakdown["growth"] == 0.0
    assert "停车收费" not in only.why


def test_a_six_person_new_request_ranks_above_a_steady_eighty_person_topic():
    """Issue 14's planted demand in small: six people raised a new subject this month (one
    line about it came a month and a half ago) beside a steady topic of 80 people. The new
    request is new demand: its six current people count four times as growth, times the
    share of the two windows' people who are new (6/7): 20.6, and it still ranks first."""
    new = people("NEW", evenly(6, 30) + [45.0])
    big = people("BIG", evenly(80, 60))
    first, second = ranked(new + big)
    assert (first.topic_id, second.topic_id) == ("NEW", "BIG")
    assert first.score_breakdown["growth"] == 20.5714  # 4 · 6 · 6/7
    assert first.why.startswith("7 人提出，近 30 天 6 人，上升（比前 30 天多 5 人）")
    assert second.score_breakdown["growth"] == 0.0


def test_new_demand_needs_the_fewest_people_of_a_topic_and_few_earlier_ones():
    """Four new people are a rise of 4, not new demand. Nine now and three before (a
    quarter earlier) are new demand; nine and four (4 of 13) a topic that grew, counted once
    and only beyond chance; sixteen and six a rise beyond chance."""

    def heat(now: int, before: int):
        return topic_heat(people("T", evenly(now, 30) + [30 + a for a in evenly(before, 30)]), AS_OF)

    assert topic_heat(people("FEW", evenly(4, 30)), AS_OF).breakdown["growth"] == 4.0
    assert heat(9, 3).breakdown["growth"] == 27.0  # 4 · 9 · 9/12
    assert heat(9, 4).breakdown["growth"] == 0.0  # 5 < 2·√13 ≈ 7.2
    grew = heat(16, 6)
    assert (grew.breakdown["growth"], grew.growth_people, grew.trend) == (10.0, 10, "growing")


def test_a_chance_rise_of_a_large_steady_topic_does_not_count():
    """59 people, 33 in the last window and 26 before: a coin-flip split of 59 people varies
    by about √59 ≈ 7.7, so a rise of 7 is no growth (it read as growing and scored +7)."""
    records = people("ROAD", evenly(33, 30) + [30 + a for a in evenly(26, 30)])
    (only,) = ranked(records)
    assert only.trend == "growing"
    assert only.score_breakdown["growth"] == 0.0


def test_new_demand_needs_a_subject_new_across_the_store_not_only_in_the_topic():
    """Issue 14's planted demand beside the chance bunches of random times. 搅拌站: six people
    this month and one older line, and nobody else in the store says it: new demand, above a
    steady 80-person topic. 房产证: ten people now and three before, by its own timestamps
    as new as 搅拌站, but the store has said 房产证 all along (fourteen steady lines in another
    topic and in lines in no topic): a chance bunch of an old subject, so no new-demand
    weight; its rise (7 against 2·√13 ≈ 7.2) is within chance, so no growth at all."""
    plant = said("MIX", evenly(6, 30), "搅拌站噪音太大") + said("MIX", [45.0], "搅拌站环保问题", 6)
    bunch = said("DEED", evenly(10, 30), "房产证办不下来") + said("DEED", [31.0 + a for a in evenly(3, 29)], "房产证加名", 10)
    elsewhere = said("HOME", evenly(14, 60), "买二手房房产证过户") + said(None, evenly(6, 60), "房产证丢了补办", 14)
    big = people("BIG", evenly(80, 60))
    cards = [TopicCard("MIX", "搅拌站"), TopicCard("DEED", "房产证"), TopicCard("HOME", "二手房"), TopicCard("BIG", "道路")]
    ranked = {s.topic_id: s for s in rank_topics(cards, plant + bunch + elsewhere + big, as_of=AS_OF, top=4)}
    assert [s.topic_id for s in sorted(ranked.values(), key=lambda s: s.rank)][:2] == ["MIX", "BIG"]
    assert ranked["MIX"].score_breakdown["growth"] == 20.5714
    assert (ranked["DEED"].recent_people, ranked["DEED"].previous_people) == (10, 3)
    assert ranked["DEED"].score_breakdown["growth"] == 0.0
    # Without the other lines saying 房产证 it is new demand, as its timestamps alone say.
    alone = {s.topic_id: s for s in rank_topics(cards, plant + bunch + big, as_of=AS_OF, top=4)}
    assert alone["DEED"].score_breakdown["growth"] == 30.7692 and alone["DEED"].rank == 1


def test_a_word_new_in_the_store_because_of_another_topic_is_not_this_topics_new_subject():
    """Twelve people newly ask to 申请 the talent housing subsidy (topic 购房补贴); a small
    topic 申请 (other applications) has nine people now and three before (new demand by its
    own timestamps; a rise of 6 is within chance, 2·√12 ≈ 6.9). The store's new use
    of 申请 is the subsidy's: most of the people saying it lately are in the other topic,
    which gets the new-demand weight; 申请 gets none for it."""
    subsidy = said("SUB", evenly(12, 30), "申请人才购房补贴")
    apply = said("APP", evenly(9, 30), "申请廉租房的条件") + said("APP", [31.0 + a for a in evenly(3, 29)], "申请法律援助", 9)
    cards = [TopicCard("SUB", "购房补贴"), TopicCard("APP", "申请")]
    ranked = {s.topic_id: s for s in rank_topics(cards, subsidy + apply, as_of=AS_OF, top=2)}
    assert ranked["SUB"].score_breakdown["growth"] == 48.0
    assert ranked["APP"].score_breakdown["growth"] == 0.0
    alone = rank_topics([TopicCard("APP", "申请")], apply, as_of=AS_OF, top=1)
    assert alone[0].score_breakdown["growth"] == 27.0


def test_a_chance_bunch_of_a_few_recent_people_is_not_new_demand():
    """Random times give a few of 60-70 small topics five people in the last 30 days and one
    before (a coin-flip split of six people does so one time in nine). That is no evidence
    of a rise (posterior 0.94 < 0.95 that the rate rose), so the bunch is not new demand and
    ranks below a steady 60-person topic; with new demand's weight it scored 4 + 4·5 = 24
    and ranked above it."""
    bunch = people("BUNCH", evenly(5, 30) + [45.0])
    steady = people("STEADY", evenly(60, 60))
    first, second = ranked(bunch + steady)
    assert (first.topic_id, second.topic_id) == ("STEADY", "BUNCH")
    assert (second.recent_people, second.previous_people) == (5, 1)
    assert second.score_breakdown["growth"] == 0.0
    # The why line keeps the counts, and names no counted rise.
    assert second.why.startswith("6 人提出，近 30 天 5 人，上升；")
    assert "多" not in second.why


def test_a_chance_bunch_of_the_lines_saying_the_label_is_not_new_demand():
    """The same bar guards the label's own lines: in a flat topic (8 people now, 8 before) six
    lines saying the label now and two before are a chance split (posterior 0.91), not a new
    request; the topic ranks by its people alone, below a steady 60-person topic."""
    label_lines = said("T", evenly(6, 30), "减速带") + said("T", [31.0 + a for a in evenly(2, 29)], "减速带", 6)
    rest = said("T", evenly(2, 30), "道路", 8) + said("T", [31.0 + a for a in evenly(6, 29)], "道路", 10)
    steady = people("STEADY", evenly(60, 60))
    cards = [TopicCard("T", "减速带"), TopicCard("STEADY", "公路")]
    first, second = rank_topics(cards, label_lines + rest + steady, as_of=AS_OF, top=2)
    assert (first.topic_id, second.topic_id) == ("STEADY", "T")
    assert second.score_breakdown["growth"] == 0.0
    assert "减速带" not in second.why


def test_a_believable_new_request_still_outranks_the_steady_topic():
    """The bar lets real new demand through: seven people now and one before (posterior
    0.98), or eight people all new, are new demand and rank above the steady 60-person topic
    and above the chance bunch of five and one."""
    records = (
        people("SEVEN", evenly(7, 30) + [45.0])
        + people("EIGHT", evenly(8, 20))
        + people("BUNCH", evenly(5, 30) + [45.0])
        + people("STEADY", evenly(60, 60))
    )
    result = ranked(records)
    assert [s.topic_id for s in result] == ["EIGHT", "SEVEN", "STEADY", "BUNCH"]
    assert result[0].score_breakdown["growth"] == 32.0
    assert result[1].score_breakdown["growth"] == 24.5  # 4 · 7 · 7/8


def test_rise_credibility_is_the_flat_prior_posterior_that_the_rate_rose():
    """P(Binomial(c + p + 1, ½) ≤ c): 1/2 for no change, symmetric, exact for large counts."""
    assert rise_credibility(0, 0) == 0.5
    assert rise_credibility(3, 3) == 0.5
    assert rise_credibility(6, 1) == pytest.approx(1 - 9 / 256)
    assert rise_credibility(5, 1) == pytest.approx(1 - 8 / 128)
    assert rise_credibility(1, 5) == pytest.approx(8 / 128)
    assert rise_credibility(3000, 2900) == pytest.approx(0.9035, abs=1e-4)
    assert 0.0 < rise_credibility(2900, 3000) < 0.1
    assert [rise_credibility(c, 1) >= 0.95 for c in (4, 5, 6)] == [False, False, True]
    with pytest.raises(ValueError, match="current=-1"):
        rise_credibility(-1, 0)


def test_new_demand_counts_the_share_of_its_people_who_are_new():
    """Seed 5 of the planted-demand bench in small: eight people all new (a request no one
    raised before) beside two topics whose random times bunched lately, nine now and three
    before, eight now and two before (both believable rises, 0.954 and 0.967). New demand's
    four-fold weight is for the part of the two windows' people that is new: 4 · 8 · 8/8 =
    32 for the new request, 4 · 9 · 9/12 = 27 and 4 · 8 · 8/10 = 25.6 for the bunches, so the
    new request ranks first; counted 4 × the current people the nine-and-three bunch (36)
    ranked above it."""
    records = (
        people("ALLNEW", evenly(8, 30))
        + people("NINE", evenly(9, 30) + [30 + a for a in evenly(3, 30)])
        + people("EIGHT", evenly(8, 30) + [30 + a for a in evenly(2, 30)])
    )
    result = ranked(records)
    assert [s.topic_id for s in result] == ["ALLNEW", "NINE", "EIGHT"]
    assert [s.score_breakdown["growth"] for s in result] == [32.0, 27.0, 25.6]
    assert [(s.recent_people, s.previous_people) for s in result] == [(8, 0), (9, 3), (8, 2)]

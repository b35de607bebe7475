"""Tests of recommender.ranking.explain: the why line, the readable breakdown and the cool-down text."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from recommender.ranking.explain import RankFacts, cooldown_text, cooldown_until, day_text, readable_breakdown, why_text
from recommender.ranking.rank import ClassSession, DemandRecord, RankingParams, TopicCard, rank_topics

AS_OF = date(2026, 10, 20)


def facts(**changes):
    """35 people, 12 of them in the last 30 days (8 the 30 days before), rising, 40 likes, no class."""
    values = dict(as_of=AS_OF, people=35, recent_people=12, previous_people=8, window_days=30, trend="growing", votes=40)
    values.update(changes)
    return RankFacts(**values)


def test_why_reads_like_the_issue_example():
    """People, recent people, trend in Chinese, likes and 近期未开课, in that order."""
    assert why_text(facts()) == "35 人提出，近 30 天 12 人，上升；点赞 40；近期未开课"


def test_why_leaves_out_likes_when_there_are_none():
    """No likes: no 「点赞 0」."""
    assert why_text(facts(votes=0, trend="steady")) == "35 人提出，近 30 天 12 人，平稳；近期未开课"


def test_why_says_cool_down_with_both_dates():
    """A class on 9月12日 with a 90-day cool-down: 「9月12日已开课，暂缓到 12月11日」."""
    held = date(2026, 9, 12)
    until = cooldown_until(held, 90)
    assert until == date(2026, 12, 11)
    text = why_text(facts(last_class_on=held, recently_covered=True, cooldown_until=until))
    assert text.endswith("；9月12日已开课，暂缓到 12月11日")


def test_why_names_a_planned_class_and_an_old_one():
    """A planned class is named with its date; an old class is named as the last one."""
    assert why_text(facts(class_planned_on=date(2026, 11, 3))).endswith("已计划 11月3日开课")
    assert why_text(facts(last_class_on=date(2026, 3, 5))).endswith("近期未开课（上次 3月5日）")


def test_dates_carry_the_year_only_when_it_differs():
    """「1月30日」 within as_of's year, 「2027年1月30日」 outside it."""
    assert day_text(date(2026, 1, 30), AS_OF) == "1月30日"
    assert day_text(date(2027, 1, 30), AS_OF) == "2027年1月30日"
    assert cooldown_text(date(2026, 11, 1), date(2027, 1, 30), AS_OF) == "11月1日已开课，暂缓到 2027年1月30日"


@pytest.mark.parametrize(
    ("recent", "previous", "counted", "expected"),
    [
        (12, 8, True, "比前 30 天多 50%（8 → 12 人）"),
        (6, 8, False, "比前 30 天少 25%（8 → 6 人）"),
        (8, 8, False, "与前 30 天持平（8 → 8 人）"),
        (5, 0, True, "前 30 天无人提出，近 30 天 5 人"),
        (0, 0, False, "近 60 天无人提出"),
        (5, 1, False, "1 → 5 人，可能只是偶然，未计入增长"),
        (12, 8, False, "8 → 12 人，可能只是偶然，未计入增长"),
        (110, 100, False, "100 → 110 人，增幅在正常波动之内，未计入增长"),
        (2, 0, False, "前 30 天无人提出，近 30 天 2 人，可能只是偶然，未计入增长"),
    ],
    ids=["up", "down", "flat", "from-nothing", "quiet", "chance", "chance-8-12", "chance-large", "chance-from-nothing"],
)
def test_growth_is_in_per_cent_and_people(recent, previous, counted, expected):
    """The growth row says the change in % with the two head counts; a rise the score did not
    count says so instead of a per cent (「多 400%」 beside a growth of 0 read as a contradiction)."""
    rows = {
        r["key"]: r
        for r in readable_breakdown(facts(recent_people=recent, previous_people=previous, growth_counted=counted))
    }
    assert rows["growth"]["text"] == expected


def test_a_chance_rise_reads_as_not_counted_in_the_ranked_suggestion():
    """1 person in the 30 days before, 5 in the last 30: the score counts no growth (the rise is
    within chance) and the suggestion's breakdown, which the API, the dashboard card and
    ``suggest --format json`` show, says so; a rise the score counted keeps its per cent."""
    chance = [_record(n, days_ago=2 + n) for n in range(5)] + [_record(9, days_ago=40)]
    [s] = rank_topics([TopicCard("T1", "垃圾分类")], chance, [], as_of=AS_OF)
    assert (s.recent_people, s.previous_people) == (5, 1) and s.score_breakdown["growth"] == 0
    rows = {r["key"]: r["text"] for r in s.to_dict()["breakdown_readable"]}
    assert rows["growth"] == "1 → 5 人，可能只是偶然，未计入增长"
    real = [_record(n, days_ago=2 + n * 0.5) for n in range(40)] + [_record(100 + n, days_ago=40 + n) for n in range(4)]
    [s] = rank_topics([TopicCard("T1", "垃圾分类")], real, [], as_of=AS_OF)
    assert s.score_breakdown["growth"] > 0
    assert {r["key"]: r["text"] for r in s.to_dict()["breakdown_readable"]}["growth"] == "比前 30 天多 900%（4 → 40 人）"


def test_breakdown_is_in_people_likes_and_days():
    """Every row is in units people count (人, 个, 天, dates), never a bare weighted number."""
    rows = readable_breakdown(facts(last_class_on=date(2026, 6, 22), growth_counted=True))
    assert [r["key"] for r in rows] == ["people", "votes", "growth", "cooldown"]
    text = {r["label"]: r["text"] for r in rows}
    assert text == {
        "提出人数": "35 人（近 30 天 12 人）",
        "点赞": "40 个",
        "增长": "比前 30 天多 50%（8 → 12 人）",
        "上次开课": "120 天前（6月22日）",
    }
    for row in rows:
        assert not re.search(r"\d+\.\d", row["text"]), row


def test_breakdown_of_a_topic_never_taught():
    """No class: 「从未开课」; no likes: 「无」."""
    rows = {r["key"]: r["text"] for r in readable_breakdown(facts(votes=0))}
    assert rows["cooldown"] == "从未开课"
    assert rows["votes"] == "无"


def _record(n: int, days_ago: float, votes: int = 0) -> DemandRecord:
    return DemandRecord(
        feedback_id=f"f{n}", topic_id="T1", submitted_at=datetime(2026, 10, 20, 12, tzinfo=UTC) - timedelta(days=days_ago),
        submitter=f"p{n}", segment="居民", votes=votes,
    )


def test_rank_topics_fills_why_breakdown_and_cool_down():
    """A ranked suggestion carries why, the readable breakdown and cooldown_until (held class + cooldown_days)."""
    records = [_record(n, days_ago=5 + n) for n in range(4)] + [_record(10 + n, days_ago=45 + n, votes=10) for n in range(3)]
    sessions = [ClassSession("T1", date(2026, 9, 12), "held")]
    [s] = rank_topics([TopicCard("T1", "垃圾分类")], records, sessions, as_of=AS_OF, params=RankingParams(cooldown_days=90))
    assert s.recently_covered and s.cooldown_until == date(2026, 12, 11)
    assert s.why == "7 人提出，近 30 天 4 人，平稳；点赞 30；9月12日已开课，暂缓到 12月11日，开课后需求仍在上升"
    data = s.to_dict()
    assert data["cooldown_until"] == "2026-12-11"
    assert (data["recent_people"], data["previous_people"]) == (4, 3)
    assert [r["label"] for r in data["breakdown_readable"]] == ["提出人数", "点赞", "增长", "上次开课"]
    assert data["breakdown_readable"][0]["text"] == "7 人（近 30 天 4 人）"


def test_no_cool_down_date_once_it_has_passed():
    """A class longer ago than cooldown_days holds nothing back and gives no cooldown_until."""
    sessions = [ClassSession("T1", date(2026, 3, 1), "held")]
    [s] = rank_topics([TopicCard("T1", "垃圾分类")], [_record(1, 2)], sessions, as_of=AS_OF)
    assert not s.recently_covered and s.cooldown_until is None
    assert s.why.endswith("近期未开课（上次 3月1日）")

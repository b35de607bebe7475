"""Days as the organizers count them (RECOMMENDER_TIMEZONE, Asia/Shanghai by default).

From 00:00 to 08:00 in Beijing the UTC date is still yesterday's: the suggestions' 截至, the
plan form's default date and a class held "today" must all be the Beijing date, and a day's
lines end at Beijing midnight. Every test pins the clock (02:00 in Beijing = 18:00 UTC the
day before), so none depends on when it runs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from recommender import config
from recommender.config import Settings
from recommender.ranking.heat import make_clock, monthly_counts, topic_heat
from recommender.ranking.records import ClassSession, DemandRecord, RankingParams
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 - fixtures
from tests.helpers import dashboard_login, parse_html

BEIJING = ZoneInfo("Asia/Shanghai")
TOKEN_HEADERS = {"Authorization": "Bearer test-organizer-token"}


def _at(day: date, hour: int, minute: int = 0, zone=BEIJING) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def _line(fid: str, moment: datetime, who: str | None = None) -> DemandRecord:
    return DemandRecord(feedback_id=fid, topic_id="T1", submitted_at=moment.astimezone(UTC), submitter=who or fid, segment="居民")


# --------------------------------------------------------------------------- the ranking's clock


def test_a_days_window_ends_at_the_organizers_midnight() -> None:
    """As of 6 月 30 日 in Beijing: a line at 23:30 Beijing counts, one at 01:00 on 7 月 1 日
    (still 6 月 30 日 in UTC) does not; counted in UTC it is the other way round."""
    day = date(2024, 6, 30)
    late_evening = _line("a", _at(day, 23, 30))  # 15:30 UTC on the 30th
    after_midnight = _line("b", _at(day + timedelta(days=1), 1))  # 17:00 UTC on the 30th
    local = topic_heat([late_evening, after_midnight], day, params=RankingParams(zone=BEIJING))
    utc = topic_heat([late_evening, after_midnight], day, params=RankingParams())
    assert local.feedback_count == 1 and utc.feedback_count == 2
    assert make_clock(day, BEIJING).instant == _at(day + timedelta(days=1), 0)


def test_a_moment_is_on_its_organizers_day() -> None:
    """A tz-aware as_of at 18:00 UTC is the next day in Beijing (the class days compare with it)."""
    moment = datetime(2024, 6, 30, 18, 0, tzinfo=UTC)
    assert make_clock(moment, BEIJING).day == date(2024, 7, 1)
    assert make_clock(moment).day == date(2024, 6, 30)


def test_a_class_held_today_covers_the_lines_of_the_organizers_day() -> None:
    """A class held on 7 月 1 日: a line at 07:00 Beijing that day (23:00 UTC the day before) is
    demand the class served, so as of that day the topic is held back and nothing is new."""
    day = date(2024, 7, 1)
    lines = [_line(str(i), _at(day - timedelta(days=3 + i), 10)) for i in range(4)]
    lines.append(_line("morning", _at(day, 7)))
    sessions = [ClassSession("T1", day, "held")]
    heat = topic_heat(lines, day, sessions, params=RankingParams(zone=BEIJING))
    assert heat.recently_covered and heat.last_class_on == day
    assert heat.score == 0.0, heat.breakdown  # everything asked up to the class day was served


def test_sparkline_months_are_the_organizers_months() -> None:
    """A line at 01:00 on 7 月 1 日 in Beijing is July's, though it is 30 June in UTC."""
    line = _line("a", _at(date(2024, 7, 1), 1))
    local = monthly_counts([line], date(2024, 7, 31), months=2, zone=BEIJING)
    assert local == [{"month": "2024-06", "count": 0}, {"month": "2024-07", "count": 1}]


def test_ranking_params_take_the_organizers_zone_from_settings() -> None:
    assert RankingParams.from_settings(Settings(timezone="Asia/Shanghai")).zone == BEIJING
    assert RankingParams().zone == UTC


# --------------------------------------------------------------------------- the service's today


@pytest.fixture
def beijing_2am(monkeypatch: pytest.MonkeyPatch) -> date:
    """Pin the clock at 02:00 in Beijing: 18:00 UTC the day before. Returns the Beijing date.

    The day is this test run's UTC date (the demo lines are stored relative to the real now,
    all before the pinned moment's Beijing day ends); the hour is fixed, so the Beijing date
    is always the UTC date + 1."""
    utc_day = datetime.now(UTC).date()
    pinned = datetime.combine(utc_day, time(18, 0), tzinfo=UTC)
    monkeypatch.setattr(config, "now_utc", lambda: pinned)
    beijing_day = pinned.astimezone(BEIJING).date()
    assert beijing_day == utc_day + timedelta(days=1)
    return beijing_day


def test_suggestions_default_to_the_organizers_today(trained_client, beijing_2am) -> None:  # noqa: F811
    """GET /api/suggestions without as_of, at 02:00 in Beijing: 截至 is the Beijing date."""
    body = trained_client.get("/api/suggestions", headers=TOKEN_HEADERS).json()
    assert body["as_of"] == beijing_2am.isoformat()


def test_dashboard_and_plan_form_say_the_organizers_today(trained_client, beijing_2am) -> None:  # noqa: F811
    """The dashboard's 截至 and the plan form's default date are the Beijing date at 02:00."""
    dashboard_login(trained_client, "test-organizer-token")
    page = parse_html(trained_client.get("/organizer").text)
    assert f"截至 {beijing_2am.isoformat()}" in page.find("p", class_="meta").text
    dates = [i.get("value") for i in page.find_all("input", name="date")]
    assert dates and set(dates) == {beijing_2am.isoformat()}


def test_a_class_planned_today_holds_its_topic_back_at_once(trained_client, beijing_2am) -> None:  # noqa: F811
    """A class held on the plan form's default date (at 02:00 in Beijing) holds its topic back
    in the default suggestions at once, not from the next day."""
    csrf = dashboard_login(trained_client, "test-organizer-token")
    top = trained_client.get("/api/suggestions?top=1", headers=TOKEN_HEADERS).json()["suggestions"][0]
    page = parse_html(trained_client.get("/organizer").text)
    default_day = page.by_id(f"plan-{top['topic_id']}-date").get("value")
    response = trained_client.post(
        "/organizer/sessions",
        data={"csrf_token": csrf, "topic_id": top["topic_id"], "title": "今天的课", "date": default_day,
              "status": "held", "return_to": "/organizer"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    ranked = trained_client.get("/api/suggestions?top=50", headers=TOKEN_HEADERS).json()["suggestions"]
    [entry] = [s for s in ranked if s["topic_id"] == top["topic_id"]]
    assert entry["recently_covered"] and entry["last_class_on"] == beijing_2am.isoformat()

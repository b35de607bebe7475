"""One way to write a date in a sentence (recommender.text.dates), shared by the why line,
the dashboard's badges, the class page and the poster; tables and forms keep ISO."""

from __future__ import annotations

from datetime import date, timezone

from jinja2 import Environment

from recommender.ranking.explain import RankFacts, cooldown_text, why_text
from recommender.text.dates import date_zh
from recommender.web.timefmt import install_time_filters


def test_date_zh_is_print_style_without_spaces():
    assert date_zh(date(2026, 12, 7)) == "2026年12月7日"
    assert date_zh("2026-12-07") == "2026年12月7日"
    assert date_zh(date(2026, 12, 7), date(2026, 1, 1)) == "12月7日"
    assert date_zh(date(2027, 3, 7), "2026-12-07") == "2027年3月7日"
    assert date_zh(None) == "" and date_zh("") == ""


def test_the_why_line_and_the_templates_write_dates_alike():
    """The hold-back sentence (why line, JSON, exports) and the pages' ``datezh`` filter agree."""
    as_of = date(2026, 12, 7)
    assert cooldown_text(date(2026, 12, 7), date(2027, 3, 7), as_of) == "12月7日已开课，暂缓到 2027年3月7日"
    facts = RankFacts(as_of=as_of, people=3, recent_people=3, previous_people=0, window_days=30,
                      trend="steady", class_planned_on=date(2026, 12, 20))
    assert why_text(facts).endswith("已计划 12月20日开课")
    env = Environment(autoescape=True)
    install_time_filters(env, timezone.utc, "UTC")
    badge = env.from_string("已计划 {{ day|datezh(as_of) }}开课").render(day="2026-12-20", as_of="2026-12-07")
    assert badge == "已计划 12月20日开课"
    assert env.from_string("{{ day|datezh }}").render(day=date(2026, 12, 1)) == "2026年12月1日"

"""Why a topic ranks where it does, in words an organizer reads at a glance (pure functions).

The heat score (:mod:`recommender.ranking.rank`) is a sum of weighted "people-equivalents":
right for ordering, but 「人数 18.49」 next to 「35 人」 reads as a mistake. These functions turn
the facts behind a score back into the units people count in: people, people in the last
window, likes, growth in per cent, days since the last class, and the cool-down's end date:

    35 人提出，近 30 天 12 人，上升；点赞 40；近期未开课
    24 人提出，近 30 天 18 人，上升（比前 30 天多 12 人）；近期未开课
    9月12日已开课，暂缓到 12月11日

The rise in people (``growth_people``) is named when the score counted it: a topic that grew
ranks above larger steady ones, and the why line says by how much. A rise the score did not
count (``growth_counted`` False: it may be chance) reads so in the
breakdown's 增长 row, 「1 → 5 人，可能只是偶然，未计入增长」, never as 「多 400%」.

Dates are written as :func:`recommender.text.dates.date_zh` writes them in a sentence: 「9月12日」,
with the year (「2027年1月30日」) only when it is not the year of ``as_of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from recommender.text.dates import date_zh

__all__ = [
    "TREND_ZH", "RankFacts", "cooldown_text", "cooldown_until", "day_text", "readable_breakdown", "theme_text", "why_text",
]

#: How the trends read in Chinese (dashboard, exports, the CLI table).
TREND_ZH = {"new": "新出现", "growing": "上升", "steady": "平稳", "fading": "下降"}
#: The readable breakdown's row names, by the keys of ``score_breakdown``.
READABLE_ZH = {"people": "提出人数", "votes": "点赞", "growth": "增长", "cooldown": "上次开课"}


@dataclass(frozen=True)
class RankFacts:
    """The countable facts behind one topic's score, as of ``as_of``."""

    as_of: date
    people: int
    recent_people: int
    previous_people: int
    window_days: int
    trend: str
    votes: int = 0
    last_class_on: date | None = None
    recently_covered: bool = False
    cooldown_until: date | None = None
    class_planned_on: date | None = None
    demand_rising_after_class: bool = False
    #: People the score's growth counted (current − previous window) for a growing topic;
    #: 0 leaves the rise out of the why line.
    growth_people: int = 0
    #: The label phrase whose lines rose more than the whole topic's (the rise counted is theirs).
    rising_phrase: str | None = None
    #: Whether the score counted growth at all (``score_breakdown["growth"] > 0``): a rise it
    #: did not count is not shown as a rise in per cent.
    growth_counted: bool = False
    #: A crowded theme (recommender.ranking.diversity.spread_themes): its label, how many of
    #: its topics rank above, how many places this topic moved down for other themes' topics,
    #: or (0 places) how many times the best waiting other-theme topic's score it has.
    theme_label: str | None = None
    theme_above: int = 0
    theme_places: int = 0
    theme_lead: float | None = None


def cooldown_until(last_class_on: date | None, cooldown_days: int) -> date | None:
    """The first day a topic is no longer held back by the class held on ``last_class_on``."""
    return None if last_class_on is None else last_class_on + timedelta(days=cooldown_days)


def day_text(day: date, as_of: date) -> str:
    """「9月12日」, or 「2025年9月12日」 when the year is not as_of's (:func:`date_zh`)."""
    return date_zh(day, as_of)


def cooldown_text(last_class_on: date, until: date, as_of: date) -> str:
    """「9月12日已开课，暂缓到 12月11日」."""
    return f"{day_text(last_class_on, as_of)}已开课，暂缓到 {day_text(until, as_of)}"


def _class_text(facts: RankFacts) -> str:
    if facts.recently_covered and facts.last_class_on is not None and facts.cooldown_until is not None:
        text = cooldown_text(facts.last_class_on, facts.cooldown_until, facts.as_of)
        return text + ("，开课后需求仍在上升" if facts.demand_rising_after_class else "")
    if facts.class_planned_on is not None:
        return f"已计划 {day_text(facts.class_planned_on, facts.as_of)}开课"
    if facts.last_class_on is not None:
        return f"近期未开课（上次 {day_text(facts.last_class_on, facts.as_of)}）"
    return "近期未开课"


def why_text(facts: RankFacts) -> str:
    """「35 人提出，近 30 天 12 人，上升；点赞 40；近期未开课」 (likes only when there are some;
    「上升（比前 30 天多 12 人）」 when the score counted a rise of 12 people)."""
    trend = TREND_ZH.get(facts.trend, facts.trend)
    if facts.trend == "growing" and facts.growth_people > 0:
        who = f"提「{facts.rising_phrase}」的" if facts.rising_phrase else ""
        trend += f"（{who}比前 {facts.window_days} 天多 {facts.growth_people} 人）"
    parts = [f"{facts.people} 人提出，近 {facts.window_days} 天 {facts.recent_people} 人，{trend}"]
    if facts.votes > 0:
        parts.append(f"点赞 {facts.votes}")
    parts.append(_class_text(facts))
    theme = theme_text(facts)
    if theme:
        parts.append(theme)
    return "；".join(parts)


def theme_text(facts: RankFacts) -> str:
    """「同类别「诈骗」已有 2 条建议排在前面，后移 3 位，先排其他类别」, or for a theme whose
    demand is clearly larger 「同类别「诈骗」已有 2 条建议排在前面，热度是其他类别下一名的 2.1 倍，未后移」;
    empty when the theme was not crowded."""
    if facts.theme_above <= 0 or (facts.theme_places <= 0 and facts.theme_lead is None):
        return ""
    theme = f"「{facts.theme_label}」" if facts.theme_label else ""
    head = f"同类别{theme}已有 {facts.theme_above} 条建议排在前面"
    if facts.theme_places > 0:
        return f"{head}，后移 {facts.theme_places} 位，先排其他类别"
    return f"{head}，热度是其他类别下一名的 {facts.theme_lead:.1f} 倍，未后移"


def _growth_text(facts: RankFacts) -> str:
    window = f"前 {facts.window_days} 天"
    if facts.rising_phrase and facts.growth_people > 0:
        return f"提「{facts.rising_phrase}」的比{window}多 {facts.growth_people} 人"
    now, before = facts.recent_people, facts.previous_people
    if before == 0:
        if not now:
            return f"近 {facts.window_days * 2} 天无人提出"
        text = f"{window}无人提出，近 {facts.window_days} 天 {now} 人"
        return text if facts.growth_counted else f"{text}，{_uncounted_reason(now, before)}，未计入增长"
    if now > before and not facts.growth_counted:
        return f"{before} → {now} 人，{_uncounted_reason(now, before)}，未计入增长"
    change = round(100 * (now - before) / before)
    if change == 0:
        return f"与{window}持平（{before} → {now} 人）"
    more = "多" if change > 0 else "少"
    return f"比{window}{more} {abs(change)}%（{before} → {now} 人）"


#: Below this many people in the two windows together, an uncounted rise reads 「可能只是偶然」
#: (the rise may be chance; 「人数太少」 read oddly beside a topic many people asked for).
FEW_PEOPLE = 30


def _uncounted_reason(now: int, before: int) -> str:
    """Why a rise was not counted, in words: the score counts a rise only beyond chance
    (:func:`recommender.ranking.heat.rise_credibility`, ``RISE_SD``)."""
    return "可能只是偶然" if now + before < FEW_PEOPLE else "增幅在正常波动之内"


def _last_class_text(facts: RankFacts) -> str:
    if facts.recently_covered and facts.last_class_on is not None and facts.cooldown_until is not None:
        return cooldown_text(facts.last_class_on, facts.cooldown_until, facts.as_of)
    planned = f"；已计划 {day_text(facts.class_planned_on, facts.as_of)}" if facts.class_planned_on else ""
    if facts.last_class_on is None:
        return "从未开课" + planned
    days = (facts.as_of - facts.last_class_on).days
    return f"{days} 天前（{day_text(facts.last_class_on, facts.as_of)}）" + planned


def readable_breakdown(facts: RankFacts) -> list[dict[str, str]]:
    """The score's parts in people's units, keyed as ``score_breakdown`` (people, votes, growth, cooldown)."""
    texts = {
        "people": f"{facts.people} 人（近 {facts.window_days} 天 {facts.recent_people} 人）",
        "votes": f"{facts.votes} 个" if facts.votes > 0 else "无",
        "growth": _growth_text(facts),
        "cooldown": _last_class_text(facts),
    }
    return [{"key": key, "label": READABLE_ZH[key], "text": text} for key, text in texts.items()]

"""What the dashboard's templates show of a ranked topic: the card's words, its sparkline, the
demand chart. Presentation only: the facts and sentences come from the service and
:mod:`recommender.ranking.explain`; here they are picked and formatted for the pages."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from recommender.door.screening import ACTION_ZH
from recommender.ranking import charts
from recommender.ranking.explain import TREND_ZH, cooldown_text

__all__ = ["CHART_TOPICS", "audit_action", "audit_rows", "audit_target", "NO_SUGGESTION", "browse_view", "card_view", "cooldown_note", "demand_chart", "topic_href"]

#: Bars in the dashboard's chart (the topics with the most lines).
CHART_TOPICS = 20
#: The narrowest width (CSS px) the chart's labels are wrapped for; dashboard.css gives the
#: chart this min-width, so a 390 px phone (358 px of content) shows it unscaled.
CHART_WIDTH = 300
NO_SUGGESTION = "未进入建议"


def topic_href(topic_id: str) -> str:
    return f"/organizer/topics/{quote(topic_id, safe='')}"


#: Audit actions whose target is a topic id, a feedback line's id, an expert (``expert:7``).
TOPIC_ACTIONS = frozenset({"rename", "plan_class", "move", "merge", "split", "pin", "unpin", "undo"})
LINE_ACTIONS = frozenset({"hide", "restore", "withdraw"})
EXPERT_ACTIONS = frozenset({"expert_add", "expert_edit", "expert_delete"})


def audit_action(action: str, detail: object, names: dict[str, str]) -> str:
    """An audit entry's 操作 in the words of the button that did it: a flagged line let
    through with 「计入」 reads 「计入反馈」, not 「恢复反馈」 (which a hidden line's 恢复 is)."""
    if action == "restore" and isinstance(detail, dict) and detail.get("previous_status") == "flagged":
        return "计入反馈"
    return names.get(action, action)


def audit_target(action: str, target: str | None, labels: dict[str, str]) -> dict[str, str | None]:
    """An audit entry's 对象 as an organizer reads it, ``{"text", "href"}``: a topic by its
    label (「灭火器使用」, linked; 「主题 T0036」 when it is no longer in the model), a line as
    「第 429 条反馈」 as its topic page numbers it, an expert as 「专家（编号 1）」 (the detail
    names them); anything else (a model version, an imported file's name) as stored."""
    if not target:
        return {"text": "", "href": None}
    if action in TOPIC_ACTIONS:
        label = labels.get(target)
        return {"text": f"「{label}」" if label else f"主题 {target}", "href": topic_href(target) if label else None}
    if action in LINE_ACTIONS and target.isdigit():
        return {"text": f"第 {target} 条反馈", "href": None}
    if action in EXPERT_ACTIONS and target.startswith("expert:"):
        return {"text": f"专家（编号 {target.removeprefix('expert:')}）", "href": None}
    return {"text": target, "href": None}


def audit_rows(items: list[dict], labels: dict[str, str]) -> list[dict]:
    """Each audit entry's 操作 and 对象 as the dashboard and the 操作记录 page show them."""
    return [
        {"action": audit_action(e["action"], e.get("detail"), ACTION_ZH), "target": audit_target(e["action"], e["target"], labels)}
        for e in items
    ]


def cooldown_note(s: dict, as_of: str) -> str | None:
    """「9月12日已开课，暂缓到 12月11日」 for a topic held back by a recent class, else None."""
    if not (s.get("recently_covered") and s.get("last_class_on") and s.get("cooldown_until")):
        return None
    return cooldown_text(date.fromisoformat(s["last_class_on"]), date.fromisoformat(s["cooldown_until"]),
                         date.fromisoformat(as_of))


def card_view(s: dict, as_of: str) -> dict:
    """A suggestion as a card: trend word, sparkline, the why line, the breakdown in people's
    units (never the weighted numbers), the cool-down note, up to three quotes."""
    counts = [m["count"] for m in s.get("monthly_counts") or ()]
    months = [m["month"] for m in s.get("monthly_counts") or ()]
    described = "，".join(f"{m} {c} 条" for m, c in zip(months, counts)) or "暂无数据"
    return {
        **s,
        "trend_zh": TREND_ZH.get(s["trend"], s["trend"]),
        "sparkline_svg": charts.sparkline_svg(counts, 120, 28, title=f"{s['label']} 每月反馈数：{described}"),
        "breakdown": [(row["label"], row["text"]) for row in s.get("breakdown_readable") or ()],
        "cooldown_note": cooldown_note(s, as_of),
        "quotes": list(s.get("examples") or ())[:3],
    }


def demand_chart(ranked: list[dict], *, as_of: str, segment: str | None) -> str:
    """Lines per topic under the page's filters (人群, 截至日期), most first; each bar links to its topic."""
    shown = sorted(ranked, key=lambda s: (-s["feedback_count"], s["rank"]))[:CHART_TOPICS]
    title = f"各主题的反馈条数（{segment or '全部人群'}，截至 {as_of}）"
    return charts.bar_chart_svg(
        [(s["label"], s["feedback_count"], topic_href(s["topic_id"])) for s in shown], CHART_WIDTH, title=title
    )


def browse_view(browse: dict) -> dict:
    """全部主题 rows with their trend word, 「第 N 名」 or 「未进入建议」, and the cool-down note."""
    themes = []
    # With a segment, a topic too few of its people asked for is not ranked for it (privacy floor).
    unranked = "该人群人数不足，不单独排名" if browse["segment"] else "暂无计入的反馈"
    for theme in browse["themes"]:
        rows = []
        for row in theme["topics"]:
            rows.append({
                **row,
                "href": topic_href(row["topic_id"]),
                "trend_zh": TREND_ZH.get(row["trend"] or "", unranked),
                "rank_text": f"推荐第 {row['rank']} 名" if row["rank"] else NO_SUGGESTION,
                "cooldown_note": cooldown_note(row, browse["as_of"]),
            })
        themes.append({**theme, "topics": rows})
    return {**browse, "themes": themes}

"""Browsing every topic, not only the top suggestions: the read side behind 全部主题, the
dashboard's 「近期已开课，暂缓」 list, its chart, and a topic page's score and rank.

Everything here comes from one ranking of *all* topics with demand (the suggestions' order
without the cut at ``top``: :meth:`TopicBrowser.standings`), cached by the view like any
ranking. A topic's rank "among the suggestions" is its place in that order when it is within
the top ``suggestions_top``; further down it has not made the suggestions (「未进入建议」).
"""

from __future__ import annotations

from datetime import date

from recommender.errors import ValidationFailed
from recommender.service.demand_view import DemandView

__all__ = ["MAX_QUERY", "TopicBrowser"]

#: Longest search text (characters); a topic label is at most 30.
MAX_QUERY = 100


class TopicBrowser:
    """Every topic with its standing; thread-safe (it only reads the view's caches)."""

    def __init__(self, view: DemandView) -> None:
        self.view = view

    def standings(self, *, as_of: date | None = None, segment: str | None = None) -> dict:
        """Every topic with demand, ranked as the suggestions are (same shape, no ``top`` cut)."""
        served = self.view.serving.require_model()
        return self.view.suggestions(as_of=as_of, top=max(1, len(served.cards)), segment=segment)

    def held_back(self, *, as_of: date | None = None, top: int | None = None, segment: str | None = None) -> list[dict]:
        """Topics a recent class holds back (cool-down) that are not among the first ``top``."""
        top = top or self.view.settings.suggestions_top
        ranked = self.standings(as_of=as_of, segment=segment)["suggestions"]
        return [s for s in ranked if s["recently_covered"] and s["rank"] > top]

    def topic_standing(self, topic_id: str, *, as_of: date | None = None) -> dict | None:
        """One topic's entry of the standings (score, rank, why, cool-down) with ``in_suggestions``;
        None when it has no demand as of that day."""
        top = self.view.settings.suggestions_top
        ranked = self.standings(as_of=as_of)
        for s in ranked["suggestions"]:
            if s["topic_id"] == topic_id:
                return {**s, "as_of": ranked["as_of"], "in_suggestions": s["rank"] <= top, "suggestions_top": top}
        return None

    def browse(self, *, query: str = "", as_of: date | None = None, segment: str | None = None) -> dict:
        """Every topic grouped by theme (largest first), each with its size, trend, why and rank
        among the suggestions (None: 未进入建议); ``query`` keeps the topics whose label, model
        label, keywords, theme or id contain every word of it (case-insensitive)."""
        query = " ".join(query.split())
        if len(query) > MAX_QUERY:
            raise ValidationFailed(
                f"搜索内容最多 {MAX_QUERY} 个字（收到 {len(query)} 个字）", field="q", code="query_too_long"
            )
        top = self.view.settings.suggestions_top
        ranked = self.standings(as_of=as_of, segment=segment)
        standing = {s["topic_id"]: s for s in ranked["suggestions"]}
        topics = self.view.topics()["topics"]
        words = [w.casefold() for w in query.split()]
        themes: dict[str, dict] = {}
        shown = 0
        for t in topics:
            theme_label = t["theme_label"] or t["label"]
            haystack = " ".join([t["topic_id"], t["label"], t["model_label"], theme_label, *t["keywords"]]).casefold()
            if not all(w in haystack for w in words):
                continue
            s = standing.get(t["topic_id"])
            row = {
                "topic_id": t["topic_id"],
                "label": t["label"],
                "keywords": t["keywords"][:5],
                "size": t["size"],
                "people": s["distinct_submitters"] if s else 0,
                "trend": s["trend"] if s else None,
                "rank": s["rank"] if s and s["rank"] <= top else None,
                "position": s["rank"] if s else None,
                "score": s["score"] if s else None,
                "why": s["why"] if s else "",
                "recently_covered": bool(s and s["recently_covered"]),
                "last_class_on": s["last_class_on"] if s else None,
                "cooldown_until": s["cooldown_until"] if s else None,
            }
            theme_id = t["theme_id"] or t["topic_id"]
            theme = themes.setdefault(theme_id, {"theme_id": theme_id, "label": theme_label, "size": 0, "topics": []})
            theme["size"] += t["size"]
            theme["topics"].append(row)
            shown += 1
        for theme in themes.values():
            theme["topics"].sort(key=lambda r: (r["position"] is None, r["position"] or 0, -r["size"], r["topic_id"]))
        return {
            "as_of": ranked["as_of"],
            "model_version": ranked["model_version"],
            "segment": segment,
            "query": query,
            "suggestions_top": top,
            "total_topics": len(topics),
            "shown_topics": shown,
            "themes": sorted(themes.values(), key=lambda th: (-th["size"], th["theme_id"])),
        }

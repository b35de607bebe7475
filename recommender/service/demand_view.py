"""The read side of the service: suggestions, topics and class sessions of the served model,
ranked from the in-memory demand (:mod:`recommender.service.demand`) by
:func:`recommender.ranking.rank_topics`, with the rankings and their JSON cached."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from datetime import date, datetime

from recommender.config import Settings
from recommender.errors import NotFound, ValidationFailed
from recommender.ranking import RankingParams, rank_topics
from recommender.ranking.experts import ExpertEntry, match_experts
from recommender.service.demand import AGGREGATE_PREFIX, DemandCache
from recommender.service.serving import LoadedModel, ModelServing
from recommender.service.shapes import feedback_json, session_json
from recommender.store import FeedbackStore, StoredFeedback
from recommender.text.excerpt import excerpt

#: Most entries of each ranking cache before it is emptied.
CACHE_ENTRIES = 256
#: Newest lines in no topic that 新出现的需求 groups.
NEW_DEMAND_LINES = 2000


class DemandView:
    """Suggestions, topics and sessions; thread-safe for the web server's worker threads."""

    def __init__(self, settings: Settings, store: FeedbackStore, serving: ModelServing) -> None:
        self.settings = settings
        self.store = store
        self.serving = serving
        self._ranking_cache: dict[tuple, dict] = {}
        # The newest ranking of each query whatever its demand stamp, served while another
        # thread ranks the new demand (see suggestions); one ranking computed at a time.
        self._ranking_latest: dict[tuple, dict] = {}
        self._ranking_lock = threading.Lock()
        self._encoded_cache: dict[int, tuple[dict, bytes]] = {}
        self._new_demand: tuple[tuple, dict] | None = None
        self._new_demand_lock = threading.Lock()
        self.cache = DemandCache(store, on_new_version=self._ranking_cache.clear)

    # ------------------------------------------------------------------ cache control
    def refresh(self) -> None:
        """The web workers' once-a-second pass: demand and side tables fresh ahead of requests."""
        self.cache.refresh(self.serving.served())

    def forget_demand(self) -> None:
        """After a moderation action: the next request waits for the new demand and its ranking."""

        def drop_rankings() -> None:
            self._ranking_latest = {}

        self.cache.forget_demand(also=drop_rankings)

    def forget_side_tables(self) -> None:
        """After a label or class session changed through this process."""
        self.cache.forget_side_tables()

    # ------------------------------------------------------------------ suggestions
    def suggestions(self, *, as_of: date | None = None, top: int | None = None, segment: str | None = None) -> dict:
        """The ranked suggestions in the INTERFACE.md shape."""
        if segment is not None and segment not in self.settings.segments:
            raise ValidationFailed(
                f"未知的人群“{segment}”，可选：{'、'.join(self.settings.segments)}", field="segment", code="unknown_segment"
            )
        served = self.serving.require_model()
        as_of = as_of or self.settings.today()
        top = top or self.settings.suggestions_top
        demand = self.cache.state(served)
        side = self.cache.side_tables()
        query = (
            served.version, as_of, top, segment, tuple(side.sessions), tuple(sorted(side.labels.items())), side.experts
        )
        key = (*query, demand.stamp)
        hit = self._ranking_cache.get(key)
        if hit is not None:
            return hit
        # New demand (stamp) arrives about once a second under intake, and every request in
        # flight would miss the cache at once and rank the same records again: one thread
        # ranks, the others answer with this query's previous ranking (at most a refresh old).
        # After a moderation action there is none (forget_demand), so they wait for it.
        if not self._ranking_lock.acquire(blocking=False):
            previous = self._ranking_latest.get(query)
            if previous is not None:
                return previous
            self._ranking_lock.acquire()
        try:
            hit = self._ranking_cache.get(key)
            if hit is not None:
                return hit
            ranked = rank_topics(
                self.cache.cards(served, side.labels, demand.examples),
                demand.records,
                side.sessions,
                as_of=as_of,
                top=top,
                segment=segment,
                params=RankingParams.from_settings(self.settings),
            )
            result = {
                "as_of": as_of.isoformat(),
                "model_version": served.version,
                "suggestions": [_with_experts(_without_aggregate_ids(s.to_dict()), side.experts) for s in ranked],
            }
            if len(self._ranking_cache) > CACHE_ENTRIES:
                self._ranking_cache.clear()
            if len(self._ranking_latest) > CACHE_ENTRIES:
                self._ranking_latest.clear()
            self._ranking_cache[key] = result
            self._ranking_latest[query] = result
            return result
        finally:
            self._ranking_lock.release()

    def suggestions_json(self, **query) -> bytes:
        """``suggestions(**query)`` as UTF-8 JSON, encoded once per cached ranking (the hot
        path of ``GET /api/suggestions``: most requests are answered from memory)."""
        result = self.suggestions(**query)
        hit = self._encoded_cache.get(id(result))
        if hit is None or hit[0] is not result:
            hit = (result, json.dumps(result, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
            if len(self._encoded_cache) > CACHE_ENTRIES:
                self._encoded_cache.clear()
            self._encoded_cache[id(result)] = hit
        return hit[1]

    def unassigned_share(self) -> float:
        """Share of feedback received since the current model was trained that fits no topic
        (lines the model already saw as noise at training time do not count)."""
        served = self.serving.require_model()
        trained_until = served.metadata.get("data_window", {}).get("received_until")
        if trained_until is None:
            return 0.0
        total, unassigned = self.store.assignment_stats(
            served.version, received_after=datetime.fromisoformat(trained_until)
        )
        return 0.0 if total == 0 else unassigned / total

    def themes(self) -> dict:
        """The served model's themes, each with its topics (live sizes), largest first, and
        how many lines are in no topic (未归类) or ask for nothing (课堂反馈)."""
        topics = self.topics()
        served = self.serving.require_model()
        themes: dict[str, dict] = {}
        for t in topics["topics"]:
            theme = themes.setdefault(
                t["theme_id"] or t["topic_id"],
                {"theme_id": t["theme_id"] or t["topic_id"], "label": t["theme_label"] or t["label"], "size": 0, "topics": []},
            )
            theme["size"] += t["size"]
            theme["topics"].append({"topic_id": t["topic_id"], "label": t["label"], "size": t["size"]})
        _, no_topic = self.store.no_topic_lines(served.version, no_request=False, limit=0)
        _, no_request = self.store.no_topic_lines(served.version, no_request=True, limit=0)
        return {
            "model_version": topics["model_version"],
            "themes": sorted(themes.values(), key=lambda th: (-th["size"], th["theme_id"])),
            "no_topic": no_topic,
            "no_request": no_request,
        }

    def no_topic(self, *, no_request: bool = False, page: int = 1, per_page: int = 50) -> dict:
        """One page of the lines in no topic: those asking for something no topic covers
        (未归类), or with ``no_request`` those asking for nothing (课堂反馈)."""
        served = self.serving.require_model()
        rows, total = self.store.no_topic_lines(
            served.version, no_request=no_request, offset=(page - 1) * per_page, limit=per_page
        )
        return {
            "model_version": served.version,
            "kind": "no_request" if no_request else "no_topic",
            "members": {"page": page, "per_page": per_page, "total": total, "items": [feedback_json(r) for r in rows]},
        }

    def new_demand(self) -> dict:
        """新出现的需求: lines received since the served model's training data that fit no
        topic, grouped by what they share (``model.emerging``), with the retrain advice."""
        from recommender.model.emerging import group_new_lines
        from recommender.text.tokenize import tokenize

        served = self.serving.require_model()
        since_text = served.metadata.get("data_window", {}).get("received_until")
        since = datetime.fromisoformat(since_text) if since_text else None
        with self._new_demand_lock:
            # Grouped again only when lines in no topic came or went (a count is cheap).
            _, no_topic = self.store.no_topic_lines(served.version, no_request=False, received_after=since, limit=0)
            key = (served.version, no_topic)
            if self._new_demand is not None and self._new_demand[0] == key:
                return self._new_demand[1]
            rows, no_topic = self.store.no_topic_lines(
                served.version, no_request=False, received_after=since, limit=NEW_DEMAND_LINES
            )
            new_lines = self.store.assignment_stats(served.version, received_after=since)[0] if since else no_topic
            tokens = [tokenize(r.text) for r in rows]
            groups = []
            for group in group_new_lines([r.text for r in rows], tokens, getattr(served.model, "generic_words_", frozenset())):
                members = [rows[i] for i in group.rows]
                people = {r.submitter_hash or f"line:{r.id}" for r in members}
                groups.append({
                    "label": group.label,
                    "people": len(people),
                    "lines": len(members),
                    "examples": _quotes(list(dict.fromkeys(r.text for r in members))[:3], group.label),
                    "feedback_ids": [r.public_id for r in members],
                    "first_at": min(r.submitted_at for r in members).isoformat(),
                    "last_at": max(r.submitted_at for r in members).isoformat(),
                })
            groups.sort(key=lambda g: (-g["people"], -g["lines"], g["label"]))
            share = 0.0 if new_lines == 0 else no_topic / new_lines
            min_people = getattr(served.model, "min_topic_size", None) or 5
            result = {
                "model_version": served.version,
                "since": since_text,
                "new_lines": new_lines,
                "no_topic": no_topic,
                "unassigned_share": round(share, 4),
                # A share of a handful of lines is chance (one of the first three new lines), and
                # a retrain makes no topic of fewer lines than its smallest topic.
                "retrain_advised": (share >= self.settings.retrain_advice_share and no_topic >= min_people)
                or any(g["people"] >= min_people for g in groups),
                "groups": groups,
            }
            self._new_demand = ((served.version, no_topic), result)
            return result

    def sessions(self, topic_id: str | None = None) -> list[dict]:
        """Recorded classes (planned, held, cancelled), oldest first."""
        return [session_json(s) for s in self.store.list_sessions(topic_id)]

    # ------------------------------------------------------------------ topics
    def topics(self) -> dict:
        """Every topic of the served model with keywords, examples and live sizes."""
        served = self.serving.require_model()
        demand = self.cache.state(served)
        labels = self.cache.side_tables().labels
        pinned = self.cache.side_tables().pinned
        counts: dict[str, int] = {}
        for r in demand.records:
            if not r.feedback_id.startswith(AGGREGATE_PREFIX):  # live lines only
                counts[r.topic_id] = counts.get(r.topic_id, 0) + 1
        items = [
            {
                "topic_id": card.topic_id,
                "label": card.label,
                "model_label": served.cards[card.topic_id].label if card.topic_id in served.cards else card.label,
                "keywords": list(card.keywords),
                "examples": _quotes(card.examples, card.label, card.keywords),
                "size": counts.get(card.topic_id, 0),
                "trained_size": served.sizes.get(card.topic_id, 0),
                "pinned": card.topic_id in pinned,
                "theme_id": card.theme_id,
                "theme_label": card.theme_label,
            }
            for card in self.cache.cards(served, labels, demand.examples)
        ]
        items.sort(key=lambda t: (-t["size"], t["topic_id"]))
        return {"model_version": served.version, "topics": items}

    def topic(self, topic_id: str, *, page: int = 1, per_page: int = 50) -> dict:
        """One topic with its sessions, lineage events and a page of its feedback;
        ``NotFound`` for a topic the served model does not have."""
        served = self._topic_model(topic_id)
        labels = self.cache.side_tables().labels
        card = next(c for c in self.cache.cards(served, labels) if c.topic_id == topic_id)
        members, total = self.store.topic_members(
            served.version, topic_id, offset=(page - 1) * per_page, limit=per_page
        )
        return {
            "model_version": served.version,
            "topic_id": topic_id,
            "label": card.label,
            "model_label": served.cards[topic_id].label if topic_id in served.cards else card.label,
            "keywords": list(card.keywords),
            "examples": _quotes(card.examples, card.label, card.keywords),
            "size": total,
            "pinned": topic_id in self.cache.side_tables().pinned,
            "sessions": self.sessions(topic_id),
            "events": [
                {"kind": e["kind"], "model_version": e["model_version"], "other_topic_ids": e["other_topic_ids"]}
                for e in self.store.topic_events(topic_id)
            ],
            "members": {
                "page": page,
                "per_page": per_page,
                "total": total,
                "items": [feedback_json(m) for m in members],
            },
        }

    def topic_feedback(self, topic_id: str) -> list[StoredFeedback]:
        """Every feedback line of a topic (exports)."""
        served = self._topic_model(topic_id)
        out: list[StoredFeedback] = []
        page = 0
        while True:
            rows, total = self.store.topic_members(served.version, topic_id, offset=page * 1000, limit=1000)
            out.extend(rows)
            page += 1
            if not rows or len(out) >= total:
                return out

    def shown_topics(self) -> dict[str, str]:
        """Topic id → label of every topic shown now: the served model's, without those
        merged away, with those split off since (organizers' corrections)."""
        served = self.serving.require_model()
        return {c.topic_id: c.label for c in self.cache.cards(served, self.cache.side_tables().labels, {})}

    def _topic_model(self, topic_id: str) -> LoadedModel:
        served = self.serving.require_model()
        if topic_id not in self.shown_topics():
            raise NotFound(f"没有编号为 {topic_id} 的主题")
        return served


def _without_aggregate_ids(suggestion: dict) -> dict:
    ids = suggestion.get("feedback_ids")
    if ids:
        suggestion["feedback_ids"] = [i for i in ids if not str(i).startswith(AGGREGATE_PREFIX)]
    return suggestion


def _with_experts(suggestion: dict, experts: tuple[ExpertEntry, ...]) -> dict:
    """The directory's experts who can teach the suggested topic (INTERFACE.md ``experts``)."""
    suggestion["experts"] = match_experts(suggestion, experts)
    return suggestion


def _quotes(texts: Iterable[str], label: str, keywords: Iterable[str] = ()) -> list[str]:
    """Quotes as shown: a long line cut around the words the topic is named by (see
    recommender/text/excerpt.py); the model and the store keep the whole lines."""
    return [excerpt(t, (label, *keywords)) for t in texts]

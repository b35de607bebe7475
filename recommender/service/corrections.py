"""Organizers correct the model: move lines, merge two topics, split lines off into a new
topic, pin a topic; list the corrections and undo one.

Each correction is applied to the served version's assignments at once (so suggestions,
topic pages and exports show it), written with its audit entry (Chinese details) and kept
for the next retrain, which keeps it (``store/corrections.py``). This worker's demand and
side tables are dropped at once; the others see the change at their next check (the store's
moderation counter moves).
"""

from __future__ import annotations

from recommender.door.validation import clean_field
from recommender.errors import Conflict, NotFound, ValidationFailed
from recommender.service.demand_view import DemandView
from recommender.service.planning import MAX_LABEL, is_topic_id, refuse_taken_label
from recommender.service.serving import ModelServing
from recommender.store import Correction, FeedbackStore
from recommender.store.rows import WITH_TEXT

#: Most lines one move or split may pick (a page of the dashboard holds fewer).
MAX_LINES = 500
KIND_ZH = {"move": "移动反馈", "merge": "合并主题", "split": "拆分主题", "pin": "固定主题", "unpin": "取消固定"}
NO_TOPIC_ZH = "未归类"


def topic_name(topic_id: str | None, label: str | None) -> str:
    """A topic as an organizer's message names it: by its name, 「心肺复苏」 (the organizer
    picks topics by name and never types an id); 「主题 T0036」 only when it has no name;
    未归类 for none."""
    if topic_id is None:
        return NO_TOPIC_ZH
    return f"「{label}」" if label else f"主题 {topic_id}"


class Corrections:
    """Moves, merges, splits and pins of the served model's topics, and their undo."""

    def __init__(self, store: FeedbackStore, serving: ModelServing, view: DemandView) -> None:
        self.store = store
        self.serving = serving
        self.view = view

    # ------------------------------------------------------------------ corrections
    def move(self, feedback_ids: list[int], topic_id: str | None, *, actor: str) -> dict:
        """Move lines to another topic, or (``topic_id`` None) to 未归类."""
        served = self.serving.require_model()
        shown = self.view.shown_topics()
        if topic_id is not None:
            self._current(topic_id, shown)
        ids = self._lines(feedback_ids)
        where = self.store.topics_of_lines(served.version, ids)
        ids = [i for i in ids if where.get(i) != topic_id]
        if not ids:
            raise Conflict("选中的反馈已经在这个主题里了", code="nothing_to_move")
        target = self._name(topic_id, shown)
        return self._done(self.store.add_correction(
            "move", model_version=served.version, actor=actor, topic_id=topic_id, line_ids=ids,
            shown_labels=(shown.get(topic_id) if topic_id else None, None), audit_detail={"说明": f"把 {len(ids)} 条反馈移到{target}", "反馈编号": ids[:20]},
        ))

    def merge(self, topic_id: str, other_topic_id: str, *, actor: str) -> dict:
        """Merge ``other_topic_id`` into ``topic_id``: its lines join, it leaves the topic lists."""
        served = self.serving.require_model()
        shown = self.view.shown_topics()
        self._known(topic_id, shown)
        self._current(other_topic_id, shown)
        if topic_id == other_topic_id:
            raise Conflict("不能把主题并入它自己", code="same_topic")
        detail = f"把{self._name(other_topic_id, shown)}并入{self._name(topic_id, shown)}"
        return self._done(self.store.add_correction(
            "merge", model_version=served.version, actor=actor, topic_id=topic_id, other_topic_id=other_topic_id,
            shown_labels=(shown.get(topic_id), shown.get(other_topic_id)), audit_detail={"说明": detail},
        ))

    def split(self, topic_id: str, feedback_ids: list[int], label: str | None, *, actor: str) -> dict:
        """Split the picked lines of a topic off into a new topic, named ``label`` or, without
        one, as a fit would name those lines (``model.describe.describe_lines``)."""
        from recommender.model.describe import describe_lines
        from recommender.text.tokenize import tokenize

        served = self.serving.require_model()
        shown = self.view.shown_topics()
        self._known(topic_id, shown)
        label = clean_field(label, field="label", label="新主题名称", limit=MAX_LABEL, numbers=False)
        refuse_taken_label(shown, label, None)
        ids = self._lines(feedback_ids)
        members = self.view.topic_feedback(topic_id)
        picked = [r for r in members if r.id in set(ids)]
        if len(picked) != len(ids):
            raise Conflict("只能从这个主题自己的反馈里挑选要拆分的行", code="not_in_topic")
        rest = [r for r in members if r.id not in set(ids)]
        if not rest:
            raise Conflict("不能把主题的全部反馈都拆出去，请至少留下一条", code="nothing_left")
        computed, keywords = describe_lines(
            [r.text for r in picked], [tokenize(r.text) for r in picked], [tokenize(r.text) for r in rest],
            getattr(served.model, "generic_words_", frozenset()),
        )
        name = label or computed[:MAX_LABEL]
        return self._done(self.store.add_correction(
            "split", model_version=served.version, actor=actor, topic_id=None, other_topic_id=topic_id,
            line_ids=ids, label=",".join([name, *keywords])[:100], new_topic_label=label,
            shown_labels=(name, shown.get(topic_id)),
            audit_detail={"说明": f"从{self._name(topic_id, shown)}拆出 {len(ids)} 条反馈，成为新主题「{name}」",
                          "反馈编号": ids[:20]},
        ))

    def pin(self, topic_id: str, pinned: bool, *, actor: str) -> dict:
        """Pin a topic (no retrain dissolves it) or unpin it; nothing is stored when it is
        in that state already."""
        served = self.serving.require_model()
        shown = self.view.shown_topics()
        self._known(topic_id, shown)
        if (topic_id in self.store.pinned_topics()) == pinned:
            return {"topic_id": topic_id, "pinned": pinned, "correction": None}
        verb = "固定" if pinned else "取消固定"
        found = self.store.add_correction(
            "pin" if pinned else "unpin", model_version=served.version, actor=actor, topic_id=topic_id,
            shown_labels=(shown.get(topic_id), None),
            audit_detail={"说明": f"{verb}{self._name(topic_id, shown)}（重新训练不会解散固定的主题）"},
        )
        self.view.forget_side_tables()
        return {"topic_id": topic_id, "pinned": pinned, "correction": correction_json(found)}

    def undo(self, correction_id: int, *, actor: str) -> dict:
        """Undo a correction: its lines go back where they were (those moved again since stay)."""
        served = self.serving.require_model()
        shown = self.view.shown_topics()
        result = self.store.undo_correction(
            # A topic merged away (the model's or split off) comes back when the merge is undone.
            correction_id, actor=actor, model_version=served.version,
            known_topics=set(shown) | set(served.cards) | {c.topic_id for c in self.store.active_corrections() if c.kind == "split"},
            audit_detail={"说明": f"撤销第 {correction_id} 号更正"},
        )
        if result is None:
            raise NotFound(f"没有编号为 {correction_id} 的更正")
        found, restored = result
        if restored < 0:
            raise Conflict(f"第 {correction_id} 号更正已经撤销过了", code="already_undone")
        self._forget()
        return {**correction_json(found), "restored": restored}

    def corrections(self, *, limit: int = 50, offset: int = 0) -> dict:
        """The corrections, newest first (undone ones too), with the current pins."""
        rows, total = self.store.list_corrections(limit=limit, offset=offset)
        return {"total": total, "items": [correction_json(c) for c in rows], "pinned": sorted(self.store.pinned_topics())}

    # ------------------------------------------------------------------ helpers
    def _done(self, found: Correction) -> dict:
        self._forget()
        return correction_json(found)

    def _forget(self) -> None:
        self.view.forget_demand()
        self.view.forget_side_tables()

    @staticmethod
    def _known(topic_id: str, shown: dict[str, str]) -> None:
        if not is_topic_id(topic_id) or topic_id not in shown:
            raise NotFound(f"没有编号为 {str(topic_id)[:20]} 的主题")

    @staticmethod
    def _current(topic_id: str, shown: dict[str, str]) -> None:
        """A topic named in a request's body (where lines go, what is merged in) must be one of
        the topics now: one merged away or retired by a retrain is a conflict, not a missing page."""
        if not is_topic_id(topic_id) or topic_id not in shown:
            raise Conflict(f"主题 {str(topic_id)[:20]} 不在当前的主题中（可能已被合并或重新训练后不再存在）", code="unknown_topic")

    @staticmethod
    def _name(topic_id: str | None, shown: dict[str, str]) -> str:
        return topic_name(topic_id, shown.get(topic_id) if topic_id else None)

    def _lines(self, feedback_ids: list[int]) -> list[int]:
        ids = sorted({int(i) for i in feedback_ids})
        if not ids:
            raise ValidationFailed("请至少选择一条反馈", field="feedback_ids", code="no_lines")
        if len(ids) > MAX_LINES:
            raise ValidationFailed(f"一次最多选择 {MAX_LINES} 条反馈", field="feedback_ids", code="too_many_lines")
        rows = {r.id: r for r in self.store.get_many(ids)}
        # Hidden and flagged lines may be moved too (they count again once restored).
        missing = [i for i in ids if i not in rows or rows[i].status not in WITH_TEXT]
        if missing:
            raise NotFound(f"没有编号为 {missing[0]} 的反馈（或它已被撤回、删除）")
        return ids


def correction_json(c: Correction) -> dict:
    """A correction as the API answers it."""
    label, _, keywords = (c.label or "").partition(",")
    return {
        "id": c.id,
        "kind": c.kind,
        "kind_zh": KIND_ZH.get(c.kind, c.kind),
        "topic_id": c.topic_id,
        "other_topic_id": c.other_topic_id,
        "topic_label": c.topic_label,
        "other_topic_label": c.other_topic_label,
        "label": label or None,
        "keywords": [k for k in keywords.split(",") if k],
        "feedback_ids": sorted(c.lines),
        "model_version": c.model_version,
        "actor": c.actor,
        "created_at": c.created_at.isoformat(),
        "undone_at": c.undone_at.isoformat() if c.undone_at else None,
        "undone_by": c.undone_by,
        "active": c.active,
    }

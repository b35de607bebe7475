"""The term loop: each recorded class gets a post-class feedback link, its answers are kept as
class feedback, and learners see what became of their request.

- **The link.** A class is found by the unguessable token of its link (``/class/<token>``,
  printed as a QR code on the class poster); 16 random bytes, so it cannot be guessed.
- **Answers are class feedback, not demand.** The rating (1–5) and any praise are stored with
  the class only (``class_responses``), never as a feedback line, so they never form or feed
  a suggestion. The 「下次想学什么」 text is validated and masked like every line; when it asks
  for something (it has topic words, as the assignment pass decides "asks for nothing") it IS
  new demand: it goes into the normal feedback store as a line (source ``class``, the class as
  its ``session_id``), linked to the answer, with a receipt code like any line.
- **What each class did.** For the topic page and the session API: the average rating, the
  number of answers and the demand before and after the class
  (:func:`recommender.ranking.class_demand.demand_around`).
- **One answer per browser.** Without learner accounts, the web layer remembers in a signed
  cookie which answer a browser gave; sent again, that answer is changed (:meth:`ClassFeedback.answer`)
  rather than a second one added. Another phone has no cookie and answers as anyone does.
- **What became of a request.** For the receipt page: the line's topic (or 未归类) and the
  classes planned or held on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from recommender.door.screening import ClientKeys
from recommender.errors import NotFound, ValidationFailed
from recommender.ranking.class_demand import DEMAND_WINDOW_DAYS, demand_around
from recommender.service.demand import follow_lineage
from recommender.service.demand_view import DemandView
from recommender.service.intake import Intake
from recommender.service.serving import ModelServing
from recommender.store import FeedbackStore, StoredFeedback
from recommender.text.tokenize import tokenize

log = logging.getLogger(__name__)

#: The session_id a post-class line is stored with: at most its column (100 characters).
MAX_CLASS_NAME = 100
RATINGS = (1, 2, 3, 4, 5)
#: Statuses of a class whose form takes answers (a cancelled class has none).
ANSWERABLE = ("planned", "held")
UNKNOWN_LINK = "这个课后反馈链接不存在，请检查二维码或链接是否完整。"
CANCELLED = "这节课已取消，不再收集课后反馈。"


@dataclass(frozen=True)
class ClassAnswer:
    """What an answer to a post-class form did: the class, the line its 「下次想学什么」 is (or
    None), that line's receipt when it is new, the answer's id, and whether it changed an
    earlier answer of the same browser."""

    session: dict
    line: StoredFeedback | None
    receipt: str | None
    answer_id: int
    changed: bool


class ClassFeedback:
    """Answers to post-class forms, and what classes did to demand."""

    def __init__(
        self, store: FeedbackStore, serving: ModelServing, view: DemandView, intake: Intake,
        withdraw_line: Callable[[int], object],
    ) -> None:
        self.store = store
        self.serving = serving
        self.view = view
        self.intake = intake
        self.withdraw_line = withdraw_line  # Moderation.withdraw_line: a replaced line's text goes

    # ------------------------------------------------------------------ the form
    def open_class(self, token: object) -> dict:
        """The class a feedback link belongs to (title, date, instructor); NotFound for an
        unknown token or a cancelled class."""
        if not isinstance(token, str) or not 10 <= len(token) <= 32 or not token.isascii():
            raise NotFound(UNKNOWN_LINK)
        row = self.store.session_by_token(token)
        if row is None:
            raise NotFound(UNKNOWN_LINK)
        if row["status"] not in ANSWERABLE:
            raise NotFound(CANCELLED)
        return row

    def respond(
        self, token: object, rating: object, text: object, *, client: ClientKeys | None = None
    ) -> tuple[dict, StoredFeedback | None, str | None]:
        """Store one answer: (the class, the feedback line its text became or None, that
        line's receipt code or None). ValidationFailed (field ``rating`` or ``text``) for bad
        input, before anything is stored."""
        done = self.answer(token, rating, text, client=client)
        return done.session, done.line, done.receipt

    def answer(
        self, token: object, rating: object, text: object, *, client: ClientKeys | None = None,
        earlier: int | None = None,
    ) -> ClassAnswer:
        """Store an answer, or change ``earlier`` (the id of this browser's answer to the same
        class, from its signed cookie) instead of adding a second one: the rating and praise
        are replaced, and a 「下次想学什么」 line that says something else now is withdrawn (and
        the new text stored as a line with a new receipt). ValidationFailed before anything
        changes; an ``earlier`` that is not an answer of this class counts as none."""
        session = self.open_class(token)
        stars = parse_rating(rating)
        draft = None
        if isinstance(text, str) and text.strip():
            name = f"{session['held_on'].isoformat()} {session['title']}"[:MAX_CLASS_NAME]
            draft = self.intake.draft(text, session_id=name, source="class")
        elif text is not None and not isinstance(text, str):
            raise ValidationFailed("反馈内容必须是文字。", field="text", code="type")
        asks = draft is not None and bool(tokenize(draft.text))
        previous = self.store.class_response(earlier) if earlier is not None else None
        if previous is not None and previous["session_id"] != session["id"]:
            previous = None
        old_line = self.store.get(previous["feedback_id"]) if previous and previous["feedback_id"] else None
        line = receipt = None
        if asks and old_line is not None and old_line.status == "visible" and old_line.text == draft.text:
            line = old_line  # the same request: it keeps its line (and its receipt)
        else:
            if old_line is not None:
                self.withdraw_line(old_line.id)
            if asks:
                line, receipt = self.intake.submit_with_receipt(draft, client=client)
        praise = draft.text if draft is not None and not asks else None
        feedback_id = line.id if line is not None else None
        if previous is None:
            answer_id = self.store.add_class_response(session["id"], stars, text=praise, feedback_id=feedback_id)
        else:
            answer_id = previous["id"]
            self.store.change_class_response(answer_id, stars, text=praise, feedback_id=feedback_id)
        log.info(
            "class response class=%s rating=%s line=%s changed=%s",
            session["id"], stars, feedback_id, previous is not None,
        )
        return ClassAnswer(session, line, receipt, answer_id, changed=previous is not None)

    def earlier_answer(self, session: dict, answer_id: int | None) -> dict | None:
        """This browser's answer to ``session`` (from its signed cookie) as the form shows it
        again: ``rating`` and ``text`` (the stored, masked text), or None."""
        row = self.store.class_response(answer_id) if answer_id is not None else None
        if row is None or row["session_id"] != session["id"]:
            return None
        text = row["text"] or ""
        if row["feedback_id"]:
            line = self.store.get(row["feedback_id"])
            text = line.text if line is not None and line.status == "visible" else ""
        return {"id": row["id"], "rating": str(row["rating"]), "text": text}

    def answers(self, session_id: int, *, limit: int = 50) -> list[dict]:
        """The newest answers of a class: rating, and the text as kept (praise with the class;
        「下次想学什么」 from its line, empty once that line is withdrawn, hidden or purged)."""
        if self.store.get_session(session_id) is None:
            raise NotFound("没有这节课")
        rows = self.store.responses_of(session_id, limit=limit)
        lines = {r.id: r for r in self.store.get_many([a["feedback_id"] for a in rows if a["feedback_id"]])}
        out = []
        for a in rows:
            line = lines.get(a["feedback_id"]) if a["feedback_id"] else None
            out.append({
                "rating": a["rating"],
                "kind": "request" if a["feedback_id"] else ("praise" if a["text"] else "rating"),
                "text": (line.text if line is not None and line.status == "visible" else "") if a["feedback_id"] else (a["text"] or ""),
                "created_at": a["created_at"].isoformat(),
            })
        return out

    # ------------------------------------------------------------------ what each class did
    def with_outcomes(self, sessions: list[dict], *, today: date | None = None) -> list[dict]:
        """Session dicts (:func:`recommender.service.shapes.session_json`) with ``rating``
        (average, None without answers), ``responses``, ``demand_before`` and ``demand_after``
        (distinct people asking on the topic in the 30 days before the class and since)."""
        if not sessions:
            return sessions
        tz = self.view.settings.tz  # days as the organizers count them
        today = today or self.view.settings.today()
        ratings = self.store.class_ratings([s["id"] for s in sessions])
        served = self.serving.served()
        demand = [None] * len(sessions)
        if served is not None:
            lineage = self.view.cache.side_tables().lineage
            records = self.view.cache.state(served).records
            classes = [(follow_lineage(lineage, s["topic_id"]), date.fromisoformat(s["date"])) for s in sessions]
            demand = demand_around(records, classes, today=today, tz=tz)
        out = []
        for s, around in zip(sessions, demand):
            average, count = ratings.get(s["id"], (None, 0))
            out.append({
                **s,
                "rating": round(average, 2) if average is not None else None,
                "responses": count,
                "demand_before": around.before if around else None,
                "demand_after": around.after if around else None,
                "demand_window_days": DEMAND_WINDOW_DAYS,
            })
        return out

    # ------------------------------------------------------------------ what became of a request
    def outcome(self, row: StoredFeedback) -> dict:
        """The topic a line is counted in (``topic_id`` None: 未归类 or not sorted yet) and the
        classes planned or held on that topic, oldest first."""
        served = self.serving.served()
        if served is None or row.status != "visible":
            return {"topic_id": None, "label": None, "classes": []}
        topic_id = self.store.assigned_topics(served.version, after_id=row.id - 1, until_id=row.id).get(row.id)
        if topic_id is None or topic_id not in served.cards:
            return {"topic_id": None, "label": None, "classes": []}
        side = self.view.cache.side_tables()
        classes = [
            {"date": s["held_on"].isoformat(), "title": s["title"], "status": s["status"]}
            for s in self.store.list_sessions()
            if s["status"] in ANSWERABLE and follow_lineage(side.lineage, s["topic_id"]) == topic_id
        ]
        return {"topic_id": topic_id, "label": side.labels.get(topic_id, served.cards[topic_id].label), "classes": classes}


def parse_rating(value: object) -> int:
    """A rating 1–5 from a form (text) or JSON (int); ValidationFailed (field ``rating``) otherwise."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value not in RATINGS:
        raise ValidationFailed("请为这节课打分：1 到 5 分（5 分最好）。", field="rating", code="invalid_rating")
    return value

"""RecommenderService: what the web layer and the CLI call.

One object per process, made of parts that each own their state and locks:

=====================  ====================================================================
part                   what it does
=====================  ====================================================================
``serving``            the served model (hot swap) and the assignment pass (serving.py)
``view``               read side: suggestions, topics, sessions, their caches (demand_view.py,
                       over the in-memory demand of demand.py)
``intake``             write side: drafts → stored lines, group commit, imports (intake.py)
``moderation``         write side: hide/restore, review lists, audit log, withdrawal,
                       retention (moderation.py)
``planning``           topic labels and class sessions (planning.py)
``experts``            the directory of experts: add, edit, delete, import (experts.py)
``classes``            post-class feedback, what each class did, what became of a request
                       (class_feedback.py)
``browser``            every topic's standing: 全部主题, held-back topics, a topic's rank (browse.py)
``corrections``        organizers' moves, merges, splits and pins, and their undo
                       (corrections.py)
=====================  ====================================================================

The methods below only delegate, so callers keep one surface. No FastAPI here; no SQL here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import Future
from datetime import date, datetime
from pathlib import Path

from recommender.config import Settings
from recommender.crypto import DataSecret
from recommender.door.intake_queue import GroupCommit
from recommender.door.screening import ClientKeys
from recommender.door.validation import FeedbackDraft
from recommender.retrain.hot_swap import ModelWatcher
from recommender.service.browse import TopicBrowser
from recommender.service.class_feedback import ClassAnswer, ClassFeedback
from recommender.service.corrections import Corrections
from recommender.service.demand_view import DemandView
from recommender.service.experts import ExpertDirectory
from recommender.service.filters import bounded_as_of, bounded_offset, bounded_page, check_top
from recommender.service.intake import Intake
from recommender.service.moderation import Moderation
from recommender.service.planning import Planning
from recommender.service.serving import LoadedModel, ModelServing, load_served_model, require_model
from recommender.store import FeedbackStore, NewFeedback, PurgeReport, StoredFeedback

__all__ = ["LoadedModel", "RecommenderService", "load_served_model"]

log = logging.getLogger(__name__)


class RecommenderService:
    """One per process; thread-safe for the web server's worker threads."""

    def __init__(self, settings: Settings, *, store: FeedbackStore | None = None) -> None:
        self._settings = settings
        self.store = store or FeedbackStore(settings.database_url)
        data = Path(settings.data_dir)
        salt = DataSecret(data / "submitter_salt", settings.submitter_salt)
        receipt_secret = DataSecret(data / "receipt_secret")
        self._secrets = (receipt_secret, salt)
        self.serving = ModelServing(self.store, settings.models_dir, poll_seconds=settings.model_poll_seconds)
        self.view = DemandView(settings, self.store, self.serving)
        self.intake = Intake(settings, self.store, self.serving, salt=salt, receipt_secret=receipt_secret)
        self.moderation = Moderation(settings, self.store, self.serving, self.view, receipt_secret=receipt_secret)
        self.planning = Planning(self.store, self.view)
        self.experts = ExpertDirectory(self.store, self.view)
        self.classes = ClassFeedback(self.store, self.serving, self.view, self.intake, self.moderation.withdraw_line)
        self.browser = TopicBrowser(self.view)
        self.corrections = Corrections(self.store, self.serving, self.view)

    @property
    def watcher(self) -> ModelWatcher:
        """The hot swap of this process (``serving.watcher``)."""
        return self.serving.watcher

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        """New settings for every part (those read per call: limits, windows, segments)."""
        self._settings = value
        for part in (self.view, self.intake, self.moderation):
            part.settings = value

    # ------------------------------------------------------------------ start-up
    def start(self) -> None:
        """Migrate the schema and load the current model if there is one (and run it once, so
        the tokenizer's dictionaries load now rather than in the first assignment pass)."""
        self.store.migrate()
        self._check_secrets()
        self.serving.closed = False  # an app started again after it stopped (tests) serves again
        served = self.refresh_model()
        self.moderation.quotes.catch_up()  # a scrub a killed process did not finish
        if served is not None:
            try:
                served.assign(["预热"])
            except Exception:  # a broken model shows at the first real pass, logged there
                log.debug("model warm-up failed", exc_info=True)

    def _check_secrets(self) -> None:
        """A restored database without its data-folder secrets: say so before a new secret is
        made (receipt codes stop being found, repeats are no longer recognised)."""
        missing = [secret for secret in self._secrets if secret.missing]
        if not missing:
            return
        counts = self.store.keyed_line_counts()
        for secret in missing:
            if counts.get(secret.path.name):
                log.error(
                    "%s is missing but %d stored feedback lines were keyed with it: a new one will be "
                    "generated and those lines' %s; restore the file from the backup (README: Backups)",
                    secret.path, counts[secret.path.name],
                    "receipt codes will not be found" if secret.path.name == "receipt_secret"
                    else "submitters will not be recognised again",
                )

    def close(self) -> None:
        self.stop_intake()  # queued lines are stored before the engine goes
        self.moderation.quotes.wait(30)
        with self.serving.lock:
            self.serving.closed = True  # nothing refreshes or assigns on the disposed engine after this
            self.store.dispose()

    # ------------------------------------------------------------------ model (serving)
    def refresh_model(self, *, force: bool = True) -> LoadedModel | None:
        """Pick up a new current model (all workers poll this); catch up live assignments."""
        return self.serving.refresh_model(force=force)

    def served(self) -> LoadedModel | None:
        return self.serving.served()

    def require_model(self) -> LoadedModel:
        return require_model(self.served())

    def assign_pending(self) -> int:
        """Assign new lines to the current model's topics (the web workers, every second)."""
        return self.serving.assign_pending()

    # ------------------------------------------------------------------ intake (write side)
    def client_key(self, address: str | None, user_agent: str | None = None) -> str | None:
        return self.intake.client_key(address, user_agent)

    def client_keys(self, address: str | None, user_agent: str | None = None) -> ClientKeys:
        return self.intake.client_keys(address, user_agent)

    def draft(self, text: object, **fields) -> FeedbackDraft:
        return self.intake.draft(text, **fields)

    def submit(self, draft: FeedbackDraft, *, client: str | None = None, receipt: str | None = None) -> StoredFeedback:
        return self.intake.submit(draft, client=client, receipt=receipt)

    def submit_with_receipt(self, draft: FeedbackDraft, *, client: str | None = None) -> tuple[StoredFeedback, str]:
        return self.intake.submit_with_receipt(draft, client=client)

    def live_item(self, draft: FeedbackDraft, *, client: str | None = None, receipt: str | None = None) -> NewFeedback:
        return self.intake.live_item(draft, client=client, receipt=receipt)

    def store_live(self, items: Sequence[NewFeedback]) -> list[StoredFeedback]:
        return self.intake.store_live(items)

    def start_intake(self) -> GroupCommit:
        """Start this process's intake writer, storing through :meth:`store_live`."""
        return self.intake.start_writer(self.store_live)

    def stop_intake(self, timeout: float | None = 30.0) -> None:
        self.intake.stop_writer(timeout)

    def enqueue(self, draft: FeedbackDraft, *, client: str | None = None) -> tuple[Future[StoredFeedback], str]:
        return self.intake.enqueue(draft, client=client)

    def enqueue_async(self, draft: FeedbackDraft, *, client: str | None = None) -> tuple[asyncio.Future, str]:
        return self.intake.enqueue_async(draft, client=client)

    def store_batch(
        self, drafts: Sequence[FeedbackDraft], fill_seconds: Sequence[int | None] | None = None
    ) -> tuple[list[int], int]:
        return self.intake.store_batch(drafts, fill_seconds)

    # ------------------------------------------------------------------ demand (read side)
    def refresh_demand(self) -> None:
        self.view.refresh()

    # Every caller's filters pass the bounds of service/filters.py here (top 1..50, as_of within
    # the calendar the ranking can reckon in, pages whose offset fits the database).
    def suggestions(self, *, as_of: date | None = None, top: int | None = None, segment: str | None = None) -> dict:
        return self.view.suggestions(as_of=bounded_as_of(as_of), top=check_top(top), segment=segment)

    def suggestions_json(self, *, as_of: date | None = None, top: int | None = None, segment: str | None = None) -> bytes:
        return self.view.suggestions_json(as_of=bounded_as_of(as_of), top=check_top(top), segment=segment)

    def unassigned_share(self) -> float:
        return self.view.unassigned_share()

    def sessions(self, topic_id: str | None = None, *, latest: int | None = None) -> list[dict]:
        """Recorded classes (oldest first; with ``latest``, only the newest that many, newest
        first) with their ratings and the demand before and after each."""
        sessions = self.view.sessions(topic_id)
        if latest is not None:
            sessions = sorted(sessions, key=lambda s: s["id"], reverse=True)[:latest]
        return self.classes.with_outcomes(sessions)

    def themes(self) -> dict:
        return self.view.themes()

    def no_topic(self, *, no_request: bool = False, page: int = 1, per_page: int = 50) -> dict:
        return self.view.no_topic(no_request=no_request, page=page, per_page=per_page)

    def new_demand(self) -> dict:
        return self.view.new_demand()

    def topics(self) -> dict:
        return self.view.topics()

    def topic(self, topic_id: str, *, page: int = 1, per_page: int = 50) -> dict:
        page, per_page = bounded_page(page, per_page)
        topic = self.view.topic(topic_id, page=page, per_page=per_page)
        return {**topic, "sessions": self.classes.with_outcomes(topic["sessions"])}

    def topic_feedback(self, topic_id: str) -> list[StoredFeedback]:
        return self.view.topic_feedback(topic_id)

    def standings(self, *, as_of: date | None = None, segment: str | None = None) -> dict:
        return self.browser.standings(as_of=bounded_as_of(as_of), segment=segment)

    def held_back(self, *, as_of: date | None = None, top: int | None = None, segment: str | None = None) -> list[dict]:
        return self.browser.held_back(as_of=bounded_as_of(as_of), top=check_top(top), segment=segment)

    def topic_standing(self, topic_id: str, *, as_of: date | None = None) -> dict | None:
        return self.browser.topic_standing(topic_id, as_of=bounded_as_of(as_of))

    def browse_topics(self, *, query: str = "", as_of: date | None = None, segment: str | None = None) -> dict:
        return self.browser.browse(query=query, as_of=bounded_as_of(as_of), segment=segment)

    # ------------------------------------------------------------------ planning
    def rename_topic(self, topic_id: str, label: str | None, *, actor: str | None = None) -> dict:
        return self.planning.rename_topic(topic_id, label, actor=actor)

    def record_session(self, **fields) -> dict:
        """The keywords of :meth:`Planning.record_session <recommender.service.planning.Planning.record_session>`."""
        return self.classes.with_outcomes([self.planning.record_session(**fields)])[0]

    # ------------------------------------------------------------------ the term loop
    def open_class(self, token: object) -> dict:
        """The class of a post-class feedback link (NotFound: unknown or cancelled)."""
        return self.classes.open_class(token)

    def respond_to_class(
        self, token: object, rating: object, text: object, *, client: ClientKeys | None = None
    ) -> tuple[dict, StoredFeedback | None, str | None]:
        return self.classes.respond(token, rating, text, client=client)

    def answer_class(
        self, token: object, rating: object, text: object, *, client: ClientKeys | None = None,
        earlier: int | None = None,
    ) -> ClassAnswer:
        """Answer a class's form, or change this browser's ``earlier`` answer to it."""
        return self.classes.answer(token, rating, text, client=client, earlier=earlier)

    def earlier_class_answer(self, session: dict, answer_id: int | None) -> dict | None:
        """This browser's answer to a class (rating, masked text) to show again, or None."""
        return self.classes.earlier_answer(session, answer_id)

    def class_answers(self, session_id: int, *, limit: int = 50) -> list[dict]:
        """The newest answers to a class's post-class form (NotFound: no such class)."""
        return self.classes.answers(session_id, limit=limit)

    def request_outcome(self, row: StoredFeedback) -> dict:
        """What became of a line: its topic (or 未归类) and the classes on it."""
        return self.classes.outcome(row)

    # ------------------------------------------------------------------ corrections
    def move_lines(self, feedback_ids: list[int], topic_id: str | None, *, actor: str) -> dict:
        return self.corrections.move(feedback_ids, topic_id, actor=actor)

    def merge_topics(self, topic_id: str, other_topic_id: str, *, actor: str) -> dict:
        return self.corrections.merge(topic_id, other_topic_id, actor=actor)

    def split_topic(self, topic_id: str, feedback_ids: list[int], label: str | None, *, actor: str) -> dict:
        return self.corrections.split(topic_id, feedback_ids, label, actor=actor)

    def pin_topic(self, topic_id: str, pinned: bool, *, actor: str) -> dict:
        return self.corrections.pin(topic_id, pinned, actor=actor)

    def undo_correction(self, correction_id: int, *, actor: str) -> dict:
        return self.corrections.undo(correction_id, actor=actor)

    def list_corrections(self, *, limit: int = 50, offset: int = 0) -> dict:
        offset, limit = bounded_offset(offset, limit)
        return self.corrections.corrections(limit=limit, offset=offset)

    # ------------------------------------------------------------------ moderation (write side)
    def hide(self, feedback_id: int, reason: str, *, actor: str, note: str | None = None) -> StoredFeedback:
        return self.moderation.hide(feedback_id, reason, actor=actor, note=note)

    def restore(self, feedback_id: int, *, actor: str) -> StoredFeedback:
        return self.moderation.restore(feedback_id, actor=actor)

    def moderation_list(self, status: str, *, limit: int = 50, offset: int = 0) -> dict:
        offset, limit = bounded_offset(offset, limit)
        return self.moderation.moderation_list(status, limit=limit, offset=offset)

    def audit_log(self, *, limit: int = 50, offset: int = 0) -> dict:
        offset, limit = bounded_offset(offset, limit)
        return self.moderation.audit_log(limit=limit, offset=offset)

    def audit(self, actor: str, action: str, target: str | None = None, detail: dict | None = None) -> None:
        self.moderation.audit(actor, action, target, detail)

    def find_receipt(self, code: object) -> StoredFeedback | None:
        return self.moderation.find_receipt(code)

    def withdraw(self, code: object) -> StoredFeedback | None:
        return self.moderation.withdraw(code)

    def retention_cutoff(self, now: datetime | None = None) -> datetime | None:
        return self.moderation.retention_cutoff(now)

    def purge(self, *, dry_run: bool = False, actor: str = "console", now: datetime | None = None) -> PurgeReport | None:
        return self.moderation.purge(dry_run=dry_run, actor=actor, now=now)

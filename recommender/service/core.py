"""RecommenderService: what the web layer and the CLI call.

It ties the store, the served model and the ranking together:

- intake: validate and mask (``recommender.door.validation``), hash the submitter, mark repeats,
  screen for automated-looking lines and store; the web doors queue lines for the worker's
  intake writer (:meth:`RecommenderService.enqueue`, group commit: every line waiting is
  stored in one transaction, see ``recommender.door.intake_queue``); a once-a-second pass assigns
  new lines to the current model's topics;
- serving: the current model (hot-swapped by :class:`recommender.retrain.registry.ModelWatcher`)
  with everything that can be precomputed at swap time (topic cards, centroids);
- suggestions and topics: demand records cached per model version and refreshed
  incrementally, ranked by :func:`recommender.ranking.rank_topics`;
- moderation, withdrawal and retention: only ``visible`` lines count. Every status change
  bumps a counter in the store; each worker's demand cache checks it at its one-second
  refresh and rebuilds, so a hidden or withdrawn line leaves suggestions and quotes at once.
  Months purged by retention come back as synthetic demand records built from the
  ``topic_month_counts`` aggregates (ids starting with ``~agg``, never shown).

No FastAPI here; no SQL here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from recommender.config import Settings
from recommender.errors import NoModelError, ValidationFailed
from recommender.door.validation import FeedbackDraft, clean_feedback, near_duplicate
from recommender.door.intake_queue import GroupCommit
from recommender.crypto import hash_submitter, load_or_create_secret
from recommender.retrain.hot_swap import ModelWatcher
from recommender.retrain.registry import ModelRegistry
from recommender.door.screening import (
    HIDE_REASONS,
    ScreeningRules,
    client_key,
    new_receipt_code,
    normalise_receipt,
    receipt_hash,
    screen,
)
from recommender.ranking import ClassSession, DemandRecord, RankingParams, TopicCard, rank_topics
from recommender.store import FeedbackStore, NewFeedback, PurgeReport, StoredFeedback

log = logging.getLogger(__name__)

SESSION_STATUSES = ("planned", "held", "cancelled")
# Rows received up to this long before the last refresh are re-read, so a transaction that
# committed late (ids are not commit-ordered on PostgreSQL) is never missed.
REFRESH_OVERLAP = timedelta(seconds=60)
#: Demand records older than this (seconds) are read again before suggestions are ranked; the
#: web workers' background pass refreshes them at half this age, ahead of the requests.
DEMAND_MAX_AGE = 1.0
#: Prefix of the ids of demand records rebuilt from retention aggregates (never shown).
AGGREGATE_PREFIX = "~agg:"
#: The web workers' assignment pass: a worker assigns the lines it stored itself at once, lines
#: stored elsewhere once they are ORPHAN_GRACE old (looked for every ORPHAN_CHECK_SECONDS).
ORPHAN_GRACE = timedelta(seconds=5)
ORPHAN_CHECK_SECONDS = 5.0
MAX_FRESH = 100_000
#: Under load (the previous batch had more than one line) the intake writer waits this long
#: for more lines before storing a batch: one commit for more lines (measured: +10–20 %
#: throughput at 50 concurrent clients); a lone submission never waits.
INTAKE_LINGER_SECONDS = 0.005
MAX_NOTE = 200


@dataclass
class LoadedModel:
    """A loaded model version with what the service precomputes at swap time."""

    version: str
    model: object
    metadata: dict
    topic_ids: list[str]
    cards: dict[str, TopicCard]
    sizes: dict[str, int]

    def assign(self, texts: list[str]) -> list[tuple[str | None, float]]:
        labels, scores = self.model.predict_scores(texts)
        return [
            (self.topic_ids[int(label)] if int(label) >= 0 else None, float(score))
            for label, score in zip(labels, scores)
        ]


@dataclass
class _Demand:
    """Demand records of one model version, refreshed incrementally."""

    version: str
    records: dict[int, DemandRecord] = field(default_factory=dict)
    unassigned: set[int] = field(default_factory=set)
    refreshed_at: datetime | None = None
    checked_monotonic: float = 0.0
    stamp: int = 0
    moderation: int = -1
    aggregates: list[DemandRecord] = field(default_factory=list)
    examples: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class _DemandSnapshot:
    """The published demand state of one model version: never changed, only replaced, so a
    reader needs no lock."""

    version: str
    records: list[DemandRecord]
    stamp: int
    examples: dict[str, tuple[str, ...]]
    checked_monotonic: float


def load_served_model(path: Path) -> LoadedModel:
    """Load a version folder into a LoadedModel (raises on a bad artifact)."""
    from recommender.model.persistence import load_model

    model, metadata = load_model(path)
    topic_ids = list(metadata.get("topic_ids") or [f"T{i + 1:04d}" for i in range(model.n_topics_)])
    if len(topic_ids) != model.n_topics_:
        raise ValueError(f"metadata has {len(topic_ids)} topic ids for {model.n_topics_} topics")
    cards: dict[str, TopicCard] = {}
    sizes: dict[str, int] = {}
    for index, info in enumerate(model.topics_):
        tid = topic_ids[index]
        cards[tid] = TopicCard(
            topic_id=tid,
            label=info["label"],
            keywords=tuple(info["keywords"]),
            examples=tuple(info["examples"]),
            centroid=np.asarray(model.centroids_[index]),
            theme=info.get("theme"),
        )
        sizes[tid] = int(info["size"])
    version = metadata.get("version") or Path(path).name
    return LoadedModel(version=version, model=model, metadata=metadata, topic_ids=topic_ids, cards=cards, sizes=sizes)


class RecommenderService:
    """One per process; thread-safe for the web server's worker threads."""

    def __init__(self, settings: Settings, *, store: FeedbackStore | None = None) -> None:
        self.settings = settings
        self.store = store or FeedbackStore(settings.database_url)
        self.registry = ModelRegistry(Path(settings.models_dir))
        self.watcher = ModelWatcher(self.registry, load_served_model, poll_seconds=settings.model_poll_seconds)
        self._salt: str | None = settings.submitter_salt
        self._receipt_secret: str | None = None
        self._demand: _Demand | None = None
        self._demand_snapshot: _DemandSnapshot | None = None  # what readers get; replaced whole
        self._demand_lock = threading.Lock()  # one refresher at a time
        self._ranking_cache: dict[tuple, dict] = {}
        # The newest ranking of each query whatever its demand stamp, served while another
        # thread ranks the new demand (see suggestions); one ranking computed at a time.
        self._ranking_latest: dict[tuple, dict] = {}
        self._ranking_lock = threading.Lock()
        self._encoded_cache: dict[int, tuple[dict, bytes]] = {}
        self._side_cache: tuple[float, list, dict, dict] | None = None
        self._side_lock = threading.Lock()
        # Held while a model refresh or assignment pass runs, so close() never disposes the
        # engine under it and two passes never assign the same lines.
        self._refresh_lock = threading.Lock()
        self._assigned_version: str | None = None
        self._assigned_since: datetime | None = None
        self._intake: GroupCommit | None = None
        self._intake_lock = threading.Lock()
        # Lines this process's intake stored, waiting for the next assignment pass.
        self._fresh: list[StoredFeedback] = []
        self._fresh_lock = threading.Lock()
        self._orphans_checked = 0.0

    # ------------------------------------------------------------------ start-up
    def start(self) -> None:
        """Migrate the schema and load the current model if there is one (and run it once, so
        the tokenizer's dictionaries load now rather than in the first assignment pass)."""
        self.store.migrate()
        served = self.refresh_model()
        if served is not None:
            try:
                served.assign(["预热"])
            except Exception:  # a broken model shows at the first real pass, logged there
                log.debug("model warm-up failed", exc_info=True)

    def close(self) -> None:
        self.stop_intake()  # queued lines are stored before the engine goes
        with self._refresh_lock:
            self.store.dispose()

    @property
    def salt(self) -> str:
        if self._salt is None:
            self._salt, _ = load_or_create_secret(Path(self.settings.data_dir) / "submitter_salt")
        return self._salt

    @property
    def receipt_secret(self) -> str:
        if self._receipt_secret is None:
            self._receipt_secret, _ = load_or_create_secret(Path(self.settings.data_dir) / "receipt_secret")
        return self._receipt_secret

    def client_key(self, address: str | None, user_agent: str | None = None) -> str | None:
        """The keyed hash a submission's client is known by (burst detection; never the IP)."""
        return client_key(self.salt, address, user_agent)

    # ------------------------------------------------------------------ model
    def refresh_model(self, *, force: bool = True) -> LoadedModel | None:
        """Pick up a new current model (all workers poll this); catch up live assignments."""
        with self._refresh_lock:
            return self._refresh_model(force)

    def _refresh_model(self, force: bool) -> LoadedModel | None:
        if force:
            self.watcher.refresh(force=True)
        else:
            self.watcher.maybe_refresh()
        current = self.served()
        if current is not None:
            # The web workers' once-a-second poll (force=False) shares the assignment work:
            # see _assign_pending(shared=True).
            self._assign_pending(current, shared=not force)
        return current

    def served(self) -> LoadedModel | None:
        got = self.watcher.get()
        return got[1] if got else None

    def require_model(self) -> LoadedModel:
        served = self.served()
        if served is None:
            raise NoModelError("还没有训练好的模型，请先运行 `recommender train`（或 python train.py）。")
        return served

    def assign_pending(self) -> int:
        """Assign new lines to the current model's topics (the web workers run this every
        second, so a line counts in suggestions about a second after it arrives)."""
        with self._refresh_lock:
            served = self.served()
            return 0 if served is None else self._assign_pending(served)

    def _assign_pending(self, served: LoadedModel, batch: int = 2000, *, shared: bool = False) -> int:
        """Assign lines with no assignment under this version: all of them the first time a
        version is served here (lines that arrived after its training snapshot or while no
        model was served), then only lines received since the previous pass.

        ``shared`` (the web workers' poll): after that first pass, a worker assigns the lines
        its own intake stored (handed over in memory, not read back) and, every
        ``ORPHAN_CHECK_SECONDS``, lines without an assignment that are older than
        ``ORPHAN_GRACE`` (stored by a worker that died first, or by another process). So two
        workers do not both run the model over every new line."""
        if shared and self._assigned_version == served.version and self._assigned_since is not None:
            return self._assign_shared(served, batch)
        with self._fresh_lock:
            self._fresh = []  # this full pass covers them
        started = datetime.now(timezone.utc)
        since = None
        if self._assigned_version == served.version and self._assigned_since is not None:
            since = self._assigned_since - REFRESH_OVERLAP
        done = 0
        while True:
            rows = self.store.unassigned(served.version, limit=batch, received_since=since)
            if not rows:
                break
            assigned = served.assign([r.text for r in rows])
            self.store.put_assignments(served.version, [(r.id, t, s) for r, (t, s) in zip(rows, assigned)])
            done += len(rows)
        if done:
            log.info("assigned %d feedback lines to model %s", done, served.version)
        self._assigned_version, self._assigned_since = served.version, started
        self._orphans_checked = time.monotonic()
        return done

    def _assign_shared(self, served: LoadedModel, batch: int) -> int:
        with self._fresh_lock:
            fresh, self._fresh = self._fresh, []
        done = 0
        for start in range(0, len(fresh), batch):
            rows = fresh[start : start + batch]
            assigned = served.assign([r.text for r in rows])
            self.store.put_assignments(
                served.version, [(r.id, t, sc) for r, (t, sc) in zip(rows, assigned)], only_with_text=True
            )
            done += len(rows)
        now_mono = time.monotonic()
        if now_mono - self._orphans_checked >= ORPHAN_CHECK_SECONDS:
            started = datetime.now(timezone.utc)
            cutoff = started - ORPHAN_GRACE
            rows = self.store.unassigned(
                served.version, limit=batch, received_since=self._assigned_since - REFRESH_OVERLAP
            )
            orphans = [r for r in rows if r.received_at < cutoff]
            if orphans:
                assigned = served.assign([r.text for r in orphans])
                self.store.put_assignments(
                    served.version, [(r.id, t, sc) for r, (t, sc) in zip(orphans, assigned)], only_with_text=True
                )
                done += len(orphans)
            # Lines younger than the grace were left to their own worker: read them again next time.
            self._assigned_since = cutoff
            self._orphans_checked = now_mono
        if done:
            log.debug("assigned %d feedback lines to model %s", done, served.version)
        return done

    # ------------------------------------------------------------------ intake
    def draft(self, text: object, **fields) -> FeedbackDraft:
        return clean_feedback(text, settings=self.settings, **fields)

    def submit(
        self, draft: FeedbackDraft, *, client: str | None = None, receipt: str | None = None
    ) -> StoredFeedback:
        """Store one validated line now (its own transaction), marked as a repeat (or flagged)
        where it is one. The web doors use :meth:`enqueue` (group commit) instead.

        ``client`` is the hashed client key (:meth:`client_key`) used to flag bursts;
        ``receipt`` a receipt code (:meth:`submit_with_receipt`) whose hash is stored."""
        return self.store_live([self.live_item(draft, client=client, receipt=receipt)])[0]

    def submit_with_receipt(self, draft: FeedbackDraft, *, client: str | None = None) -> tuple[StoredFeedback, str]:
        """Store a line and return it with its receipt code (shown once; only a hash is kept)."""
        code = new_receipt_code()
        return self.submit(draft, client=client, receipt=code), code

    def live_item(
        self, draft: FeedbackDraft, *, client: str | None = None, receipt: str | None = None
    ) -> NewFeedback:
        """A validated draft as a row for :meth:`store_live`: submitter and receipt hashed,
        the client key attached; repeats and screening are decided when it is stored."""
        return self._row(
            draft,
            hash_submitter(self.salt, draft.submitter),
            client_key=client,
            receipt_hash=receipt_hash(self.receipt_secret, normalise_receipt(receipt)) if receipt else None,
        )

    @staticmethod
    def _row(draft: FeedbackDraft, submitter_hash: str | None, **extra) -> NewFeedback:
        """The row of a validated draft (submitter already hashed) plus ``extra`` fields."""
        return NewFeedback(
            text=draft.text,
            segment=draft.segment,
            submitted_at=draft.submitted_at,
            source=draft.source,
            session_id=draft.session_id,
            submitter_hash=submitter_hash,
            votes=draft.votes,
            external_id=draft.external_id,
            **extra,
        )

    def store_live(self, items: Sequence[NewFeedback]) -> list[StoredFeedback]:
        """Store live submissions (from :meth:`live_item`) in ONE transaction, in order.

        Each line is marked a repeat (the same submitter's near-identical line within
        ``repeat_window_days``) and screened for automated-looking intake (bursts from one
        client, identical text from many people) as if the lines before it were already
        stored, earlier lines of the same batch included. Not assigned to a topic here: the
        once-a-second pass (:meth:`assign_pending`) does it in batches. Raises when the
        transaction fails (then nothing of the batch is stored)."""
        rules = ScreeningRules.from_settings(self.settings)

        def screener(item: NewFeedback, recent) -> object:
            return screen(
                text=item.text,
                client_key=item.client_key,
                submitter_hash=item.submitter_hash,
                fill_seconds=item.fill_seconds,
                recent=recent,
                rules=rules,
            )

        def repeat_finder(item: NewFeedback, earlier) -> int | None:
            for fid, text, _when in earlier:
                if near_duplicate(text, item.text):
                    return fid
            return None

        stored = self.store.add_live(
            items,
            screener=screener,
            # A burst is decided by its first burst_max_lines + 1 lines; twins need more rows
            # because one person may send the same text several times.
            screen_limits=(rules.burst_max_lines + 1 if rules.burst_max_lines else 0, 200),
            screen_window=timedelta(minutes=rules.window_minutes),
            repeat_finder=repeat_finder if self.settings.repeat_window_days > 0 else None,
            repeat_window=timedelta(days=self.settings.repeat_window_days),
        )
        if self._assigned_version is not None:  # a model is served: its next pass assigns them
            with self._fresh_lock:
                if len(self._fresh) < MAX_FRESH:
                    self._fresh.extend(stored)
        for row in stored:
            log.info("stored feedback id=%s source=%s segment=%s status=%s", row.id, row.source, row.segment, row.status)
        return stored

    # ------------------------------------------------------------------ group commit
    def start_intake(self) -> GroupCommit:
        """Start this process's intake writer (group commit; see recommender.door.intake_queue)."""
        with self._intake_lock:
            if self._intake is None or self._intake.closed:
                self._intake = GroupCommit(
                    self.store_live,
                    max_batch=self.settings.intake_batch_max,
                    unavailable=self.store.unavailable,
                    linger=INTAKE_LINGER_SECONDS,
                )
            return self._intake

    def stop_intake(self, timeout: float | None = 30.0) -> None:
        """Store every queued line, then stop the writer (app shutdown; idempotent)."""
        with self._intake_lock:
            intake = self._intake
        if intake is not None:
            intake.close(timeout)

    def enqueue(self, draft: FeedbackDraft, *, client: str | None = None) -> tuple[Future[StoredFeedback], str]:
        """Queue a validated line for the intake writer: (future of the stored line, its
        receipt code). The future resolves after the transaction holding the line commits
        (or with the error that kept it out). Starts the writer when it is not running."""
        code = new_receipt_code()
        return self._running_intake().submit(self.live_item(draft, client=client, receipt=code)), code

    def enqueue_async(self, draft: FeedbackDraft, *, client: str | None = None) -> tuple[asyncio.Future, str]:
        """:meth:`enqueue` for a coroutine: (an asyncio future of the running loop, the receipt
        code). Call it on the event loop."""
        code = new_receipt_code()
        return self._running_intake().submit_async(self.live_item(draft, client=client, receipt=code)), code

    def _running_intake(self) -> GroupCommit:
        intake = self._intake
        return intake if intake is not None and not intake.closed else self.start_intake()

    def _new_feedback(self, draft: FeedbackDraft, *, fill_seconds: int | None = None) -> NewFeedback:
        """An imported draft as a row, marked a repeat of the submitter's earlier line."""
        submitter_hash = hash_submitter(self.salt, draft.submitter)
        repeat_of = None
        if submitter_hash is not None and self.settings.repeat_window_days > 0:
            since = draft.submitted_at - timedelta(days=self.settings.repeat_window_days)
            for fid, earlier, _when in self.store.recent_by_submitter(submitter_hash, since, draft.submitted_at):
                if near_duplicate(earlier, draft.text):
                    repeat_of = fid
                    break
        return self._row(
            draft, submitter_hash, repeat_of=repeat_of, fill_seconds=fill_seconds, **self._fill_flag(fill_seconds)
        )

    def _fill_flag(self, fill_seconds: int | None) -> dict:
        """Questionnaire rows answered faster than ``flag_min_fill_seconds`` wait for review."""
        if ScreeningRules.from_settings(self.settings).too_fast(fill_seconds):
            return {"status": "flagged", "flag_reason": "too_fast"}
        return {}

    def store_batch(
        self, drafts: Sequence[FeedbackDraft], fill_seconds: Sequence[int | None] | None = None
    ) -> tuple[list[int], int]:
        """Store a batch of validated drafts (imports): returns (new ids, duplicates skipped).

        ``fill_seconds``, parallel to ``drafts``, is how long each line's questionnaire took
        to fill in (None: unknown); lines filled faster than ``flag_min_fill_seconds`` are
        stored flagged (``too_fast``), as at live intake. Repeats are found against what is
        already stored and, after insertion, within the batch itself (the same person twice
        in one questionnaire export)."""
        if fill_seconds is None:
            fill_seconds = [None] * len(drafts)
        elif len(fill_seconds) != len(drafts):
            raise ValueError(f"fill_seconds has {len(fill_seconds)} items for {len(drafts)} drafts")
        items = [self._new_feedback(d, fill_seconds=f) for d, f in zip(drafts, fill_seconds)]
        ids = self.store.add_many(items)
        self._link_batch_repeats(items, ids)
        new_ids = [i for i in ids if i is not None]
        served = self.served()
        if served is not None and new_ids:
            rows = self.store.get_many(new_ids)
            assigned = served.assign([r.text for r in rows])
            self.store.put_assignments(served.version, [(r.id, t, s) for r, (t, s) in zip(rows, assigned)])
        return new_ids, len(ids) - len(new_ids)

    def _link_batch_repeats(self, items: list[NewFeedback], ids: list[int | None]) -> None:
        window = timedelta(days=self.settings.repeat_window_days)
        by_person: dict[str, list[tuple[NewFeedback, int]]] = {}
        for item, fid in zip(items, ids):
            if fid is not None and item.submitter_hash is not None and item.repeat_of is None:
                by_person.setdefault(item.submitter_hash, []).append((item, fid))
        links = []
        for lines in by_person.values():
            lines.sort(key=lambda pair: (pair[0].submitted_at, pair[1]))
            for pos, (item, fid) in enumerate(lines):
                for earlier, earlier_id in lines[:pos]:
                    if item.submitted_at - earlier.submitted_at <= window and near_duplicate(earlier.text, item.text):
                        links.append((fid, earlier_id))
                        break
        if links:
            self.store.mark_repeats(links)

    # ------------------------------------------------------------------ demand cache
    def refresh_demand(self) -> None:
        """Bring the cached demand records (and the class sessions and label overrides
        ranked with them) up to date if they are half their allowed age old.
        The web workers' once-a-second pass calls this after assigning new lines, so that a
        request for suggestions finds them fresh and is answered from memory rather than
        reading the database itself."""
        served = self.served()
        if served is not None:
            self._demand_state(served, max_age=DEMAND_MAX_AGE / 2)
            self._side_tables(max_age=DEMAND_MAX_AGE / 2)

    def _demand_state(
        self, served: LoadedModel, *, max_age: float | None = None
    ) -> tuple[list[DemandRecord], int, dict[str, tuple[str, ...]]]:
        """(demand records incl. retention aggregates, a stamp that changes with them, the
        model's quotes per topic still said by a visible line), read again from the database
        when older than ``max_age`` seconds (default :data:`DEMAND_MAX_AGE`).

        Stale while revalidating: when another thread is already reading the database for
        this model version, the caller gets the last published state at once instead of
        queueing behind that read (a refresh after heavy intake can take a while, and every
        request for suggestions would wait for it). After a moderation action
        (:meth:`_forget_demand`) there is no published state, so the next caller waits for
        the fresh one."""
        max_age = DEMAND_MAX_AGE if max_age is None else max_age
        snap = self._demand_snapshot
        current = snap is not None and snap.version == served.version
        if current and time.monotonic() - snap.checked_monotonic < max_age:
            return snap.records, snap.stamp, snap.examples
        if not self._demand_lock.acquire(blocking=not current):
            return snap.records, snap.stamp, snap.examples
        try:
            return self._refresh_demand_locked(served, max_age)
        finally:
            self._demand_lock.release()

    def _refresh_demand_locked(
        self, served: LoadedModel, max_age: float
    ) -> tuple[list[DemandRecord], int, dict[str, tuple[str, ...]]]:
        d = self._demand
        if d is None or d.version != served.version:
            d = self._demand = _Demand(version=served.version)
            self._ranking_cache.clear()
        now_mono = time.monotonic()
        snap = self._demand_snapshot
        if d.refreshed_at is None or now_mono - d.checked_monotonic >= max_age:
            moderation = self.store.moderation_stamp()
            if moderation != d.moderation:
                # Something was hidden, restored, withdrawn, flagged or purged: start over.
                stamp = d.stamp
                d = self._demand = _Demand(version=served.version, stamp=stamp + 1, moderation=moderation)
                d.aggregates = self._aggregate_records(served)
                d.examples = self._visible_examples(served)
            started = datetime.now(timezone.utc)
            since = None if d.refreshed_at is None else d.refreshed_at - REFRESH_OVERLAP
            changed = False
            # Known lines are skipped unconverted (the overlap re-reads up to a minute of them).
            for row, topic_id, _score in self.store.assignment_rows(served.version, received_since=since, skip=d.records):
                if row.id in d.unassigned:
                    continue
                changed = True
                if topic_id is None:
                    d.unassigned.add(row.id)
                    continue
                d.records[row.id] = DemandRecord(
                    feedback_id=row.public_id,
                    topic_id=topic_id,
                    submitted_at=row.submitted_at,
                    submitter=row.submitter_hash,
                    segment=row.segment,
                    votes=row.votes,
                    is_repeat=row.is_repeat,
                )
            d.refreshed_at = started
            d.checked_monotonic = now_mono
            if changed:
                d.stamp += 1
        if snap is None or snap.version != d.version or snap.stamp != d.stamp or snap.examples is not d.examples:
            snap = _DemandSnapshot(d.version, list(d.records.values()) + d.aggregates, d.stamp, d.examples, d.checked_monotonic)
        else:
            snap = dataclasses.replace(snap, checked_monotonic=d.checked_monotonic)
        self._demand_snapshot = snap
        return snap.records, snap.stamp, snap.examples

    def _visible_examples(self, served: LoadedModel) -> dict[str, tuple[str, ...]]:
        """The model's quotes, keeping only those a visible line still says (a quote from a
        hidden, withdrawn or purged line is never shown)."""
        wanted = {text for card in served.cards.values() for text in card.examples}
        still = self.store.visible_texts(wanted)
        return {tid: tuple(t for t in card.examples if t in still) for tid, card in served.cards.items()}

    def _aggregate_records(self, served: LoadedModel) -> list[DemandRecord]:
        """Demand records standing for purged months: per (topic, month, segment) aggregate,
        ``lines`` records mid-month from ``people`` synthetic people carrying its ``votes``."""
        lineage = self.store.lineage()
        out: list[DemandRecord] = []
        for agg in self.store.month_counts():
            topic_id = _follow(lineage, agg["topic_id"])
            if topic_id not in served.cards:
                continue
            year, month = (int(x) for x in agg["month"].split("-"))
            when = datetime(year, month, 15, 12, tzinfo=timezone.utc)
            lines, people, votes = agg["lines"], max(1, agg["people"]), agg["votes"]
            base = f"{AGGREGATE_PREFIX}{agg['topic_id']}:{agg['month']}:{agg['segment']}"
            for k in range(lines):
                out.append(
                    DemandRecord(
                        feedback_id=f"{base}:{k}",
                        topic_id=topic_id,
                        submitted_at=when,
                        submitter=f"{base}:p{k % people}",
                        segment=agg["segment"],
                        votes=votes // lines + (1 if k < votes % lines else 0),
                        is_repeat=False,
                    )
                )
        return out

    def _side_tables(self, max_age: float | None = None) -> tuple[list[ClassSession], dict[str, str], dict[str, str]]:
        """Class sessions, label overrides and topic lineage, read again when older than
        ``max_age`` seconds (default :data:`DEMAND_MAX_AGE`). As with the demand records, one
        thread reads while the others use the previous tables; after a change made through
        this service (a session recorded, a label set) the cache is dropped and the next
        caller waits for the new tables."""
        max_age = DEMAND_MAX_AGE if max_age is None else max_age
        cached = self._side_cache
        if cached is not None and time.monotonic() - cached[0] < max_age:
            return cached[1], cached[2], cached[3]
        if not self._side_lock.acquire(blocking=cached is None):
            return cached[1], cached[2], cached[3]
        try:
            now_mono = time.monotonic()
            cached = self._side_cache
            if cached is not None and now_mono - cached[0] < max_age:
                return cached[1], cached[2], cached[3]
            lineage = self.store.lineage()
            sessions = [
                ClassSession(
                    topic_id=_follow(lineage, s["topic_id"]),
                    held_on=s["held_on"],
                    status=s["status"],
                    title=s["title"],
                )
                for s in self.store.list_sessions()
            ]
            labels = self.store.label_overrides()
            self._side_cache = (now_mono, sessions, labels, lineage)
            return sessions, labels, lineage
        finally:
            self._side_lock.release()

    def _forget_side_tables(self) -> None:
        # Under the lock: a read that began before the change cannot publish after it.
        # (A ranking is keyed by the sessions and labels it used, so none is reused after it.)
        with self._side_lock:
            self._side_cache = None

    def _cards(
        self, served: LoadedModel, labels: dict[str, str], examples: dict[str, tuple[str, ...]] | None = None
    ) -> list[TopicCard]:
        if examples is None:
            examples = self._demand_state(served)[2]
        cards = []
        for tid, card in served.cards.items():
            shown = examples.get(tid, ())
            if tid in labels or shown != card.examples:
                card = TopicCard(
                    topic_id=card.topic_id,
                    label=labels.get(tid, card.label),
                    keywords=card.keywords,
                    examples=shown,
                    centroid=card.centroid,
                    theme=card.theme,
                )
            cards.append(card)
        return cards

    # ------------------------------------------------------------------ suggestions
    def suggestions(self, *, as_of: date | None = None, top: int | None = None, segment: str | None = None) -> dict:
        """The ranked suggestions in the INTERFACE.md shape."""
        if segment is not None and segment not in self.settings.segments:
            raise ValidationFailed(
                f"未知的人群“{segment}”，可选：{'、'.join(self.settings.segments)}", field="segment", code="unknown_segment"
            )
        served = self.require_model()
        as_of = as_of or datetime.now(timezone.utc).date()
        top = top or self.settings.suggestions_top
        records, stamp, examples = self._demand_state(served)
        sessions, labels, _ = self._side_tables()
        query = (served.version, as_of, top, segment, tuple(sessions), tuple(sorted(labels.items())))
        key = (*query, stamp)
        hit = self._ranking_cache.get(key)
        if hit is not None:
            return hit
        # New demand (stamp) arrives about once a second under intake, and every request in
        # flight would miss the cache at once and rank the same records again: one thread
        # ranks, the others answer with this query's previous ranking (at most a refresh old).
        # After a moderation action there is none (_forget_demand), so they wait for it.
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
                self._cards(served, labels, examples),
                records,
                sessions,
                as_of=as_of,
                top=top,
                segment=segment,
                params=RankingParams.from_settings(self.settings),
            )
            result = {
                "as_of": as_of.isoformat(),
                "model_version": served.version,
                "suggestions": [_without_aggregate_ids(s.to_dict()) for s in ranked],
            }
            if len(self._ranking_cache) > 256:
                self._ranking_cache.clear()
            if len(self._ranking_latest) > 256:
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
            if len(self._encoded_cache) > 256:
                self._encoded_cache.clear()
            self._encoded_cache[id(result)] = hit
        return hit[1]

    def unassigned_share(self) -> float:
        """Share of feedback received since the current model was trained that fits no topic
        (lines the model already saw as noise at training time do not count)."""
        served = self.require_model()
        trained_until = served.metadata.get("data_window", {}).get("received_until")
        if trained_until is None:
            return 0.0
        total, unassigned = self.store.assignment_stats(
            served.version, received_after=datetime.fromisoformat(trained_until)
        )
        return 0.0 if total == 0 else unassigned / total

    def sessions(self, topic_id: str | None = None) -> list[dict]:
        """Recorded classes (planned, held, cancelled), oldest first."""
        return [_session_json(s) for s in self.store.list_sessions(topic_id)]

    # ------------------------------------------------------------------ topics
    def topics(self) -> dict:
        served = self.require_model()
        records, _, examples = self._demand_state(served)
        _, labels, _ = self._side_tables()
        counts: dict[str, int] = {}
        for r in records:
            if not r.feedback_id.startswith(AGGREGATE_PREFIX):  # live lines only
                counts[r.topic_id] = counts.get(r.topic_id, 0) + 1
        items = [
            {
                "topic_id": card.topic_id,
                "label": card.label,
                "model_label": served.cards[card.topic_id].label,
                "keywords": list(card.keywords),
                "examples": list(card.examples),
                "size": counts.get(card.topic_id, 0),
                "trained_size": served.sizes[card.topic_id],
                "theme": card.theme,
            }
            for card in self._cards(served, labels, examples)
        ]
        items.sort(key=lambda t: (-t["size"], t["topic_id"]))
        return {"model_version": served.version, "topics": items}

    def topic(self, topic_id: str, *, page: int = 1, per_page: int = 50) -> dict | None:
        served = self.require_model()
        if topic_id not in served.cards:
            return None
        _, labels, _ = self._side_tables()
        card = next(c for c in self._cards(served, labels) if c.topic_id == topic_id)
        members, total = self.store.topic_members(
            served.version, topic_id, offset=(page - 1) * per_page, limit=per_page
        )
        return {
            "model_version": served.version,
            "topic_id": topic_id,
            "label": card.label,
            "model_label": served.cards[topic_id].label,
            "keywords": list(card.keywords),
            "examples": list(card.examples),
            "size": total,
            "sessions": [_session_json(s) for s in self.store.list_sessions(topic_id)],
            "events": [
                {"kind": e["kind"], "model_version": e["model_version"], "other_topic_ids": e["other_topic_ids"]}
                for e in self.store.topic_events(topic_id)
            ],
            "members": {
                "page": page,
                "per_page": per_page,
                "total": total,
                "items": [_feedback_json(m) for m in members],
            },
        }

    def topic_feedback(self, topic_id: str) -> list[StoredFeedback]:
        """Every feedback line of a topic (exports)."""
        served = self.require_model()
        out: list[StoredFeedback] = []
        page = 0
        while True:
            rows, total = self.store.topic_members(served.version, topic_id, offset=page * 1000, limit=1000)
            out.extend(rows)
            page += 1
            if not rows or len(out) >= total:
                return out

    def rename_topic(self, topic_id: str, label: str | None, *, actor: str | None = None) -> dict:
        label = (label or "").strip() or None
        if label is not None and len(label) > 30:
            raise ValidationFailed("主题名称最多 30 个字", field="label", code="too_long")
        if not self.store.rename_topic(topic_id, label):
            raise KeyError(topic_id)
        self._forget_side_tables()
        if actor is not None:
            self.store.audit(actor, "rename", topic_id, {"label": label})
        return {"topic_id": topic_id, "label": label}

    def record_session(
        self,
        *,
        topic_id: str,
        title: str,
        held_on: date,
        status: str,
        instructor: str | None = None,
        department: str | None = None,
        actor: str | None = None,
    ) -> dict:
        title = (title or "").strip()
        if not title:
            raise ValidationFailed("请填写课程名称", field="title", code="required")
        if len(title) > 200:
            raise ValidationFailed("课程名称最多 200 个字", field="title", code="too_long")
        if status not in SESSION_STATUSES:
            raise ValidationFailed(
                f"状态只能是 {', '.join(SESSION_STATUSES)}", field="status", code="invalid_choice"
            )
        known = self.store.topic_records()
        if topic_id not in known:
            raise ValidationFailed(f"没有编号为 {topic_id} 的主题", field="topic_id", code="unknown_topic")
        row = self.store.add_session(
            topic_id=topic_id,
            title=title,
            held_on=held_on,
            status=status,
            instructor=(instructor or "").strip() or None,
            department=(department or "").strip() or None,
        )
        self._forget_side_tables()
        if actor is not None:
            self.store.audit(
                actor, "plan_class", topic_id,
                {"session_id": row["id"], "title": row["title"], "date": held_on.isoformat(), "status": status},
            )
        return _session_json(row)

    # ------------------------------------------------------------------ moderation
    def hide(self, feedback_id: int, reason: str, *, actor: str, note: str | None = None) -> StoredFeedback:
        """Hide a visible or flagged line (it stays in the store and can be restored).
        KeyError when there is no such line that could be hidden."""
        if reason not in HIDE_REASONS:
            raise ValidationFailed(
                f"隐藏原因只能是 {', '.join(HIDE_REASONS)}", field="reason", code="invalid_choice"
            )
        note = (note or "").strip()[:MAX_NOTE] or None
        row = self.store.set_status(
            feedback_id, "hidden", allowed_from=("visible", "flagged"), actor=actor, action="hide",
            reason=reason if note is None else f"{reason}: {note}",
            detail={"reason": reason, "note": note},
        )
        if row is None:
            raise KeyError(feedback_id)
        self._forget_demand()
        return row

    def restore(self, feedback_id: int, *, actor: str) -> StoredFeedback:
        """Count a hidden or flagged line again. KeyError when there is no such line."""
        before = self.store.get(feedback_id)
        row = self.store.set_status(
            feedback_id, "visible", allowed_from=("hidden", "flagged"), actor=actor, action="restore",
            detail={"previous_status": before.status if before else None},
        )
        if row is None:
            raise KeyError(feedback_id)
        self._forget_demand()
        return row

    def moderation_list(self, status: str, *, limit: int = 50, offset: int = 0) -> dict:
        """Flagged (waiting for review) or hidden lines, most recent first."""
        rows, total = self.store.by_status(status, limit=limit, offset=offset)
        return {"status": status, "total": total, "items": [_moderation_json(r) for r in rows]}

    def audit_log(self, *, limit: int = 50, offset: int = 0) -> dict:
        entries, total = self.store.audit_entries(limit=limit, offset=offset)
        return {
            "total": total,
            "items": [{**e, "at": e["at"].isoformat()} for e in entries],
        }

    def audit(self, actor: str, action: str, target: str | None = None, detail: dict | None = None) -> None:
        self.store.audit(actor, action, target, detail)

    def _forget_demand(self) -> None:
        # This worker sees the change at once; the others at their next one-second check.
        with self._demand_lock:
            self._demand_snapshot = None  # the next caller waits for the fresh state
            self._ranking_latest = {}  # and for a ranking of it
            if self._demand is not None:
                self._demand.checked_monotonic = 0.0
                self._demand.refreshed_at = None
                self._demand.moderation = -1

    # ------------------------------------------------------------------ withdrawal
    def find_receipt(self, code: object) -> StoredFeedback | None:
        """The line a receipt code belongs to, or None (also for text that is no code)."""
        norm = normalise_receipt(code)
        if norm is None:
            return None
        return self.store.by_receipt(receipt_hash(self.receipt_secret, norm))

    def withdraw(self, code: object) -> StoredFeedback | None:
        """Delete the text of the line a receipt belongs to, for good. None for an unknown code."""
        norm = normalise_receipt(code)
        if norm is None:
            return None
        row = self.store.withdraw(receipt_hash(self.receipt_secret, norm))
        if row is not None:
            self._forget_demand()
            log.info("feedback id=%s withdrawn by its submitter", row.id)
        return row

    # ------------------------------------------------------------------ retention
    def retention_cutoff(self, now: datetime | None = None) -> datetime | None:
        """The first day (UTC) of the month ``retention_months`` before now's month: lines
        submitted before it are purged (whole months, so a month is folded in one go)."""
        months = self.settings.retention_months
        if months <= 0:
            return None
        now = now or datetime.now(timezone.utc)
        index = now.year * 12 + (now.month - 1) - months
        return datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)

    def purge(self, *, dry_run: bool = False, actor: str = "console", now: datetime | None = None) -> PurgeReport | None:
        """Fold old lines into monthly aggregates under the current model's topics and delete
        their text. None when retention is off (``retention_months=0``)."""
        cutoff = self.retention_cutoff(now)
        if cutoff is None:
            return None
        served = self.require_model()
        self._assign_pending(served)
        report = self.store.purge(
            cutoff, served.version, dry_run=dry_run, actor=actor,
            forget_clients_before=(now or datetime.now(timezone.utc)) - timedelta(days=1),
        )
        if not dry_run:
            self._forget_demand()
        return report


def _follow(lineage: dict[str, str], topic_id: str) -> str:
    seen = set()
    while topic_id in lineage and topic_id not in seen:
        seen.add(topic_id)
        topic_id = lineage[topic_id]
    return topic_id


def _without_aggregate_ids(suggestion: dict) -> dict:
    ids = suggestion.get("feedback_ids")
    if ids:
        suggestion["feedback_ids"] = [i for i in ids if not str(i).startswith(AGGREGATE_PREFIX)]
    return suggestion


def _moderation_json(row: StoredFeedback) -> dict:
    return {
        "id": row.id,
        "public_id": row.public_id,
        "text": row.text,
        "submitted_at": row.submitted_at.isoformat(),
        "segment": row.segment,
        "source": row.source,
        "status": row.status,
        "moderation_reason": row.moderation_reason,
        "flag_reason": row.flag_reason,
        "status_changed_at": row.status_changed_at.isoformat() if row.status_changed_at else None,
    }


def _feedback_json(row: StoredFeedback) -> dict:
    return {
        "id": row.public_id,
        "feedback_id": row.id,
        "text": row.text,
        "submitted_at": row.submitted_at.isoformat(),
        "segment": row.segment,
        "session_id": row.session_id,
        "votes": row.votes,
        "is_repeat": row.is_repeat,
        "source": row.source,
    }


def _session_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "topic_id": row["topic_id"],
        "title": row["title"],
        "date": row["held_on"].isoformat(),
        "status": row["status"],
        "instructor": row["instructor"],
        "department": row["department"],
    }


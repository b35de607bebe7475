"""The write side of intake: validated drafts become stored lines.

Validate and mask (:mod:`recommender.door.validation`), hash the submitter, mark repeats,
screen for automated-looking lines (:mod:`recommender.door.screening`) and store. The web
doors queue lines for the worker's intake writer (:meth:`Intake.enqueue`, group commit:
every line waiting is stored in one transaction, see :mod:`recommender.door.intake_queue`);
imports store batches (:meth:`Intake.store_batch`). New lines are handed to the assignment
pass (:class:`recommender.service.serving.ModelServing`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import datetime, timedelta, timezone

from recommender.config import Settings
from recommender.crypto import DataSecret, hash_submitter
from recommender.door.intake_queue import GroupCommit
from recommender.door.screening import (
    ClientKeys,
    ScreeningRules,
    address_key,
    client_key,
    new_receipt_code,
    normalise_receipt,
    receipt_hash,
    screen,
)
from recommender.door.validation import FeedbackDraft, clean_feedback, near_duplicate, protected_external_id
from recommender.service.serving import ModelServing
from recommender.store import FeedbackStore, NewFeedback, StoredFeedback

log = logging.getLogger(__name__)

#: Under load (the previous batch had more than one line) the intake writer waits this long
#: for more lines before storing a batch: one commit for more lines (measured: +10–20 %
#: throughput at 50 concurrent clients); a lone submission never waits.
INTAKE_LINGER_SECONDS = 0.005


class Intake:
    """Stores feedback: live submissions (one by one or group-committed) and import batches."""

    def __init__(
        self,
        settings: Settings,
        store: FeedbackStore,
        serving: ModelServing,
        *,
        salt: DataSecret,
        receipt_secret: DataSecret,
    ) -> None:
        self.settings = settings
        self.store = store
        self.serving = serving
        self.salt = salt
        self.receipt_secret = receipt_secret
        self.writer: GroupCommit | None = None  # this process's intake writer, once started
        self._writer_lock = threading.Lock()

    def client_key(self, address: str | None, user_agent: str | None = None) -> str | None:
        """The keyed hash a submission's client is known by (burst detection; never the IP)."""
        return client_key(self.salt.value, address, user_agent)

    def client_keys(self, address: str | None, user_agent: str | None = None) -> ClientKeys:
        """Both keys screening knows a live submission by: the client and the address alone."""
        return ClientKeys(client_key(self.salt.value, address, user_agent), address_key(self.salt.value, address))

    def draft(self, text: object, **fields) -> FeedbackDraft:
        return clean_feedback(text, settings=self.settings, **fields)

    # ------------------------------------------------------------------ live lines
    def submit(self, draft: FeedbackDraft, *, client: str | None = None, receipt: str | None = None) -> StoredFeedback:
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
        self, draft: FeedbackDraft, *, client: str | ClientKeys | None = None, receipt: str | None = None
    ) -> NewFeedback:
        """A validated draft as a row for :meth:`store_live`: submitter and receipt hashed,
        the client keys attached (a plain string is the client key alone); repeats and
        screening are decided when it is stored."""
        keys = client if isinstance(client, ClientKeys) else ClientKeys(client)
        return _row(
            draft,
            hash_submitter(self.salt.value, draft.submitter),
            self.salt.value,
            client_key=keys.client,
            address_key=keys.address,
            receipt_hash=receipt_hash(self.receipt_secret.value, normalise_receipt(receipt)) if receipt else None,
        )

    def store_live(self, items: Sequence[NewFeedback]) -> list[StoredFeedback]:
        """Store live submissions (from :meth:`live_item`) in ONE transaction, in order.

        Each line is marked a repeat (the same submitter's near-identical line within
        ``repeat_window_days``) and screened for automated-looking intake (bursts from one
        client, identical text from many people) as if the lines before it were already
        stored, earlier lines of the same batch included. Not assigned to a topic here: the
        once-a-second pass does it in batches. Raises when the transaction fails (then
        nothing of the batch is stored)."""
        rules = ScreeningRules.from_settings(self.settings)

        def screener(item: NewFeedback, recent) -> object:
            return screen(
                text=item.text,
                client_key=item.client_key,
                submitter_hash=item.submitter_hash,
                fill_seconds=item.fill_seconds,
                recent=recent,
                rules=rules,
                address_key=item.address_key,
                now=datetime.now(timezone.utc),  # each rule counts the lines within its own window
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
            screen_limits=(
                rules.burst_max_lines + 1 if rules.burst_max_lines else 0,
                200,
                rules.address_max_lines + 1 if rules.address_max_lines else 0,
            ),
            screen_window=rules.read_window,
            repeat_finder=repeat_finder if self.settings.repeat_window_days > 0 else None,
            repeat_window=timedelta(days=self.settings.repeat_window_days),
        )
        self.serving.hand_over(stored)
        for row in stored:
            log.info("stored feedback id=%s source=%s segment=%s status=%s", row.id, row.source, row.segment, row.status)
        return stored

    # ------------------------------------------------------------------ group commit
    def start_writer(self, write: Callable[[Sequence[NewFeedback]], list[StoredFeedback]] | None = None) -> GroupCommit:
        """Start this process's intake writer (group commit) storing with ``write`` (default
        :meth:`store_live`); the running one when there is one."""
        with self._writer_lock:
            if self.writer is None or self.writer.closed:
                self.writer = GroupCommit(
                    write or self.store_live,
                    max_batch=self.settings.intake_batch_max,
                    unavailable=self.store.unavailable,
                    linger=INTAKE_LINGER_SECONDS,
                )
            return self.writer

    def stop_writer(self, timeout: float | None = 30.0) -> None:
        """Store every queued line, then stop the writer (app shutdown; idempotent)."""
        with self._writer_lock:
            writer = self.writer
        if writer is not None:
            writer.close(timeout)

    def _running_writer(self) -> GroupCommit:
        writer = self.writer
        return writer if writer is not None and not writer.closed else self.start_writer()

    def enqueue(self, draft: FeedbackDraft, *, client: str | None = None) -> tuple[Future[StoredFeedback], str]:
        """Queue a validated line for the intake writer: (future of the stored line, its
        receipt code). The future resolves after the transaction holding the line commits
        (or with the error that kept it out). Starts the writer when it is not running."""
        code = new_receipt_code()
        return self._running_writer().submit(self.live_item(draft, client=client, receipt=code)), code

    def enqueue_async(self, draft: FeedbackDraft, *, client: str | None = None) -> tuple[asyncio.Future, str]:
        """:meth:`enqueue` for a coroutine: (an asyncio future of the running loop, the receipt
        code). Call it on the event loop."""
        code = new_receipt_code()
        return self._running_writer().submit_async(self.live_item(draft, client=client, receipt=code)), code

    # ------------------------------------------------------------------ imports
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
        items = [self._imported_row(d, fill_seconds=f) for d, f in zip(drafts, fill_seconds)]
        ids = self.store.add_many(items)
        self._link_batch_repeats(items, ids)
        new_ids = [i for i in ids if i is not None]
        served = self.serving.served()
        if served is not None and new_ids:
            self.serving.assign_rows(served, self.store.get_many(new_ids))
        return new_ids, len(ids) - len(new_ids)

    def _imported_row(self, draft: FeedbackDraft, *, fill_seconds: int | None = None) -> NewFeedback:
        """An imported draft as a row, marked a repeat of the submitter's earlier line;
        questionnaire rows answered faster than ``flag_min_fill_seconds`` wait for review."""
        submitter_hash = hash_submitter(self.salt.value, draft.submitter)
        repeat_of = None
        if submitter_hash is not None and self.settings.repeat_window_days > 0:
            since = draft.submitted_at - timedelta(days=self.settings.repeat_window_days)
            for fid, earlier, _when in self.store.recent_by_submitter(submitter_hash, since, draft.submitted_at):
                if near_duplicate(earlier, draft.text):
                    repeat_of = fid
                    break
        flag = {}
        if ScreeningRules.from_settings(self.settings).too_fast(fill_seconds):
            flag = {"status": "flagged", "flag_reason": "too_fast"}
        return _row(draft, submitter_hash, self.salt.value, repeat_of=repeat_of, fill_seconds=fill_seconds, **flag)

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


def _row(draft: FeedbackDraft, submitter_hash: str | None, salt: str, **extra) -> NewFeedback:
    """The row of a validated draft (submitter already hashed, an id column holding personal
    data kept only as a keyed hash) plus ``extra`` fields."""
    return NewFeedback(
        text=draft.text,
        segment=draft.segment,
        submitted_at=draft.submitted_at,
        source=draft.source,
        session_id=draft.session_id,
        submitter_hash=submitter_hash,
        votes=draft.votes,
        external_id=protected_external_id(salt, draft.external_id),
        former_external_id=draft.former_external_id,
        **extra,
    )

"""Moderation, withdrawal and retention: every change of a line's status, in one place.

Only ``visible`` lines count. Organizers hide and restore lines (and review the ones
screening flagged at intake, :mod:`recommender.door.screening`), submitters withdraw theirs
with a receipt code, and retention purges old months. Each change is written by the store
with its audit entry and bumps the store's moderation counter, so every worker's demand
cache rebuilds; this worker's is dropped at once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from recommender.config import Settings
from recommender.crypto import DataSecret
from recommender.door.screening import HIDE_REASONS, normalise_receipt, receipt_hash
from recommender.door.validation import clean_field
from recommender.errors import NotFound, ValidationFailed
from recommender.retrain.quotes import QuoteScrubber
from recommender.service.audit_text import describe_audit
from recommender.service.demand_view import DemandView
from recommender.service.serving import ModelServing
from recommender.service.shapes import moderation_json
from recommender.store import FeedbackStore, PurgeReport, StoredFeedback

log = logging.getLogger(__name__)

#: Longest hiding note: ``"<reason>: <note>"`` fits ``moderation_reason`` (200) for every reason.
MAX_NOTE = 180


class Moderation:
    """Hide, restore, the review lists, the audit log, withdrawal and the retention purge."""

    def __init__(
        self,
        settings: Settings,
        store: FeedbackStore,
        serving: ModelServing,
        view: DemandView,
        *,
        receipt_secret: DataSecret,
    ) -> None:
        self.settings = settings
        self.store = store
        self.serving = serving
        self.view = view
        self.receipt_secret = receipt_secret
        # Withdrawn and purged lines leave the quotes of every saved model version too.
        self.quotes = QuoteScrubber(settings.models_dir, store.texts_with_text, store.moderation_stamp)

    # ------------------------------------------------------------------ organizers
    def hide(self, feedback_id: int, reason: str, *, actor: str, note: str | None = None) -> StoredFeedback:
        """Hide a visible or flagged line (it stays in the store and can be restored).
        ``NotFound`` when there is no such line that could be hidden."""
        if reason not in HIDE_REASONS:
            raise ValidationFailed(
                f"隐藏原因只能是 {'、'.join(HIDE_REASONS)}", field="reason", code="invalid_choice"
            )
        note = clean_field(note, field="note", label="备注", limit=MAX_NOTE, numbers=False)
        row = self.store.set_status(
            feedback_id, "hidden", allowed_from=("visible", "flagged"), actor=actor, action="hide",
            reason=reason if note is None else f"{reason}: {note}",
            detail={"reason": reason, "note": note},
        )
        return self._changed(row, feedback_id, "只能隐藏计入或待审核的反馈")

    def restore(self, feedback_id: int, *, actor: str) -> StoredFeedback:
        """Count a hidden or flagged line again. ``NotFound`` when there is no such line."""
        before = self.store.get(feedback_id)
        row = self.store.set_status(
            feedback_id, "visible", allowed_from=("hidden", "flagged"), actor=actor, action="restore",
            detail={"previous_status": before.status if before else None},
        )
        return self._changed(row, feedback_id, "只能恢复已隐藏或待审核的反馈")

    def _changed(self, row: StoredFeedback | None, feedback_id: int, allowed: str) -> StoredFeedback:
        if row is None:
            raise NotFound(f"没有编号为 {feedback_id} 的反馈，或它不是可以这样操作的状态（{allowed}）")
        self.view.forget_demand()
        return row

    def moderation_list(self, status: str, *, limit: int = 50, offset: int = 0) -> dict:
        """Flagged (waiting for review) or hidden lines, most recent first."""
        rows, total = self.store.by_status(status, limit=limit, offset=offset)
        return {"status": status, "total": total, "items": [moderation_json(r) for r in rows]}

    def audit_log(self, *, limit: int = 50, offset: int = 0) -> dict:
        entries, total = self.store.audit_entries(limit=limit, offset=offset)
        return {
            "total": total,
            "items": [
                {**e, "at": e["at"].isoformat(), "summary": describe_audit(e["action"], e["detail"])} for e in entries
            ],
        }

    def audit(self, actor: str, action: str, target: str | None = None, detail: dict | None = None) -> None:
        self.store.audit(actor, action, target, detail)

    # ------------------------------------------------------------------ withdrawal
    def find_receipt(self, code: object) -> StoredFeedback | None:
        """The line a receipt code belongs to, or None (also for text that is no code)."""
        norm = normalise_receipt(code)
        if norm is None:
            return None
        return self.store.by_receipt(receipt_hash(self.receipt_secret.value, norm))

    def withdraw(self, code: object) -> StoredFeedback | None:
        """Delete the text of the line a receipt belongs to, for good. None for an unknown code."""
        norm = normalise_receipt(code)
        if norm is None:
            return None
        return self._withdrawn(self.store.withdraw(receipt_hash(self.receipt_secret.value, norm)))

    def withdraw_line(self, feedback_id: int) -> StoredFeedback | None:
        """Delete the text of a line its submitter replaced (a changed post-class answer)."""
        return self._withdrawn(self.store.withdraw_line(feedback_id))

    def _withdrawn(self, row: StoredFeedback | None) -> StoredFeedback | None:
        if row is not None:
            self.view.forget_demand()
            self.quotes.request()  # in the background: the saved models' quotes of it go too
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
        served = self.serving.require_model()
        self.serving.assign_pending()  # every line is under a topic before it is folded
        report = self.store.purge(
            cutoff, served.version, dry_run=dry_run, actor=actor,
            forget_clients_before=(now or datetime.now(timezone.utc)) - timedelta(days=1),
        )
        if not dry_run:
            self.view.forget_demand()
            self.quotes.run()  # the purged lines' quotes leave the saved models before this returns
        return report

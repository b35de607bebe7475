"""Moderation in the store: every status change of a line (hide, restore, withdraw, purge)
with its audit entry in the same transaction, the moderation counter every worker's demand
cache watches, the review lists, the audit log and the retention aggregates."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, or_, select, update

from recommender.store.schema import (
    assignments,
    audit_log,
    class_responses,
    feedback,
    feedback_tokens,
    store_counters,
    topic_month_counts,
)
from recommender.store.rows import (
    PurgeReport,
    StoredFeedback,
    WITH_TEXT,
    as_utc,
    chunks,
    now_utc,
    row_to_feedback,
)
from recommender.store.engine import MODERATION_COUNTER
from recommender.store.engine import StoreEngine


class ModerationTables(StoreEngine):
    """Statuses, receipts, the audit log and retention."""

    def moderation_stamp(self) -> int:
        """A counter bumped by every status change (hide, restore, withdraw, purge, flag):
        each worker's demand cache rebuilds when it moves."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(store_counters.c.value).where(store_counters.c.name == MODERATION_COUNTER)
            ).scalar()
        return int(value or 0)

    def set_status(
        self,
        feedback_id: int,
        status: str,
        *,
        allowed_from: Sequence[str],
        actor: str,
        action: str,
        reason: str | None = None,
        detail: dict | None = None,
    ) -> StoredFeedback | None:
        """Move a line between visible, hidden and flagged (an organizer's hide or restore),
        with its audit entry, in one transaction. None when the line does not exist or is not
        in one of ``allowed_from``."""
        now = now_utc()
        with self._write() as conn:
            result = conn.execute(
                update(feedback)
                .where(and_(feedback.c.id == feedback_id, feedback.c.status.in_(list(allowed_from))))
                .values(status=status, moderation_reason=reason, status_changed_at=now)
            )
            if not result.rowcount:
                return None
            self._audit(conn, actor, action, str(feedback_id), detail, now)
            self._bump(conn, MODERATION_COUNTER)
            row = conn.execute(select(feedback).where(feedback.c.id == feedback_id)).one()
        return row_to_feedback(row)

    def by_status(self, status: str, *, limit: int = 100, offset: int = 0) -> tuple[list[StoredFeedback], int]:
        """Lines with that status, most recently changed first, and how many there are."""
        with self.engine.connect() as conn:
            total = conn.execute(
                select(func.count()).select_from(feedback).where(feedback.c.status == status)
            ).scalar_one()
            rows = conn.execute(
                select(feedback)
                .where(feedback.c.status == status)
                .order_by(feedback.c.status_changed_at.desc(), feedback.c.id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
        return [row_to_feedback(r) for r in rows], total

    def visible_texts(self, texts: Iterable[str]) -> set[str]:
        """Which of these texts some visible line still says (quotes from a model artifact
        are shown only while one does)."""
        wanted = sorted({t for t in texts if t})
        found: set[str] = set()
        with self.engine.connect() as conn:
            for part in chunks(wanted, 200):
                rows = conn.execute(
                    select(feedback.c.text).where(and_(feedback.c.status == "visible", feedback.c.text.in_(part)))
                )
                found.update(r.text for r in rows)
        return found

    def texts_with_text(self, texts: Iterable[str]) -> set[str]:
        """Which of these texts some line that still has its text (visible, hidden, flagged)
        says: a model may keep quoting those; the others were withdrawn or purged."""
        wanted = sorted({t for t in texts if t})
        found: set[str] = set()
        with self.engine.connect() as conn:
            for part in chunks(wanted, 200):
                rows = conn.execute(
                    select(feedback.c.text).where(and_(feedback.c.status.in_(WITH_TEXT), feedback.c.text.in_(part)))
                )
                found.update(r.text for r in rows)
        return found

    def keyed_line_counts(self) -> dict[str, int]:
        """How many stored lines carry a receipt hash and a submitter hash: lines that need the
        data folder's ``receipt_secret`` and ``submitter_salt`` to be found again."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(func.count(feedback.c.receipt_hash), func.count(feedback.c.submitter_hash))
            ).one()
        return {"receipt_secret": int(row[0]), "submitter_salt": int(row[1])}

    def by_receipt(self, receipt_hash: str) -> StoredFeedback | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(feedback).where(feedback.c.receipt_hash == receipt_hash)).first()
        return row_to_feedback(row) if row else None

    def withdraw(self, receipt_hash: str) -> StoredFeedback | None:
        """Delete a line's text for good at its submitter's request: the row stays (status
        ``withdrawn``, empty text, no submitter, session or client) so a re-import cannot bring
        it back; tokens and assignments go. None for an unknown receipt."""
        return self._withdraw(feedback.c.receipt_hash == receipt_hash)

    def withdraw_line(self, feedback_id: int) -> StoredFeedback | None:
        """The same withdrawal for a line its submitter replaced (a changed post-class answer,
        known by the browser's signed cookie rather than a receipt). None for an unknown id."""
        return self._withdraw(feedback.c.id == feedback_id)

    def _withdraw(self, which) -> StoredFeedback | None:
        now = now_utc()
        with self._write() as conn:
            row = conn.execute(select(feedback).where(which)).first()
            if row is None:
                return None
            if row.status in WITH_TEXT:
                self._erase(conn, [row.id], status="withdrawn", now=now)
                self._audit(conn, "attendee", "withdraw", str(row.id), {"previous_status": row.status}, now)
                self._bump(conn, MODERATION_COUNTER)
            row = conn.execute(select(feedback).where(feedback.c.id == row.id)).one()
        return row_to_feedback(row)

    @staticmethod
    def _erase(conn, ids: Sequence[int], *, status: str, now: datetime) -> None:
        for part in chunks(list(ids), 500):
            conn.execute(
                update(feedback)
                .where(feedback.c.id.in_(part))
                .values(
                    text="",
                    status=status,
                    submitter_hash=None,
                    session_id=None,
                    client_key=None,
                    address_key=None,
                    text_key=None,  # a hash of the text is still about the text
                    moderation_reason=None,
                    status_changed_at=now,
                )
            )
            conn.execute(delete(feedback_tokens).where(feedback_tokens.c.feedback_id.in_(part)))
            conn.execute(delete(assignments).where(assignments.c.feedback_id.in_(part)))
            # A later line marked as a repeat of an erased one counts on its own again.
            conn.execute(update(feedback).where(feedback.c.repeat_of.in_(part)).values(repeat_of=None))

    def audit(self, actor: str, action: str, target: str | None = None, detail: dict | None = None) -> int:
        """Record an organizer (or console) action; returns the entry's id."""
        with self._write() as conn:
            return self._audit(conn, actor, action, target, detail, now_utc())

    def audit_entries(self, *, limit: int = 50, offset: int = 0, action: str | None = None) -> tuple[list[dict], int]:
        """Audit entries, newest first, and their total."""
        query = select(audit_log)
        count = select(func.count()).select_from(audit_log)
        if action is not None:
            query = query.where(audit_log.c.action == action)
            count = count.where(audit_log.c.action == action)
        with self.engine.connect() as conn:
            total = conn.execute(count).scalar_one()
            rows = conn.execute(query.order_by(audit_log.c.id.desc()).offset(offset).limit(limit)).all()
        out = []
        for r in rows:
            try:
                detail = json.loads(r.detail or "{}")
            except ValueError:
                detail = {}
            out.append({"id": r.id, "at": r.at, "actor": r.actor, "action": r.action, "target": r.target,
                        "detail": detail})
        return out, total

    def month_counts(self) -> list[dict]:
        """The aggregates left by purges: topic_id, month, segment, people, lines, votes."""
        with self.engine.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(
                    select(topic_month_counts).order_by(
                        topic_month_counts.c.month, topic_month_counts.c.topic_id, topic_month_counts.c.segment
                    )
                )
            ]

    @staticmethod
    def _purge_plan(conn, query, report: PurgeReport) -> tuple[list, dict]:
        rows = conn.execute(query.order_by(feedback.c.id)).all()
        groups: dict[tuple[str, str, str], dict] = {}
        months: set[str] = set()
        for r in rows:
            report.lines += 1
            report.by_status[r.status] = report.by_status.get(r.status, 0) + 1
            month = as_utc(r.submitted_at).strftime("%Y-%m")
            months.add(month)
            topic_id = getattr(r, "topic_id", None)
            if r.status != "visible" or topic_id is None:
                continue
            report.folded += 1
            g = groups.setdefault((topic_id, month, r.segment), {"named": set(), "anonymous": 0, "lines": 0, "votes": 0})
            g["lines"] += 1
            g["votes"] += int(r.votes or 0)
            if r.submitter_hash is not None:
                g["named"].add(r.submitter_hash)
            elif r.repeat_of is None:
                g["anonymous"] += 1
        report.months = sorted(months)
        report.aggregates = len(groups)
        return rows, groups

    def purge(
        self, cutoff: datetime, model_version: str | None, *, dry_run: bool = False, actor: str = "console",
        forget_clients_before: datetime | None = None,
    ) -> PurgeReport:
        """Retention: fold the visible lines submitted before ``cutoff`` into
        ``topic_month_counts`` (under their topic in ``model_version``; lines fitting no topic
        are not kept), then delete the text, tokens and assignments of every line before
        ``cutoff`` that still has text (status ``purged``). ``dry_run`` only reports.
        Client keys received before ``forget_clients_before`` are cleared too (they only
        serve burst detection)."""
        report = PurgeReport(cutoff=cutoff)
        now = now_utc()
        topic_of = assignments.c.topic_id if model_version is not None else None
        query = select(
            feedback.c.id, feedback.c.status, feedback.c.submitted_at, feedback.c.segment,
            feedback.c.submitter_hash, feedback.c.votes, feedback.c.repeat_of,
        ).where(and_(feedback.c.submitted_at < cutoff, feedback.c.status.in_(WITH_TEXT)))
        if model_version is not None:
            query = query.add_columns(topic_of).select_from(
                feedback.outerjoin(
                    assignments,
                    and_(assignments.c.feedback_id == feedback.c.id, assignments.c.model_version == model_version),
                )
            )
        if dry_run:
            with self.engine.connect() as conn:
                self._purge_plan(conn, query, report)
            return report
        with self._write() as conn:
            rows, groups = self._purge_plan(conn, query, report)
            for (topic_id, month, segment), g in sorted(groups.items()):
                people = len(g["named"]) + g["anonymous"]
                key = and_(
                    topic_month_counts.c.topic_id == topic_id,
                    topic_month_counts.c.month == month,
                    topic_month_counts.c.segment == segment,
                )
                existing = conn.execute(select(topic_month_counts).where(key)).first()
                if existing is None:
                    conn.execute(
                        insert(topic_month_counts).values(
                            topic_id=topic_id, month=month, segment=segment, people=people,
                            lines=g["lines"], votes=g["votes"],
                        )
                    )
                else:  # a month folded again (late import of old lines): counts add up
                    conn.execute(
                        update(topic_month_counts)
                        .where(key)
                        .values(
                            people=existing.people + people,
                            lines=existing.lines + g["lines"],
                            votes=existing.votes + g["votes"],
                        )
                    )
            if rows:
                self._erase(conn, [r.id for r in rows], status="purged", now=now)
                self._bump(conn, MODERATION_COUNTER)
            # Praise kept with a class (post-class form) is text a learner typed: same retention.
            conn.execute(
                update(class_responses)
                .where(and_(class_responses.c.created_at < cutoff, class_responses.c.text.is_not(None)))
                .values(text=None)
            )
            if forget_clients_before is not None:
                conn.execute(
                    update(feedback)
                    .where(
                        and_(
                            or_(feedback.c.client_key.is_not(None), feedback.c.address_key.is_not(None)),
                            feedback.c.received_at < forget_clients_before,
                        )
                    )
                    .values(client_key=None, address_key=None)
                )
            self._audit(
                conn, actor, "purge", None,
                {"cutoff": cutoff.isoformat(), "lines": report.lines, "folded": report.folded,
                 "aggregates": report.aggregates, "model_version": model_version},
                now,
            )
        return report

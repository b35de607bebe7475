"""The rows the store takes and gives: plain frozen dataclasses, no SQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone


@dataclass(frozen=True)
class NewFeedback:
    """A row ready to insert: validated, masked, submitter hashed."""

    text: str
    segment: str
    submitted_at: datetime
    source: str
    session_id: str | None = None
    submitter_hash: str | None = None
    votes: int = 0
    external_id: str | None = None
    repeat_of: int | None = None
    status: str = "visible"
    flag_reason: str | None = None
    receipt_hash: str | None = None
    client_key: str | None = None
    fill_seconds: int | None = None
    address_key: str | None = None
    #: A content-keyed imported row's key before debris was cleaned, where that changed it:
    #: a row stored under it counts as this one (``FeedbackIntake.add_many``); never stored.
    former_external_id: str | None = None


#: Lines that still hold their text (withdrawn and purged lines do not).
WITH_TEXT = ("visible", "hidden", "flagged")


@dataclass(frozen=True)
class StoredFeedback:
    id: int
    external_id: str | None
    source: str
    text: str
    submitted_at: datetime
    received_at: datetime
    segment: str
    session_id: str | None
    submitter_hash: str | None
    votes: int
    repeat_of: int | None
    status: str = "visible"
    moderation_reason: str | None = None
    flag_reason: str | None = None
    status_changed_at: datetime | None = None

    @property
    def public_id(self) -> str:
        """The id users see: the import's external id where there is one, else ours."""
        return self.external_id if self.external_id else str(self.id)

    @property
    def is_repeat(self) -> bool:
        return self.repeat_of is not None


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def row_to_feedback(row) -> StoredFeedback:
    return StoredFeedback(
        id=row.id,
        external_id=row.external_id,
        source=row.source,
        text=row.text,
        submitted_at=row.submitted_at,
        received_at=row.received_at,
        segment=row.segment,
        session_id=row.session_id,
        submitter_hash=row.submitter_hash,
        votes=row.votes,
        repeat_of=row.repeat_of,
        status=row.status,
        moderation_reason=row.moderation_reason,
        flag_reason=row.flag_reason,
        status_changed_at=row.status_changed_at,
    )


def values_to_feedback(new_id: int, values: dict) -> StoredFeedback:
    """The StoredFeedback of a row just inserted from ``values`` (what a SELECT would give)."""
    return StoredFeedback(
        id=new_id,
        external_id=values["external_id"],
        source=values["source"],
        text=values["text"],
        submitted_at=as_utc(values["submitted_at"]),
        received_at=as_utc(values["received_at"]),
        segment=values["segment"],
        session_id=values["session_id"],
        submitter_hash=values["submitter_hash"],
        votes=values["votes"],
        repeat_of=values["repeat_of"],
        status=values["status"],
        moderation_reason=None,
        flag_reason=values["flag_reason"],
        status_changed_at=as_utc(values["status_changed_at"]),
    )


@dataclass
class PurgeReport:
    """What a retention purge removed (or, for a dry run, would remove)."""

    cutoff: datetime
    lines: int = 0
    folded: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    months: list[str] = field(default_factory=list)
    aggregates: int = 0


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def as_utc(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)

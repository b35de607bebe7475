"""Recent lines read inside a write transaction: what screening and repeat marking compare a
new line with (same client, same text, same person), including lines of the same batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import Integer, and_, bindparam, select

from recommender.door.screening import RecentLine
from recommender.store.schema import feedback
from recommender.store.rows import NewFeedback, WITH_TEXT, chunks
from recommender.store.engine import StoreEngine


RECENT_LIMIT = 500


def _recent_statements(column, *, many: bool):
    cols = (
        feedback.c.id, feedback.c.text, feedback.c.submitter_hash, feedback.c.client_key, feedback.c.text_key,
        feedback.c.status, feedback.c.received_at,
    )
    match = column.in_(bindparam("keys", expanding=True)) if many else column == bindparam("key")
    return (
        select(*cols)
        .where(and_(match, feedback.c.received_at >= bindparam("since")))
        .order_by(feedback.c.received_at.desc(), feedback.c.id.desc())
        .limit(bindparam("cap", type_=Integer))
    )


# Built once: group commit runs them for every batch (client key = column 3, text key = 4).
_RECENT_BY_KEY = (
    _recent_statements(feedback.c.client_key, many=False), _recent_statements(feedback.c.text_key, many=False)
)


_RECENT_BY_KEYS = (
    _recent_statements(feedback.c.client_key, many=True), _recent_statements(feedback.c.text_key, many=True)
)


# The status is checked in Python: with it in the WHERE clause SQLite (no statistics) reads
# through the status index, i.e. nearly every row, instead of the submitter index.
_EARLIER_BY_PERSON = (
    select(feedback.c.id, feedback.c.text, feedback.c.submitted_at, feedback.c.submitter_hash, feedback.c.status)
    .where(
        and_(
            feedback.c.submitter_hash.in_(bindparam("people", expanding=True)),
            feedback.c.submitted_at >= bindparam("since"),
            feedback.c.submitted_at <= bindparam("until"),
        )
    )
    .order_by(feedback.c.submitted_at, feedback.c.id)
)




_COMMITTED_SINCE = select(
    feedback.c.id, feedback.c.text, feedback.c.submitter_hash, feedback.c.client_key, feedback.c.text_key,
    feedback.c.status, feedback.c.received_at, feedback.c.submitted_at,
).where(feedback.c.id > bindparam("after")).order_by(feedback.c.id)


class RecentLines(StoreEngine):
    """Reads of recent lines by client key, text key and submitter."""

    @staticmethod
    def _merge_committed_since(
        conn, after_id: int, items: Sequence[NewFeedback], repeat_window: timedelta | None,
        earlier_by_person: dict[str, list[tuple[int, str, datetime]]], since: datetime,
        client_keys: set[str], text_keys: set[str], by_client: dict[str, list[RecentLine]],
        by_text: dict[str, list[RecentLine]], client_limit: int, text_limit: int,
    ) -> None:
        """Add the lines committed after ``after_id`` (read under the write lock) to what
        :meth:`_earlier_by_person` and :meth:`_recent_many` read from an earlier snapshot."""
        rows = conn.execute(_COMMITTED_SINCE, {"after": after_id}).all()
        if not rows:
            return
        people = {i.submitter_hash for i in items if i.submitter_hash and i.repeat_of is None}
        if repeat_window is not None and people:
            wanted = [i for i in items if i.submitter_hash in people]
            first = min(i.submitted_at for i in wanted) - repeat_window
            last = max(i.submitted_at for i in wanted)
            touched = set()
            for r in rows:
                if r.submitter_hash in people and r.status in WITH_TEXT and first <= r.submitted_at <= last:
                    earlier_by_person.setdefault(r.submitter_hash, []).append((r.id, r.text, r.submitted_at))
                    touched.add(r.submitter_hash)
            for person in touched:
                earlier_by_person[person].sort(key=lambda line: (line[2], line[0]))
        for keys, found, limit, slot in ((client_keys, by_client, client_limit, 0), (text_keys, by_text, text_limit, 1)):
            touched = set()
            for r in rows:
                key = r.client_key if slot == 0 else r.text_key
                if key in keys and r.received_at >= since:
                    found.setdefault(key, []).append(
                        RecentLine(r.id, r.text, r.client_key, r.submitter_hash, r.status, r.received_at)
                    )
                    touched.add(key)
            for key in touched:
                lines = sorted(found[key], key=lambda line: (line.received_at, line.id), reverse=True)
                found[key] = lines[:limit]

    @staticmethod
    def _earlier_by_person(
        conn, items: Sequence[NewFeedback], window: timedelta | None
    ) -> dict[str, list[tuple[int, str, datetime]]]:
        """Stored lines with text of the batch's submitters, (id, text, submitted_at) oldest
        first, from ``window`` before the earliest item to the latest one."""
        wanted = [i for i in items if i.submitter_hash and i.repeat_of is None]
        if not wanted:
            return {}
        since = min(i.submitted_at for i in wanted) - (window or timedelta(0))
        until = max(i.submitted_at for i in wanted)
        out: dict[str, list[tuple[int, str, datetime]]] = {}
        for part in chunks(sorted({i.submitter_hash for i in wanted}), 500):
            rows = conn.execute(_EARLIER_BY_PERSON, {"people": list(part), "since": since, "until": until})
            for r in rows:
                if r.status in WITH_TEXT:
                    out.setdefault(r.submitter_hash, []).append((r.id, r.text, r.submitted_at))
        return out

    @staticmethod
    def _recent_many(
        conn, since: datetime, client_keys: Sequence[str], text_keys: Sequence[str], client_limit: int,
        text_limit: int,
    ) -> tuple[dict[str, list[RecentLine]], dict[str, list[RecentLine]]]:
        """:meth:`_recent` for many keys at once: per client key and per text key, its newest
        lines within the window (at most the limit each), newest first.

        One statement per kind reads the newest ``limit × keys`` lines of all the keys. When
        it comes back full it may have cut off older lines of keys with fewer than ``limit``
        lines in it; only those keys are then read one by one (bounded, through the index)."""
        found: tuple[dict[str, list[RecentLine]], dict[str, list[RecentLine]]] = ({}, {})
        for slot, (keys, limit) in enumerate(((client_keys, client_limit), (text_keys, text_limit))):
            if not keys or limit <= 0:
                continue
            out = found[slot]
            one, many = _RECENT_BY_KEY[slot], _RECENT_BY_KEYS[slot]
            for part in chunks(list(keys), 500):
                cap = limit * len(part)
                if len(part) == 1:  # equality: an index range scan that stops at the limit
                    rows = conn.execute(one, {"key": part[0], "since": since, "cap": limit}).all()
                else:
                    rows = conn.execute(many, {"keys": list(part), "since": since, "cap": cap}).all()
                got: dict[str, list] = {}
                for r in rows:
                    got.setdefault(r[3 + slot], []).append(r)
                if len(part) > 1 and len(rows) >= cap:
                    for key in part:
                        if len(got.get(key, ())) < limit:
                            got[key] = conn.execute(one, {"key": key, "since": since, "cap": limit}).all()
                for key, key_rows in got.items():
                    out[key] = [
                        RecentLine(r.id, r.text, r.client_key, r.submitter_hash, r.status, r.received_at)
                        for r in key_rows[:limit]
                    ]
        return found

    @staticmethod
    def _recent_for(
        values: dict, rows: list[dict], status_now: dict[int, str],
        by_client: dict[str, list[RecentLine]], by_text: dict[str, list[RecentLine]],
        batch_by_client: dict[str, list[int]], batch_by_text: dict[str, list[int]], now: datetime,
        client_limit: int, text_limit: int,
    ) -> list[RecentLine]:
        """What :meth:`_recent` would read for this line had the batch's earlier lines been
        stored: per key the newest lines (the batch's own first), up to the limits."""
        found: dict[int, RecentLine] = {}
        for key, stored, batch, limit in (
            (values["client_key"], by_client, batch_by_client, client_limit),
            (values["text_key"], by_text, batch_by_text, text_limit),
        ):
            if key is None or limit <= 0:
                continue
            taken = 0
            for temp_id in reversed(batch.get(key, ())):
                if taken >= limit:
                    break
                other = rows[-temp_id - 1]
                found[temp_id] = RecentLine(
                    temp_id, other["text"], other["client_key"], other["submitter_hash"], other["status"], now
                )
                taken += 1
            for line in stored.get(key, ()):
                if taken >= limit:
                    break
                status = status_now.get(line.id)
                found[line.id] = line if status is None else replace(line, status=status)
                taken += 1
        return sorted(found.values(), key=lambda line: (line.received_at, line.id), reverse=True)

    @staticmethod
    def _recent(
        conn, since: datetime, client_key: str | None, text_key: str | None, client_limit: int, text_limit: int
    ) -> list[RecentLine]:
        """The lines a screener needs, read through the two indexes: this client's recent
        lines and recent lines with the same normalised text (bounded work per submission,
        however busy the window is)."""
        columns = (
            feedback.c.id, feedback.c.text, feedback.c.client_key, feedback.c.submitter_hash,
            feedback.c.status, feedback.c.received_at,
        )
        found: dict[int, RecentLine] = {}
        for column, key, limit in (
            (feedback.c.client_key, client_key, client_limit),
            (feedback.c.text_key, text_key, text_limit),
        ):
            if key is None or limit <= 0:
                continue
            rows = conn.execute(
                select(*columns)
                .where(and_(column == key, feedback.c.received_at >= since))
                .order_by(feedback.c.received_at.desc())
                .limit(limit)
            )
            for r in rows:
                found[r.id] = RecentLine(r.id, r.text, r.client_key, r.submitter_hash, r.status, r.received_at)
        return sorted(found.values(), key=lambda line: line.received_at, reverse=True)

    def recent_by_submitter(
        self, submitter_hash: str, since: datetime, until: datetime
    ) -> list[tuple[int, str, datetime]]:
        """(id, text, submitted_at) of that submitter's lines in [since, until], oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(feedback.c.id, feedback.c.text, feedback.c.submitted_at)
                .where(
                    and_(
                        feedback.c.submitter_hash == submitter_hash,
                        feedback.c.status.in_(WITH_TEXT),
                        feedback.c.submitted_at >= since,
                        feedback.c.submitted_at <= until,
                    )
                )
                .order_by(feedback.c.submitted_at, feedback.c.id)
            )
            return [(r.id, r.text, r.submitted_at) for r in rows]

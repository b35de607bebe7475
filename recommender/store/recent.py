"""Recent lines read inside a write transaction: what screening and repeat marking compare a
new line with (same client, same text, same address, same person), including lines of the
same batch.

Screening reads through three keys, each with its own index and limit, in this order
(``KEYS``): the client (address + browser), the normalised text and the address alone."""

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
#: The key columns screening reads recent lines by, in the order of every ``limits`` tuple.
KEYS = ("client_key", "text_key", "address_key")
_COLUMNS = (
    feedback.c.id, feedback.c.text, feedback.c.submitter_hash, feedback.c.client_key, feedback.c.text_key,
    feedback.c.address_key, feedback.c.status, feedback.c.received_at,
)


def _recent_statements(column, *, many: bool):
    match = column.in_(bindparam("keys", expanding=True)) if many else column == bindparam("key")
    return (
        select(*_COLUMNS)
        .where(and_(match, feedback.c.received_at >= bindparam("since")))
        .order_by(feedback.c.received_at.desc(), feedback.c.id.desc())
        .limit(bindparam("cap", type_=Integer))
    )


# Built once: group commit runs them for every batch.
_RECENT_BY_KEY = tuple(_recent_statements(feedback.c[key], many=False) for key in KEYS)
_RECENT_BY_KEYS = tuple(_recent_statements(feedback.c[key], many=True) for key in KEYS)


def _line(r) -> RecentLine:
    return RecentLine(r.id, r.text, r.client_key, r.submitter_hash, r.status, r.received_at, r.address_key)


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




_COMMITTED_SINCE = select(*_COLUMNS, feedback.c.submitted_at).where(feedback.c.id > bindparam("after")).order_by(feedback.c.id)


class RecentLines(StoreEngine):
    """Reads of recent lines by client key, text key and submitter."""

    @staticmethod
    def _merge_committed_since(
        conn, after_id: int, items: Sequence[NewFeedback], repeat_window: timedelta | None,
        earlier_by_person: dict[str, list[tuple[int, str, datetime]]], since: datetime,
        keys: Sequence[set[str]], found: Sequence[dict[str, list[RecentLine]]], limits: Sequence[int],
    ) -> None:
        """Add the lines committed after ``after_id`` (read under the write lock) to what
        :meth:`_earlier_by_person` and :meth:`_recent_many` read from an earlier snapshot
        (``keys``, ``found`` and ``limits`` per key of ``KEYS``)."""
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
        for name, wanted_keys, by_key, limit in zip(KEYS, keys, found, limits):
            touched = set()
            for r in rows:
                key = getattr(r, name)
                if key in wanted_keys and r.received_at >= since:
                    by_key.setdefault(key, []).append(_line(r))
                    touched.add(key)
            for key in touched:
                lines = sorted(by_key[key], key=lambda line: (line.received_at, line.id), reverse=True)
                by_key[key] = lines[:limit]

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
        conn, since: datetime, keys: Sequence[Sequence[str]], limits: Sequence[int]
    ) -> list[dict[str, list[RecentLine]]]:
        """:meth:`_recent` for many keys at once: per key of ``KEYS`` (client, text, address) and
        per value, its newest lines within the window (at most the limit each), newest first.

        One statement per kind reads the newest ``limit × keys`` lines of all the keys. When
        it comes back full it may have cut off older lines of keys with fewer than ``limit``
        lines in it; only those keys are then read one by one (bounded, through the index)."""
        found: list[dict[str, list[RecentLine]]] = [{} for _ in KEYS]
        for slot, (name, wanted, limit) in enumerate(zip(KEYS, keys, limits)):
            if not wanted or limit <= 0:
                continue
            out = found[slot]
            one, many = _RECENT_BY_KEY[slot], _RECENT_BY_KEYS[slot]
            for part in chunks(list(wanted), 500):
                cap = limit * len(part)
                if len(part) == 1:  # equality: an index range scan that stops at the limit
                    rows = conn.execute(one, {"key": part[0], "since": since, "cap": limit}).all()
                else:
                    rows = conn.execute(many, {"keys": list(part), "since": since, "cap": cap}).all()
                got: dict[str, list] = {}
                for r in rows:
                    got.setdefault(getattr(r, name), []).append(r)
                if len(part) > 1 and len(rows) >= cap:
                    for key in part:
                        if len(got.get(key, ())) < limit:
                            got[key] = conn.execute(one, {"key": key, "since": since, "cap": limit}).all()
                for key, key_rows in got.items():
                    out[key] = [_line(r) for r in key_rows[:limit]]
        return found

    @staticmethod
    def _recent_for(
        values: dict, rows: list[dict], status_now: dict[int, str],
        found: Sequence[dict[str, list[RecentLine]]], batch: Sequence[dict[str, list[int]]], now: datetime,
        limits: Sequence[int],
    ) -> list[RecentLine]:
        """What :meth:`_recent` would read for this line had the batch's earlier lines been
        stored: per key the newest lines (the batch's own first), up to the limits."""
        lines: dict[int, RecentLine] = {}
        for name, stored, in_batch, limit in zip(KEYS, found, batch, limits):
            key = values[name]
            if key is None or limit <= 0:
                continue
            taken = 0
            for temp_id in reversed(in_batch.get(key, ())):
                if taken >= limit:
                    break
                other = rows[-temp_id - 1]
                lines[temp_id] = RecentLine(
                    temp_id, other["text"], other["client_key"], other["submitter_hash"], other["status"], now,
                    other["address_key"],
                )
                taken += 1
            for line in stored.get(key, ()):
                if taken >= limit:
                    break
                status = status_now.get(line.id)
                lines[line.id] = line if status is None else replace(line, status=status)
                taken += 1
        return sorted(lines.values(), key=lambda line: (line.received_at, line.id), reverse=True)

    @staticmethod
    def _recent(conn, since: datetime, keys: Sequence[str | None], limits: Sequence[int]) -> list[RecentLine]:
        """The lines a screener needs, read through the indexes of ``KEYS``: this client's recent
        lines, recent lines with the same normalised text and this address's recent lines
        (bounded work per submission, however busy the window is)."""
        found: dict[int, RecentLine] = {}
        for name, key, limit in zip(KEYS, keys, limits):
            if key is None or limit <= 0:
                continue
            rows = conn.execute(
                select(*_COLUMNS)
                .where(and_(feedback.c[name] == key, feedback.c.received_at >= since))
                .order_by(feedback.c.received_at.desc())
                .limit(limit)
            )
            for r in rows:
                found[r.id] = _line(r)
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

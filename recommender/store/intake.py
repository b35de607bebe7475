"""Inserting feedback: one line, a live batch (group commit, screened and repeat-marked in
the same transaction) or an import batch (deduplicated by external id or content)."""

from __future__ import annotations

import re

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, select, update

from recommender.door.screening import RecentLine, Screening, text_key
from recommender.store.schema import assignments, feedback
from recommender.store.rows import (
    NewFeedback,
    StoredFeedback,
    chunks,
    now_utc,
    row_to_feedback,
    values_to_feedback,
)
from recommender.store.engine import MODERATION_COUNTER
from recommender.store.recent import KEYS, RECENT_LIMIT, RecentLines


_MAX_ID = select(func.max(feedback.c.id))
_INSERT_RETURNING_IDS = insert(feedback).returning(feedback.c.id, sort_by_parameter_order=True)


#: Most rows in one multi-row INSERT on SQLite (128 × 17 values, far below its 32,766 parameters).
_MULTI_INSERT_MAX = 128



#: Sources of imported rows start with this (``import:<file name>``).
IMPORT_SOURCE = "import:"
#: The dedupe scope of content-keyed imported rows: every import, whatever its file name.
ANY_IMPORT = "import:*"
# What door/import_rows.py writes as the external id of a row without an id column.
_CONTENT_KEY = re.compile(r"h[0-9a-f]{20}(?:-[0-9]+)?")


def dedupe_key(item: NewFeedback) -> tuple[str, str]:
    """(scope, external_id) under which a row counts as already stored."""
    external_id = item.external_id or ""
    if item.source.startswith(IMPORT_SOURCE) and _CONTENT_KEY.fullmatch(external_id):
        return ANY_IMPORT, external_id
    return item.source, external_id


def _former_key(item: NewFeedback) -> tuple[str, str] | None:
    """(scope, key) of a content-keyed imported row as imported before debris was cleaned
    (``NewFeedback.former_external_id``), None when it has none."""
    if item.former_external_id is None or item.external_id is None or dedupe_key(item)[0] != ANY_IMPORT:
        return None
    return ANY_IMPORT, item.former_external_id


def _id_keyed_import(item: NewFeedback) -> bool:
    return item.source.startswith(IMPORT_SOURCE) and dedupe_key(item)[0] != ANY_IMPORT


def copy_key(item: NewFeedback) -> tuple[str, str | None, datetime]:
    """(external_id, text key, submission time) of an imported row: the same in another import
    means the same answer (another file's row 1 says something else, or at another time)."""
    return item.external_id or "", text_key(item.text), item.submitted_at


class FeedbackIntake(RecentLines):
    """Writes of new feedback lines."""

    def add(
        self,
        item: NewFeedback,
        *,
        assignment: tuple[str, str | None, float] | None = None,
        screener: Callable[[list[RecentLine]], Screening] | None = None,
        screen_window: timedelta | None = None,
        screen_limits: tuple[int, int, int] = (RECENT_LIMIT, RECENT_LIMIT, RECENT_LIMIT),
    ) -> StoredFeedback:
        """Insert one feedback line (and, when given, its (model_version, topic_id, score)
        assignment in the same transaction) and return it as stored.

        With a ``screener``, recent lines (within ``screen_window``; at most ``screen_limits``
        = (from this client, with this text)) are read in the same write transaction and the
        screener decides whether the new line (and earlier ones of a
        burst) is flagged instead of counted."""
        values = self._values(item)
        with self._write() as conn:
            if screener is not None and screen_window is not None:
                verdict = screener(
                    self._recent(
                        conn,
                        values["received_at"] - screen_window,
                        [values[name] for name in KEYS],
                        screen_limits,
                    )
                )
                if verdict.flag_reason is not None:
                    values.update(status="flagged", flag_reason=verdict.flag_reason,
                                  status_changed_at=values["received_at"])
                    if verdict.also_flag:
                        conn.execute(
                            update(feedback)
                            .where(and_(feedback.c.id.in_(list(verdict.also_flag)), feedback.c.status == "visible"))
                            .values(status="flagged", flag_reason=verdict.flag_reason,
                                    status_changed_at=values["received_at"])
                        )
                        self._bump(conn, MODERATION_COUNTER)
            new_id = conn.execute(insert(feedback).values(**values).returning(feedback.c.id)).scalar_one()
            if assignment is not None:
                version, topic_id, score, *no_request = assignment
                conn.execute(
                    insert(assignments).values(
                        model_version=version, feedback_id=new_id, topic_id=topic_id, score=float(score),
                        no_request=bool(no_request[0]) if no_request else None,
                    )
                )
            row = conn.execute(select(feedback).where(feedback.c.id == new_id)).one()
        self.disk_full = False
        return row_to_feedback(row)

    def add_live(
        self,
        items: Sequence[NewFeedback],
        *,
        screener: Callable[[NewFeedback, list[RecentLine]], Screening] | None = None,
        screen_window: timedelta | None = None,
        screen_limits: tuple[int, int, int] = (RECENT_LIMIT, RECENT_LIMIT, RECENT_LIMIT),
        repeat_finder: Callable[[NewFeedback, list[tuple[int, str, datetime]]], int | None] | None = None,
        repeat_window: timedelta | None = None,
    ) -> list[StoredFeedback]:
        """Store live submissions (form, API) in ONE write transaction and return them as
        stored, in order: the group commit of the web workers (one commit, one lock turn and
        a handful of statements for a whole batch instead of per line).

        Every line is judged as if the lines before it in the batch were already stored:

        - ``repeat_finder(item, earlier)`` gets the same submitter's lines (id, text,
          submitted_at; oldest first) within ``repeat_window`` before the item's
          ``submitted_at``, stored ones and earlier ones of the batch, and returns the id the
          item repeats (or None). Only for items without ``repeat_of`` and with a submitter.
        - ``screener(item, recent)`` gets the recent lines within ``screen_window`` that the
          single-line :meth:`add` would read: at most ``screen_limits`` = (from this client,
          with this text, from this address) of the newest, earlier lines of the batch included (they are the
          newest), with the statuses this batch has given them so far. Its verdict flags the
          item and, where it says so, earlier lines (stored or of the batch).

        Ids of lines of the batch that are not stored yet appear as negative numbers
        (``-1`` is the batch's first line) in what the callbacks see and return; they are
        replaced by the real ids. Any error rolls the whole batch back (nothing is stored).

        On SQLite the lines the callbacks need are read *before* the write lock is taken, in
        a read snapshot that runs beside the other workers' writes; under the lock only the
        lines committed since that snapshot are read (ids grow in commit order there, writers
        being serialised) and merged in: the same input as reading it all under the lock, for
        a much shorter hold of the lock the workers share. PostgreSQL reads in the transaction.
        """
        if not items:
            return []
        now = now_utc()
        rows = [self._values(item) | {"received_at": now} for item in items]
        for values in rows:
            if values["status"] != "visible":
                values["status_changed_at"] = now
        want_screen = screener is not None and screen_window is not None
        since = now - screen_window if want_screen else now
        limits = tuple(screen_limits)
        keys = [
            sorted({v[name] for v in rows if v[name]}) if want_screen and limit > 0 else []
            for name, limit in zip(KEYS, limits)
        ]

        def read_inputs(conn):
            earlier = self._earlier_by_person(conn, items, repeat_window) if repeat_finder else {}
            recent_by_key = self._recent_many(conn, since, keys, limits) if want_screen else [{} for _ in KEYS]
            return earlier, recent_by_key

        snapshot_max = None
        if self.dialect == "sqlite":
            with self.engine.connect() as conn, conn.begin():
                snapshot_max = conn.execute(_MAX_ID).scalar() or 0
                earlier_by_person, recent_by_key = read_inputs(conn)
        with self._write() as conn:
            if snapshot_max is None:
                earlier_by_person, recent_by_key = read_inputs(conn)
            else:
                self._merge_committed_since(
                    conn, snapshot_max, items, repeat_window if repeat_finder else None, earlier_by_person,
                    since, [set(k) for k in keys], recent_by_key, limits,
                )
            status_now: dict[int, str] = {}  # lines this batch has flagged so far
            batch: list[dict[str, list[int]]] = [{} for _ in KEYS]  # per key: the batch's lines
            flag_stored: dict[int, str] = {}
            late_repeats: dict[int, int] = {}  # batch index -> batch index it repeats
            for k, (item, values) in enumerate(zip(items, rows)):
                temp_id = -(k + 1)
                if repeat_finder is not None and values["repeat_of"] is None and item.submitter_hash:
                    repeat_since = item.submitted_at - (repeat_window or timedelta(0))
                    earlier = [
                        line for line in earlier_by_person.get(item.submitter_hash, ())
                        if repeat_since <= line[2] <= item.submitted_at
                    ]
                    found = repeat_finder(item, earlier)
                    if found is not None and found < 0:
                        late_repeats[k] = -found - 1
                    elif found is not None:
                        values["repeat_of"] = found
                    earlier_by_person.setdefault(item.submitter_hash, []).append(
                        (temp_id, item.text, item.submitted_at)
                    )
                if screener is not None and screen_window is not None:
                    recent = self._recent_for(values, rows, status_now, recent_by_key, batch, now, limits)
                    verdict = screener(item, recent)
                    found = verdict.repeat_of
                    if found is not None and values["repeat_of"] is None and k not in late_repeats:
                        if found < 0:
                            late_repeats[k] = -found - 1
                        else:
                            values["repeat_of"] = found
                    if verdict.flag_reason is not None:
                        values.update(status="flagged", flag_reason=verdict.flag_reason, status_changed_at=now)
                        status_now[temp_id] = "flagged"
                        for fid in verdict.also_flag:
                            if fid < 0:
                                other = rows[-fid - 1]
                                if other["status"] == "visible":
                                    other.update(status="flagged", flag_reason=verdict.flag_reason,
                                                 status_changed_at=now)
                                    status_now[fid] = "flagged"
                            elif status_now.get(fid, "visible") == "visible":
                                flag_stored[fid] = verdict.flag_reason
                                status_now[fid] = "flagged"
                    for name, in_batch in zip(KEYS, batch):
                        if values[name]:
                            in_batch.setdefault(values[name], []).append(temp_id)
            flagged_any = False
            for reason in sorted(set(flag_stored.values())):
                ids = sorted(fid for fid, r in flag_stored.items() if r == reason)
                for part in chunks(ids, 500):
                    result = conn.execute(
                        update(feedback)
                        .where(and_(feedback.c.id.in_(list(part)), feedback.c.status == "visible"))
                        .values(status="flagged", flag_reason=reason, status_changed_at=now)
                    )
                    flagged_any = flagged_any or bool(result.rowcount)
            if flag_stored and flagged_any:
                self._bump(conn, MODERATION_COUNTER)
            new_ids = self._insert_rows(conn, rows)
            for k, j in late_repeats.items():
                rows[k]["repeat_of"] = new_ids[j]
                conn.execute(update(feedback).where(feedback.c.id == new_ids[k]).values(repeat_of=new_ids[j]))
        self.disk_full = False
        return [values_to_feedback(fid, values) for fid, values in zip(new_ids, rows)]

    def _insert_rows(self, conn, rows: list[dict]) -> list[int]:
        """Insert rows (all with the same keys) and return their ids in order.

        SQLite: one multi-row ``INSERT … VALUES (…), (…)`` per 128 rows, its SQL text made
        once per size and its values converted by the columns' own bind processors. The write
        transaction holds the database lock, so the rows of one statement get consecutive
        rowids in VALUES order, the last being ``lastrowid``. (SQLite's RETURNING promises no
        order, so SQLAlchemy would insert row by row; each statement lets go of the GIL, and
        under load taking it back is what costs while the other workers wait for the lock.)
        PostgreSQL: SQLAlchemy's batched ``INSERT … RETURNING``, sorted by parameter order."""
        if self.dialect != "sqlite":
            return list(conn.execute(_INSERT_RETURNING_IDS, rows).scalars())
        keys = tuple(rows[0])
        dialect = conn.dialect
        processors = self._bind_processors.get(keys)
        if processors is None:
            processors = [
                feedback.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys
            ]
            self._bind_processors[keys] = processors
        ids: list[int] = []
        for part in chunks(rows, _MULTI_INSERT_MAX):
            sql = self._insert_sql.get((keys, len(part)))
            if sql is None:
                quote = dialect.identifier_preparer.quote
                one = "(" + ", ".join("?" * len(keys)) + ")"
                sql = (
                    f"INSERT INTO {quote(feedback.name)} ({', '.join(quote(k) for k in keys)}) "
                    f"VALUES {', '.join([one] * len(part))}"
                )
                self._insert_sql[(keys, len(part))] = sql
            params = tuple(
                value if proc is None else proc(value)
                for row in part
                for value, proc in zip((row[k] for k in keys), processors)
            )
            last = conn.exec_driver_sql(sql, params).lastrowid
            ids.extend(range(last - len(part) + 1, last + 1))
        return ids

    def add_many(self, items: Sequence[NewFeedback]) -> list[int | None]:
        """Insert a batch in one transaction, skipping rows already stored: the same
        (source, external_id), or, for an import keyed by its content (no id column), the same
        content key from any import, so a renamed copy of a file imports nothing again; an
        imported row with an id (a questionnaire's 序号) is a copy when any import holds that id
        with the same text and time (:func:`copy_key`), so a second download of an export
        (「导出 (1).xlsx」) or its CSV beside the XLSX imports nothing either. A content-keyed row
        stored under its former key (``former_external_id``: imported before debris was
        cleaned) is already stored as well.
        Returns, per item, its new id or None where it was a duplicate."""
        if not items:
            return []
        keyed = [i for i in items if i.external_id is not None]
        existing: set[tuple[str, str]] = set()
        with self._write() as conn:
            copies = self._imported_copies(conn, keyed)
            for source in sorted({dedupe_key(i)[0] for i in keyed}):
                ids = [i.external_id for i in keyed if dedupe_key(i)[0] == source]
                if source == ANY_IMPORT:
                    ids += [i.former_external_id for i in keyed if _former_key(i) is not None]
                where_source = (
                    feedback.c.source.like(IMPORT_SOURCE + "%") if source == ANY_IMPORT else feedback.c.source == source
                )
                for part in chunks(ids, 500):
                    rows = conn.execute(
                        select(feedback.c.external_id).where(and_(where_source, feedback.c.external_id.in_(part)))
                    )
                    existing.update((source, r.external_id) for r in rows)
            out: list[int | None] = []
            for item in items:
                key = dedupe_key(item) if item.external_id is not None else None
                copy = copy_key(item) if key is not None and _id_keyed_import(item) else None
                former = _former_key(item)
                if key is not None and (key in existing or copy in copies or former in existing):
                    out.append(None)
                    continue
                if key is not None:
                    existing.add(key)
                if former is not None:
                    existing.add(former)
                if copy is not None:
                    copies.add(copy)
                out.append(
                    conn.execute(insert(feedback).values(**self._values(item)).returning(feedback.c.id)).scalar_one()
                )
        self.disk_full = False
        return out

    @staticmethod
    def _imported_copies(conn, keyed: Sequence[NewFeedback]) -> set[tuple[str, str | None, datetime]]:
        """:func:`copy_key` of the stored imported rows that share an external id with the
        id-keyed imported ``keyed`` items (content-keyed ones are found by their key alone)."""
        ids = sorted({i.external_id or "" for i in keyed if _id_keyed_import(i)})
        found: set[tuple[str, str | None, datetime]] = set()
        for part in chunks(ids, 500):
            rows = conn.execute(
                select(feedback.c.external_id, feedback.c.text_key, feedback.c.submitted_at).where(
                    and_(feedback.c.source.like(IMPORT_SOURCE + "%"), feedback.c.external_id.in_(part))
                )
            )
            found.update((r.external_id, r.text_key, r.submitted_at) for r in rows if r.text_key is not None)
        return found

    def mark_repeats(self, links: Iterable[tuple[int, int]]) -> None:
        """Mark (feedback_id, repeat_of) pairs."""
        with self._write() as conn:
            for fid, earlier in links:
                conn.execute(update(feedback).where(feedback.c.id == fid).values(repeat_of=earlier))

    @staticmethod
    def _values(item: NewFeedback) -> dict:
        return {
            "status": item.status,
            "flag_reason": item.flag_reason,
            "receipt_hash": item.receipt_hash,
            "client_key": item.client_key,
            "address_key": item.address_key,
            "text_key": text_key(item.text),
            "fill_seconds": item.fill_seconds,
            "status_changed_at": now_utc() if item.status != "visible" else None,
            "external_id": item.external_id,
            "source": item.source,
            "text": item.text,
            "submitted_at": item.submitted_at,
            "received_at": now_utc(),
            "segment": item.segment,
            "session_id": item.session_id,
            "submitter_hash": item.submitter_hash,
            "votes": item.votes,
            "repeat_of": item.repeat_of,
        }

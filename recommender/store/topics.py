"""Topic records (stable ids, labels, lineage events) and recorded class sessions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import and_, insert, select, update

from recommender.store.schema import class_sessions, topic_events, topics
from recommender.store.rows import now_utc
from recommender.store.engine import StoreEngine


class TopicTables(StoreEngine):
    """Topics across model versions and the classes held on them."""

    def topic_records(self) -> dict[str, dict]:
        with self.engine.connect() as conn:
            return {r.topic_id: dict(r._mapping) for r in conn.execute(select(topics))}

    def next_topic_ids(self, n: int) -> list[str]:
        """n fresh topic ids (``T0001``…), above every id ever used."""
        with self.engine.connect() as conn:
            ids = [r.topic_id for r in conn.execute(select(topics.c.topic_id))]
        top = max((int(i[1:]) for i in ids if i[:1] == "T" and i[1:].isdigit()), default=0)
        return [f"T{top + k:04d}" for k in range(1, n + 1)]

    def record_topics(self, model_version: str, topic_ids: Sequence[str], events: Sequence[dict]) -> None:
        """Mark the topics of a newly published version active, the rest retired, and log events."""
        now = now_utc()
        with self._write() as conn:
            known = {r.topic_id for r in conn.execute(select(topics.c.topic_id))}
            for tid in topic_ids:
                if tid in known:
                    conn.execute(
                        update(topics)
                        .where(topics.c.topic_id == tid)
                        .values(last_version=model_version, status="active", updated_at=now)
                    )
                else:
                    conn.execute(
                        insert(topics).values(
                            topic_id=tid,
                            first_version=model_version,
                            last_version=model_version,
                            status="active",
                            updated_at=now,
                        )
                    )
            gone = known - set(topic_ids)
            if gone:
                conn.execute(
                    update(topics)
                    .where(and_(topics.c.topic_id.in_(sorted(gone)), topics.c.status == "active"))
                    .values(status="retired", updated_at=now)
                )
            for ev in events:
                conn.execute(
                    insert(topic_events).values(
                        model_version=model_version,
                        kind=ev["kind"],
                        topic_id=ev["topic_id"],
                        other_topic_ids=",".join(ev.get("other_topic_ids", ())),
                        created_at=now,
                    )
                )

    def rename_topic(self, topic_id: str, label: str | None) -> bool:
        """Set (or clear with None) an organizer's label for a topic. False if unknown."""
        with self._write() as conn:
            result = conn.execute(
                update(topics).where(topics.c.topic_id == topic_id).values(label_override=label, updated_at=now_utc())
            )
        return bool(result.rowcount)

    def label_overrides(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(topics.c.topic_id, topics.c.label_override).where(topics.c.label_override.is_not(None))
            )
            return {r.topic_id: r.label_override for r in rows}

    def topic_events(self, topic_id: str | None = None) -> list[dict]:
        query = select(topic_events).order_by(topic_events.c.id)
        if topic_id is not None:
            query = query.where(topic_events.c.topic_id == topic_id)
        with self.engine.connect() as conn:
            return [
                {**dict(r._mapping), "other_topic_ids": [t for t in r.other_topic_ids.split(",") if t]}
                for r in conn.execute(query)
            ]

    def lineage(self) -> dict[str, str]:
        """old topic id → the topic id that carries it on (merges and splits), for following history."""
        out: dict[str, str] = {}
        for ev in self.topic_events():
            if ev["kind"] == "merge":
                for other in ev["other_topic_ids"]:
                    out[other] = ev["topic_id"]
        return out

    def add_session(
        self,
        *,
        topic_id: str,
        title: str,
        held_on: date,
        status: str,
        instructor: str | None = None,
        department: str | None = None,
        feedback_token: str | None = None,
    ) -> dict:
        with self._write() as conn:
            new_id = conn.execute(
                insert(class_sessions)
                .values(
                    topic_id=topic_id,
                    title=title,
                    held_on=held_on,
                    status=status,
                    instructor=instructor,
                    department=department,
                    feedback_token=feedback_token,
                    created_at=now_utc(),
                )
                .returning(class_sessions.c.id)
            ).scalar_one()
            row = conn.execute(select(class_sessions).where(class_sessions.c.id == new_id)).one()
        return dict(row._mapping)

    def list_sessions(self, topic_id: str | None = None) -> list[dict]:
        query = select(class_sessions).order_by(class_sessions.c.held_on, class_sessions.c.id)
        if topic_id is not None:
            query = query.where(class_sessions.c.topic_id == topic_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

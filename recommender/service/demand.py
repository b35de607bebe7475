"""The demand cache: the demand records of the served version, and the side tables ranked
with them (class sessions, label overrides, topic lineage), kept in memory and refreshed
incrementally.

Moderation, withdrawal and retention bump a counter in the store; each worker's cache checks
it at its one-second refresh and rebuilds, so a hidden or withdrawn line leaves suggestions
and quotes at once. Months purged by retention come back as synthetic demand records built
from the ``topic_month_counts`` aggregates (ids starting with ``~agg``, never shown).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from recommender.ranking import ClassSession, DemandRecord, TopicCard
from recommender.ranking.experts import ExpertEntry
from recommender.service.serving import REFRESH_OVERLAP, LoadedModel
from recommender.store import FeedbackStore

#: Demand records older than this (seconds) are read again before suggestions are ranked; the
#: web workers' background pass refreshes them at half this age, ahead of the requests.
DEMAND_MAX_AGE = 1.0
#: Prefix of the ids of demand records rebuilt from retention aggregates (never shown).
AGGREGATE_PREFIX = "~agg:"


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
class DemandSnapshot:
    """The published demand state of one model version: never changed, only replaced, so a
    reader needs no lock. ``records`` include the retention aggregates; ``stamp`` changes
    with them; ``examples`` are the model's quotes per topic still said by a visible line."""

    version: str
    records: list[DemandRecord]
    stamp: int
    examples: dict[str, tuple[str, ...]]
    checked_monotonic: float


@dataclass(frozen=True)
class SideTables:
    """Class sessions (topic ids followed through lineage), label overrides, lineage, experts."""

    checked_monotonic: float
    sessions: list[ClassSession]
    labels: dict[str, str]
    lineage: dict[str, str]
    # Organizers' corrections (service/corrections.py): topics split off since the served
    # version (cards the model does not have yet), topics merged away, pinned topics.
    split_cards: tuple[TopicCard, ...] = ()
    merged_away: frozenset[str] = frozenset()
    pinned: frozenset[str] = frozenset()
    experts: tuple[ExpertEntry, ...] = ()


class DemandCache:
    """One per process; thread-safe. Readers get the last published state without a lock."""

    def __init__(self, store: FeedbackStore, *, on_new_version: Callable[[], None] | None = None) -> None:
        """``on_new_version`` runs when the demand of another model version starts (under the
        refresh lock): the caller drops what it built on the previous version's demand."""
        self.store = store
        self._on_new_version = on_new_version
        self._demand: _Demand | None = None
        self._snapshot: DemandSnapshot | None = None  # what readers get; replaced whole
        self._demand_lock = threading.Lock()  # one refresher at a time
        self._side: SideTables | None = None
        self._side_lock = threading.Lock()

    # ------------------------------------------------------------------ demand records
    def state(self, served: LoadedModel, *, max_age: float | None = None) -> DemandSnapshot:
        """The demand of ``served``, read again from the database when older than ``max_age``
        seconds (default :data:`DEMAND_MAX_AGE`).

        Stale while revalidating: when another thread is already reading the database for
        this model version, the caller gets the last published state at once instead of
        queueing behind that read (a refresh after heavy intake can take a while, and every
        request for suggestions would wait for it). After a moderation action
        (:meth:`forget_demand`) there is no published state, so the next caller waits for
        the fresh one."""
        max_age = DEMAND_MAX_AGE if max_age is None else max_age
        snap = self._snapshot
        current = snap is not None and snap.version == served.version
        if current and time.monotonic() - snap.checked_monotonic < max_age:
            return snap
        if not self._demand_lock.acquire(blocking=not current):
            return snap
        try:
            return self._refresh_locked(served, max_age)
        finally:
            self._demand_lock.release()

    def _refresh_locked(self, served: LoadedModel, max_age: float) -> DemandSnapshot:
        d = self._demand
        if d is None or d.version != served.version:
            d = self._demand = _Demand(version=served.version)
            if self._on_new_version is not None:
                self._on_new_version()
        now_mono = time.monotonic()
        snap = self._snapshot
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
                    # Whole: a long line's label is read anywhere in it (labels.label_parts).
                    text=row.text,
                )
            d.refreshed_at = started
            d.checked_monotonic = now_mono
            if changed:
                d.stamp += 1
        if snap is None or snap.version != d.version or snap.stamp != d.stamp or snap.examples is not d.examples:
            snap = DemandSnapshot(d.version, list(d.records.values()) + d.aggregates, d.stamp, d.examples, d.checked_monotonic)
        else:
            snap = dataclasses.replace(snap, checked_monotonic=d.checked_monotonic)
        self._snapshot = snap
        return snap

    def forget_demand(self, *, also: Callable[[], None] | None = None) -> None:
        """Drop the published demand (a moderation action through this worker: it sees the
        change at once; the others at their next one-second check). ``also`` runs under the
        same lock (the caller's own caches built on the demand)."""
        with self._demand_lock:
            self._snapshot = None  # the next caller waits for the fresh state
            if also is not None:
                also()
            if self._demand is not None:
                self._demand.checked_monotonic = 0.0
                self._demand.refreshed_at = None
                self._demand.moderation = -1

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
            topic_id = follow_lineage(lineage, agg["topic_id"])
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

    # ------------------------------------------------------------------ side tables
    def side_tables(self, max_age: float | None = None) -> SideTables:
        """Class sessions, label overrides and topic lineage, read again when older than
        ``max_age`` seconds (default :data:`DEMAND_MAX_AGE`). As with the demand records, one
        thread reads while the others use the previous tables; after a change made through
        this process (a session recorded, a label set) the cache is dropped and the next
        caller waits for the new tables."""
        max_age = DEMAND_MAX_AGE if max_age is None else max_age
        cached = self._side
        if cached is not None and time.monotonic() - cached.checked_monotonic < max_age:
            return cached
        if not self._side_lock.acquire(blocking=cached is None):
            return cached
        try:
            now_mono = time.monotonic()
            cached = self._side
            if cached is not None and now_mono - cached.checked_monotonic < max_age:
                return cached
            lineage = self.store.lineage()
            sessions = [
                ClassSession(
                    topic_id=follow_lineage(lineage, s["topic_id"]),
                    held_on=s["held_on"],
                    status=s["status"],
                    title=s["title"],
                )
                for s in self.store.list_sessions()
            ]
            labels = self.store.label_overrides()
            split_cards, merged, pinned = self._corrected(labels)
            if merged:  # a class held on a topic merged away counts for the topic it joined
                sessions = [dataclasses.replace(s, topic_id=merged.get(s.topic_id, s.topic_id)) for s in sessions]
            experts = tuple(
                ExpertEntry(e["name"], e["department"], tuple(e["subjects"])) for e in self.store.list_experts()
            )
            self._side = SideTables(
                now_mono, sessions, labels, lineage, split_cards, frozenset(merged), pinned, experts=experts
            )
            return self._side
        finally:
            self._side_lock.release()

    def _corrected(self, labels: dict[str, str]) -> tuple[tuple[TopicCard, ...], dict[str, str], frozenset[str]]:
        """Cards of the topics split off by organizers, the topics merged away (→ the topic
        they joined), the pinned topics."""
        active = self.store.active_corrections()
        splits = [c for c in active if c.kind == "split" and c.topic_id]
        quotes = {r.id: r.text for r in self.store.get_many([i for c in splits for i in sorted(c.lines)[:3]])}
        cards = []
        for c in splits:
            label, _, keywords = (c.label or c.topic_id).partition(",")
            cards.append(TopicCard(
                topic_id=c.topic_id,
                label=labels.get(c.topic_id, label),
                keywords=tuple(k for k in keywords.split(",") if k),
                examples=tuple(quotes[i] for i in sorted(c.lines)[:3] if i in quotes),
            ))
        merged = {c.other_topic_id: c.topic_id for c in active if c.kind == "merge" and c.other_topic_id and c.topic_id}
        return tuple(cards), merged, frozenset(self.store.pinned_topics())

    def forget_side_tables(self) -> None:
        # Under the lock: a read that began before the change cannot publish after it.
        # (A ranking is keyed by the sessions and labels it used, so none is reused after it.)
        with self._side_lock:
            self._side = None

    def refresh(self, served: LoadedModel | None) -> None:
        """Bring demand and side tables up to date if they are half their allowed age old
        (the web workers' once-a-second pass, ahead of the requests)."""
        if served is not None:
            self.state(served, max_age=DEMAND_MAX_AGE / 2)
            self.side_tables(max_age=DEMAND_MAX_AGE / 2)

    def cards(
        self, served: LoadedModel, labels: dict[str, str], examples: dict[str, tuple[str, ...]] | None = None
    ) -> list[TopicCard]:
        """The served topic cards with the organizers' labels and only the quotes still shown;
        with the organizers' corrections: topics merged away left out, topics split off added."""
        if examples is None:
            examples = self.state(served).examples
        side = self.side_tables()
        cards = []
        for tid, card in served.cards.items():
            if tid in side.merged_away:
                continue
            shown = examples.get(tid, ())
            if tid in labels or shown != card.examples:
                card = dataclasses.replace(card, label=labels.get(tid, card.label), examples=shown)
            cards.append(card)
        cards.extend(c for c in side.split_cards if c.topic_id not in served.cards and c.topic_id not in side.merged_away)
        return cards


def follow_lineage(lineage: dict[str, str], topic_id: str) -> str:
    """The topic a (split, merged or retired) topic id lives on in, following the lineage."""
    seen = set()
    while topic_id in lineage and topic_id not in seen:
        seen.add(topic_id)
        topic_id = lineage[topic_id]
    return topic_id

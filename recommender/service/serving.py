"""The served model and the assignment pass.

Each process serves the version ``models/CURRENT`` names (hot-swapped by
:class:`recommender.retrain.hot_swap.ModelWatcher`), with what can be precomputed at swap
time (topic cards, sizes), and assigns new lines to its topics: every line the first time a
version is served here, then only new ones (see :meth:`ModelServing.assign_pending`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from recommender.errors import NoModelError
from recommender.ranking import TopicCard
from recommender.retrain.hot_swap import ModelWatcher
from recommender.retrain.registry import ModelRegistry
from recommender.store import FeedbackStore, StoredFeedback

log = logging.getLogger(__name__)

# Rows received up to this long before the last refresh are re-read, so a transaction that
# committed late (ids are not commit-ordered on PostgreSQL) is never missed.
REFRESH_OVERLAP = timedelta(seconds=60)
#: The web workers' assignment pass: a worker assigns the lines it stored itself at once, lines
#: stored elsewhere once they are ORPHAN_GRACE old (looked for every ORPHAN_CHECK_SECONDS).
ORPHAN_GRACE = timedelta(seconds=5)
ORPHAN_CHECK_SECONDS = 5.0
MAX_FRESH = 100_000


@dataclass
class LoadedModel:
    """A loaded model version with what the service precomputes at swap time."""

    version: str
    model: object
    metadata: dict
    topic_ids: list[str]
    cards: dict[str, TopicCard]
    sizes: dict[str, int]

    def assign(self, texts: list[str]) -> list[tuple[str | None, float, bool]]:
        """(topic id or None, score, asks for nothing) of each text."""
        from recommender.text.tokenize import tokenize

        tokens = [tokenize(t) for t in texts]
        labels, scores = self.model.predict_scores(texts, tokens)
        return [
            (self.topic_ids[int(label)] if int(label) >= 0 else None, float(score), not toks)
            for label, score, toks in zip(labels, scores, tokens)
        ]


def load_served_model(path: Path) -> LoadedModel:
    """Load a version folder into a LoadedModel (raises on a bad artifact)."""
    from recommender.model.persistence import load_model

    model, metadata = load_model(path)
    topic_ids = list(metadata.get("topic_ids") or [f"T{i + 1:04d}" for i in range(model.n_topics_)])
    if len(topic_ids) != model.n_topics_:
        raise ValueError(f"metadata has {len(topic_ids)} topic ids for {model.n_topics_} topics")
    cards: dict[str, TopicCard] = {}
    sizes: dict[str, int] = {}
    theme_ids = theme_ids_of(model, topic_ids)
    for index, info in enumerate(model.topics_):
        tid = topic_ids[index]
        cards[tid] = TopicCard(
            topic_id=tid,
            label=info["label"],
            keywords=tuple(info["keywords"]),
            examples=tuple(info["examples"]),
            centroid=np.asarray(model.centroids_[index]),
            theme_id=theme_ids[index],
            theme_label=info.get("theme_label") or info["label"],
        )
        sizes[tid] = int(info["size"])
    version = metadata.get("version") or Path(path).name
    return LoadedModel(version=version, model=model, metadata=metadata, topic_ids=topic_ids, cards=cards, sizes=sizes)


def theme_ids_of(model, topic_ids: list[str]) -> list[str]:
    """The theme id of each topic: "G" and the number of the theme's largest topic
    ("T0012" -> "G0012"), so a theme keeps its id while that topic does."""
    out: list[str] = []
    for info in model.topics_:
        members = next((th["topics"] for th in getattr(model, "themes_", ()) if info["topic"] in th["topics"]), [info["topic"]])
        out.append("G" + topic_ids[min(members)].lstrip("T"))
    return out


def require_model(served: LoadedModel | None) -> LoadedModel:
    """``served``, or ``NoModelError`` (the web answers 503) when no model is served yet."""
    if served is None:
        raise NoModelError("还没有训练好的模型，请先运行 `recommender train`（或 python train.py）。")
    return served


class ModelServing:
    """The model this process serves and the pass that assigns new lines to its topics."""

    def __init__(self, store: FeedbackStore, models_dir: Path, *, poll_seconds: float) -> None:
        self.store = store
        self.registry = ModelRegistry(Path(models_dir))
        self.watcher = ModelWatcher(self.registry, load_served_model, poll_seconds=poll_seconds)
        # Held while a model refresh or assignment pass runs, so close() never disposes the
        # engine under it and two passes never assign the same lines.
        self.lock = threading.Lock()
        # Set (under the lock) when the service closes its store: no refresh or pass runs after
        # it (a retrain's reaper may still call refresh_model); cleared by the next start.
        self.closed = False
        self._assigned_version: str | None = None
        self._assigned_since: datetime | None = None
        # Lines this process's intake stored, waiting for the next assignment pass.
        self._fresh: list[StoredFeedback] = []
        self._fresh_lock = threading.Lock()
        self._orphans_checked = 0.0

    def served(self) -> LoadedModel | None:
        got = self.watcher.get()
        return got[1] if got else None

    def require_model(self) -> LoadedModel:
        return require_model(self.served())

    def refresh_model(self, *, force: bool = True) -> LoadedModel | None:
        """Pick up a new current model (all workers poll this); catch up live assignments."""
        with self.lock:
            if self.closed:
                log.info("model refresh skipped: the service is closed (the next start loads the current model)")
                return None
            if force:
                self.watcher.refresh(force=True)
            else:
                self.watcher.maybe_refresh()
            current = self.served()
            if current is not None:
                # The web workers' once-a-second poll (force=False) shares the assignment
                # work: see assign_locked(shared=True).
                self.assign_locked(current, shared=not force)
            return current

    def assign_pending(self) -> int:
        """Assign new lines to the current model's topics (the web workers run this every
        second, so a line counts in suggestions about a second after it arrives)."""
        with self.lock:
            served = self.served()
            return 0 if served is None or self.closed else self.assign_locked(served)

    def hand_over(self, stored: list[StoredFeedback]) -> None:
        """Lines this process just stored: the next shared pass assigns them without reading
        them back (only while a model is served; a first pass reads everything anyway)."""
        if self._assigned_version is not None:
            with self._fresh_lock:
                if len(self._fresh) < MAX_FRESH:
                    self._fresh.extend(stored)

    def assign_rows(self, served: LoadedModel, rows: list[StoredFeedback], *, only_with_text: bool = False) -> None:
        """Run the model over ``rows`` and store their assignments under its version."""
        assigned = served.assign([r.text for r in rows])
        self.store.put_assignments(
            served.version, [(r.id, *a) for r, a in zip(rows, assigned)], only_with_text=only_with_text
        )

    def assign_locked(self, served: LoadedModel, batch: int = 2000, *, shared: bool = False) -> int:
        """Assign lines with no assignment under this version (call with :attr:`lock` held):
        all of them the first time a version is served here (lines that arrived after its
        training snapshot or while no model was served), then only lines received since the
        previous pass.

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
            self.assign_rows(served, rows)
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
            try:
                self.assign_rows(served, rows, only_with_text=True)
            except Exception:
                # A failed write (a lock timeout, a dropped connection) must not cost these
                # lines their assignment: they are tried again on the next pass.
                with self._fresh_lock:
                    self._fresh[:0] = fresh[start:]
                raise
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
                self.assign_rows(served, orphans, only_with_text=True)
                done += len(orphans)
            # Lines younger than the grace were left to their own worker: read them again next
            # time. A full read may have left some out: keep the window where it was.
            if len(rows) < batch:
                self._assigned_since = cutoff
            self._orphans_checked = now_mono
        if done:
            log.debug("assigned %d feedback lines to model %s", done, served.version)
        return done

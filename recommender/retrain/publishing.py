"""Publishing a trained model, shared by both engines: the ``TrainResult``, the minimum-rows
check, the tokenizer fingerprint (cached tokens are reused only under the same one), how
a line's current topic becomes its prior in the next fit (``topic_number``,
``PriorTopics``) and ``publish_version`` (write, assign, record topics, switch
``CURRENT``, prune).

Both :mod:`recommender.retrain.pipeline` (the local engine) and
:mod:`recommender.retrain.dask_engine` import this module; neither imports the other's
internals, and this module imports neither.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from recommender.config import Settings
from recommender.errors import NotEnoughFeedback
from recommender.model.discovery import NEW_LINE
from recommender.retrain.quotes import scrub_versions
from recommender.retrain.registry import ModelRegistry
from recommender.store import FeedbackStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    version: str
    n_rows: int
    n_topics: int
    n_noise: int
    tokenized: int
    seconds: float
    events: list[dict]
    kept_ids: int
    #: True when nothing was new since the current version (no line added, withdrawn or
    #: hidden, same tokenizer and model): that version was kept as it is, ``version`` names it.
    unchanged: bool = False


def topic_number(topic_id: str) -> int:
    """The number of a stable topic id ("T0012" -> 12): how both engines pass a line's
    topic under the current version to ``TopicModel.fit`` as its prior."""
    return int("".join(ch for ch in topic_id if ch.isdigit()) or -1)


def continued_ids(model, previous_ids: Sequence[str]) -> list[str | None]:
    """The previous topic id each of ``model``'s topics continues (its ``prior`` number, see
    :func:`topic_number`; None for a new topic or one whose id is not among ``previous_ids``):
    both engines pass it to the identity match, which keeps those pairs."""
    by_number = {topic_number(t): t for t in previous_ids}
    return [by_number.get(int(t.get("prior", -1))) if int(t.get("prior", -1)) >= 0 else None for t in model.topics_]


@dataclass(frozen=True)
class PriorTopics:
    """The current version's topics as the prior of the next fit, for the Dask engine's
    workers and ``pipeline.previous_labels``): each line's topic number under ``version``
    (-1: none; ``NEW_LINE``: none, and received after the version's data), and the numbers of
    the topics kept whatever their lines look like (``TopicModel.fit``'s ``pinned``)."""

    version: str
    topic_ids: tuple[str, ...]  # the version's topics (to name a number's topic again)
    pinned: frozenset[int] = frozenset()
    received_until: datetime | None = None  # the newest line the version learned from

    def numbers(self, topic_ids: Sequence[str | None], received_at: Sequence[datetime] | None = None) -> np.ndarray:
        """The prior of lines whose topic under ``version`` is ``topic_ids`` (None: none),
        received at ``received_at`` (when given: lines in no topic that came after the
        version's data are ``NEW_LINE``)."""
        until = self.received_until

        def number(k: int, t: str | None) -> int:
            if t is not None:
                return topic_number(t)
            if received_at is not None and until is not None and received_at[k] > until:
                return NEW_LINE
            return -1

        return np.fromiter((number(k, t) for k, t in enumerate(topic_ids)), dtype=np.int64, count=len(topic_ids))


def prior_topics(registry: ModelRegistry, pinned: frozenset[int] = frozenset()) -> PriorTopics | None:
    """The current version's :class:`PriorTopics` (None before the first model)."""
    current = registry.current_version()
    if current is None:
        return None
    metadata = registry.show(current).metadata
    until = (metadata.get("data_window") or {}).get("received_until")
    return PriorTopics(
        current, tuple(metadata.get("topic_ids") or ()), pinned,
        received_until=datetime.fromisoformat(until) if until else None,
    )


def protected_numbers(store: FeedbackStore) -> frozenset[int]:
    """The numbers of the topics the organizers' corrections keep (pinned, or holding lines
    a correction put there): ``TopicModel.fit``'s ``pinned`` in both engines."""
    return frozenset(topic_number(t) for t in store.protected_topics())


def reapply_to_current(store: FeedbackStore, registry: ModelRegistry) -> int:
    """After the current pointer moved to an existing version (a rollback): the organizers'
    corrections made since that version was trained apply to it too. Returns lines placed."""
    current = registry.current_version()
    if current is None:
        return 0
    return store.reapply_corrections(current, set(registry.show(current).metadata.get("topic_ids") or ()))


def training_signature(ids: Sequence[int], fingerprint: str, model, corrections: Sequence[int] = ()) -> str:
    """What a retrain learns from: the lines (their ids; a line's text never changes, a
    withdrawn or hidden one leaves the set), the tokenizer and the model's code and
    parameters, and the organizers' corrections in force (``corrections``: their ids; a
    correction made or undone is something new to learn). Saved with each version: a retrain
    whose signature equals the current version's has nothing new to learn and keeps that
    version (:func:`unchanged_result`)."""
    from recommender import model as model_package

    digest = hashlib.sha256()
    digest.update(fingerprint.encode())
    digest.update(repr(sorted(model.get_params().items())).encode())
    for module in sorted(Path(model_package.__file__).parent.glob("*.py")):
        digest.update(module.read_bytes())
    digest.update(np.asarray(sorted(ids), dtype=np.int64).tobytes())
    if corrections:
        digest.update(b"corrections" + np.asarray(sorted(corrections), dtype=np.int64).tobytes())
    return digest.hexdigest()[:32]


def nothing_new(
    store: FeedbackStore, registry: ModelRegistry, ids: Sequence[int], fingerprint: str, model, *, force: bool
) -> tuple[str, TrainResult | None]:
    """The signature of a retrain on the lines ``ids`` (corrections in force included) and,
    unless ``force``, the current version as an ``unchanged`` result when it was trained on
    exactly that: what both engines check before they fit."""
    signature = training_signature(ids, fingerprint, model, correction_ids(store))
    return signature, None if force else unchanged_result(registry, signature)


def correction_ids(store: FeedbackStore) -> list[int]:
    """The ids of the organizers' corrections in force (part of :func:`training_signature`)."""
    return [c.id for c in store.active_corrections()]


def unchanged_result(registry: ModelRegistry, signature: str) -> TrainResult | None:
    """The current version as a ``TrainResult`` (``unchanged``) when it was trained on
    exactly what ``signature`` describes; None otherwise (or when no version is current)."""
    current = registry.current_version()
    if current is None:
        return None
    try:
        metadata = registry.show(current).metadata
    except Exception:  # noqa: BLE001 - an unreadable version is no reason to skip a retrain
        return None
    if metadata.get("training_signature") != signature:
        return None
    log.info("nothing new since model %s (same lines, tokenizer and model): it stays current", current)
    return TrainResult(
        version=current,
        n_rows=int(metadata.get("n_rows", 0)),
        n_topics=int(metadata.get("n_topics", 0)),
        n_noise=int(metadata.get("n_noise", 0)),
        tokenized=0,
        seconds=0.0,
        events=[],
        kept_ids=int(metadata.get("n_topics", 0)),
        unchanged=True,
    )


def check_enough(n_rows: int, settings: Settings) -> None:
    if n_rows < settings.min_train_rows:
        raise NotEnoughFeedback(
            f"只有 {n_rows} 条反馈，至少需要 {settings.min_train_rows} 条（设置 RECOMMENDER_MIN_TRAIN_ROWS），"
            f"没有生成新模型。",
            rows=n_rows,
            needed=settings.min_train_rows,
        )


def publish_version(
    store: FeedbackStore,
    settings: Settings,
    registry: ModelRegistry,
    model,
    identity,
    *,
    n_rows: int,
    received_until,
    fingerprint: str,
    tokenized: int,
    started: float,
    write_assignments: Callable[[str, list[str]], None],
    extra: dict | None = None,
) -> TrainResult:
    """Write the new version (not yet current), store every line's assignment under it,
    record the topics, then switch the pointer and prune: a crash before the switch leaves
    the previous model serving. Shared by both engines."""
    from recommender.model.persistence import save_model

    labels = np.asarray(model.labels_)
    n_topics = int(model.n_topics_)
    topic_ids = list(identity.topic_ids)
    kept = sum(1 for e in identity.events if e["kind"] == "kept")
    lo, hi = store.time_range(visible_only=True)
    metadata = {
        "topic_ids": topic_ids,
        "n_rows": n_rows,
        "n_topics": n_topics,
        "n_noise": int((labels < 0).sum()),
        "data_window": {
            "submitted_from": lo.isoformat() if lo else None,
            "submitted_until": hi.isoformat() if hi else None,
            "received_until": received_until.isoformat() if received_until else None,
        },
        "tokenizer": fingerprint,
        "identity_events": identity.events,
        "train_seconds": round(time.perf_counter() - started, 3),
        **(extra or {}),
    }
    version = registry.publish(lambda d: save_model(model, d, metadata), metadata, make_current=False)
    write_assignments(version, topic_ids)
    # The organizers' corrections last: each corrected line goes where they put it.
    placed = store.reapply_corrections(version, topic_ids)
    if placed:
        log.info("%d corrected lines put back where the organizers put them", placed)
    store.record_topics(version, topic_ids, [e for e in identity.events if e["kind"] != "kept"])
    registry.set_current(version)
    removed = registry.prune(settings.keep_versions)
    store.drop_assignments([v.version for v in registry.list_versions()])
    try:  # a line withdrawn while this retrain read the store is not quoted by any version
        scrub_versions(registry, store.texts_with_text, only=[version])
    except Exception:  # noqa: BLE001 - the new model is in service; the next scrub retries
        log.exception("dropping quotes of withdrawn feedback from saved models failed")
    seconds = time.perf_counter() - started
    log.info(
        "model %s is current: %d lines, %d topics (%d kept their id), %d fit no topic, %.1fs; pruned %s",
        version,
        n_rows,
        n_topics,
        kept,
        metadata["n_noise"],
        seconds,
        removed or "nothing",
    )
    return TrainResult(
        version=version,
        n_rows=n_rows,
        n_topics=n_topics,
        n_noise=metadata["n_noise"],
        tokenized=tokenized,
        seconds=seconds,
        events=identity.events,
        kept_ids=kept,
    )


def tokenizer_fingerprint(settings: Settings) -> str:
    """A short hash of everything that decides a line's tokens (jieba version, tokenizer
    code, stop words, user dictionaries): cached tokens are reused only while it is equal."""
    import importlib

    import jieba

    # import_module: the package re-exports a function named `tokenize` over the module.
    tokenize = importlib.import_module("recommender.text.tokenize")
    stopwords = importlib.import_module("recommender.text.stopwords")
    digest = hashlib.sha256()
    digest.update(jieba.__version__.encode())
    for module in (tokenize, stopwords):
        digest.update(Path(module.__file__).read_bytes())
    digest.update("\n".join(sorted(stopwords.stop_words())).encode())
    digest.update("\n".join(sorted(stopwords.class_words())).encode())
    digest.update("\n".join(sorted(stopwords.class_things())).encode())
    for path in (tokenize.PROJECT_USER_DICT, settings.user_dict):
        if path is not None and Path(path).is_file():
            digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]

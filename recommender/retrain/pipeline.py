"""The retrain pipeline: store → tokens (cached) → TopicModel → stable topic ids → new version.

``train_from_store`` is what ``recommender train``, ``python train.py``, the admin endpoint
and the monthly timer all run. It holds the retrain lock for its whole run, writes the new
version under a temporary name, stores every line's assignment under the new version and
only then switches the ``current`` pointer, so a crash at any point leaves the previous
model serving.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from recommender.config import Settings
from recommender.retrain.lock import retrain_lock
from recommender.retrain.publishing import (
    TrainResult,
    check_enough,
    continued_ids,
    prior_topics,
    protected_numbers,
    publish_version,
    tokenizer_fingerprint,
    nothing_new,
)
from recommender.retrain.registry import ModelRegistry
from recommender.retrain.topic_identity import PreviousTopics, match_topics
from recommender.store import FeedbackStore, StoredFeedback

log = logging.getLogger(__name__)


def lock_path(settings: Settings) -> Path:
    """The retrain lock of ``settings.models_dir`` (the registry names it)."""
    return ModelRegistry(Path(settings.models_dir)).lock_path


def train_from_store(
    store: FeedbackStore,
    settings: Settings,
    *,
    progress: bool = True,
    model_factory: Callable[[], object] | None = None,
    blas_threads: int | None = None,
    actor: str | None = None,
    engine: str | None = None,
    dask_client: object | None = None,
    on_stage: Callable[[str], None] | None = None,
    force: bool = False,
) -> TrainResult:
    """Retrain from every stored feedback line and make the result current.

    With nothing new since the current version (the same lines, tokenizer and model: see
    ``publishing.training_signature``) the current version stays and the result says
    ``unchanged``; ``force`` fits and publishes anyway.

    ``engine`` ("local" or "dask"; default ``settings.train_engine``) says where the model
    is fitted: in this process, or on the Dask cluster of ``settings.dask_scheduler`` (or
    ``dask_client``). Both give the same kind of model, published the same way.

    Raises ``RetrainInProgress`` when another retrain runs and ``NotEnoughFeedback`` when
    the store holds fewer than ``settings.min_train_rows`` lines; the current model is
    untouched in both cases, and whenever the retrain fails.
    """
    engine = engine or settings.train_engine
    if engine not in ("local", "dask"):
        raise ValueError(f"unknown training engine {engine!r}: use 'local' or 'dask'")
    registry = ModelRegistry(Path(settings.models_dir))
    with retrain_lock(lock_path(settings)):
        if engine == "dask":
            from recommender.retrain.dask_engine import train_on_dask

            result = train_on_dask(
                store, settings, registry, progress=progress, model_factory=model_factory,
                client=dask_client, on_stage=on_stage, force=force,
            )
        else:
            result = _train_locked(store, settings, registry, progress, model_factory, blas_threads, force)
    if actor is not None:  # the audit log: who retrained, and what came out
        store.audit(
            actor, "retrain", result.version,
            {"rows": result.n_rows, "topics": result.n_topics, "noise": result.n_noise, "kept_ids": result.kept_ids,
             "engine": engine, **({"unchanged": True} if result.unchanged else {})},
        )
    return result


def _train_locked(store, settings, registry, progress, model_factory, blas_threads, force=False) -> TrainResult:
    from recommender.model.topic_model import FIT_STEPS, TopicModel
    from recommender.text.tokenize import PARALLEL_MIN_TEXTS, tokenize, tokenize_many

    started = time.perf_counter()
    rows: list[StoredFeedback] = list(
        # Only lines that count: hidden, flagged, withdrawn and purged lines are not learned from.
        tqdm(store.iter_feedback(statuses=("visible",)), desc="读取反馈", unit="条", disable=not progress, leave=False)
    )
    check_enough(len(rows), settings)
    texts = [r.text for r in rows]
    ids = [r.id for r in rows]

    fingerprint = tokenizer_fingerprint(settings)
    model = model_factory() if model_factory else TopicModel(random_state=0)
    signature, kept = nothing_new(store, registry, ids, fingerprint, model, force=force)
    if kept is not None:
        return kept
    cached = store.get_tokens(ids, fingerprint)
    missing = [r for r in rows if r.id not in cached]
    fresh: dict[int, list[str]] = {}
    if len(missing) >= PARALLEL_MIN_TEXTS and (settings.train_threads or 0) > 1:
        log.info("tokenizing %d lines in %d processes", len(missing), settings.train_threads)
        fresh = dict(zip((r.id for r in missing), tokenize_many([r.text for r in missing], settings.train_threads)))
    else:
        for r in tqdm(missing, desc="分词", unit="条", disable=not progress or not missing):
            fresh[r.id] = tokenize(r.text)
    store.put_tokens(fresh, fingerprint)
    cached.update(fresh)
    tokens = [cached[i] for i in ids]
    log.info("tokens: %d cached, %d tokenized now", len(rows) - len(missing), len(missing))

    prior = previous_labels(store, registry, ids, [r.received_at for r in rows])
    log.info(
        "fitting topic model on %d feedback lines (%d in a topic of the current model)",
        len(rows), int((prior >= 0).sum()) if prior is not None else 0,
    )
    limit = threadpool_limits(limits=blas_threads) if blas_threads else contextlib.nullcontext()
    with limit, tqdm(total=len(FIT_STEPS), desc="训练模型", unit="步", disable=not progress, leave=False) as bar:

        def step(name: str) -> None:  # tqdm writes to stderr: stdout keeps only the result
            bar.set_postfix_str(name, refresh=False)
            bar.update(1)

        pinned = protected_numbers(store) if prior is not None else frozenset()
        # The topics organizers pinned or corrected are kept (only when there is a prior to keep).
        model.fit(texts, tokens=tokens, prior_labels=prior, progress=step, **({"pinned": pinned} if pinned else {}))
        vectors = model.transform(texts, tokens=tokens)  # the previous topics' centroids in the new space
        scores = np.asarray(model.scores_)  # what serving writes for new lines too
    labels = np.asarray(model.labels_)
    n_topics = int(model.n_topics_)

    previous = _previous_topics(store, registry, vectors, ids)
    new_members = [set() for _ in range(n_topics)]
    for fid, label in zip(ids, labels):
        if label >= 0:
            new_members[int(label)].add(str(fid))
    fresh_ids = iter(store.next_topic_ids(n_topics))
    identity = match_topics(
        previous,
        new_members,
        np.asarray(model.centroids_),
        next_id=lambda: next(fresh_ids),
        prev_centroids_in_new_space=previous.centroids if previous is not None else None,
        universe={str(i) for i in ids},
        continues=continued_ids(model, previous.topic_ids) if previous is not None else None,
    )

    def write_assignments(version: str, topic_ids: list[str]) -> None:
        topic_of = [topic_ids[int(lab)] if lab >= 0 else None for lab in labels]
        # A line without a topic word asks for nothing (thanks, praise): never demand.
        store.put_assignments(version, zip(ids, topic_of, (float(s) for s in scores), (not t for t in tokens)))

    return publish_version(
        store, settings, registry, model, identity,
        n_rows=len(rows),
        received_until=max(r.received_at for r in rows),
        fingerprint=fingerprint,
        tokenized=len(missing),
        started=started,
        write_assignments=write_assignments,
        extra={"training_signature": signature},
    )


def previous_labels(
    store: FeedbackStore, registry: ModelRegistry, ids: list[int], received_at: list | None = None
) -> np.ndarray | None:
    """Each line's topic under the current version as a number (the digits of its stable id,
    "T0012" -> 12; -1: none; ``NEW_LINE``: none, and received after that version's data when
    ``received_at`` is given), the ``prior_labels`` that let the model carry topics over;
    None when no version is current."""
    prior = prior_topics(registry)
    if prior is None:
        return None
    topic_of = {row.id: topic_id for row, topic_id, _ in store.assignment_rows(prior.version)}
    return prior.numbers([topic_of.get(i) for i in ids], received_at)


def _previous_topics(store, registry, vectors: np.ndarray, ids: list[int]) -> PreviousTopics | None:
    """The current version's topics with their members, and their centroids re-computed in
    the new model's space (mean of the members' new vectors), so both signals compare."""
    current = registry.current_version()
    if current is None:
        return None
    members: dict[str, set[str]] = {}
    for row, topic_id, _ in store.assignment_rows(current):
        if topic_id is not None:
            members.setdefault(topic_id, set()).add(str(row.id))
    if not members:
        return None
    position = {str(fid): i for i, fid in enumerate(ids)}
    topic_ids = sorted(members)
    centroids = np.zeros((len(topic_ids), vectors.shape[1]))
    for k, tid in enumerate(topic_ids):
        rows = [position[m] for m in members[tid] if m in position]
        if rows:
            c = vectors[rows].mean(axis=0)
            norm = np.linalg.norm(c)
            centroids[k] = c / norm if norm > 0 else c
    return PreviousTopics(topic_ids=topic_ids, members=[members[t] for t in topic_ids], centroids=centroids)

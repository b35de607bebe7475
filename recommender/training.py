"""The retrain pipeline: store → tokens (cached) → TopicModel → stable topic ids → new version.

``train_from_store`` is what ``recommender train``, ``python train.py``, the admin endpoint
and the monthly timer all run. It holds the retrain lock for its whole run, writes the new
version under a temporary name, stores every line's assignment under the new version and
only then switches the ``current`` pointer, so a crash at any point leaves the previous
model serving.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from recommender.config import Settings
from recommender.errors import NotEnoughFeedback
from recommender.identity import PreviousTopics, match_topics
from recommender.lifecycle import ModelRegistry, retrain_lock
from recommender.store import FeedbackStore, StoredFeedback

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


def lock_path(settings: Settings) -> Path:
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
) -> TrainResult:
    """Retrain from every stored feedback line and make the result current.

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
            from recommender.dask_training import train_on_dask

            result = train_on_dask(
                store, settings, registry, progress=progress, model_factory=model_factory,
                client=dask_client, on_stage=on_stage,
            )
        else:
            result = _train_locked(store, settings, registry, progress, model_factory, blas_threads)
    if actor is not None:  # the audit log: who retrained, and what came out
        store.audit(
            actor, "retrain", result.version,
            {"rows": result.n_rows, "topics": result.n_topics, "noise": result.n_noise, "kept_ids": result.kept_ids,
             "engine": engine},
        )
    return result


def _train_locked(store, settings, registry, progress, model_factory, blas_threads) -> TrainResult:
    from recommender.model.topic_model import TopicModel
    from recommender.text.tokenize import tokenize

    started = time.perf_counter()
    rows: list[StoredFeedback] = list(
        # Only lines that count: hidden, flagged, withdrawn and purged lines are not learned from.
        tqdm(store.iter_feedback(statuses=("visible",)), desc="读取反馈", unit="条", disable=not progress, leave=False)
    )
    check_enough(len(rows), settings)
    texts = [r.text for r in rows]
    ids = [r.id for r in rows]

    fingerprint = tokenizer_fingerprint(settings)
    cached = store.get_tokens(ids, fingerprint)
    missing = [r for r in rows if r.id not in cached]
    fresh: dict[int, list[str]] = {}
    for r in tqdm(missing, desc="分词", unit="条", disable=not progress or not missing):
        fresh[r.id] = tokenize(r.text)
    store.put_tokens(fresh, fingerprint)
    cached.update(fresh)
    tokens = [cached[i] for i in ids]
    log.info("tokens: %d cached, %d tokenized now", len(rows) - len(missing), len(missing))

    model = model_factory() if model_factory else TopicModel(random_state=0)
    log.info("fitting topic model on %d feedback lines", len(rows))
    limit = threadpool_limits(limits=blas_threads) if blas_threads else contextlib.nullcontext()
    with limit:
        model.fit(texts, tokens=tokens)
        vectors = model.transform(texts, tokens=tokens)
        # Each line's best cosine, as predict_scores gives it (one latent pass, not two).
        scores = (vectors @ np.asarray(model.centroids_).T).max(axis=1)
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
    )

    def write_assignments(version: str, topic_ids: list[str]) -> None:
        topic_of = [topic_ids[int(lab)] if lab >= 0 else None for lab in labels]
        store.put_assignments(version, zip(ids, topic_of, (float(s) for s in scores)))

    return publish_version(
        store, settings, registry, model, identity,
        n_rows=len(rows),
        received_until=max(r.received_at for r in rows),
        fingerprint=fingerprint,
        tokenized=len(missing),
        started=started,
        write_assignments=write_assignments,
    )


def check_enough(n_rows: int, settings: Settings) -> None:
    if n_rows < settings.min_train_rows:
        raise NotEnoughFeedback(
            f"only {n_rows} feedback lines stored; at least {settings.min_train_rows} are needed "
            f"(setting RECOMMENDER_MIN_TRAIN_ROWS). The current model is kept."
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
    store.record_topics(version, topic_ids, [e for e in identity.events if e["kind"] != "kept"])
    registry.set_current(version)
    removed = registry.prune(settings.keep_versions)
    store.drop_assignments([v.version for v in registry.list_versions()])
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
    for path in (tokenize.PROJECT_USER_DICT, settings.user_dict):
        if path is not None and Path(path).is_file():
            digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


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

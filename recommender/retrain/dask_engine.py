"""Training on a Dask cluster: ``recommender train --engine dask --scheduler ADDRESS``.

The same :class:`~recommender.model.topic_model.TopicModel`, fitted with the feedback spread
over Dask workers so that no process ever holds every text. ``TopicModel.fit`` is a
sequence of public steps (``recommender.model.fit_steps``); this engine runs the same steps,
each either on a sample the client draws exactly as the local engine draws it, or on every
partition with partial results that add up, so both engines give the same model on the
same data (``tests/test_dask_engine.py``):

==============================  ============================================================
step                            where it runs
==============================  ============================================================
read feedback, previous topics  workers, one id range per partition (``dask_partition_rows``)
jieba tokens                    workers (cached tokens reused; user dictionary shipped to them)
term counts                     workers count; counts are added up per term bucket
hash-chosen samples             workers count (text hash, copies); the client draws each
                                sample from those counts as ``clustering.hash_sample`` does
                                and fetches its lines (every line when there are fewer)
vectorizers and latent basis    client: ``fit_representation`` on the 20,000-line SVD sample
topics (``discover``)           client, on the 12,000-line discovery sample only
                                (``partition`` on the 20,000-line sample with ``n_topics``)
assignment, topic statistics    workers: ``TopicIndex.assign`` and ``topic_stats`` per
                                partition; the statistics are added up on the workers
descriptions (``finish``)       client, from the summed statistics and every line's topic
                                and score (16 bytes a line)
stable topic ids                workers count (previous topic × new topic) overlaps and sum
                                vectors per previous topic; client matches
assignments                     workers write their partition's rows
==============================  ============================================================

Partitions are id ranges in the store's order; the samples the client fits on depend only
on the multiset of lines and come in ``clustering.canonical_order`` (by text hash), the
order ``TopicModel.fit`` puts its lines in, so neither engine depends on the order of the
lines and both give the same topics. Every task is retried (``retries``) and the
scheduler recomputes lost partitions from their lineage when a worker dies; when the
retrain fails anyway, nothing was published and the current model keeps serving. The
worker-side tasks live in ``dask_partitions.py``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from recommender.config import Settings
from recommender.model import fit_steps as steps
from recommender.model.clustering import SVD_SAMPLE, canonical_order
from recommender.model.vocabulary import merge_counts
from recommender.retrain.dask_partitions import (
    N_BUCKETS,
    DaskTrainingError,
    Line,
    assign_partition,
    bucket_distinct,
    bucket_smallest,
    bucket_take,
    labels_and_scores,
    load_partition,
    partition_summary,
    partition_terms,
    pick,
    prepare_worker,
    reduce_hashes,
    reduce_stats,
    reduce_terms,
    sample_lines,
    word_hash_counts,
    write_assignments,
)
from recommender.retrain.publishing import PriorTopics, continued_ids, topic_number

__all__ = [
    "DaskFit", "DaskTrainer", "DaskTrainingError", "dask_client", "partition_bounds", "prepare_worker", "train_on_dask",
]

log = logging.getLogger(__name__)

# Retries of each task (a worker that dies takes its running tasks with it).
TASK_RETRIES = 3
# Partial topic statistics added up per task (a tree of such sums over the partitions).
STATS_FAN_IN = 4


@contextlib.contextmanager
def dask_client(settings: Settings) -> Iterator[object]:
    """A client of ``settings.dask_scheduler``, or of a local cluster (2 worker processes)
    when no scheduler is set."""
    from distributed import Client, LocalCluster

    address = settings.dask_scheduler
    if address:
        try:
            client = Client(address, timeout=settings.dask_connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise DaskTrainingError(f"连不上 Dask 调度器 {address}（{exc}）") from exc
        with client:
            yield client
        return
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as client:
            yield client


@dataclass
class DaskFit:
    """A fitted model and, on the workers, every partition's lines and assignments."""

    model: object
    loaded: list  # futures of dask_partitions.Loaded
    assigned: list  # futures of dask_partitions.Assigned (topics numbered as in the index)
    order: list[int]  # the index's topics in the model's order (largest first)
    k: int  # topics of the index
    n_rows: int
    received_until: object  # latest received_at of the lines learned from
    tokenized: int  # lines that were not in the token cache


class DaskTrainer:
    """Fits a TopicModel on a Dask cluster from the feedback in a store."""

    def __init__(
        self,
        client,
        settings: Settings,
        *,
        progress: bool = True,
        on_stage: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.progress = progress
        self.on_stage = on_stage or (lambda stage: None)

    # -- helpers ----------------------------------------------------------------
    def submit(self, fn, *args):
        return self.client.submit(fn, *args, retries=TASK_RETRIES, pure=False)

    def gather(self, futures, desc: str | None = None):
        from distributed import as_completed
        from tqdm import tqdm

        futures = list(futures)
        if desc is not None and self.progress and len(futures) > 1:
            with tqdm(total=len(futures), desc=desc, unit="块", leave=False) as bar:
                for _ in as_completed(futures):
                    bar.update(1)
        return self.client.gather(futures)

    def stage(self, name: str) -> None:
        log.info("dask retrain: %s", name)
        self.on_stage(name)

    def _client_threads(self, params: dict):
        """BLAS threads of the client's steps: the local engine's (``max_threads`` inside
        the retrain's ``train_threads``). Their count changes the last bits of an SVD, and
        through them which of two near-equal topics wins, so both engines use the same."""
        return threadpool_limits(limits=params["max_threads"] or self.settings.train_threads or None)

    def _buckets(self, per_partition: list) -> list:
        """Futures of the ``N_BUCKETS`` (hash, copies) buckets added up over partitions."""
        return [self.submit(reduce_hashes, *[self.submit(pick, p, j) for p in per_partition]) for j in range(N_BUCKETS)]

    def _sample(self, loaded: list, buckets: list, n_lines: int, size: int) -> list[Line]:
        """The lines of ``hash_sample(hashes, size)`` over the lines with topic words taken
        in ``clustering.canonical_order`` (as ``TopicModel.fit`` takes them), in its order:
        every line in that order when there are no more than ``size``; else by text hash,
        the copies of a text by previous topic, then in row order."""
        if n_lines <= size:
            parts = self.gather([self.submit(sample_lines, p, None) for p in loaded])
            lines = [line for part in parts for line in part]
            hashes = np.array([line.hash for line in lines], dtype=np.uint64)
            order = canonical_order(hashes, [line.prior for line in lines])
            return [lines[i] for i in order]
        keys = np.sort(np.concatenate(self.gather([self.submit(bucket_smallest, b, size) for b in buckets])))
        takes = self.gather([self.submit(bucket_take, b, keys[size - 1]) for b in buckets])
        hashes = np.concatenate([t[0] for t in takes])
        copies = np.concatenate([t[1] for t in takes])
        order = np.argsort(hashes, kind="stable")
        hashes, copies = hashes[order], copies[order]
        found: dict[int, list[Line]] = {}
        chosen = (hashes, copies)  # sample-sized: part of each task, so a lost task can run again
        for part in self.gather([self.submit(sample_lines, p, chosen) for p in loaded]):  # partitions in row order
            for h, lines in part.items():
                found.setdefault(h, []).extend(lines)
        return [
            line for h, c in zip(hashes.tolist(), copies.tolist())
            for line in sorted(found[h], key=lambda line: line.prior)[:c]  # stable: row order within a prior
        ]

    def _sum_stats(self, parts: list):
        """The partitions' topic statistics added up on the workers (a tree of sums)."""
        while len(parts) > 1:
            groups = [parts[i : i + STATS_FAN_IN] for i in range(0, len(parts), STATS_FAN_IN)]
            parts = [self.submit(reduce_stats, *group) for group in groups]
        return parts[0].result()

    # -- the fit ------------------------------------------------------------------
    def fit(
        self,
        model,
        ids: Sequence[int],
        *,
        fingerprint: str,
        user_dict: bytes | None,
        previous: PriorTopics | None = None,
        use_prior: bool = True,
    ) -> DaskFit:
        """Fit ``model`` (an unfitted TopicModel) on the visible feedback lines ``ids``
        (ascending), which the workers read from the store in id ranges. ``previous``: the
        current version, whose assignments the workers read (for the topic identity) and,
        with ``use_prior``, the fit continues: each line's topic under it and the pinned
        topics, as ``TopicModel.fit(prior_labels=..., pinned=...)`` takes them."""
        started = time.perf_counter()
        params = model.get_params()
        self.stage("partitions")
        bounds = partition_bounds(ids, self.settings.dask_partition_rows)
        url = self.settings.database_url
        loaded = [self.submit(load_partition, url, a, b, fingerprint, user_dict, previous) for a, b in bounds]
        summaries = self.gather([self.submit(partition_summary, p) for p in loaded], "读取与分词")
        n_rows = sum(s[0] for s in summaries)
        n_docs = sum(s[1] for s in summaries)
        log.info("dask retrain: %d lines (%d with topic words) in %d partitions", n_rows, n_docs, len(loaded))
        steps.check_rows(n_docs, params["n_topics"])

        rep, buckets, svd = self._representation(params, loaded, n_docs)
        prior = previous if use_prior else None
        pinned = prior.pinned if prior is not None else frozenset()
        generic, index, priors = self._topics(params, rep, loaded, buckets, n_docs, svd, prior, pinned)
        del svd, buckets

        # On every worker (a copy survives a worker's death) before the stage starts.
        [learned] = self.client.scatter([(rep, index, generic)], broadcast=True, hash=False)
        self.stage("assignment")
        # Each line's previous topic counts as its prior when a topic of the index continues it.
        row_prior = None if prior is None else {p: t for t, p in enumerate(priors) if p >= 0}
        results = [self.submit(assign_partition, p, learned, row_prior) for p in loaded]
        assigned = [self.submit(pick, r, 0) for r in results]
        stats = self._sum_stats([self.submit(pick, r, 1) for r in results])
        del results
        parts = self.gather([self.submit(labels_and_scores, a) for a in assigned], "分配")
        order = steps.order_by_size(stats.sizes, keep={t for t, p in enumerate(priors) if p in pinned})
        labels = steps.renumber(np.concatenate([p[0] for p in parts]), order, index.n_topics)
        scores = np.concatenate([p[1] for p in parts])
        del parts

        self.stage("descriptions")
        with self._client_threads(params):
            fitted = steps.finish(
                params, rep, index.subset(order), generic, [priors[t] for t in order], labels, scores,
                stats.subset(order),
            )
        model.set_fitted(fitted)
        model.fit_seconds_ = time.perf_counter() - started
        log.info(
            "dask retrain: fitted %d topics in %d themes on %d lines (%d in no topic) in %.1f s",
            model.n_topics_, len(model.themes_), n_rows, int((labels < 0).sum()), model.fit_seconds_,
        )
        return DaskFit(
            model=model, loaded=loaded, assigned=assigned, order=order, k=index.n_topics, n_rows=n_rows,
            received_until=max((s[2] for s in summaries if s[2] is not None), default=None),
            tokenized=sum(s[3] for s in summaries),
        )

    def _representation(self, params: dict, loaded: list, n_docs: int):
        """``fit_representation`` from the summed term counts and the SVD sample; also the
        (hash, copies) buckets the samples are drawn from, and the SVD sample's lines."""
        self.stage("vocabulary")
        templates = steps.templates(params, n_docs)
        terms = [self.submit(partition_terms, p, templates) for p in loaded]
        counts = []
        for b, vec in enumerate(templates):
            reduced = [
                self.submit(reduce_terms, vec.min_df, vec.max_features, *[self.submit(pick, t, b, j) for t in terms])
                for j in range(N_BUCKETS)
            ]
            counts.append(merge_counts(self.gather(reduced)))
        distinct = self._buckets([self.submit(pick, t, len(templates)) for t in terms])
        n_distinct = sum(self.gather([self.submit(bucket_distinct, b) for b in distinct]))

        self.stage("latent basis")
        buckets = self._buckets([self.submit(word_hash_counts, p) for p in loaded])
        svd = self._sample(loaded, buckets, n_docs, SVD_SAMPLE)
        with self._client_threads(params):
            rep = steps.fit_representation(
                params, counts, n_docs, [line.tokens for line in svd], [line.segments for line in svd], n_distinct
            )
        return rep, buckets, svd

    def _topics(self, params: dict, rep, loaded: list, buckets: list, n_docs: int, svd: list[Line], prior, pinned):
        """``discover`` on the discovery sample (setting ``rep.weights``), or ``partition``
        with a fixed ``n_topics``: the generic words, the index, each topic's prior."""
        if params["n_topics"] is not None:
            self.stage("partition")
            lines = svd if steps.PARTITION_SAMPLE == SVD_SAMPLE else self._sample(
                loaded, buckets, n_docs, steps.PARTITION_SAMPLE
            )
            X = rep.features([line.tokens for line in lines], [line.segments for line in lines])
            with self._client_threads(params):
                index = steps.partition(params, rep, X, np.array([line.hash for line in lines], dtype=np.uint64))
            return frozenset(), index, [-1] * index.n_topics
        self.stage("topics")
        lines = self._sample(loaded, buckets, n_docs, steps.DISCOVERY_SAMPLE)
        hashes = np.array([line.hash for line in lines], dtype=np.uint64)
        # In sample order, the first DISCOVERY_COPIES copies of a text, as discovery_rows keeps them.
        keep = steps.discovery_rows(hashes, size=len(lines))
        lines, hashes = [lines[i] for i in keep], hashes[keep]
        with self._client_threads(params):
            found = steps.discover(
                params, rep, rep.features([line.tokens for line in lines], [line.segments for line in lines]),
                [line.text for line in lines], [line.tokens for line in lines], hashes,
                None if prior is None else np.array([line.prior for line in lines], dtype=np.int64), pinned,
            )
        rep.weights = found.weights
        return found.generic, found.index, found.priors

    def identity(self, fit: DaskFit, previous: PriorTopics | None, next_id: Callable[[], str]):
        """Stable topic ids (``topic_identity.match_topic_overlaps``) from the previous topics'
        lines per new topic and their vectors, added up over the partitions: the counts and
        centroids ``pipeline._previous_topics`` and ``match_topics`` derive from member sets."""
        from recommender.retrain.topic_identity import PreviousTopics, match_topic_overlaps

        k = int(fit.model.n_topics_)
        merged: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if previous is not None:
            for part in self.gather([self.submit(pick, a, "overlap") for a in fit.assigned]):
                for p, (counts, total) in part.items():
                    if p in merged:
                        merged[p] = (merged[p][0] + counts, merged[p][1] + total)
                    else:
                        merged[p] = (counts, total)
        before, prev_centroids = None, None
        inter, prev_sizes, new_sizes = np.zeros((0, k)), np.zeros(0), np.zeros(k)
        if merged:
            name = {topic_number(t): t for t in previous.topic_ids}
            # A topic an organizer split off is not in the version's ids yet: its id is its number's.
            by_id = sorted((name.get(p, f"T{p:04d}"), p) for p in merged)  # previous topics in id order, as local
            counts = np.vstack([merged[p][0] for _, p in by_id]).astype(float)
            inter = counts[:, fit.order]  # columns: new topics in the model's order
            prev_sizes = counts.sum(axis=1)
            new_sizes = inter.sum(axis=0)
            sums = np.vstack([merged[p][1] for _, p in by_id])
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            prev_centroids = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
            before = PreviousTopics(topic_ids=[t for t, _ in by_id], members=[frozenset()] * len(by_id))
        return match_topic_overlaps(
            before, inter, prev_sizes, new_sizes, np.asarray(fit.model.centroids_),
            next_id=next_id, prev_centroids_in_new_space=prev_centroids,
            continues=continued_ids(fit.model, before.topic_ids) if before is not None else None,
        )


def partition_bounds(ids: Sequence[int], rows: int) -> list[tuple[int, int]]:
    """``(after_id, until_id]`` ranges of at most ``rows`` ids each."""
    out = []
    for start in range(0, len(ids), rows):
        chunk = ids[start : start + rows]
        out.append((int(ids[start - 1]) if start else 0, int(chunk[-1])))
    return out


def train_on_dask(
    store,
    settings: Settings,
    registry,
    *,
    progress: bool = True,
    model_factory: Callable[[], object] | None = None,
    client=None,
    on_stage: Callable[[str], None] | None = None,
    use_prior: bool = True,
    force: bool = False,
):
    """The retrain of :func:`recommender.retrain.pipeline.train_from_store` (which holds the
    retrain lock) with the model fitted on Dask; returns its ``TrainResult``. With
    ``use_prior`` the fit continues the current version's topics (``publishing.prior_topics``)."""
    from recommender.errors import NotEnoughFeedback
    from recommender.model.topic_model import TopicModel
    from recommender.retrain.publishing import (
        check_enough,
        prior_topics,
        protected_numbers,
        publish_version,
        tokenizer_fingerprint,
        nothing_new,
    )

    started = time.perf_counter()
    ids = store.feedback_ids(statuses=("visible",))
    check_enough(len(ids), settings)
    fingerprint = tokenizer_fingerprint(settings)
    user_dict = None
    if settings.user_dict is not None and Path(settings.user_dict).is_file():
        user_dict = Path(settings.user_dict).read_bytes()
    model = model_factory() if model_factory else TopicModel(random_state=0)
    signature, kept = nothing_new(store, registry, ids, fingerprint, model, force=force)
    if kept is not None:
        return kept
    previous = prior_topics(registry, protected_numbers(store))
    url = settings.database_url
    context = contextlib.nullcontext(client) if client is not None else dask_client(settings)
    try:
        with context as active:
            log.info("dask retrain on %s", getattr(active, "scheduler_info", lambda: {})().get("address", "a cluster"))
            trainer = DaskTrainer(active, settings, progress=progress, on_stage=on_stage)
            fit = trainer.fit(
                model, ids, fingerprint=fingerprint, user_dict=user_dict, previous=previous, use_prior=use_prior
            )
            trainer.stage("topic identity")
            fresh_ids = iter(store.next_topic_ids(int(model.n_topics_)))
            identity = trainer.identity(fit, previous, lambda: next(fresh_ids))

            def write(version: str, topic_ids: list[str]) -> None:
                trainer.stage("assignments")
                trainer.gather(
                    [
                        trainer.submit(write_assignments, url, version, p, a, fit.order, fit.k, topic_ids)
                        for p, a in zip(fit.loaded, fit.assigned)
                    ],
                    "写入分配",
                )

            return publish_version(
                store, settings, registry, model, identity,
                n_rows=fit.n_rows,
                received_until=fit.received_until,
                fingerprint=fingerprint,
                tokenized=fit.tokenized,
                started=started,
                write_assignments=write,
                extra={"engine": "dask", "partitions": len(fit.loaded), "training_signature": signature},
            )
    except (NotEnoughFeedback, DaskTrainingError):
        raise
    except Exception as exc:  # a task's own error or the cluster's (KilledWorker, lost connection…)
        raise DaskTrainingError(
            f"分布式训练失败（{type(exc).__name__}: {exc}），当前模型保持不变"
        ) from exc

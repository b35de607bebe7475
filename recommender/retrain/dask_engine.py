"""Training on a Dask cluster: ``recommender train --engine dask --scheduler ADDRESS``.

The same :class:`~recommender.model.topic_model.TopicModel`, fitted with the feedback spread
over Dask workers so that no process ever holds every text. Each step is the local
engine's own step (``TopicModel._set_vectorizers``, ``_fit_projection``, ``_initial_topics``,
``clustering.refine``'s rule, ``_set_floors``, ``describe``) fed with partial results
that add up across partitions, so both engines give the same model on the same data:

===========================  ===============================================================
step                         where it runs
===========================  ===============================================================
read feedback                workers, one id range per partition (``dask_partition_rows``)
jieba tokens                 workers (cached tokens reused; user dictionary shipped to them)
vocabulary, document freq.   workers count terms; counts are added up per term bucket
hash-chosen samples          workers count (text hash, copies); the sample is drawn from
                             those counts exactly as ``clustering.text_sample`` draws it
LSA basis (ARPACK)           client, on the 20,000-line SVD sample only
latent vectors               workers (the fitted vectorizers and basis are broadcast)
number of topics (Ward)      client, on the 8,000-line graph sample only
spherical k-means            workers: each round every partition assigns its lines and sends
                             per-topic sums (k × d); the client averages
outlier floors               client, from each line's (topic, similarity): 16 bytes a line
keywords (c-TF-IDF counts)   workers count, one worker adds up and scores
quotes                       workers propose central lines per topic; client picks
stable topic ids             workers count (previous topic × new topic) overlaps and sum
                             vectors per previous topic; client matches
assignments                  workers write their partition's rows
===========================  ===============================================================

Initialisation of k-means is the local engine's: Ward's hierarchy on the hash-chosen graph
sample (scalable: its size is fixed), not random or k-means|| starts, which would give
other topics than the local engine. Every task is retried (``retries``) and the scheduler
recomputes lost partitions from their lineage when a worker dies; when the retrain fails
anyway, nothing was published and the current model keeps serving.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from recommender.config import Settings
from recommender.model.clustering import GRAPH_SAMPLE, SVD_SAMPLE, copies_in_sample, smallest_keys, text_hashes
from recommender.model.describe import (
    assemble_topics,
    group_themes,
    keywords_from_counts,
    representative_examples,
    topic_word_counts,
)
from recommender.model.vocabulary import TermCounts, count_terms, merge_counts, select_terms, split_counts

log = logging.getLogger(__name__)

# Retries of each task (a worker that dies takes its running tasks with it).
TASK_RETRIES = 3
# Buckets the term and text-hash counts are added up in (term-disjoint, in parallel).
N_BUCKETS = 8
# Lloyd rounds, and central lines each partition proposes per topic (times n_examples).
MAX_ROUNDS = 100
EXAMPLE_CANDIDATES = 6


class DaskTrainingError(RuntimeError):
    """The distributed retrain failed; nothing was published."""


# ====================================================================== worker side
@dataclass
class Loaded:
    """One partition as read from the store (kept on a worker)."""

    ids: np.ndarray  # int64, ascending
    texts: list[str]
    tokens: list[list[str]]
    words: np.ndarray  # bool: the line has topic words
    hashes: np.ndarray  # uint64 text hash of every line
    received_max: object  # latest received_at (datetime) or None
    tokenized: int  # lines tokenized now (not in the token cache)


@dataclass
class Embedded:
    """A partition's latent vectors (kept on a worker): rows with a non-zero vector only."""

    usable: np.ndarray  # int64 positions (in the partition) of the rows of Z
    hashes: np.ndarray  # uint64 text hash of those rows
    Z: np.ndarray  # float64 (len(usable), d), unit rows


_stores: dict[str, object] = {}
_prepared: str | None = None


def _store(url: str):
    from recommender.store import FeedbackStore

    if url not in _stores:
        _stores[url] = FeedbackStore(url)
    return _stores[url]


def prepare_worker(fingerprint: str, user_dict: bytes | None) -> str:
    """Make this process tokenize exactly as the client does (the operator's user
    dictionary arrives as bytes) and check it by the tokenizer fingerprint."""
    global _prepared
    if _prepared == fingerprint:
        return fingerprint
    from recommender.config import get_settings
    from recommender.text.tokenize import reset_tokenizer
    from recommender.retrain.publishing import tokenizer_fingerprint

    if user_dict is None:
        os.environ.pop("RECOMMENDER_USER_DICT", None)
    else:
        digest = hashlib.sha256(user_dict).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"recommender-user-dict-{digest}.txt"
        if not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(user_dict)
            os.replace(tmp, path)
        os.environ["RECOMMENDER_USER_DICT"] = str(path)
    get_settings.cache_clear()
    reset_tokenizer()
    mine = tokenizer_fingerprint(get_settings())
    if mine != fingerprint:
        raise DaskTrainingError(
            f"worker {socket.gethostname()} (pid {os.getpid()}) tokenizes differently from the client "
            f"(tokenizer fingerprint {mine}, client {fingerprint}): install the same recommender and jieba "
            f"versions on every worker"
        )
    _prepared = fingerprint
    return fingerprint


def load_partition(url: str, after_id: int, until_id: int, fingerprint: str, user_dict: bytes | None) -> Loaded:
    """Read the visible feedback with ``after_id < id <= until_id`` and its tokens (from the
    token cache where present; new tokens are written back to it)."""
    from recommender.text.tokenize import tokenize

    prepare_worker(fingerprint, user_dict)
    store = _store(url)
    rows = list(store.iter_feedback(after_id=after_id, until_id=until_id, statuses=("visible",)))
    ids = [r.id for r in rows]
    cached = store.get_tokens(ids, fingerprint)
    fresh = {r.id: tokenize(r.text) for r in rows if r.id not in cached}
    if fresh:
        store.put_tokens(fresh, fingerprint)
        cached.update(fresh)
    texts = [r.text for r in rows]
    # One string object per distinct word, not per occurrence: the partition's largest
    # part after the vectors (a few hundred bytes a line less).
    tokens = [[sys.intern(t) for t in cached[i]] for i in ids]
    return Loaded(
        ids=np.asarray(ids, dtype=np.int64),
        texts=texts,
        tokens=tokens,
        words=np.array([len(t) > 0 for t in tokens], dtype=bool),
        hashes=text_hashes(texts),
        received_max=max((r.received_at for r in rows), default=None),
        tokenized=len(fresh),
    )


def partition_summary(part: Loaded) -> tuple[int, int, object, int]:
    """Lines, lines with topic words, latest received_at, lines tokenized now."""
    return int(part.ids.size), int(part.words.sum()), part.received_max, part.tokenized


def partition_terms(part: Loaded, templates: list[tuple[object, str]]) -> list[list[TermCounts]]:
    """Per feature block, the partition's term counts split into term buckets."""
    from recommender.text.tokenize import char_segments

    rows = np.flatnonzero(part.words)
    out = []
    for vec, kind in templates:
        if kind == "tokens":
            docs = [part.tokens[i] for i in rows]
        else:
            docs = [char_segments(part.texts[i]) for i in rows]
        out.append(split_counts(count_terms(vec.build_analyzer(), docs), N_BUCKETS))
    return out


def pick(parts: list, *index: int):
    """``parts[i][j]…``: one bucket of a partition's output (runs where the output is)."""
    for i in index:
        parts = parts[i]
    return parts


def reduce_terms(min_df: int, max_features: int | None, *parts: TermCounts) -> TermCounts:
    return select_terms(merge_counts(parts), min_df, max_features)


def hash_counts(hashes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(distinct hash, copies) of the given rows, split into hash buckets."""
    uniq, counts = np.unique(hashes, return_counts=True)
    bucket = (uniq % np.uint64(N_BUCKETS)).astype(np.int64)
    return [(uniq[bucket == b], counts[bucket == b]) for b in range(N_BUCKETS)]


def word_hash_counts(part: Loaded) -> list[tuple[np.ndarray, np.ndarray]]:
    return hash_counts(part.hashes[part.words])


def usable_hash_counts(emb: Embedded) -> list[tuple[np.ndarray, np.ndarray]]:
    return hash_counts(emb.hashes)


def reduce_hashes(*parts: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if not parts:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    h = np.concatenate([p[0] for p in parts])
    c = np.concatenate([p[1] for p in parts])
    uniq, inverse = np.unique(h, return_inverse=True)
    return uniq, np.bincount(inverse, weights=c, minlength=uniq.size).astype(np.int64)


def bucket_smallest(bucket: tuple[np.ndarray, np.ndarray], size: int) -> np.ndarray:
    return smallest_keys(bucket[0], bucket[1], size)


def bucket_take(bucket: tuple[np.ndarray, np.ndarray], threshold: np.uint64) -> tuple[np.ndarray, np.ndarray]:
    take = copies_in_sample(bucket[0], bucket[1], threshold)
    keep = take > 0
    return bucket[0][keep], take[keep]


def bucket_distinct(bucket: tuple[np.ndarray, np.ndarray]) -> int:
    return int(bucket[0].size)


def sample_docs(part: Loaded, chosen: np.ndarray | None):
    """(tokens, text) of one line per chosen text hash present in the partition, or of
    every line with words in row order when ``chosen`` is None."""
    if chosen is None:
        return [(part.tokens[i], part.texts[i]) for i in np.flatnonzero(part.words)]
    out: dict[int, tuple[list[str], str]] = {}
    for i in np.flatnonzero(part.words & np.isin(part.hashes, chosen)):
        out.setdefault(int(part.hashes[i]), (part.tokens[i], part.texts[i]))
    return out


def embed(part: Loaded, model) -> Embedded:
    """Latent vectors of the partition's lines with words (the model's own ``_latent``)."""
    from recommender.text.tokenize import char_segments

    rows = np.flatnonzero(part.words)
    with threadpool_limits(limits=1):
        Z = model._latent([part.tokens[i] for i in rows], [char_segments(part.texts[i]) for i in rows])
    keep = np.linalg.norm(Z, axis=1) > 0
    return Embedded(usable=rows[keep], hashes=part.hashes[rows[keep]], Z=Z[keep])


def sample_vectors(emb: Embedded, part: Loaded, chosen: np.ndarray | None):
    """(vector, tokens) of one usable line per chosen text hash present in the partition,
    or of every usable line in row order when ``chosen`` is None."""
    if chosen is None:
        return [(emb.Z[r], part.tokens[emb.usable[r]]) for r in range(emb.Z.shape[0])]
    out: dict[int, tuple[np.ndarray, list[str]]] = {}
    for r in np.flatnonzero(np.isin(emb.hashes, chosen)):
        out.setdefault(int(emb.hashes[r]), (emb.Z[r], part.tokens[emb.usable[r]]))
    return out


def usable_count(emb: Embedded) -> int:
    return int(emb.Z.shape[0])


def vector_sum(emb: Embedded) -> tuple[np.ndarray, int]:
    return emb.Z.sum(axis=0), int(emb.Z.shape[0])


def assign(emb: Embedded, C: np.ndarray) -> np.ndarray:
    """Most similar centroid of each usable line (the rule of ``refine`` and ``predict``)."""
    with threadpool_limits(limits=1):
        return np.argmax(emb.Z @ C.T, axis=1).astype(np.int64)


def round_stats(emb: Embedded, labels: np.ndarray, previous: np.ndarray | None, k: int) -> tuple[int, np.ndarray]:
    """Lines that moved since the previous round and per-topic vector sums (k × d)."""
    moved = int(labels.size if previous is None else (labels != previous).sum())
    H = sp.csr_matrix((np.ones(labels.size), (labels, np.arange(labels.size))), shape=(k, labels.size))
    return moved, np.asarray(H @ emb.Z)


def topic_sizes(labels: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(labels, minlength=k)


def similarities(emb: Embedded, labels: np.ndarray, remap: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumbered topic and cosine to its centroid of each usable line."""
    labels = remap[labels]
    return labels, np.einsum("ij,ij->i", emb.Z, C[labels])


@dataclass
class Final:
    """A partition's result: every line's topic (-1: none) and its best cosine."""

    ids: np.ndarray
    labels: np.ndarray
    scores: np.ndarray


def finalize(part: Loaded, emb: Embedded, fit: tuple[np.ndarray, np.ndarray], floors: np.ndarray) -> Final:
    labels_u, sim_u = fit
    labels = np.full(part.ids.size, -1, dtype=np.int64)
    scores = np.zeros(part.ids.size)
    labels[emb.usable] = np.where(sim_u >= floors[labels_u], labels_u, -1)
    scores[emb.usable] = sim_u  # the assigned centroid is the most similar one
    return Final(ids=part.ids, labels=labels, scores=scores)


def word_counts(part: Loaded, final: Final, k: int) -> tuple[np.ndarray, sp.csr_matrix]:
    return topic_word_counts(part.tokens, final.labels, k)


def reduce_word_counts(n_keywords: int, k: int, *parts: tuple[np.ndarray, sp.csr_matrix]):
    """Add up per-topic word counts of all partitions and score the keywords."""
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return [[] for _ in range(k)]
    vocab = np.concatenate([p[0] for p in parts])
    uniq, inverse = np.unique(vocab, return_inverse=True)
    blocks, offset = [], 0
    for words, counts in parts:
        coo = counts.tocoo()
        blocks.append((coo.row, inverse[offset + coo.col], coo.data))
        offset += words.size
    rows, cols, data = (np.concatenate(x) for x in zip(*blocks))
    per_topic = sp.csr_matrix((data, (rows, cols)), shape=(k, uniq.size))
    per_topic.sum_duplicates()
    return keywords_from_counts(uniq.astype(object), per_topic, n_keywords)


def example_candidates(part: Loaded, emb: Embedded, final: Final, k: int, n: int) -> list[list[tuple]]:
    """Per topic, central lines of this partition that are not near-duplicates of each
    other: (similarity, partition position, text, vector)."""
    labels_u = final.labels[emb.usable]
    sims_u = final.scores[emb.usable]
    texts_u = [part.texts[i] for i in emb.usable]
    out = []
    for t in range(k):
        members = np.flatnonzero(labels_u == t)
        chosen = representative_examples(texts_u, emb.Z, members, sims_u, n)
        out.append([(float(sims_u[r]), int(emb.usable[r]), texts_u[r], emb.Z[r]) for r in chosen])
    return out


def previous_overlap(url: str, version: str, part: Loaded, emb: Embedded, final: Final, k: int) -> dict[str, tuple]:
    """Per previous topic: its lines in this partition by new topic (column k: none), and
    the sum of their new vectors (for the previous centroid in the new space)."""
    if part.ids.size == 0:
        return {}
    prev = _store(url).assigned_topics(version, after_id=int(part.ids[0]) - 1, until_id=int(part.ids[-1]))
    vectors = np.zeros((part.ids.size, emb.Z.shape[1]))
    vectors[emb.usable] = emb.Z
    out: dict[str, tuple] = {}
    for pos, fid in enumerate(part.ids.tolist()):
        tid = prev.get(fid)
        if tid is None:
            continue
        if tid not in out:
            out[tid] = (np.zeros(k + 1, dtype=np.int64), np.zeros(vectors.shape[1]))
        counts, total = out[tid]
        label = int(final.labels[pos])
        counts[label if label >= 0 else k] += 1
        total += vectors[pos]
    return out


def write_assignments(url: str, version: str, final: Final, topic_ids: list[str]) -> int:
    rows = [
        (int(fid), topic_ids[int(lab)] if lab >= 0 else None, float(score))
        for fid, lab, score in zip(final.ids, final.labels, final.scores)
    ]
    return _store(url).put_assignments(version, rows)


# ====================================================================== client side
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
            raise DaskTrainingError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        with client:
            yield client
        return
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as client:
            yield client


@dataclass
class DaskFit:
    """A fitted model and, on the workers, every partition's lines and result."""

    model: object
    loaded: list
    embedded: list
    finals: list
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
    def _submit(self, fn, *args, **kwargs):
        return self.client.submit(fn, *args, retries=TASK_RETRIES, pure=False, **kwargs)

    def _map(self, fn, *iterables, **kwargs):
        return [self._submit(fn, *args, **kwargs) for args in zip(*iterables)]

    def _gather(self, futures, desc: str | None = None):
        from distributed import as_completed
        from tqdm import tqdm

        futures = list(futures)
        if desc is not None and self.progress and len(futures) > 1:
            with tqdm(total=len(futures), desc=desc, unit="块", leave=False) as bar:
                for _ in as_completed(futures):
                    bar.update(1)
        return self.client.gather(futures)

    def _stage(self, name: str) -> None:
        log.info("dask retrain: %s", name)
        self.on_stage(name)

    def _sample(self, bucket_inputs: list, size: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Chosen text hashes (sorted) with their copies, drawn like ``text_sample``."""
        buckets = [
            self._submit(reduce_hashes, *[self._submit(pick, b, j) for b in bucket_inputs]) for j in range(N_BUCKETS)
        ]
        distinct = sum(self._gather([self._submit(bucket_distinct, b) for b in buckets]))
        smallest = self._gather([self._submit(bucket_smallest, b, size) for b in buckets])
        keys = np.sort(np.concatenate(smallest)) if smallest else np.zeros(0, np.uint64)
        total = keys.size
        threshold = keys[min(size, total) - 1] if total else np.uint64(0)
        takes = self._gather([self._submit(bucket_take, b, threshold) for b in buckets])
        h = np.concatenate([t[0] for t in takes]) if takes else np.zeros(0, np.uint64)
        c = np.concatenate([t[1] for t in takes]) if takes else np.zeros(0, np.int64)
        order = np.argsort(h, kind="stable")
        return h[order], c[order], distinct

    # -- the fit ------------------------------------------------------------------
    def fit(self, model, ids: Sequence[int], *, fingerprint: str, user_dict: bytes | None) -> DaskFit:
        """Fit ``model`` (an unfitted TopicModel) on the visible feedback lines ``ids``
        (ascending), which the workers read from the store in id ranges."""
        from recommender.text.tokenize import char_segments

        started = time.perf_counter()
        settings = self.settings
        url = settings.database_url
        model._validate_params_values()
        self._stage("partitions")
        bounds = partition_bounds(ids, settings.dask_partition_rows)
        loaded = [self._submit(load_partition, url, a, b, fingerprint, user_dict) for a, b in bounds]
        summaries = self._gather([self._submit(partition_summary, p) for p in loaded], "读取与分词")
        sizes = np.array([s[:2] for s in summaries], dtype=np.int64).reshape(-1, 2)
        n_rows, n_docs = int(sizes[:, 0].sum()), int(sizes[:, 1].sum())
        offsets = np.concatenate([[0], np.cumsum(sizes[:, 0])[:-1]]).astype(np.int64)
        log.info("dask retrain: %d lines (%d with topic words) in %d partitions", n_rows, n_docs, len(loaded))
        model._check_rows(n_docs)

        self._stage("vocabulary")
        templates = model._block_templates(n_docs)
        terms = [self._submit(partition_terms, p, templates) for p in loaded]
        counts = []
        for b, (vec, _) in enumerate(templates):
            reduced = [
                self._submit(reduce_terms, vec.min_df, vec.max_features, *[self._submit(pick, t, b, j) for t in terms])
                for j in range(N_BUCKETS)
            ]
            counts.append(merge_counts(self._gather(reduced)))
        del terms
        model._set_vectorizers(counts, n_docs)

        self._stage("latent basis")
        chosen, copies, distinct = self._sample([self._submit(word_hash_counts, p) for p in loaded], SVD_SAMPLE)
        if n_docs <= SVD_SAMPLE:  # like text_sample: every line, in row order
            found = self._gather([self._submit(sample_docs, p, None) for p in loaded])
            docs = [d for part in found for d in part]
        else:
            found = _first_per_hash(self._gather([self._submit(sample_docs, p, chosen) for p in loaded]))
            docs = [found[int(h)] for h, c in zip(chosen, copies) for _ in range(int(c))]
        with threadpool_limits(limits=settings.train_threads or None):
            model._fit_projection(
                model._features([(tok, char_segments(text)) for tok, text in docs]), n_docs, distinct
            )
        del docs, found

        self._stage("latent vectors")
        [shared_model] = self.client.scatter([model], broadcast=True, hash=False)
        embedded = [self._submit(embed, p, shared_model) for p in loaded]
        n_usable = sum(self._gather([self._submit(usable_count, e) for e in embedded], "向量"))
        if n_usable == 0:
            raise ValueError("none of the texts has a topic word after tokenization")

        self._stage("number of topics")
        if n_usable <= GRAPH_SAMPLE:  # like text_sample: every line, in row order
            found = self._gather([self._submit(sample_vectors, e, p, None) for e, p in zip(embedded, loaded)])
            rows = [r for part in found for r in part]
        else:
            chosen, copies, _ = self._sample([self._submit(usable_hash_counts, e) for e in embedded], GRAPH_SAMPLE)
            found = _first_per_hash(
                self._gather([self._submit(sample_vectors, e, p, chosen) for e, p in zip(embedded, loaded)])
            )
            rows = [found[int(h)] for h, c in zip(chosen, copies) for _ in range(int(c))]
        Xs = np.vstack([r[0] for r in rows])
        with threadpool_limits(limits=settings.train_threads or None):
            init, model.selection_scores_ = model._initial_topics(Xs, [r[1] for r in rows])
        del rows, found, Xs

        self._stage("k-means")
        labels, C = self._refine(embedded, init, n_usable)
        k = C.shape[0]
        topic_counts = np.sum(self._gather([self._submit(topic_sizes, l, k) for l in labels]), axis=0)
        order = [c for c in np.argsort(-topic_counts, kind="stable") if topic_counts[c] > 0]
        remap = np.full(k, -1, dtype=np.int64)
        remap[order] = np.arange(len(order))
        C = C[order]
        k = C.shape[0]
        fits = [self._submit(similarities, e, l, remap, C) for e, l in zip(embedded, labels)]
        gathered = self._gather(fits)
        model._set_floors(np.concatenate([g[0] for g in gathered]), np.concatenate([g[1] for g in gathered]), k)
        del gathered, labels
        finals = [
            self._submit(finalize, p, e, f, model.similarity_floors_) for p, e, f in zip(loaded, embedded, fits)
        ]
        results = self._gather(finals)
        all_labels = np.concatenate([r.labels for r in results])
        similarity = np.concatenate([r.scores for r in results])
        del results
        model._set_fitted(all_labels, similarity, C)

        self._stage("descriptions")
        word_parts = [self._submit(word_counts, p, f, k) for p, f in zip(loaded, finals)]
        keywords = self._submit(reduce_word_counts, model.n_keywords, k, *word_parts).result()
        candidates = self._gather(
            [
                self._submit(example_candidates, p, e, f, k, model.n_examples * EXAMPLE_CANDIDATES)
                for p, e, f in zip(loaded, embedded, finals)
            ]
        )
        examples, example_texts = [], {}
        for t in range(k):
            cands = [
                (sim, int(offsets[p]) + pos, text, vec)
                for p, part in enumerate(candidates)
                for sim, pos, text, vec in part[t]
            ]  # in position order (partitions follow each other), as the local engine lists members
            if not cands:
                examples.append([])
                continue
            texts_c = [c[2] for c in cands]
            picked = representative_examples(
                texts_c, np.vstack([c[3] for c in cands]), np.arange(len(cands)),
                np.array([c[0] for c in cands]), model.n_examples,
            )
            examples.append([cands[i][1] for i in picked])
            example_texts.update({cands[i][1]: texts_c[i] for i in picked})
        model.topics_ = assemble_topics(
            keywords,
            np.bincount(all_labels[all_labels >= 0], minlength=k),
            group_themes(C, model.theme_similarity),
            examples,
            example_texts,
        )
        model.fit_seconds_ = time.perf_counter() - started
        log.info(
            "dask retrain: fitted %d topics on %d lines (%d unassigned) in %.1f s",
            k, n_rows, int((all_labels < 0).sum()), model.fit_seconds_,
        )
        return DaskFit(
            model=model, loaded=loaded, embedded=embedded, finals=finals, n_rows=n_rows,
            received_until=max((s[2] for s in summaries if s[2] is not None), default=None),
            tokenized=sum(s[3] for s in summaries),
        )

    def _refine(self, embedded: list, init: np.ndarray | None, n_usable: int) -> tuple[list, np.ndarray]:
        """``clustering.refine`` with the rows on the workers: spherical Lloyd rounds from
        the Ward centroids until at most one line in 10,000 moves."""
        C = None if init is None else np.unique(init, axis=0)
        if C is None or C.shape[0] == 1:
            sums = self._gather([self._submit(vector_sum, e) for e in embedded])
            C = normalize((np.sum([s[0] for s in sums], axis=0) / n_usable).reshape(1, -1))
            return [self._submit(assign, e, C) for e in embedded], C
        C = normalize(np.asarray(C, dtype=np.float64))
        k = C.shape[0]
        settled = n_usable // 10_000
        previous: list = [None] * len(embedded)
        for round_ in range(MAX_ROUNDS):
            labels = [self._submit(assign, e, C) for e in embedded]
            stats = self._gather([self._submit(round_stats, e, l, p, k) for e, l, p in zip(embedded, labels, previous)])
            moved = sum(s[0] for s in stats)
            previous = labels
            log.debug("dask retrain: k-means round %d, %d lines moved", round_ + 1, moved)
            if moved <= settled:
                break
            sums = np.sum([s[1] for s in stats], axis=0)
            filled = np.linalg.norm(sums, axis=1) > 0
            C[filled] = normalize(sums[filled])  # an emptied topic keeps its last centroid
        return [self._submit(assign, e, C) for e in embedded], C


def _first_per_hash(parts: Sequence[dict]) -> dict:
    found: dict = {}
    for part in parts:
        for h, value in part.items():
            found.setdefault(h, value)
    return found


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
):
    """The retrain of :func:`recommender.retrain.pipeline.train_from_store` (which holds the retrain
    lock) with the model fitted on Dask; returns its ``TrainResult``."""
    from recommender.errors import NotEnoughFeedback
    from recommender.retrain.topic_identity import PreviousTopics, match_topic_overlaps
    from recommender.model.topic_model import TopicModel
    from recommender.retrain.publishing import check_enough, publish_version, tokenizer_fingerprint

    started = time.perf_counter()
    ids = store.feedback_ids(statuses=("visible",))
    check_enough(len(ids), settings)
    fingerprint = tokenizer_fingerprint(settings)
    user_dict = None
    if settings.user_dict is not None and Path(settings.user_dict).is_file():
        user_dict = Path(settings.user_dict).read_bytes()
    model = model_factory() if model_factory else TopicModel(random_state=0)
    url = settings.database_url
    context = contextlib.nullcontext(client) if client is not None else dask_client(settings)
    try:
        with context as active:
            log.info("dask retrain on %s", getattr(active, "scheduler_info", lambda: {})().get("address", "a cluster"))
            trainer = DaskTrainer(active, settings, progress=progress, on_stage=on_stage)
            fit = trainer.fit(model, ids, fingerprint=fingerprint, user_dict=user_dict)
            k = int(model.n_topics_)

            trainer._stage("topic identity")
            previous, prev_centroids = None, None
            inter, prev_sizes, new_sizes = np.zeros((0, k)), np.zeros(0), np.zeros(k)
            current = registry.current_version()
            if current is not None:
                parts = trainer._gather(
                    [
                        trainer._submit(previous_overlap, url, current, p, e, f, k)
                        for p, e, f in zip(fit.loaded, fit.embedded, fit.finals)
                    ]
                )
                merged: dict[str, tuple[np.ndarray, np.ndarray]] = {}
                for part in parts:
                    for tid, (counts, total) in part.items():
                        if tid in merged:
                            merged[tid] = (merged[tid][0] + counts, merged[tid][1] + total)
                        else:
                            merged[tid] = (counts, total)
                if merged:
                    prev_ids = sorted(merged)
                    counts = np.vstack([merged[t][0] for t in prev_ids]).astype(float)
                    inter = counts[:, :k]
                    prev_sizes = counts.sum(axis=1)
                    new_sizes = inter.sum(axis=0)
                    sums = np.vstack([merged[t][1] for t in prev_ids]) / np.maximum(prev_sizes, 1)[:, None]
                    norms = np.linalg.norm(sums, axis=1, keepdims=True)
                    prev_centroids = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
                    previous = PreviousTopics(topic_ids=prev_ids, members=[frozenset()] * len(prev_ids))
            fresh_ids = iter(store.next_topic_ids(k))
            identity = match_topic_overlaps(
                previous, inter, prev_sizes, new_sizes, np.asarray(model.centroids_),
                next_id=lambda: next(fresh_ids), prev_centroids_in_new_space=prev_centroids,
            )

            def write(version: str, topic_ids: list[str]) -> None:
                trainer._stage("assignments")
                trainer._gather(
                    [trainer._submit(write_assignments, url, version, f, topic_ids) for f in fit.finals], "写入分配"
                )

            return publish_version(
                store, settings, registry, model, identity,
                n_rows=fit.n_rows,
                received_until=fit.received_until,
                fingerprint=fingerprint,
                tokenized=fit.tokenized,
                started=started,
                write_assignments=write,
                extra={"engine": "dask", "partitions": len(fit.loaded)},
            )
    except (NotEnoughFeedback, DaskTrainingError):
        raise
    except Exception as exc:  # a task's own error or the cluster's (KilledWorker, lost connection…)
        raise DaskTrainingError(
            f"the distributed retrain failed ({type(exc).__name__}: {exc}); the current model is kept"
        ) from exc

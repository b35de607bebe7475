"""The worker side of the Dask engine: what runs on one partition of the feedback.

Each function here is a Dask task on one partition (the visible lines of one id range,
read from the store by the worker itself) or on the partial results of several. They call
the steps of ``recommender.model.fit_steps`` on the partition's lines and return what adds
up across partitions (term counts, (text hash, copies) pairs, topic statistics), a
sample-sized part of the lines, or 16 bytes a line (topic and score). The client side,
which draws the samples and runs the sample-sized steps, is ``dask_engine.py``.

Everything is a pure function of its inputs and the store, so the scheduler can recompute
a partition lost with its worker from its lineage.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from recommender.model import fit_steps as steps
from recommender.model.assignment import index_prior
from recommender.model.clustering import copies_in_sample, smallest_keys, text_hashes
from recommender.model.ngram_counts import block_counts
from recommender.model.vocabulary import TermCounts, merge_counts, select_terms, split_counts
from recommender.retrain.publishing import PriorTopics

# Buckets the term and text-hash counts are added up in (term-disjoint, in parallel).
N_BUCKETS = 8


class DaskTrainingError(RuntimeError):
    """The distributed retrain failed; nothing was published."""


@dataclass
class Loaded:
    """One partition as read from the store (kept on a worker)."""

    ids: np.ndarray  # int64, ascending
    texts: list[str]
    tokens: list[list[str]]
    segments: list[list[str]]  # char_segments of the lines with topic words ([] for the others)
    words: np.ndarray  # bool: the line has topic words
    hashes: np.ndarray  # uint64 text hash of every line
    prior: np.ndarray | None  # each line's previous topic number (-1: none); None: no previous version
    received_max: object  # latest received_at (datetime) or None
    tokenized: int  # lines tokenized now (not in the token cache)


class Line(NamedTuple):
    """A line of a sample, as the client's sample-sized steps need it."""

    text: str
    tokens: list[str]
    segments: list[str]
    hash: int
    prior: int


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
    from recommender.retrain.publishing import tokenizer_fingerprint
    from recommender.text.tokenize import reset_tokenizer

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
            f"工作节点 {socket.gethostname()}（进程 {os.getpid()}）的分词与本机不同（分词指纹 {mine}，"
            f"本机 {fingerprint}）：请在每个工作节点上安装相同版本的 recommender 和 jieba"
        )
    _prepared = fingerprint
    return fingerprint


def load_partition(
    url: str, after_id: int, until_id: int, fingerprint: str, user_dict: bytes | None, prior: PriorTopics | None
) -> Loaded:
    """Read the visible feedback with ``after_id < id <= until_id``, its tokens (from the
    token cache where present; new tokens are written back to it) and, with a previous
    version, each line's topic under it (the fit's prior, as ``prior.numbers`` maps it)."""
    from recommender.text.tokenize import char_segments, tokenize

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
    # part after the texts (a few hundred bytes a line less).
    tokens = [[sys.intern(t) for t in cached[i]] for i in ids]
    previous = None
    if prior is not None:
        topic_of = store.assigned_topics(prior.version, after_id=after_id, until_id=until_id) if ids else {}
        previous = prior.numbers([topic_of.get(i) for i in ids], [r.received_at for r in rows])
    return Loaded(
        ids=np.asarray(ids, dtype=np.int64),
        texts=texts,
        tokens=tokens,
        segments=[char_segments(text) if tok else [] for text, tok in zip(texts, tokens)],
        words=np.array([len(t) > 0 for t in tokens], dtype=bool),
        hashes=text_hashes(texts),
        prior=previous,
        received_max=max((r.received_at for r in rows), default=None),
        tokenized=len(fresh),
    )


def partition_summary(part: Loaded) -> tuple[int, int, object, int]:
    """Lines, lines with topic words, latest received_at, lines tokenized now."""
    return int(part.ids.size), int(part.words.sum()), part.received_max, part.tokenized


def pick(value, *index):
    """``value[i][j]…`` (``value.name`` for a str): one piece of a task's output, taken
    where the output is."""
    for i in index:
        value = getattr(value, i) if isinstance(i, str) else value[i]
    return value


# ---------------------------------------------------------------- additive counts
def partition_terms(part: Loaded, templates: Sequence[object]) -> list[list]:
    """Per feature block (words, character n-grams) the partition's term counts split into
    term buckets, then the (hash, copies) buckets of its lines' features (tokens and
    segments): ``fit_representation`` needs the number of distinct feature rows."""
    rows = np.flatnonzero(part.words)
    tokens = [part.tokens[i] for i in rows]
    segments = [part.segments[i] for i in rows]
    out = [
        split_counts(block_counts(vec, docs)[0], N_BUCKETS)
        for vec, docs in zip(templates, (tokens, segments))
    ]
    keys = ["\x00".join(t) + "\x01" + "\x00".join(s) for t, s in zip(tokens, segments)]
    out.append(hash_counts(text_hashes(keys)))
    return out


def reduce_terms(min_df: int, max_features: int | None, *parts: TermCounts) -> TermCounts:
    """One term bucket added up over the partitions, with the terms ``select_terms`` keeps."""
    return select_terms(merge_counts(parts), min_df, max_features)


def hash_counts(hashes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(distinct hash, copies) of the given rows, split into hash buckets."""
    uniq, counts = np.unique(hashes, return_counts=True)
    bucket = (uniq % np.uint64(N_BUCKETS)).astype(np.int64)
    return [(uniq[bucket == b], counts[bucket == b]) for b in range(N_BUCKETS)]


def word_hash_counts(part: Loaded) -> list[tuple[np.ndarray, np.ndarray]]:
    """``hash_counts`` of the lines with topic words (the lines every sample is drawn from)."""
    return hash_counts(part.hashes[part.words])


def reduce_hashes(*parts: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One hash bucket added up over the partitions."""
    if not parts:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    h = np.concatenate([p[0] for p in parts])
    c = np.concatenate([p[1] for p in parts])
    uniq, inverse = np.unique(h, return_inverse=True)
    return uniq, np.bincount(inverse, weights=c, minlength=uniq.size).astype(np.int64)


def bucket_smallest(bucket: tuple[np.ndarray, np.ndarray], size: int) -> np.ndarray:
    """The bucket's ``size`` smallest copy keys: the sample threshold is among them."""
    return smallest_keys(bucket[0], bucket[1], size)


def bucket_take(bucket: tuple[np.ndarray, np.ndarray], threshold: np.uint64) -> tuple[np.ndarray, np.ndarray]:
    """The bucket's hashes in the sample and how many copies of each."""
    take = copies_in_sample(bucket[0], bucket[1], threshold)
    keep = take > 0
    return bucket[0][keep], take[keep]


def bucket_distinct(bucket: tuple[np.ndarray, np.ndarray]) -> int:
    return int(bucket[0].size)


def sample_lines(part: Loaded, chosen: tuple[np.ndarray, np.ndarray] | None):
    """The partition's lines of a sample: with ``chosen`` (sorted hashes, copies) the first
    lines (by previous topic, then in row order, at most the copies) of each chosen text, by
    hash; without, every line with topic words in row order (the whole corpus is the
    sample; the client puts it in ``clustering.canonical_order``)."""

    def line(i: int) -> Line:
        prior = -1 if part.prior is None else int(part.prior[i])
        return Line(part.texts[i], part.tokens[i], part.segments[i], int(part.hashes[i]), prior)

    rows = np.flatnonzero(part.words)
    if chosen is None:
        return [line(i) for i in rows]
    hashes, copies = chosen
    where = np.searchsorted(hashes, part.hashes[rows])
    inside = (where < hashes.size) & (hashes[np.minimum(where, hashes.size - 1)] == part.hashes[rows])
    rows, where = rows[inside], where[inside]
    prior = np.full(rows.size, -1, dtype=np.int64) if part.prior is None else part.prior[rows]
    order = np.lexsort((rows, prior, where))  # by chosen text, its copies by previous topic
    rows, where = rows[order], where[order]
    rank = np.arange(rows.size) - np.searchsorted(where, where)  # copy number within its text
    out: dict[int, list[Line]] = {}
    for i in rows[rank < copies[where]]:
        out.setdefault(int(part.hashes[i]), []).append(line(i))
    return out


# ---------------------------------------------------------------- assignment and statistics
@dataclass
class Assigned:
    """A partition's lines assigned to the discovered topics (numbered as in the index
    ``discover`` or ``partition`` built, before the final order by size)."""

    labels: np.ndarray  # every line's topic (-1: none)
    scores: np.ndarray  # and its assignment score (0 for lines without topic words)
    # Per previous topic number: its lines here by topic (last column: none) and the sum
    # of their vectors (their previous centroid in the new space); {} without a prior.
    overlap: dict[int, tuple[np.ndarray, np.ndarray]]


def assign_partition(
    part: Loaded, learned: tuple, row_prior: dict[int, int] | None
) -> tuple[Assigned, steps.TopicStats]:
    """``fit``'s third step on the partition's lines: feature rows, latent vectors,
    ``TopicIndex.assign`` (with each line's previous topic as its prior when it continues
    in the index: ``row_prior`` maps previous topic numbers to index topics) and
    ``topic_stats``. The vectors and feature rows are dropped when the task ends; the
    statistics once they are added up (a separate output)."""
    rep, index, generic = learned  # the representation, the index, the generic words
    rows = np.flatnonzero(part.words)
    tokens = [part.tokens[i] for i in rows]
    with threadpool_limits(limits=1):
        X = rep.features(tokens, [part.segments[i] for i in rows])
        Z = rep.project(X)
        prior = None
        if row_prior is not None and part.prior is not None:
            prior = index_prior(part.prior[rows], row_prior)
        row_labels, row_scores = index.assign(Z, tokens, prior, X=X)
        stats = steps.topic_stats(
            [part.texts[i] for i in rows], tokens, row_labels, row_scores, Z, X, part.hashes[rows], index.n_topics,
            generic,
        )
    labels = np.full(part.ids.size, -1, dtype=np.int64)
    labels[rows] = row_labels
    scores = np.zeros(part.ids.size)
    scores[rows] = row_scores
    overlap: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if part.prior is not None:
        k = index.n_topics
        for p in np.unique(part.prior[part.prior >= 0]):
            members = part.prior == p
            counts = np.bincount(np.where(labels[members] >= 0, labels[members], k), minlength=k + 1)
            # Lines without topic words have no vector (zeros, as ``transform`` gives them).
            overlap[int(p)] = (counts, Z[members[rows]].sum(axis=0))
    return Assigned(labels, scores, overlap), stats


def labels_and_scores(assigned: Assigned) -> tuple[np.ndarray, np.ndarray]:
    return assigned.labels, assigned.scores


def reduce_stats(*parts: steps.TopicStats) -> steps.TopicStats:
    """Topic statistics of several partitions added up (``merge_stats``)."""
    return steps.merge_stats(parts)


def write_assignments(
    url: str, version: str, part: Loaded, assigned: Assigned, order: list[int], k: int, topic_ids: list[str]
) -> int:
    """Store the partition's lines under the new version: topic id (the index's ``k``
    topics in the final ``order``), assignment score, and whether the line asks for nothing
    (no topic word: thanks, praise), which is never demand."""
    labels = steps.renumber(assigned.labels, order, k)
    rows = [
        (int(fid), topic_ids[int(lab)] if lab >= 0 else None, float(score), not words)
        for fid, lab, score, words in zip(part.ids, labels, assigned.scores, part.words)
    ]
    return _store(url).put_assignments(version, rows)

"""Vocabularies from term counts that can be added up across partitions.

scikit-learn's ``TfidfVectorizer.fit`` needs every document in one process. Both training
engines instead count each block's terms (document frequency and total count per term),
add the counts up (in one process, or across Dask partitions), keep the terms seen in at
least ``min_df`` documents, then the ``max_features`` most frequent ones (ties by term,
so the choice never depends on the order counts arrived in), and set the vectorizer's
``vocabulary_`` and ``idf_`` exactly as its own ``fit`` would. A vectorizer built this way
transforms like a fitted one and pickles like one.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer


@dataclass(frozen=True)
class TermCounts:
    """Terms (sorted, unique) with their document frequency and total count."""

    terms: np.ndarray  # object array of str
    df: np.ndarray  # int64
    tf: np.ndarray  # int64

    def __len__(self) -> int:
        return int(self.terms.size)

    @classmethod
    def empty(cls) -> TermCounts:
        return cls(np.array([], dtype=object), np.zeros(0, np.int64), np.zeros(0, np.int64))


def count_terms(analyzer: Callable[[object], Sequence[str]], docs: Sequence[object]) -> TermCounts:
    """Document frequency and total count of every term ``analyzer`` finds in ``docs``."""
    return count_matrix(analyzer, docs)[0]


def count_matrix(analyzer: Callable[[object], Sequence[str]], docs: Sequence[object]) -> tuple[TermCounts, sp.csr_matrix]:
    """:func:`count_terms` and the documents x terms count matrix (float32, columns in the
    order of the counts' terms): a process that holds every document analyzes them once,
    for the vocabulary and for the features (see ``fitted_vectorizer`` and
    ``restricted_counts``).

    The same matrix as ``CountVectorizer(analyzer=analyzer).fit_transform(docs)``, built
    without its per-term Python loop: each term's number comes from a dict lookup mapped
    over a document's terms in C (twice as fast on 150,000 lines, a third of them message
    bodies), and the numbers are renumbered once in the terms' sorted order. The character
    n-gram block has a faster path still (``ngram_counts``).
    """
    vocabulary: defaultdict[str, int] = defaultdict()
    vocabulary.default_factory = vocabulary.__len__  # a new term gets the next number
    number = vocabulary.__getitem__
    occurrences = array("i")
    indptr = array("q", [0])
    for doc in docs:
        occurrences.extend(map(number, analyzer(doc)))
        indptr.append(len(occurrences))
    if not vocabulary:  # no document has a term (or there are no documents)
        return TermCounts.empty(), sp.csr_matrix((len(docs), 0), dtype=np.float32)
    terms, rank = sorted_terms(list(vocabulary))
    cols = rank[np.frombuffer(occurrences, dtype=np.int32)]
    del occurrences
    tf = np.bincount(cols, minlength=terms.size).astype(np.int64)
    counts = sp.csr_matrix(
        (np.ones(cols.size, dtype=np.float32), cols, np.frombuffer(indptr, dtype=np.int64)),
        shape=(len(docs), terms.size),
    )
    counts.sum_duplicates()  # one entry per (document, term), indices sorted
    df = np.bincount(counts.indices, minlength=terms.size).astype(np.int64)
    return TermCounts(terms, df, tf), counts


# Terms up to this long are sorted as a fixed-width numpy string array (code point order,
# like Python's); longer ones (a pasted URL) would make that array large.
FIXED_WIDTH_TERMS = 16


def sorted_terms(terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``terms`` (unique) sorted as Python sorts them (an object array), and the rank of
    each in that order. Sorting a fixed-width array is several times faster than sorting
    objects; it would misplace a term ending in NUL (numpy strips trailing NULs)."""
    longest = max(map(len, terms))
    if longest <= FIXED_WIDTH_TERMS and "\0" not in "".join(terms):
        order = np.argsort(np.array(terms, dtype=f"<U{longest}"), kind="stable")
    else:
        order = np.array(sorted(range(len(terms)), key=terms.__getitem__), dtype=np.int64)
    rank = np.empty(order.size, dtype=np.int32)
    rank[order] = np.arange(order.size, dtype=np.int32)
    return np.array(terms, dtype=object)[order], rank


def restricted_counts(counts: sp.csr_matrix, terms: np.ndarray, vectorizer: TfidfVectorizer) -> sp.csr_matrix:
    """The columns of ``counts`` (documents x ``terms``) that ``vectorizer`` knows, in its
    vocabulary's order: what its own count step gives on the same documents."""
    vocabulary = vectorizer.vocabulary_
    kept = np.array([vocabulary.get(str(t), -1) for t in terms])
    cols = np.flatnonzero(kept >= 0)
    select = sp.csr_matrix(
        (np.ones(cols.size, dtype=np.float32), (cols, kept[cols])), shape=(len(terms), len(vocabulary))
    )
    out = (counts @ select).tocsr()
    out.sort_indices()
    return out


def repeated_counts(counts: TermCounts, matrix: sp.csr_matrix, copies: np.ndarray) -> TermCounts:
    """``counts`` of the documents of ``matrix`` (their count matrix over ``counts.terms``,
    one entry per document and term) when document i comes ``copies[i]`` times."""
    if not len(counts):
        return counts
    per_entry = np.repeat(copies.astype(np.float64), np.diff(matrix.indptr))
    # Sums of integers in float64: exact.
    df = np.bincount(matrix.indices, weights=per_entry, minlength=len(counts))
    tf = np.bincount(matrix.indices, weights=per_entry * matrix.data, minlength=len(counts))
    return TermCounts(counts.terms, df.astype(np.int64), tf.astype(np.int64))


def merge_counts(parts: Sequence[TermCounts]) -> TermCounts:
    """Counts of several partitions added up term by term."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return TermCounts.empty()
    if len(parts) == 1:
        return parts[0]
    terms = np.concatenate([p.terms for p in parts])
    uniq, inverse = np.unique(terms, return_inverse=True)
    df = np.bincount(inverse, weights=np.concatenate([p.df for p in parts]), minlength=uniq.size)
    tf = np.bincount(inverse, weights=np.concatenate([p.tf for p in parts]), minlength=uniq.size)
    return TermCounts(uniq.astype(object), df.astype(np.int64), tf.astype(np.int64))


def select_terms(counts: TermCounts, min_df: int, max_features: int | None) -> TermCounts:
    """Terms in at least ``min_df`` documents; of those the ``max_features`` with the highest
    total count (ties: alphabetical). Selecting from partial selections of disjoint term
    sets gives the same result as selecting from all counts at once."""
    keep = counts.df >= min_df
    terms, df, tf = counts.terms[keep], counts.df[keep], counts.tf[keep]
    if max_features is not None and terms.size > max_features:
        top = np.sort(np.argsort(-tf, kind="stable")[:max_features])  # terms are sorted
        terms, df, tf = terms[top], df[top], tf[top]
    return TermCounts(terms, df, tf)


def bucket_of(terms: np.ndarray, n_buckets: int) -> np.ndarray:
    """A stable bucket number for each term (to add counts up in parallel, term-disjoint)."""
    import zlib

    return np.fromiter((zlib.crc32(t.encode()) % n_buckets for t in terms), dtype=np.int64, count=terms.size)


def split_counts(counts: TermCounts, n_buckets: int) -> list[TermCounts]:
    """``counts`` split into ``n_buckets`` term-disjoint parts."""
    bucket = bucket_of(counts.terms, n_buckets)
    return [TermCounts(counts.terms[m], counts.df[m], counts.tf[m]) for m in (bucket == b for b in range(n_buckets))]


def fitted_vectorizer(template: TfidfVectorizer, counts: TermCounts, n_docs: int) -> TfidfVectorizer:
    """A clone of ``template`` fitted from ``counts`` (already selected) of ``n_docs``
    documents: the same ``vocabulary_`` and ``idf_`` its ``fit`` gives on those documents."""
    if not len(counts):
        raise ValueError("empty vocabulary: no term is left after the min_df / max_features selection")
    vec = clone(template)
    vec.vocabulary_ = {str(t): i for i, t in enumerate(counts.terms)}
    vec.fixed_vocabulary_ = False
    # TfidfTransformer.fit's own arithmetic, in the vectorizer's dtype (smooth idf).
    dtype = np.dtype(template.dtype) if np.dtype(template.dtype) in (np.float32, np.float64) else np.float64
    df = counts.df.astype(dtype) + float(template.smooth_idf)
    idf = np.full_like(df, fill_value=n_docs + int(template.smooth_idf), dtype=dtype)
    idf /= df
    np.log(idf, out=idf)
    idf += 1.0
    vec.idf_ = idf
    return vec

"""Character n-gram counts of many lines at once, in numpy.

The character block's vocabulary and feature rows come from the n-grams of every line
(``analyzers.char_ngrams``). Made one Python string at a time and looked up in a
dict, the some 20 million n-grams of 150,000 lines (a third of them message bodies) were
most of the time of the feature step. Here each n-gram is a number instead: every
character of the corpus gets a small code (in code point order), an n-gram packs its
characters' codes (shorter ones padded with zeros at the end, so the numbers sort as
Python sorts the strings), and one numpy sort per block of lines, with the line's number
in the low bits, gives how often each line has each n-gram. Only the distinct n-grams of
the corpus are made into strings.

:func:`block_counts` gives the same terms, counts and matrix as
``vocabulary.count_matrix`` with the vectorizer's analyzer; analyzers this module does not
know, and corpora whose alphabet is too large to pack (over ``MAX_CODE_BITS`` bits per
n-gram), take that path.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from recommender.model.analyzers import TAIL_REPEATS, char_ngrams
from recommender.model.vocabulary import TermCounts, count_matrix

# Bits of an n-gram's packed characters at most: the rest number the lines of a block.
MAX_CODE_BITS = 50
# Lines counted per sort (memory: a few bytes per n-gram of these lines).
BLOCK_LINES = 8192


def block_counts(vectorizer: TfidfVectorizer, docs: Sequence[object]) -> tuple[TermCounts, sp.csr_matrix]:
    """``count_matrix(vectorizer.build_analyzer(), docs)``, in numpy for the character
    n-gram block."""
    analyzer = vectorizer.analyzer
    if isinstance(analyzer, partial) and analyzer.func is char_ngrams and not analyzer.args:
        found = char_ngram_counts(docs, **analyzer.keywords)
        if found is not None:
            return found
    return count_matrix(vectorizer.build_analyzer(), docs)


def char_ngram_counts(
    docs: Sequence[Sequence[str]], ngram_range: tuple[int, int] = (1, 3), tail: int = 0
) -> tuple[TermCounts, sp.csr_matrix] | None:
    """``count_matrix`` of ``char_ngrams(doc, ngram_range, tail)`` over ``docs`` (lists of
    segments); None when the alphabet is too large to pack the n-grams, or a segment holds
    NUL (the separator here)."""
    lo, hi = int(ngram_range[0]), int(ngram_range[1])
    segments = [s for doc in docs for s in doc]
    if not segments or lo < 1 or hi < lo:
        return None
    # Every segment followed by NUL, and ``hi`` more at the end: an n-gram never spans one.
    text = "\0".join(segments) + "\0" * (hi + 1)
    if text.count("\0") != len(segments) + hi:
        return None
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    alphabet = np.flatnonzero(np.bincount(codes)).astype(np.uint32)  # NUL first: code 0
    bits = max(1, int(alphabet.size - 1).bit_length())
    if hi * bits > MAX_CODE_BITS:
        return None
    lookup = np.zeros(int(alphabet[-1]) + 1, dtype=np.uint64)
    lookup[alphabet] = np.arange(alphabet.size, dtype=np.uint64)
    compact = lookup[codes]
    del codes, lookup

    seg_len = np.fromiter(map(len, segments), dtype=np.int64, count=len(segments))
    per_doc = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
    doc_of_seg = np.repeat(np.arange(len(docs), dtype=np.int64), per_doc)
    seg_end = np.cumsum(seg_len + 1) - 1  # position of each segment's NUL
    is_last = np.zeros(len(segments), dtype=bool)
    is_last[np.cumsum(per_doc)[per_doc > 0] - 1] = True
    # Where each line's characters start and end (lines without segments: empty).
    doc_end = np.zeros(len(docs), dtype=np.int64)
    doc_end[per_doc > 0] = seg_end[is_last] + 1
    doc_end = np.maximum.accumulate(doc_end)
    doc_start = np.concatenate([[0], doc_end[:-1]])

    doc_bits = 64 - hi * bits
    chunk = int(min(BLOCK_LINES, 1 << min(doc_bits, 62)))
    parts = []
    for d0 in range(0, len(docs), chunk):
        d1 = min(len(docs), d0 + chunk)
        p0, p1 = int(doc_start[d0]), int(doc_end[d1 - 1])
        segs = slice(int(np.searchsorted(seg_end, p0)), int(np.searchsorted(seg_end, p1)))
        parts.append(_count_block(compact, p0, p1, d0, d1 - d0, doc_of_seg[segs], seg_len[segs], is_last[segs],
                                  lo, hi, bits, doc_bits, tail))
    terms = _distinct(np.concatenate([p[0] for p in parts]))
    # Each block's matrix with its own columns, renumbered in place (the order of the terms
    # is kept), then stacked once: a matrix of all entries in coordinates would hold them
    # three times over at 16 bytes each.
    tf = np.zeros(terms.size)
    df = np.zeros(terms.size, dtype=np.int64)
    matrices = []
    for chunk_terms, matrix in parts:
        cols = np.searchsorted(terms, chunk_terms).astype(np.int32)[matrix.indices]
        tf += np.bincount(cols, weights=matrix.data, minlength=terms.size)
        df += np.bincount(cols, minlength=terms.size)
        matrices.append(sp.csr_matrix((matrix.data, cols, matrix.indptr), shape=(matrix.shape[0], terms.size)))
    del parts
    matrix = sp.vstack(matrices, format="csr")
    return TermCounts(_strings(terms, alphabet, hi, bits), df, tf.astype(np.int64)), matrix


def _count_block(compact, p0, p1, d0, n_docs, doc_of_seg, seg_len, is_last, lo, hi, bits, doc_bits, tail):
    """The distinct packed n-grams of the characters ``p0:p1`` (whole lines from line
    ``d0``, ``n_docs`` of them) and the lines x those n-grams count matrix."""
    c = compact[p0 : p1 + hi]
    n_pos = p1 - p0
    # Line (within the block) and, for the last segment of a line, its NUL's position.
    local_doc = np.repeat(doc_of_seg - d0, seg_len + 1).astype(np.uint64)
    last_end = np.repeat(np.where(is_last, np.cumsum(seg_len + 1) - 1, 1 << 40), seg_len + 1)
    position = np.arange(n_pos, dtype=np.int64)
    key = np.zeros(n_pos, dtype=np.uint64)
    valid = np.ones(n_pos, dtype=bool)
    found = []
    for n in range(1, hi + 1):
        nth = c[n - 1 : n - 1 + n_pos]
        valid &= nth != 0
        key |= nth << np.uint64(bits * (hi - n))
        if n < lo:
            continue
        packed = (key[valid] << np.uint64(doc_bits)) | local_doc[valid]
        found.append(packed)
        if tail > 0:  # n-grams ending in the last ``tail`` characters of a line count more
            at_tail = valid & (position + n - 1 >= last_end - tail)
            found.extend([(key[at_tail] << np.uint64(doc_bits)) | local_doc[at_tail]] * (TAIL_REPEATS - 1))
    packed = np.sort(np.concatenate(found))
    if packed.size == 0:
        return np.zeros(0, dtype=np.uint64), sp.csr_matrix((n_docs, 0), dtype=np.float32)
    first = np.flatnonzero(np.concatenate([[True], packed[1:] != packed[:-1]]))
    count = np.diff(np.append(first, packed.size)).astype(np.float32)
    entries = packed[first]
    term = entries >> np.uint64(doc_bits)
    doc = (entries & np.uint64((1 << doc_bits) - 1)).astype(np.int64)
    new = np.concatenate([[True], term[1:] != term[:-1]])
    matrix = sp.csr_matrix((count, (doc, np.cumsum(new) - 1)), shape=(n_docs, int(new.sum())))
    return term[new], matrix


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct ``values``, sorted (a plain sort: faster than ``np.unique``'s hashing here)."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if values.size else values


def _strings(terms: np.ndarray, alphabet: np.ndarray, hi: int, bits: int) -> np.ndarray:
    """The n-grams (an object array of str) of packed ``terms``."""
    mask = np.uint64((1 << bits) - 1)
    chars = np.empty((terms.size, hi), dtype=np.uint32)
    for j in range(hi):
        chars[:, j] = alphabet[((terms >> np.uint64(bits * (hi - 1 - j))) & mask).astype(np.int64)]
    # A fixed-width string drops its trailing NULs: the padding of the shorter n-grams.
    return np.ascontiguousarray(chars).view(f"<U{hi}").ravel().astype(object)

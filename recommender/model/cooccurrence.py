"""Feature embeddings from the corpus' own co-occurrence statistics (PPMI + SVD).

A line of 8 to 30 characters has a handful of words and character n-grams, so two lines
about the same thing often share none of them. LSA (an SVD of the lines x features
matrix) joins features through the lines' leading variance directions, which the most
frequent characters and question forms dominate. Here every feature gets a vector from
*which other features it appears with across the corpus*: the positive pointwise mutual
information of two features counted over lines (a line is the context window), with the
usual context-distribution smoothing (exponent 0.75, as in word2vec), factored by a
truncated SVD (Levy & Goldberg 2015: "SVD of PPMI", vectors U * sqrt(S)). A line's vector
is the TF-IDF-weighted sum of its features' vectors, so ``X @ projection`` works exactly
like the LSA projection and costs the same at prediction time.

PMI favours association over frequency: the characters of a disease, a drug, an app or a
place name point the same way as the words they co-occur with, even when the two lines
that use them share no feature.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

# Features with an embedding of their own: the most frequent (by lines); rarer ones (seen in
# a line or two of the sample) add nothing a line's other features do not already say, and
# the co-occurrence matrix grows with the square of this number.
MAX_EMBEDDED_FEATURES = 20000
# Lines a feature must occur in to get a vector.
MIN_LINES = 2
# Features of a line that count as its context: its most weighty ones. A message body of 200
# characters has some 500 n-grams, and pairs of all of them would make the co-occurrence
# matrix dense (memory and time grow with the square) while saying little about each pair.
CONTEXT_FEATURES = 64
# Context-distribution smoothing of PMI (word2vec's 0.75): rare contexts get less extreme PMI.
CONTEXT_SMOOTHING = 0.75
# Power iterations of the randomized SVD (its start is fixed, so the result is deterministic).
SVD_ITERATIONS = 4


def ppmi_matrix(X: sp.spmatrix, max_features: int = MAX_EMBEDDED_FEATURES) -> tuple[sp.csr_matrix, np.ndarray]:
    """The PPMI matrix of the most frequent features of ``X`` (lines x features, any
    weights: only presence counts) and the column indices of those features in ``X``.

    PMI(i, j) = log( P(i, j) / (P(i) * P_0.75(j)) ), where P(i, j) is the share of lines
    that contain both, P(i) the share that contain i and P_0.75 the smoothed context share.
    """
    B = _top_per_row(sp.csr_matrix(X), CONTEXT_FEATURES)
    B.data[:] = 1.0
    B.eliminate_zeros()
    n_lines = B.shape[0]
    df = np.asarray(B.sum(axis=0)).ravel()
    if df.size > max_features:  # ties by column index, so the choice is deterministic
        keep = np.sort(np.argsort(-df, kind="stable")[:max_features])
    else:
        keep = np.arange(df.size)
    # A feature of one line has no association beyond that line (its PMI with each of the
    # line's features is just log of the line count): no vector of its own.
    keep = keep[df[keep] >= MIN_LINES]
    Bk = B[:, keep].astype(np.float64)
    dk = df[keep]
    C = (Bk.T @ Bk).tocoo()
    context = dk**CONTEXT_SMOOTHING
    context = context / context.sum() * n_lines
    with np.errstate(divide="ignore"):
        pmi = np.log(C.data * n_lines / (dk[C.row] * context[C.col]))
    positive = (pmi > 0) & (C.row != C.col)
    P = sp.csr_matrix(
        (pmi[positive].astype(np.float32), (C.row[positive], C.col[positive])), shape=(keep.size, keep.size)
    )
    return P, keep


def _top_per_row(X: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """``X`` keeping at most the ``k`` largest entries of each row (ties by column)."""
    X = X.copy()
    X.sort_indices()
    lengths = np.diff(X.indptr)
    if lengths.max(initial=0) <= k:
        return X
    keep = np.ones(X.data.size, dtype=bool)
    for row in np.flatnonzero(lengths > k):
        lo, hi = X.indptr[row], X.indptr[row + 1]
        order = np.argsort(-X.data[lo:hi], kind="stable")
        keep[lo + order[k:]] = False
    X.data = np.where(keep, X.data, 0.0).astype(X.data.dtype)
    X.eliminate_zeros()
    return X


def ppmi_projection(X: sp.spmatrix, dims: int, random_state: int = 0) -> tuple[np.ndarray, float]:
    """A (features x dims) float32 projection: each feature's PPMI-SVD vector (zero for a
    feature without one), and the share of the PPMI matrix's energy the dims keep.

    ``X`` holds the weighted feature rows of the lines to learn from (the SVD sample);
    ``X @ projection`` then gives each line the weighted sum of its features' vectors.
    """
    n_features = X.shape[1]
    P, keep = ppmi_matrix(X)
    projection = np.zeros((n_features, max(1, dims)), dtype=np.float32)
    total = float(P.multiply(P).sum())
    dims = int(min(dims, P.shape[0] - 1))
    if dims < 1 or P.nnz == 0 or total <= 0:
        projection[:, 0] = 1.0  # nothing co-occurs: one direction is all there is
        return projection[:, :1], 1.0
    U, S, _ = randomized_svd(P, dims, n_iter=SVD_ITERATIONS, random_state=random_state)
    projection = projection[:, :dims]
    projection[keep] = (U * np.sqrt(S)).astype(np.float32)
    return np.ascontiguousarray(projection), float(min(1.0, (S**2).sum() / total))

"""Evidence from a line's nearest training lines: a new line of a topic joins it, familiar
text that fits no topic stays out.

A topic's members are the dense core of its subject; a new line about the same subject is
often outside that core (further from the centroid than the weakest members, with no one
distinctive word), yet the training lines it resembles most are members of the topic. And
a new line whose nearest training line is itself in no topic is familiar text that fits no
topic, so it stays out too. So a line in no topic by :class:`TopicIndex`'s own rule joins
topic *t* when

* its nearest reference line by meaning (latent space) and its nearest reference line by
  wording (TF-IDF) are both in *t*, and
* in one of the two spaces it is as close to that line as half the reference lines are to
  their own nearest other reference line (a calibration on the store's own lines, leaving
  each line out, so a store of near-duplicate templates asks more than a store of varied
  requests), and
* most of its words, each counted by its general IDF, are ones the store has seen (the
  test ``assignment.py`` puts to a distinctive word far from its topic): 「太极拳入门想学学」
  is not a line of a topic about phones because 入门 is in one of its lines; the new
  太极拳 is what it is about.

A line about something the store never saw is rarely that close to anything, and its
nearest lines by meaning and by wording seldom agree on a topic. The reference lines' own
topics are found by the same rule, each leaving itself out and looking at the others'
topics by the index's rule alone, so that assigning a training line again gives the topic
``fit`` gave it (its nearest reference line is itself).

Measured on bench/organizer.py's open-set split (seed 0), difference of -1 shares unseen -
seen, SMP2017 / THUCNews / tipdm 495, in process: 0.283 / 0.130 / 0.383 with the IDF-weighted
word test of ``assignment.py`` alone; with this rule 0.290 / 0.152 / 0.417. The floor at
the 25th percentile took more lines of both kinds (0.288 / 0.162 / 0.517, without the
word test here), the 75th fewer (0.288 / 0.156 / 0.417); the nearest line in one space
alone takes unseen-class lines as often as seen ones on SMP2017 (latent: 0.271). Without
the word test the rule put 「希望开一个太极拳班」 into a topic about 公文写作 on a 61-line store
(LSA in 8 dimensions: every line is near every other) and THUCNews gained 0.006 more.
Through the CLI (``--only openset``), both changes: 0.265 / 0.146 / 0.367 -> 0.299 / 0.180 /
0.400 (-1 share of seen-class lines 61.0 / 77.0 / 56.7 % -> 60.3 / 74.2 / 53.3 %, unseen
87.5 / 91.6 / 93.3 % -> 90.3 / 92.2 / 93.3 %; AUROC unchanged, the score is not touched);
suggestion purity (``--only purity``) mean 0.888 -> 0.889, below 0.5: 2 -> 1. On 12,000
THUCNews titles the fit leaves 59.9 -> 57.9 % of lines in no topic (majority-class share of
the assigned lines 0.744 -> 0.741). The nearest line's position besides its similarity
costs about 0.1 ms a predicted text.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# Percentile of the reference lines' similarity to their nearest other reference line (in
# each space) that a line must reach in one of the two spaces to join by its nearest lines.
NEAREST_FLOOR_PERCENTILE = 50


def nearest_dense(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(similarity, column) of each row's largest entry of ``S`` (-inf, 0 for no columns)."""
    if S.shape[1] == 0:
        return np.full(S.shape[0], -np.inf, dtype=np.float32), np.zeros(S.shape[0], dtype=np.int64)
    best = S.argmax(axis=1)
    return S[np.arange(S.shape[0]), best], best.astype(np.int64)


def nearest_sparse(S: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(similarity, column) of each row's largest stored entry of the non-negative CSR
    ``S`` (0 and -1 for a row without entries). Row by row, so a row's answer does not
    depend on the other rows; ties go to the lowest column."""
    S = sp.csr_matrix(S)
    S.sort_indices()
    n = S.shape[0]
    best = np.zeros(n, dtype=np.float32)
    column = np.full(n, -1, dtype=np.int64)
    filled = np.diff(S.indptr) > 0
    if not filled.any():
        return best, column
    starts = S.indptr[:-1][filled]
    best[filled] = np.maximum.reduceat(S.data, starts)
    row_of = np.repeat(np.arange(n), np.diff(S.indptr))
    hits = np.flatnonzero(S.data == best[row_of])  # in row order, columns ascending
    first = hits[np.unique(row_of[hits], return_index=True)[1]]
    column[row_of[first]] = S.indices[first]
    return best, column


def join_by_nearest(
    labels: np.ndarray,
    latent: tuple[np.ndarray, np.ndarray],
    wording: tuple[np.ndarray, np.ndarray],
    reference_labels: np.ndarray,
    floors: np.ndarray,
    allowed: np.ndarray,
) -> np.ndarray:
    """``labels`` with each line in no topic (-1) moved to the topic of its nearest
    reference lines when both are in it and the line is close enough in one space.

    ``latent`` and ``wording``: each line's (similarity, reference line) of its nearest
    reference line in the latent and the TF-IDF space (reference line -1: none);
    ``reference_labels``: the reference lines' topics; ``floors``: (latent, TF-IDF)
    similarity floors (:func:`calibrate`); ``allowed``: the lines that may join (most of
    their words, counted by general IDF, seen in the store: closeness through the
    characters of words the store does not know is no evidence)."""
    (lat_sim, lat_ref), (tf_sim, tf_ref) = latent, wording
    if reference_labels.size == 0:
        return labels
    by_meaning = reference_labels[np.maximum(lat_ref, 0)]
    by_wording = np.where(tf_ref >= 0, reference_labels[np.maximum(tf_ref, 0)], -1)
    close = ((lat_sim >= floors[0]) | (tf_sim >= floors[1])) & allowed
    joins = (labels < 0) & (by_meaning >= 0) & (by_meaning == by_wording) & close
    return np.where(joins, by_meaning, labels)


def calibrate(
    reference: np.ndarray, reference_features: sp.csr_matrix, own_labels: np.ndarray, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(topics of the reference lines, (latent, TF-IDF) floors) from the reference lines'
    unit latent rows, their unit TF-IDF rows transposed (features x lines, as
    ``TopicIndex.reference_features``) and their topics by the index's own rule: each
    line leaves itself out and looks at the others' ``own_labels``."""
    r = reference.shape[0]
    if r < 2:
        return own_labels.copy(), np.array([np.inf, np.inf])
    L = reference @ reference.T
    np.fill_diagonal(L, -np.inf)
    latent = nearest_dense(L)
    T = sp.csr_matrix(reference_features.T @ reference_features)
    T.setdiag(0)
    T.eliminate_zeros()
    wording = nearest_sparse(T)
    floors = np.array([
        np.percentile(latent[0], NEAREST_FLOOR_PERCENTILE), np.percentile(wording[0], NEAREST_FLOOR_PERCENTILE)
    ])
    return join_by_nearest(own_labels, latent, wording, own_labels, floors, allowed), floors

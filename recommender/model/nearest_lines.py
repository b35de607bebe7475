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

A line's neighbourhood is evidence too (:func:`spread`, :func:`join_by_agreement`): of its
``AGREE_NEIGHBOURS`` nearest reference lines in each space, all those that are in a topic
are in the same one (at least ``AGREE_VOTES`` in each space), and it is as close to them
as all but the loosest tenth of that topic's members are to their own fellow members. The
reference lines themselves spread their topics by this rule for a few rounds (a line amid
a topic's lines whose single nearest line is in no topic joins it), and a new line joins
by it against their topics, so predicting a training line again still gives its topic.
A line whose neighbours in topics disagree (one topic and another) stays out: asking for
unanimity rather than a majority is what keeps the topics as pure as before. In process
on the open-set split (training lines in the store's time order, as the CLI gives them),
difference of -1 shares SMP2017 / THUCNews / tipdm 495: 0.309 / 0.198 / 0.400 -> 0.343 /
0.206 / 0.400, top-5 purity of the nine purity sets unchanged (0.891); a plurality of 3 of
20 instead of unanimity: 0.306 / 0.256 / 0.433 but purity 0.850 with two topics below 0.5.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# Percentile of the reference lines' similarity to their nearest other reference line (in
# each space) that a line must reach in one of the two spaces to join by its nearest lines.
NEAREST_FLOOR_PERCENTILE = 50
# A neighbourhood that agrees (:func:`spread`): of a line's ``AGREE_NEIGHBOURS`` nearest
# reference lines in each space, all those in a topic are in the same one, at least
# ``AGREE_VOTES`` of them; the line is as close to them as all but the loosest
# ``AGREE_PERCENTILE`` % of the topic's members are to their own topic's lines. The
# reference lines spread their topics so for at most ``AGREE_ROUNDS`` rounds.
AGREE_NEIGHBOURS = 20
AGREE_VOTES = 2
AGREE_PERCENTILE = 10
AGREE_ROUNDS = 3


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
    reference: np.ndarray, reference_features: sp.csr_matrix, own_labels: np.ndarray, allowed: np.ndarray,
    n_topics: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(topics of the reference lines, (latent, TF-IDF) floors, (2, topics) agreement
    floors) from the reference lines' unit latent rows, their unit TF-IDF rows transposed
    (features x lines, as ``TopicIndex.reference_features``) and their topics by the
    index's own rule: each line leaves itself out and looks at the others' ``own_labels``
    (then their nearest lines', then their neighbourhoods', :func:`spread`) among
    ``n_topics`` topics."""
    r = reference.shape[0]
    if r < 2:
        return own_labels.copy(), np.array([np.inf, np.inf]), np.full((2, n_topics), np.inf)
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
    labels = join_by_nearest(own_labels, latent, wording, own_labels, floors, allowed)
    T = T.toarray()
    np.fill_diagonal(T, -np.inf)
    labels, agreement = spread(labels, L, T, allowed, n_topics)
    return labels, floors, agreement


def neighbours(S: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(columns, similarities) of each row's ``k`` largest entries of the dense ``S``, most
    similar first (ties: lowest column)."""
    k = min(k, S.shape[1])
    part = np.argpartition(-S, k - 1, axis=1)[:, :k] if k < S.shape[1] else np.tile(np.arange(k), (S.shape[0], 1))
    sims = np.take_along_axis(S, part, axis=1)
    order = np.lexsort((part, -sims), axis=1)
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(sims, order, axis=1)


def agreement(labels: np.ndarray, columns: np.ndarray, sims: np.ndarray, topics: np.ndarray | None = None):
    """Per row of neighbours (``columns`` into ``labels``, most similar first, and their
    similarities): the topic all its neighbours in a topic are in (-1: none, or they
    disagree), how many are, and the row's mean similarity to the first ``AGREE_VOTES`` of
    them. ``topics``: read each row's closeness to that topic instead (the votes are then
    those for it)."""
    near = labels[columns]
    labelled = near >= 0
    if topics is None:
        top = np.where(labelled, near, -1).max(axis=1)
        unanimous = np.all(~labelled | (near == top[:, None]), axis=1)
        top = np.where(unanimous, top, -1)
    else:
        top = topics
    inside = (near == top[:, None]) & (top[:, None] >= 0)
    first = inside & (np.cumsum(inside, axis=1) <= AGREE_VOTES)
    closeness = np.where(first, sims, 0.0).sum(axis=1) / np.maximum(first.sum(axis=1), 1)
    return top, inside.sum(axis=1), closeness


def _agreed(found, floors: np.ndarray) -> np.ndarray:
    """The topic each row joins when :func:`agreement` in both spaces (``found``) names the
    same topic with enough votes and closeness above its ``floors`` (2, topics); -1 none."""
    (top_l, votes_l, close_l), (top_t, votes_t, close_t) = found
    t = np.maximum(top_l, 0)
    joins = (
        (top_l >= 0) & (top_l == top_t) & (votes_l >= AGREE_VOTES) & (votes_t >= AGREE_VOTES)
        & (close_l >= floors[0, t]) & (close_t >= floors[1, t])
    )
    return np.where(joins, top_l, -1)


def spread(
    labels: np.ndarray, L: np.ndarray, T: np.ndarray, allowed: np.ndarray, n_topics: int
) -> tuple[np.ndarray, np.ndarray]:
    """``labels`` of the reference lines with each line in no topic moved to the topic its
    neighbourhood agrees on (see ``AGREE_NEIGHBOURS``), for up to ``AGREE_ROUNDS`` rounds, and
    the (2, ``n_topics``) closeness floors of that rule (latent, TF-IDF), read off each
    topic's own members before the first round: each member's mean similarity to its
    nearest fellow members (inf for a topic without reference lines). ``L``, ``T``: the
    lines' latent and TF-IDF similarities, the diagonal -inf; ``allowed``: the lines that
    may join."""
    k_topics = int(n_topics)
    floors = np.full((2, k_topics), np.inf)
    if k_topics == 0 or labels.size <= AGREE_VOTES:
        return labels, floors
    spaces = [neighbours(S, min(AGREE_NEIGHBOURS, labels.size - 1)) for S in (L, T)]
    for s, (columns, sims) in enumerate(spaces):
        closeness = agreement(labels, columns, sims, topics=labels)[2]
        for t in range(k_topics):
            own = closeness[labels == t]
            if own.size:
                floors[s, t] = np.percentile(own, AGREE_PERCENTILE)
    for _ in range(AGREE_ROUNDS):
        joined = np.where((labels < 0) & allowed, _agreed([agreement(labels, *nb) for nb in spaces], floors), -1)
        if not (joined >= 0).any():
            break
        labels = np.where(joined >= 0, joined, labels)
    return labels, floors


def join_by_agreement(
    labels: np.ndarray, latent: np.ndarray, wording: sp.spmatrix, reference_labels: np.ndarray,
    floors: np.ndarray, allowed: np.ndarray,
) -> np.ndarray:
    """``labels`` with each line in no topic (-1) that ``allowed`` moved to the topic its
    nearest reference lines agree on (:func:`spread`'s rule); ``latent``, ``wording``: the
    lines' similarities to the reference lines (dense, and sparse)."""
    rows = np.flatnonzero((labels < 0) & allowed)
    if rows.size == 0 or floors.shape[1] == 0 or reference_labels.size <= AGREE_VOTES:
        return labels
    found = [
        agreement(reference_labels, *neighbours(S, AGREE_NEIGHBOURS))
        for S in (latent[rows], sp.csr_matrix(wording)[rows].toarray())
    ]
    labels = labels.copy()
    labels[rows] = _agreed(found, floors)
    return labels

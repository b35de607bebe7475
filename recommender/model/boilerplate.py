"""The corpus's own boilerplate, learned from the corpus: words that are in many lines but
say nothing about what a line is about.

A fixed stop-word list cannot know them: 投诉, 咨询 and 反映 open most messages on a city's
message board, 组图 and 快讯 mark the kind of a news headline, a place name ("西地省") is in
lines about anything. Kept at full weight, such a word pulls unrelated lines together and
forms a catch-all topic that tops the suggestions. Three signals find them; each is
measured, not listed:

* **Spread over topics** (:func:`spread_weights`, :func:`spread_generic`): a feature whose
  lines fall into many of the fine topic cores, rather than into one or two, is not what
  those topics are about. Its weight becomes ``SPREAD_TOPICS / effective number of topics``
  (at most 1), where the effective number is ``exp(entropy)`` of its lines' distribution
  over cores; a word spread over ``GENERIC_SPREAD`` cores or more is generic.
* **What is left without it** (:func:`remainder_generic`), for words common in any text:
  remove the word from each line that has it and compare what remains. When the rest of
  each line is substantial and the rests are no more alike than random lines, the word was
  glue ("问题", "情况"). When the rest is small the word is the subject.
* **Catch-all cores** (:func:`catch_all_glue`): a core whose lines, once the words shared
  by most of them are removed, each fit *another* core (one that does not share those
  words) is a catch-all; its shared words are glue.
* **Lines that share the word only** (:func:`headless_words`), for the words that could
  make a core a topic: without the word, the lines have a substantial rest whose subjects
  differ from line to line ("组图" on news titles of every category, "小区" or "投诉" on a
  city's message board). Each rest's subject is read from the lines nearest to it that lack
  the word (the corpus, not the rest's few words, says what it is about); when those
  subjects agree no more than random lines' do, the word is all the lines share: a core held
  by it is no topic, an evening class cannot be planned from it. Unlike the remainder test
  this one reads words rare in general Chinese too (组图 is), and only the words that could
  make a core a topic (:func:`head_words`).

Generic words keep a small weight (``GENERIC_WEIGHT``), are never keywords or labels and do
not count as a topic's distinctive terms.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from recommender.text.lexicon import general_idf, non_subject_words

# A feature whose lines spread over this many topics (effective number) keeps full weight.
SPREAD_TOPICS = 4.0
# A word whose lines spread over this many topics (effective number) is generic: 咨询, 投诉,
# 问题 on a message board (16-36), against 3-4 for a subject with a few sub-topics (诈骗,
# 灭火器 in the demo store) and 1-2 for most subjects (公积金, 噪音).
GENERIC_SPREAD = 5.0
# Lines a feature must have inside cores before its spread is judged.
SPREAD_MIN_LINES = 3
# Weight of a word judged generic (and of the character n-grams inside it).
GENERIC_WEIGHT = 0.2
# The remainder test looks at words in at least this share of the lines (and 3 lines).
REMAINDER_MIN_SHARE = 0.01
# ... in a corpus of this many lines at least ...
REMAINDER_MIN_CORPUS = 10
# ... using at most this many of each word's lines (chosen by position, deterministic).
REMAINDER_LINES = 40
# A word is generic when (mean remainder share) x (1 - excess likeness of the remainders)
# is at least this; ...
REMAINDER_GENERIC = 0.6
# ... or this for a word common in any Chinese text (general IDF below ``COMMON_IDF``).
# Only words common in general Chinese (general IDF below ``RARE_IDF``: 问题, 工作, 情况,
# 解决) are judged this way. On a few hundred lines the latent space cannot tell the rests
# of a subject's sub-topics ("冒充客服" and "刷单" after 诈骗) from unrelated rests, so a
# domain word (诈骗, 物业, 灭火器) is left to the two tests that compare topics.
REMAINDER_GENERIC_COMMON = 0.45
COMMON_IDF = 4.5
RARE_IDF = 6.0
# Share of a core's lines that must fit another core, without the core's shared words,
# for the core to be a catch-all.
CATCH_ALL_SHARE = 0.5
# Words in at least this share of a core's lines are its shared words.
SHARED_SHARE = 0.5
# Lines of a core the catch-all test reads (evenly spread over it).
CATCH_ALL_LINES = 40

# The head-word test (:func:`headless_words`) reads the words in this share of a core's
# lines (the share that makes a word one of a topic's distinctive terms,
# ``discovery.TERM_MIN_SHARE``), and two of them at least.
HEAD_SHARE = 0.2
# A word's lines are read when, without it, they keep this share of their vectors on
# average (below it the word is most of what the lines say: "发短信给妈妈" is about sending
# a message, "出租车" is most of a short complaint about taxis) ...
HEAD_REST_SHARE = 0.7
# ... and the word is glue when their subjects (the centroid of each rest's
# ``HEAD_NEIGHBOURS`` nearest lines among ``HEAD_REFERENCE`` lines without the word) agree
# less than this, as an excess over random lines' agreement (0: as random lines, 1: all the
# same). Measured on 2,000 news titles and 495 citizen messages: 0.02-0.14 for 组图, 收购,
# 视频, 小区, 投诉, 请求; 0.3-0.8 for 考研, 佳能, 皇马, 医护人员, 欺骗.
HEAD_AGREEMENT = 0.15
# A word's verdict needs this many of its lines: on fewer, a few more lines move the
# agreement across its bar (on 500 news titles, +1 % lines turned words of 5-8 lines into
# glue and back, and took their topics away).
HEAD_MIN_LINES = 10
HEAD_NEIGHBOURS = 5
HEAD_REFERENCE = 2000

LatentFn = Callable[[list[str], list[list[str]]], np.ndarray]


def core_counts(presence: sp.csr_matrix, labels: np.ndarray) -> sp.csc_matrix:
    """Lines of each core (rows) that have each feature (columns), sparse; -1 is left out."""
    mask = labels >= 0
    k = int(labels.max()) + 1 if mask.any() else 0
    member = sp.csr_matrix(
        (np.ones(int(mask.sum())), (labels[mask], np.flatnonzero(mask))), shape=(k, labels.size)
    )
    return (member @ presence).tocsc()


def entropy_spread(counts: sp.csc_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Effective number of groups (``exp`` of the entropy) of each column of the sparse
    ``counts`` (groups x features), and each column's total."""
    counts = sp.csc_matrix(counts, dtype=np.float64)
    totals = np.asarray(counts.sum(axis=0)).ravel()
    column = np.repeat(np.arange(counts.shape[1]), np.diff(counts.indptr))
    p = counts.data / np.maximum(totals[column], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    h = np.bincount(column, weights=terms, minlength=counts.shape[1])
    return np.exp(h), totals


def spread_weights(presence: sp.csr_matrix, labels: np.ndarray) -> np.ndarray:
    """Weight of each feature (column of the binary ``presence``) from its spread over
    the cores ``labels``: ``min(1, SPREAD_TOPICS / effective number of cores)``."""
    if not (labels >= 0).any():
        return np.ones(presence.shape[1])
    spread, totals = entropy_spread(core_counts(presence, labels))
    weights = np.minimum(1.0, SPREAD_TOPICS / np.maximum(spread, 1e-9))
    return np.where(totals >= SPREAD_MIN_LINES, weights, 1.0)


def spread_generic(tokens: Sequence[Sequence[str]], labels: np.ndarray) -> set[str]:
    """Words whose lines (at least ``SPREAD_MIN_LINES`` of them in cores) spread over
    ``GENERIC_SPREAD`` or more cores (effective number)."""
    from sklearn.feature_extraction.text import CountVectorizer

    rows = np.flatnonzero(labels >= 0)
    if rows.size == 0:
        return set()
    vectorizer = CountVectorizer(analyzer=_as_is, binary=True, lowercase=False)
    try:
        presence = vectorizer.fit_transform([tokens[i] for i in rows])
    except ValueError:  # no words at all
        return set()
    spread, totals = entropy_spread(core_counts(presence.tocsr(), labels[rows]))
    words = vectorizer.get_feature_names_out()
    return {str(words[j]) for j in np.flatnonzero((totals >= SPREAD_MIN_LINES) & (spread >= GENERIC_SPREAD))}


def _as_is(tokens: Sequence[str]) -> Sequence[str]:
    return tokens


def _without(text: str, tokens: Sequence[str], words: set[str]) -> tuple[str, list[str]]:
    for w in sorted(words, key=len, reverse=True):
        text = text.replace(w, " ")
    return text, [t for t in tokens if t not in words]


def remainder_min_lines(n: int) -> int:
    """Fewest lines of a word the remainder test reads, in a corpus of ``n`` lines."""
    return max(3, int(REMAINDER_MIN_SHARE * n))


def judged_lines(n: int, min_topic_size: int) -> int:
    """Lines of a word common in general Chinese from which a corpus of ``n`` lines has
    judged it itself as a topic's subject: the remainder test has read it
    (:func:`remainder_min_lines`) and the corpus has as many lines of it as a topic needs
    (``min_topic_size``), or the head-word test has read it (``HEAD_MIN_LINES``), whichever
    needs fewer; from 1,000 lines on that is ``HEAD_MIN_LINES``. Below it only general
    Chinese can say whether the word is a subject (``discovery.specific_terms``)."""
    if n < REMAINDER_MIN_CORPUS:
        return HEAD_MIN_LINES
    return min(HEAD_MIN_LINES, max(remainder_min_lines(n), min_topic_size))


def remainder_generic(
    texts: Sequence[str], tokens: Sequence[Sequence[str]], full: np.ndarray, latent: LatentFn
) -> set[str]:
    """Frequent words whose lines have a substantial rest that is no more alike than
    random lines (see the module docstring). ``latent`` gives unnormalized latent rows;
    ``full`` are those of the lines themselves."""
    n = len(texts)
    if n < REMAINDER_MIN_CORPUS:
        return set()
    full_norm = np.linalg.norm(full, axis=1)
    unit = normalize(full)
    background = float(np.linalg.norm(unit.mean(axis=0)) ** 2)
    lines_of: dict[str, list[int]] = defaultdict(list)
    for i, toks in enumerate(tokens):
        for w in set(toks):
            lines_of[w].append(i)
    min_lines = remainder_min_lines(n)
    tested: list[tuple[str, float, list[int]]] = []
    for word, rows in sorted(lines_of.items()):
        idf = general_idf(word)
        if len(rows) < min_lines or idf is None or idf >= RARE_IDF:
            continue
        threshold = REMAINDER_GENERIC_COMMON if idf < COMMON_IDF else REMAINDER_GENERIC
        tested.append((word, threshold, rows[:REMAINDER_LINES]))
    # Every rest of every tested word in one pass (a vectorizer call per word costs more
    # than its work).
    rests = [_without(texts[i], tokens[i], {word}) for word, _, rows in tested for i in rows]
    R_all = latent([r[0] for r in rests], [r[1] for r in rests]) if rests else np.zeros((0, full.shape[1]))
    generic = set()
    start = 0
    for word, threshold, rows in tested:
        R = R_all[start : start + len(rows)]
        start += len(rows)
        share = np.minimum(np.linalg.norm(R, axis=1) / np.maximum(full_norm[rows], 1e-12), 1.0)
        Ru = normalize(R)
        pair = np.outer(share, share)
        np.fill_diagonal(pair, 0.0)
        if pair.sum() <= 0:
            continue
        alike = float(((Ru @ Ru.T) * pair).sum() / pair.sum())
        excess = max(0.0, (alike - background) / max(1.0 - background, 1e-9))
        # When the rest is small (below ``HEAD_REST_SHARE`` of the lines' vectors, as in the
        # head-word test) the word is most of what the lines say: their subject, whatever
        # the rests look like. On 135-150 news titles the product alone made 基金 glue (its
        # 7-11 finance titles keep 0.68 of their vectors without it, and a latent space of
        # some 18 dimensions cannot tell 赎回 from 三季度 apart from random titles).
        rest = float(share.mean())
        if rest >= HEAD_REST_SHARE and rest * (1.0 - min(excess, 1.0)) >= threshold:
            generic.add(word)
    return generic


def shared_words(tokens: Sequence[Sequence[str]], rows: np.ndarray, share: float = SHARED_SHARE) -> set[str]:
    """Words in at least ``share`` of the lines ``rows``."""
    counts: dict[str, int] = defaultdict(int)
    for i in rows:
        for w in set(tokens[i]):
            counts[w] += 1
    return {w for w, c in counts.items() if c >= share * len(rows)}


def catch_all_glue(
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    labels: np.ndarray,
    Z: np.ndarray,
    latent: LatentFn,
) -> set[str]:
    """Shared words of the catch-all cores among ``labels`` (rows of ``Z`` are the unit
    latent vectors the cores were found in)."""
    k = int(labels.max()) + 1 if (labels >= 0).any() else 0
    if k < 2:
        return set()
    members = [np.flatnonzero(labels == c) for c in range(k)]
    centroids = normalize(np.vstack([Z[m].mean(axis=0) for m in members]))
    # A line fits a core when it is as close to it as the core's own weakest tenth.
    own = np.array([np.percentile(Z[m] @ centroids[c], 10) for c, m in enumerate(members)])
    shared_of = [shared_words(tokens, rows) for rows in members]
    tested = [
        (c, rows[:: max(1, rows.size // CATCH_ALL_LINES)][:CATCH_ALL_LINES])  # spread over the core
        for c, rows in enumerate(members)
        if shared_of[c]
    ]
    rests = [_without(texts[i], tokens[i], shared_of[c]) for c, rows in tested for i in rows]
    if not rests:
        return set()
    R_all = latent([r[0] for r in rests], [r[1] for r in rests])
    glue: set[str] = set()
    start = 0
    for c, rows in tested:
        R = R_all[start : start + len(rows)]
        start += len(rows)
        shared = shared_of[c]
        has_rest = np.linalg.norm(R, axis=1) > 0
        sims = normalize(R) @ centroids.T
        # Cores that share the word too are siblings under one theme ("冒充客服诈骗",
        # "刷单诈骗"): fitting them says the word is the theme, not glue.
        siblings = [o for o in range(k) if not shared.isdisjoint(shared_of[o])]
        sims[:, siblings] = -np.inf
        best = np.argmax(sims, axis=1)
        fits_other = has_rest & (sims[np.arange(len(rows)), best] >= own[best])
        if fits_other.mean() >= CATCH_ALL_SHARE:
            glue |= shared
    return glue


def word_feature_mask(feature_names: Sequence[str], words: set[str]) -> np.ndarray:
    """Features that are one of ``words`` or a character n-gram (2+ characters) inside one."""
    inside = set(words)
    for w in words:
        inside.update(w[i : i + n] for n in range(2, len(w)) for i in range(len(w) - n + 1))
    return np.fromiter((f in inside for f in feature_names), dtype=bool, count=len(feature_names))


def _subjects(R: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Unit centroid of the ``HEAD_NEIGHBOURS`` rows of ``reference`` nearest to each row
    of ``R`` (all unit rows)."""
    k = min(HEAD_NEIGHBOURS, reference.shape[0])
    S = R @ reference.T
    near = np.argpartition(-S, kth=k - 1, axis=1)[:, :k]
    return normalize(reference[near].mean(axis=1))


def _agreement(U: np.ndarray) -> float:
    """Mean cosine of the distinct pairs of unit rows ``U``."""
    n = U.shape[0]
    S = U @ U.T
    return float((S.sum() - np.trace(S)) / max(n * (n - 1), 1))


def head_words(cores: Sequence[np.ndarray], tokens: Sequence[Sequence[str]], generic: set[str]) -> set[str]:
    """Words that could hold a core together: in ``HEAD_SHARE`` of its lines and two of them
    at least, two characters or more, neither generic nor a name, time or locality."""
    names = non_subject_words()
    words: set[str] = set()
    for rows in cores:
        counts: dict[str, int] = defaultdict(int)
        for i in rows:
            for w in set(tokens[i]):
                counts[w] += 1
        words.update(w for w, c in counts.items() if c >= max(2, HEAD_SHARE * len(rows)))
    return {w for w in words if len(w) >= 2 and w not in generic and w not in names}


def headless_words(
    words: set[str],
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    Z: np.ndarray,
    latent: LatentFn,
    keys: np.ndarray,
    norms: np.ndarray,
) -> set[str]:
    """The ``words`` whose lines share nothing else (see the module docstring), among the
    lines with unit latent rows ``Z`` (``norms``: the lengths of the rows ``latent`` gives
    them); ``keys`` (text hashes) choose the lines read, so both engines read the same ones."""
    order = np.argsort(np.asarray(keys, dtype=np.uint64), kind="stable")
    reference = order[:HEAD_REFERENCE]
    if not words or reference.size <= 2 * HEAD_NEIGHBOURS:
        return set()
    # The first lines in text-hash order: a random sample that a few more lines barely change
    # (a stride over the lines would pick others after any addition, and flip the verdicts).
    probe = reference[:CATCH_ALL_LINES]
    # Random lines' agreement: each probe line's subject among the other reference lines.
    base = _agreement(np.vstack([_subjects(Z[[i]], Z[reference[reference != i]]) for i in probe]))
    lines_of: dict[str, list[int]] = defaultdict(list)
    for i in order:
        for w in words.intersection(tokens[i]):
            lines_of[w].append(int(i))
    tested = [
        (w, np.asarray(rows[:CATCH_ALL_LINES]))
        for w, rows in sorted(lines_of.items()) if len(rows) >= HEAD_MIN_LINES
    ]
    rests = [_without(texts[i], tokens[i], {w}) for w, rows in tested for i in rows]
    if not rests:
        return set()
    R_all = latent([r[0] for r in rests], [r[1] for r in rests])
    full = np.concatenate([norms[rows] for _, rows in tested])
    share_all = np.minimum(np.linalg.norm(R_all, axis=1) / np.maximum(full, 1e-12), 1.0)
    # The reference lines that have each tested word (positions in ``reference``).
    tested_words = {w for w, _ in tested}
    in_reference: dict[str, list[int]] = defaultdict(list)
    for j, i in enumerate(reference):
        for w in tested_words.intersection(tokens[i]):
            in_reference[w].append(j)
    glue, start = set(), 0
    for w, rows in tested:
        R, share = R_all[start : start + len(rows)], share_all[start : start + len(rows)]
        start += len(rows)
        lacks = np.ones(reference.size, dtype=bool)
        lacks[in_reference.get(w, [])] = False
        without = reference[lacks]
        if share.mean() < HEAD_REST_SHARE or without.size <= HEAD_NEIGHBOURS:
            continue
        agree = _agreement(_subjects(normalize(R), Z[without]))
        if (agree - base) / max(1.0 - base, 1e-9) < HEAD_AGREEMENT:
            glue.add(w)
    return glue


"""Topic descriptions: class-based TF-IDF keywords, short labels, representative quotes, themes.

c-TF-IDF (as in BERTopic) treats all lines of a topic as one document: a word scores high
when many lines of *this* topic use it and few lines elsewhere do. Counts are per line
(binary), which suits lines of 8 to 30 characters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.feature_extraction.text import CountVectorizer

from recommender.model.labels import candidate_labels, is_fragment, phrases
from recommender.text.lexicon import glued_division
from recommender.text.tokenize import is_known_word, pieces

MAX_LABEL_CHARS = 12
# Two quotes this similar (cosine of their vectors, or overlap of character bigrams) say
# the same thing; only the more central one is shown.
DUPLICATE_COSINE = 0.9
DUPLICATE_BIGRAMS = 0.6


def _tokens_as_is(tokens: Sequence[str]) -> Sequence[str]:
    return tokens


def _is_keyword_candidate(word: str, docs_in_topic: int) -> bool:
    if len(word) < 2 or glued_division(word):  # 县松雅湖: 县 of 「A7县」 + 松雅湖
        return False
    if word.isascii():
        return word.isalnum() and not word.isdigit()
    # Words only jieba's HMM found are often fragments ("讲得"); keep them only when
    # several lines of the topic agree on them (likely a local name).
    return is_known_word(word) or docs_in_topic >= 3


def topic_word_counts(
    tokens: Sequence[Sequence[str]], labels: np.ndarray, n_topics: int
) -> tuple[np.ndarray, sp.csr_matrix]:
    """Vocabulary (sorted) of the lines in a topic and, per topic, how many of its lines use
    each word (label -1 is left out). Counts of several partitions add up."""
    mask = labels >= 0
    if not mask.any():
        return np.array([], dtype=object), sp.csr_matrix((n_topics, 0), dtype=np.int64)
    cv = CountVectorizer(analyzer=_tokens_as_is, binary=True, lowercase=False, dtype=np.int64)
    try:
        counts = cv.fit_transform([tokens[i] for i in np.flatnonzero(mask)])
    except ValueError:  # no words at all
        return np.array([], dtype=object), sp.csr_matrix((n_topics, 0), dtype=np.int64)
    member = sp.csr_matrix(
        (np.ones(int(mask.sum()), dtype=np.int64), (labels[mask], np.arange(int(mask.sum())))),
        shape=(n_topics, int(mask.sum())),
    )
    return cv.get_feature_names_out().astype(object), (member @ counts).tocsr()


def keywords_from_counts(
    vocab: np.ndarray, per_topic: sp.spmatrix | np.ndarray, n_keywords: int
) -> list[list[tuple[str, float]]]:
    """Top ``n_keywords`` (word, score) per topic by c-TF-IDF from :func:`topic_word_counts`."""
    n_topics = per_topic.shape[0]
    if len(vocab) == 0:
        return [[] for _ in range(n_topics)]
    per_topic = per_topic.toarray() if sp.issparse(per_topic) else np.asarray(per_topic)
    totals = per_topic.sum(axis=1, keepdims=True)
    tf = per_topic / np.maximum(totals, 1)
    avg_words = per_topic.sum() / max(n_topics, 1)
    idf = np.log1p(avg_words / np.maximum(per_topic.sum(axis=0), 1))
    scores = tf * idf
    result = []
    for t in range(n_topics):
        order = np.argsort(-scores[t], kind="stable")
        picked: list[tuple[str, float]] = []
        fallback: list[tuple[str, float]] = []
        for j in order:
            if per_topic[t, j] == 0 or len(picked) >= n_keywords:
                break
            word = str(vocab[j])
            if _is_keyword_candidate(word, int(per_topic[t, j])):
                picked.append((word, float(scores[t, j])))
            elif len(fallback) < n_keywords:
                fallback.append((word, float(scores[t, j])))
        result.append(picked or fallback)
    return result


# Keywords scored beyond those shown, so that a fragment left out (see whole_keywords) is
# replaced by the next keyword.
SPARE_KEYWORDS = 4


def whole_keywords(
    keywords: Sequence[tuple[str, float]], lines: Sequence[str], n_keywords: int
) -> list[tuple[str, float]]:
    """The first ``n_keywords`` of ``keywords`` without the words jieba only guessed that
    are, in the topic's ``lines``, mostly part of one longer string (``labels.is_fragment``):
    a name cut in two (背镇 and 湖村 of 「江背镇乌川湖村」, 穿长 of 「下穿长永高速」) or a word
    guessed across a word (桥来 of 「拆除五一桥来建」). A dictionary word stays even where it is
    mostly inside one longer string (有偿 of 有偿补课, 棚户区 of 棚户区改造): it is a word of
    the topic still. Only the keywords shown change: the label is built from all of them, and
    a fragment can anchor a whole phrase (穿长 → 「穿长永高速」)."""
    return [
        (w, s) for w, s in keywords if is_known_word(w) or w.isascii() or not is_fragment(w, lines)
    ][:n_keywords]


def topic_keywords(
    tokens: Sequence[Sequence[str]], labels: np.ndarray, n_topics: int, n_keywords: int
) -> list[list[tuple[str, float]]]:
    """Top ``n_keywords`` (word, score) per topic by c-TF-IDF; label -1 is left out."""
    vocab, per_topic = topic_word_counts(tokens, labels, n_topics)
    return keywords_from_counts(vocab, per_topic, n_keywords)


def topic_label(keywords: Sequence[tuple[str, float]], taken: set[str] | None = None) -> str:
    """A short readable label from the top keywords, e.g. "消防安全·灭火器" (≤ 12 chars).

    The second keyword joins when it is nearly as typical of the topic as the first and
    is not part of it; another is added when the label is already ``taken``.
    """
    if not keywords:
        return "其他"
    taken = taken or set()
    words = [w for w, _ in keywords]
    top_score = keywords[0][1]
    parts = [words[0][:MAX_LABEL_CHARS]]
    for word, score in keywords[1:]:
        label = "·".join(parts)
        must_extend = label in taken
        if not must_extend and (len(parts) >= 2 or score < 0.5 * top_score):
            break
        if any(word in p or p in word for p in parts):
            continue
        candidate = "·".join([*parts, word])
        if len(candidate) > MAX_LABEL_CHARS:
            continue
        parts.append(word)
    return "·".join(parts)


def _bigrams(text: str) -> set[str]:
    text = "".join(text.split())
    return {text[i : i + 2] for i in range(max(len(text) - 1, 1))}


def representative_examples(
    texts: Sequence[str],
    vectors: np.ndarray,
    members: np.ndarray,
    similarity: np.ndarray,
    n_examples: int,
    tiers: np.ndarray | None = None,
) -> list[int]:
    """Indices of up to ``n_examples`` central members that are not near-duplicates; with
    ``tiers`` (one per text, lower first), the members of a lower tier come before all of a
    higher one, each tier most central first (see :func:`quote_tiers`)."""
    order = members[np.argsort(-similarity[members], kind="stable")]
    if tiers is not None:
        order = order[np.argsort(np.asarray(tiers)[order], kind="stable")]
    chosen: list[int] = []
    chosen_bigrams: list[set[str]] = []
    for i in order:
        if len(chosen) >= n_examples:
            break
        if chosen and float(np.max(vectors[chosen] @ vectors[i])) >= DUPLICATE_COSINE:
            continue
        grams = _bigrams(texts[i])
        if any(len(grams & g) / max(len(grams | g), 1) >= DUPLICATE_BIGRAMS for g in chosen_bigrams):
            continue
        chosen.append(int(i))
        chosen_bigrams.append(grams)
    return chosen


# A quote is shown first when it holds the topic's label, then when it holds one of the topic's
# first QUOTE_KEYWORDS keywords.
QUOTE_KEYWORDS = 3


def quote_tiers(texts: Sequence[str], label: str, keywords: Sequence[str]) -> np.ndarray:
    """The order in which a topic's central lines are quoted: 0 for a line that holds its
    label, 1 for one that holds one of its first ``QUOTE_KEYWORDS`` keywords, 2 for the
    others. A line joins a topic by closeness too, and the most central lines by that score
    can be about something else (「超市占道经营」 at the head of 「扰民」); an organizer reads
    the quotes to see what the label means, so they show it in use first."""
    first = [w for w in keywords[:QUOTE_KEYWORDS] if w]
    lowered = [t.lower() for t in texts]
    return np.array(
        [0 if label and label.lower() in t else 1 if any(w.lower() in t for w in first) else 2 for t in lowered],
        dtype=np.int64,
    )


# Themes (see group_themes). A topic's own scale of relatedness: the mean similarity to its
# THEME_NEIGHBOURS most similar topics. Two topics are related when their similarity is within
# THEME_MARGIN of their two scales' mean (and at least the model's floor). Measured on the
# 2,732 tipdm message titles (56 topics): plain average linkage at the floor (0.1) chained 14
# topics (入学, 购房, 报销, 驾驶证 …) through a broad topic similar to all of them; with the
# scales the largest theme has 3-4 topics (公路·路灯·水泥路, 报销·养老保险·医疗保险). On
# 2,000-line SMP2017 / THUCNews / tipdm 495 samples the share of same-theme topic pairs whose
# majority class agrees goes 0.70 / 0.86 / 0.48 → 0.75 / 0.92 / 0.67; margins of 0.05 / 0.1
# gave 0.71 / 0.75 on SMP2017 and a largest message theme of 3 / 7.
# Complete linkage (every two topics of a theme related, 2026-12-06 evening): average linkage
# had grown one theme of 10 of the 56 message topics again (小孩 over 报销, 养老保险, 计划生育,
# 独生子女 …: each close to some, the average close enough); complete linkage cuts it to 5
# (小孩·购房·报销·异地·驾驶证), 29 → 33 themes, and leaves the themes of the SMP2017,
# THUCNews and tipdm 495 samples exactly as they were (20 / 17 / 12 pairs, agreement
# 0.70 / 0.94 / 0.75).
THEME_NEIGHBOURS = 3
THEME_MARGIN = 0.075


def group_themes(similarity: np.ndarray, min_similarity: float) -> np.ndarray:
    """Theme id per topic from their pairwise ``similarity`` (symmetric, 1 on the diagonal).

    A broad topic (a hub) is somewhat similar to many topics, and plain linkage at one bar
    chains unrelated topics through it. So each pair is judged against the two topics' own
    scales (the mean similarity of each to its ``THEME_NEIGHBOURS`` nearest topics, as in
    CSLS): ``similarity − mean of the two scales``, complete linkage cut at ``−THEME_MARGIN``:
    every two topics of a theme are related, not only on average (average linkage chains
    topics that are each related to a few of a large theme's). A pair below
    ``min_similarity`` is unrelated and counts as far apart as can be; a topic related to
    none is its own theme.
    """
    k = similarity.shape[0]
    if k == 1:
        return np.zeros(1, dtype=np.int64)
    similarity = np.asarray(similarity, dtype=np.float64)
    others = np.where(np.eye(k, dtype=bool), -np.inf, similarity)
    nearest = -np.sort(-others, axis=1)[:, : min(THEME_NEIGHBOURS, k - 1)]
    scale = nearest.mean(axis=1)
    relative = similarity - (scale[:, None] + scale[None, :]) / 2.0
    # Unrelated pairs: an adjusted similarity of -1, whatever the scales say.
    relative = np.where(similarity >= min_similarity, relative, -1.0)
    distance = np.clip(1.0 - relative, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    Z = linkage(squareform(distance, checks=False), method="complete")
    groups = fcluster(Z, t=1.0 + THEME_MARGIN, criterion="distance")
    # Number themes by their first topic so ids are stable for a given model.
    _, first = np.unique(groups, return_index=True)
    order = {g: i for i, g in enumerate(groups[np.sort(first)])}
    return np.array([order[g] for g in groups], dtype=np.int64)


def describe_topics(
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    vectors: np.ndarray,
    labels: np.ndarray,
    similarity: np.ndarray,
    centroids: np.ndarray,
    *,
    n_keywords: int,
    n_examples: int,
    theme_similarity: float,
) -> list[dict]:
    """The ``topics_`` list of a fitted model (see docs/ARCHITECTURE.md)."""
    n_topics = centroids.shape[0]
    sizes = np.bincount(labels[labels >= 0], minlength=n_topics)
    examples = [
        representative_examples(texts, vectors, np.flatnonzero(labels == t), similarity, n_examples)
        for t in range(n_topics)
    ]
    return assemble_topics(
        topic_keywords(tokens, labels, n_topics, n_keywords),
        sizes,
        group_themes(centroids, theme_similarity),
        examples,
        {i: texts[i] for idx in examples for i in idx},
    )


def assemble_topics(
    keywords: Sequence[Sequence[tuple[str, float]]],
    sizes: np.ndarray,
    themes: np.ndarray,
    examples: Sequence[Sequence[int]],
    example_texts: dict[int, str],
) -> list[dict]:
    """Topic dicts from their parts; ``examples[t]`` are row indices, ``example_texts`` their text."""
    topics = []
    taken: set[str] = set()
    # Larger topics choose their label first; smaller ones disambiguate.
    for t in sorted(range(len(keywords)), key=lambda t: (-sizes[t], t)):
        label = topic_label(keywords[t], taken)
        taken.add(label)
        idx = [int(i) for i in examples[t]]
        topics.append(
            {
                "topic": t,
                "size": int(sizes[t]),
                "keywords": [w for w, _ in keywords[t]],
                "label": label,
                "examples": [example_texts[i] for i in idx],
                "example_indices": idx,
                "theme": int(themes[t]),
            }
        )
    return sorted(topics, key=lambda d: d["topic"])


def describe_lines(
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    rest_tokens: Sequence[Sequence[str]],
    generic: set[str] | frozenset[str] = frozenset(),
    n_keywords: int = 5,
) -> tuple[str, list[str]]:
    """(label, keywords) of a group of lines picked out of a topic (an organizer's split),
    as a fit labels a topic: c-TF-IDF keywords against the lines left behind
    (``rest_tokens``), then the phrase of its lines that holds them (``labels``)."""
    everything = [list(t) for t in tokens] + [list(t) for t in rest_tokens]
    which = np.array([0] * len(tokens) + [1] * len(rest_tokens), dtype=np.int64)
    scored = topic_keywords(everything, which, 2, n_keywords)[0]
    words = [w for w, _ in scored]
    cuts = [pieces(text) for text in texts]
    line_phrases = [phrases(cut, set(toks)) for cut, toks in zip(cuts, tokens)]
    label = next(iter(candidate_labels(line_phrases, words, set(generic), cuts)), None) or topic_label(scored)
    return label, words

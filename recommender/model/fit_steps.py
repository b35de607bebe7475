"""The steps of ``TopicModel.fit``, public so that both training engines run the same ones.

The local engine (``TopicModel.fit``) calls them on lists in memory; the Dask engine
(``recommender.retrain.dask_engine``) calls the same functions with the lines spread over
workers. Every step either works on the *discovery sample* (at most ``DISCOVERY_SAMPLE``
lines, chosen by a hash of their text, so both engines draw the same one) or produces
partial results that add up across partitions:

1. term counts → :func:`fit_representation` (vectorizers from summed counts, the latent
   basis from the SVD sample);
2. the discovery sample → :func:`discover` (learned boilerplate, topic cores, carried-over
   topics, the assignment index) or, with a fixed number of topics, :func:`partition`;
3. every line → ``TopicIndex.assign`` and :func:`topic_stats` (per partition), added up by
   :func:`merge_stats`;
4. the summed statistics → :func:`describe` (keywords, phrase labels, quotes, themes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from recommender.model.assignment import TopicIndex, build_index
from recommender.model.clustering import GRAPH_SAMPLE, hash_sample, hierarchical_topics, refine, similarity_floors
from recommender.model.describe import (
    SPARE_KEYWORDS,
    group_themes,
    keywords_from_counts,
    quote_tiers,
    representative_examples,
    topic_word_counts,
    whole_keywords,
)
from recommender.model.discovery import Topic, carry_over, find_cores, learn_weights, split_subjects, word_shares
from recommender.model.labels import LABEL_CHARS, LABEL_LINES, candidate_labels, choose_labels, phrases, theme_label
from recommender.model.representation import Representation, block_templates
from recommender.model.ngram_counts import block_counts
from recommender.model.vocabulary import TermCounts, fitted_vectorizer, repeated_counts, restricted_counts, select_terms
from recommender.text.lexicon import morphemes as text_morphemes
from recommender.text.lexicon import non_subject_words, specificity
from recommender.text.tokenize import pieces

# Lines the topic cores are searched in (a text-hashed sample of larger corpora); the other
# lines are assigned to the topics found.
DISCOVERY_SAMPLE = 12000
# Copies of one identical text in the discovery sample: a flood of a template line stays
# one small dense spot instead of filling the neighbour graph.
DISCOVERY_COPIES = 20
# Lines the fixed-``n_topics`` partition refines its centroids on.
PARTITION_SAMPLE = 20000


def default_min_topic_size(n_lines: int) -> int:
    """Lines a topic needs: 5, fewer in a store of a few dozen lines."""
    return int(max(3, min(5, n_lines // 10)))


def check_rows(n_docs: int, n_topics: int | None) -> None:
    """``n_docs``: lines with at least one topic word."""
    if n_docs == 0:
        raise ValueError("none of the texts has a topic word after tokenization")
    if n_topics is not None and n_topics > n_docs:
        raise ValueError(f"n_topics={n_topics} should be <= number of texts with words={n_docs}")


def templates(params: dict, n_docs: int):
    """The unfitted vectorizers of the model with ``params`` (``get_params()``)."""
    return block_templates(
        n_docs, min_df=params["min_df"], max_features=params["max_features"],
        char_ngram_range=params["char_ngram_range"], projection=params["projection"],
    )


def distinct_lines(tokens: Sequence[Sequence[str]], segments: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """The first of each distinct (tokens, segments) among the lines, and each line's
    distinct line (a number into the first array)."""
    number: dict[tuple, int] = {}
    lines = np.fromiter(
        (number.setdefault((tuple(t), tuple(s)), len(number)) for t, s in zip(tokens, segments)),
        dtype=np.int64, count=len(tokens),
    )
    _, first = np.unique(lines, return_index=True)
    return first, lines


def fit_features(
    params: dict, tokens: Sequence[Sequence[str]], segments: Sequence[Sequence[str]], lines: np.ndarray
) -> tuple[Representation, sp.csr_matrix]:
    """Vectorizers fitted on all lines with words (every line in this process) and the
    feature rows of the distinct lines. ``tokens`` and ``segments`` are those of the
    distinct lines (a store sampled or flooded with one template holds many copies);
    ``lines`` gives the distinct line of each line. A copy counts in the vocabulary and
    the IDF as a line does; its row is its distinct line's row (``rows[lines]``: a row
    depends on its line alone).

    Each block is analyzed once, for its vocabulary and for its features; its count matrix
    over all terms (some 600,000 n-grams on 150,000 lines) is dropped as soon as the
    vectorizer's columns are taken from it: that matrix and its copies were the fit's peak
    memory.
    """
    n_docs = len(lines)
    copies = np.bincount(lines, minlength=len(tokens))
    vectorizers, counts = [], []
    for template, docs in zip(templates(params, n_docs), (tokens, segments)):
        terms, matrix = block_counts(template, docs)
        terms = repeated_counts(terms, matrix, copies)
        vec = fitted_vectorizer(template, select_terms(terms, template.min_df, template.max_features), n_docs)
        counts.append(restricted_counts(matrix, terms.terms, vec))
        vectorizers.append(vec)
        del terms, matrix
    rep = Representation(*vectorizers, float(params["word_weight"]))
    return rep, rep.features_from_counts(*counts)


def fit_representation(
    params: dict,
    counts: Sequence[TermCounts],
    n_docs: int,
    svd_tokens: Sequence[Sequence[str]],
    svd_segments: Sequence[Sequence[str]],
    n_distinct: int,
) -> Representation:
    """Vectorizers from the summed term ``counts`` of ``n_docs`` lines, and the latent
    basis from the SVD sample (its tokens and character segments)."""
    rep = Representation.from_counts(templates(params, n_docs), counts, n_docs, params["word_weight"])
    fit_projection(params, rep, rep.features(svd_tokens, svd_segments), n_docs, n_distinct)
    return rep


def fit_projection(params: dict, rep: Representation, X_svd: sp.csr_matrix, n_docs: int, n_distinct: int) -> None:
    """The latent basis of ``rep`` from the feature rows of the SVD sample."""
    seed = 0 if params["random_state"] is None else int(params["random_state"])
    rep.fit_projection(
        X_svd, n_docs, n_distinct, n_components=params["n_components"], projection=params["projection"], random_state=seed
    )


def discovery_rows(hashes: np.ndarray, size: int = DISCOVERY_SAMPLE, copies: int = DISCOVERY_COPIES) -> np.ndarray:
    """Positions of the discovery sample among lines with these text ``hashes``: the
    hash-chosen sample (``clustering.text_sample``) with at most ``copies`` of one text."""
    sample = hash_sample(hashes, size)
    seen: Counter = Counter()
    keep = []
    for i in sample:
        h = int(hashes[i])
        seen[h] += 1
        if seen[h] <= copies:
            keep.append(int(i))
    return np.asarray(keep, dtype=np.int64)


@dataclass
class Discovery:
    """What :func:`discover` learned from the discovery sample."""

    weights: np.ndarray
    generic: frozenset[str]
    index: TopicIndex
    priors: list[int]  # the previous topic each topic continues (-1: new)


def discover(
    params: dict,
    rep: Representation,
    X: sp.csr_matrix,
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    hashes: np.ndarray,
    prior: np.ndarray | None,
    pinned: frozenset[int],
) -> Discovery:
    """Specific topics of the discovery sample (its feature rows ``X``, texts, tokens,
    text hashes and previous topics) and the index that assigns every line."""
    min_size = params["min_topic_size"] or default_min_topic_size(len(texts))
    weights, generic = learn_weights(rep, X, texts, tokens, min_size, hashes)
    Z = rep.project(X, weights)
    cores = find_cores(Z, min_size, hashes)
    counts, n_docs = word_shares(tokens)
    topics = carry_over(cores, prior, Z, tokens, counts, n_docs, generic, min_topic_size=min_size, pinned=pinned)

    def index_of(topics: Sequence[Topic]) -> TopicIndex:
        return build_index(
            Z, [t.members for t in topics], [t.terms for t in topics],
            min_similarity=params["min_similarity"], order_key=hashes, known_words=rep.word_vectorizer.vocabulary_,
            tokens=tokens, X=X,
        )

    index = index_of(topics)
    # A subject of its own inside a broad topic is read off the lines as the index assigns
    # them (a line joins a topic by its words, not only its core's): see ``split_subjects``.
    split = split_subjects(topics, index.assign(Z, tokens, X=X)[0], tokens, counts, n_docs, generic, prior, min_size)
    if len(split) > len(topics):
        topics, index = split, index_of(split)
    return Discovery(weights, frozenset(generic), index, [t.prior for t in topics])


def partition(params: dict, rep: Representation, X: sp.csr_matrix, hashes: np.ndarray) -> TopicIndex:
    """``n_topics`` topics partitioning the sample ``X`` (rows by text hash; Ward on a
    graph sample, refined by spherical k-means): the fixed-k setting of ``bench/quality.py``."""
    Z = rep.project(X)
    k = int(params["n_topics"])
    graph = hash_sample(hashes, GRAPH_SAMPLE)
    init = hierarchical_topics(Z, graph, k)
    labels, centroids = refine(Z, init)
    k = centroids.shape[0]
    sim = np.einsum("ij,ij->i", Z, centroids[labels])
    floors = similarity_floors(sim, labels, k, params["min_similarity"])
    index = build_index(
        Z, [np.flatnonzero(labels == c) for c in range(k)], [[] for _ in range(k)],
        min_similarity=params["min_similarity"], open_set=False, order_key=hashes,
    )
    index.centroids, index.floors = centroids, floors
    return index


@dataclass
class TopicStats:
    """Statistics of the lines assigned to ``k`` topics; those of partitions add up."""

    vocab: np.ndarray  # words (sorted)
    counts: sp.csr_matrix  # (k, len(vocab)) lines of each topic that use each word
    sizes: np.ndarray  # (k,)
    profiles: sp.csr_matrix  # (k, features) sums of the lines' word and n-gram TF-IDF rows
    # Per topic: its most central lines as (-score, text hash, text, tokens, vector).
    central: list[list[tuple]] = field(default_factory=list)

    def subset(self, order: Sequence[int]) -> TopicStats:
        """The statistics of the topics ``order`` (in that order), as :func:`topic_stats`
        gives them on labels renumbered by :func:`renumber` (the Dask engine adds up the
        partitions' statistics before the order by size is known)."""
        order = [int(t) for t in order]
        return TopicStats(
            self.vocab, self.counts[order], self.sizes[order], self.profiles[order],
            [self.central[t] for t in order],
        )


def topic_stats(
    texts: Sequence[str],
    tokens: Sequence[Sequence[str]],
    labels: np.ndarray,
    scores: np.ndarray,
    Z: np.ndarray,
    X: sp.csr_matrix,
    hashes: np.ndarray,
    k: int,
    generic: frozenset[str],
) -> TopicStats:
    """:class:`TopicStats` of some assigned lines (their texts, tokens, topics, scores,
    unit vectors, feature rows and text hashes)."""
    kept_tokens = [[w for w in t if w not in generic] for t in tokens]
    vocab, counts = topic_word_counts(kept_tokens, labels, k)
    sizes = np.bincount(labels[labels >= 0], minlength=k)
    assigned = labels >= 0
    member = sp.csr_matrix(
        (np.ones(int(assigned.sum()), dtype=np.float32), (labels[assigned], np.flatnonzero(assigned))), shape=(k, labels.size)
    )
    profiles = (member @ X).tocsr()
    # Each topic's most central lines: one sort of all assigned lines by (topic, -score,
    # text hash), then the first LABEL_LINES of each topic.
    rows = np.flatnonzero(assigned)
    rows = rows[np.lexsort((hashes[rows], -scores[rows], labels[rows]))]
    starts = np.searchsorted(labels[rows], np.arange(k + 1))
    central = [
        [(-float(scores[i]), int(hashes[i]), texts[i], list(tokens[i]), Z[i]) for i in rows[starts[t] : starts[t + 1]][:LABEL_LINES]]
        for t in range(k)
    ]
    return TopicStats(vocab, counts, sizes, profiles, central)


def merge_stats(parts: Sequence[TopicStats]) -> TopicStats:
    """The statistics of all lines from those of the partitions."""
    vocab = np.array(sorted({str(w) for p in parts for w in p.vocab}), dtype=object)
    position = {w: i for i, w in enumerate(vocab)}
    k = parts[0].sizes.size
    counts = sp.csr_matrix((k, len(vocab)), dtype=np.int64)
    for p in parts:
        if len(p.vocab):
            cols = np.array([position[str(w)] for w in p.vocab])
            remap = sp.csr_matrix((np.ones(cols.size, dtype=np.int64), (np.arange(cols.size), cols)), shape=(cols.size, len(vocab)))
            counts = counts + p.counts @ remap
    central = [
        sorted((c for p in parts for c in p.central[t]), key=lambda c: c[:3])[:LABEL_LINES] for t in range(k)
    ]
    return TopicStats(
        vocab, counts.tocsr(), sum(p.sizes for p in parts), sum(p.profiles for p in parts).tocsr(), central,
    )


def describe(
    stats: TopicStats, generic: frozenset[str], priors: Sequence[int], params: dict
) -> tuple[list[dict], list[dict]]:
    """``topics_`` and ``themes_`` from the summed statistics of the assigned lines."""
    k = stats.sizes.size
    scored = keywords_from_counts(stats.vocab, stats.counts, params["n_keywords"] + SPARE_KEYWORDS)
    keywords = [kw[: params["n_keywords"]] for kw in scored]  # the label's anchors
    words = [  # the keywords shown: no fragment of a word jieba guessed wrong
        [w for w, _ in whole_keywords(kw, [c[2] for c in central], params["n_keywords"])]
        for kw, central in zip(scored, stats.central)
    ]
    candidates: list[list[str]] = []
    examples: list[list[str]] = []
    # jieba is most of this step: a line that is among the central lines of several topics,
    # or several times among one topic's, is cut once.
    cut: dict[str, list[str]] = {}

    def cut_once(text: str) -> list[str]:
        if text not in cut:
            cut[text] = pieces(text)
        return cut[text]

    for t in range(k):
        central = stats.central[t]
        cuts = [cut_once(c[2][:LABEL_CHARS]) for c in central]
        line_phrases = [phrases(cut, set(c[3])) for cut, c in zip(cuts, central)]
        candidates.append(candidate_labels(line_phrases, label_anchors(keywords[t]), set(generic), cuts))
    labels = choose_labels(candidates, stats.sizes, words)
    for t in range(k):
        central = stats.central[t]
        if central:
            texts = [c[2] for c in central]
            picked = representative_examples(
                texts, np.vstack([c[4] for c in central]), np.arange(len(central)), -np.array([c[0] for c in central]),
                params["n_examples"], quote_tiers(texts, labels[t], words[t]),
            )
            examples.append([central[i][2] for i in picked])
        else:
            examples.append([])
    morpheme_share = _morpheme_shares(stats)
    themes_of, store_words = _themes(stats, morpheme_share, params["theme_similarity"], generic)
    counts = stats.counts.tocsr()
    themes = []
    for g in range(int(themes_of.max()) + 1 if k else 0):
        members = [t for t in range(k) if themes_of[t] == g]
        usage = [
            {str(stats.vocab[j]): int(c) for j, c in zip(counts[t].indices, counts[t].data)} for t in members
        ]
        # A store mostly about one thing: its themes are named after it (消防, 公文).
        about = Counter(w for t in members for w in store_words if morpheme_share[t].get(w, 0.0) >= THEME_WORD_SHARE)
        label = max(about, key=lambda w: (about[w], len(w), w)) if len(members) > 1 and about else None
        themes.append({
            "theme": g,
            "label": label or theme_label(
                [labels[t] for t in members], [words[t] for t in members], usage,
                [int(stats.sizes[t]) for t in members], set(generic),
                [c[2] for t in members for c in stats.central[t]] if stats.central else (),
            ),
            "topics": members,
        })
    topics = [
        {
            "topic": t,
            "size": int(stats.sizes[t]),
            "keywords": words[t],
            "label": labels[t],
            "examples": examples[t],
            "theme": int(themes_of[t]),
            "theme_label": themes[int(themes_of[t])]["label"],
            "prior": int(priors[t]),
        }
        for t in range(k)
    ]
    return topics, themes


# A word in this share of all assigned lines is what the whole store is about: the topics
# whose lines mostly (``THEME_WORD_SHARE`` of them) use it are one theme.
STORE_WORD_SHARE = 0.6
THEME_WORD_SHARE = 0.5


def label_anchors(keywords: Sequence[tuple[str, float]]) -> list[str]:
    """A topic's keywords in the order a label is built from them: their c-TF-IDF weighed by
    how specific each word is in general Chinese (``lexicon.specificity``), so 购房 and 补贴
    come before 申请, a verb any request uses."""
    return [w for w, _ in sorted(keywords, key=lambda ws: -ws[1] * specificity(ws[0]))]


def _morpheme_shares(stats: TopicStats) -> list[dict[str, float]]:
    """Per topic, the share of its central lines that use each word, alone or inside a
    longer token (``lexicon.morphemes``)."""
    shares = []
    for central in stats.central:
        used: Counter = Counter(w for c in central for w in text_morphemes(c[3]))
        shares.append({w: n / max(len(central), 1) for w, n in used.items()})
    return shares


def _themes(
    stats: TopicStats, morpheme_share: list[dict[str, float]], theme_similarity: float, generic: frozenset[str]
) -> tuple[np.ndarray, set[str]]:
    """Themes from the topics' word and character n-gram profiles: the words a family of
    topics shares ("诈骗", "网格") count there at full weight, while the latent space
    down-weighted them to keep the topics apart. In a store mostly about one thing (a word,
    alone or inside longer ones, in ``STORE_WORD_SHARE`` of the lines: 消防 in 消防安全 and
    消防通道) the topics about it are one theme. Returns each topic's theme and such words."""
    k = stats.sizes.size
    if k == 0:
        return np.zeros(0, dtype=np.int64), set()
    unit = normalize(stats.profiles)
    similarity = np.asarray((unit @ unit.T).todense())
    names = non_subject_words()
    # The store's share of lines using a word, from each topic's central lines weighed by
    # the topic's size.
    store: Counter = Counter()
    for t, shares in enumerate(morpheme_share):
        for w, share in shares.items():
            store[w] += share * stats.sizes[t]
    total = float(stats.sizes.sum())
    store_words = set()
    for word, c in store.items():
        # Not "or word in generic": a store's subject is in most lines, so it is spread over
        # all its topics and learned as generic, yet it is what the theme is about.
        if c < STORE_WORD_SHARE * total or word in names:
            continue
        store_words.add(word)
        about = [t for t in range(k) if morpheme_share[t].get(word, 0.0) >= THEME_WORD_SHARE]
        for a in about:
            similarity[a, about] = 1.0
    return group_themes(similarity, theme_similarity), store_words


def order_by_size(sizes: np.ndarray, keep: set[int] = frozenset()) -> list[int]:
    """Topics largest first (ties by number); empty ones dropped unless in ``keep``."""
    return [int(t) for t in np.argsort(-sizes, kind="stable") if sizes[t] > 0 or t in keep]


def renumber(labels: np.ndarray, order: Sequence[int], k: int) -> np.ndarray:
    """``labels`` (topics 0..k-1, -1) renumbered so that topic ``order[i]`` becomes i."""
    if k == 0:
        return labels
    remap = np.full(k, -1, dtype=np.int64)
    remap[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
    return np.where(labels >= 0, remap[np.maximum(labels, 0)], -1)


@dataclass
class Fitted:
    """Everything a fit learns (``TopicModel.set_fitted`` takes it)."""

    representation: Representation
    index: TopicIndex
    generic: frozenset[str]
    labels: np.ndarray
    scores: np.ndarray
    topics: list[dict]
    themes: list[dict]
    quality: dict


def finish(
    params: dict,
    rep: Representation,
    index: TopicIndex,
    generic: frozenset[str],
    priors: Sequence[int],
    labels: np.ndarray,
    scores: np.ndarray,
    stats: TopicStats,
) -> Fitted:
    """The fitted state from the final index, every line's topic and score (-1 and 0 for
    lines without words) and the summed statistics of the assigned lines."""
    topics, themes = describe(stats, generic, priors, params)
    for topic, terms in zip(topics, index.terms):
        topic["terms"] = sorted(terms)
    assigned = labels >= 0
    quality = {
        "n_topics": int(index.n_topics),
        "n_themes": len(themes),
        "unassigned_share": round(float(1.0 - assigned.mean()), 4) if labels.size else 0.0,
        "mean_score": round(float(scores[assigned].mean()), 4) if assigned.any() else 0.0,
        "generic_words": len(generic),
        "latent_method": rep.method,
    }
    return Fitted(rep, index, frozenset(generic), labels, np.asarray(scores, dtype=np.float32), topics, themes, quality)

"""TopicModel: a scikit-learn style estimator that turns short Chinese feedback into topics.

Representation (built for lines of 8 to 30 characters):
1. jieba words without stop words/boilerplate (``recommender.text.tokenize``), TF-IDF;
2. character 1-3-grams of the text itself (boilerplate phrases, punctuation and digits cut
   out; see ``char_segments``), TF-IDF: robust to segmentation errors, rare words and
   variants ("防诈骗" / "反诈骗" share "诈骗"), and they keep request forms ("怎么办");
3. both blocks L2-normalized, weighted, stacked, reduced by TruncatedSVD (LSA, ARPACK so
   the subspace does not move with the seed) and L2-normalized again, so a dot product is
   a cosine similarity.
Clustering (``clustering.py``): a Ward hierarchy restricted to a cosine kNN graph of (a
text-hashed sample of) the lines, cut where the graph modularity is highest when
``n_topics=None``, then spherical k-means refinement on every line from the Ward
centroids (the cosine rule of ``predict``, so fit labels and predictions agree). Nothing
in it is random, so fits with different seeds agree. A corpus in which most lines name the
same word is one topic. Lines far from their topic (below a robust floor of that topic's
similarity distribution) get -1. Descriptions live in ``describe.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from functools import partial

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from recommender.model.clustering import (
    GRAPH_SAMPLE,
    SVD_SAMPLE,
    ONE_THEME_SHARE,
    dominant_word_share,
    hierarchical_topics,
    refine,
    similarity_floors,
    text_sample,
)
from recommender.model.cooccurrence import ppmi_projection
from recommender.model.describe import describe_topics
from recommender.model.vocabulary import TermCounts, count_terms, fitted_vectorizer, select_terms
from recommender.text.tokenize import char_segments, tokenize

logger = logging.getLogger(__name__)


# From this many lines with words up, ``projection="auto"`` uses the PPMI co-occurrence
# basis: on fewer lines most feature pairs are seen once and their PMI is noise (measured:
# on 80-95 line corpora it merged topics that LSA keeps apart; bench/RESULTS.md).
PPMI_MIN_LINES = 1000


def word_analyzer(tokens: Sequence[str]) -> Sequence[str]:
    """Tokens are already words (module-level so a fitted model pickles by reference)."""
    return tokens


# Character n-grams that end within this many characters of the end of a line's last
# segment count this many times (sublinear TF: weight 1 + ln 3 = 2.1 instead of 1): a short
# request usually names what it is about first and closes with what it asks ("…怎么办",
# "…多少钱", "…是什么原因", "…哪家医院好"). PPMI basis only (the LSA path is unchanged).
TAIL_CHARS = 3
TAIL_REPEATS = 3


def char_ngrams(tokens: Sequence[str], ngram_range: tuple[int, int] = (1, 3), tail: int = 0) -> list[str]:
    """Character n-grams inside each segment (never across punctuation or boilerplate);
    with ``tail`` > 0 those ending in the last ``tail`` characters of the last segment
    count ``TAIL_REPEATS`` times."""
    lo, hi = ngram_range
    grams: list[str] = []
    for tok in tokens:
        n_chars = len(tok)
        for n in range(lo, min(hi, n_chars) + 1):
            grams.extend(tok[i : i + n] for i in range(n_chars - n + 1))
    if tail > 0 and tokens:
        last = tokens[-1]
        n_chars = len(last)
        for n in range(lo, min(hi, n_chars) + 1):
            for i in range(max(0, n_chars - tail - n + 1), n_chars - n + 1):
                grams.extend([last[i : i + n]] * (TAIL_REPEATS - 1))
    return grams


class TopicModel(ClusterMixin, BaseEstimator):
    """Topics of short Chinese texts.

    Parameters
    ----------
    n_topics : int or None
        Number of topics; None chooses it (kNN-graph modularity of the Ward cuts, or 1 topic).
    random_state : int
        Seed of the SVD's start vector; equal seeds give equal models, and the clustering
        itself is deterministic, so different seeds give (nearly) the same topics.
    max_topics : int
        Upper bound of the automatic choice.
    n_components : int
        Dimension of the latent (LSA) space.
    word_weight : float in [0, 1]
        Share of the word block against the character n-gram block.
    char_ngram_range : (int, int)
        Character n-gram lengths.
    min_df : int
        Minimum number of lines for a word or n-gram (lowered on tiny corpora).
    max_features : int
        Cap of each vocabulary block (memory of the SVD components).
    min_similarity : float
        Lines whose cosine to their topic is below this fit no topic (-1); each topic's
        own floor may be higher (robust lower fence of its similarity distribution).
    theme_similarity : float
        Topics whose centroids are at least this similar (average linkage) share a theme.
    n_keywords, n_examples : int
        Length of each topic's keyword and example lists.
    max_threads : int or None
        Limit of BLAS/OpenMP threads during ``fit`` (None: leave as is).
    projection : {"auto", "ppmi", "lsa"}
        The latent step. "ppmi": each feature's vector from the features it co-occurs with
        across lines (PPMI + SVD, ``cooccurrence.py``); "lsa": an SVD of the lines x
        features matrix. "auto" (default): PPMI from ``PPMI_MIN_LINES`` lines with words
        up, where co-occurrence counts are worth estimating; LSA below.
    """

    def __init__(
        self,
        n_topics: int | None = None,
        random_state: int = 0,
        *,
        max_topics: int = 60,
        n_components: int = 100,
        word_weight: float = 0.2,
        char_ngram_range: tuple[int, int] = (1, 3),
        min_df: int = 2,
        max_features: int = 100_000,
        min_similarity: float = 0.1,
        theme_similarity: float = 0.3,
        n_keywords: int = 8,
        n_examples: int = 5,
        max_threads: int | None = None,
        projection: str = "auto",
    ) -> None:
        self.n_topics = n_topics
        self.random_state = random_state
        self.max_topics = max_topics
        self.n_components = n_components
        self.word_weight = word_weight
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.min_similarity = min_similarity
        self.theme_similarity = theme_similarity
        self.n_keywords = n_keywords
        self.n_examples = n_examples
        self.max_threads = max_threads
        self.projection = projection

    # ------------------------------------------------------------------ fitting
    def fit(self, texts: Sequence[str], y: object = None, tokens: Sequence[Sequence[str]] | None = None) -> TopicModel:
        """Learn topics from ``texts`` (``tokens``: cached ``tokenize`` output for them)."""
        texts, tokens = self._check_input(texts, tokens)
        self._validate_params_values()
        start = time.perf_counter()
        with threadpool_limits(limits=self.max_threads):
            self._fit(texts, tokens)
        self.fit_seconds_ = time.perf_counter() - start
        logger.info(
            "fitted %d topics on %d lines (%d unassigned) in %.1f s",
            self.n_topics_,
            len(texts),
            int((self.labels_ < 0).sum()),
            self.fit_seconds_,
        )
        return self

    def _validate_params_values(self) -> None:
        if self.n_topics is not None and (not isinstance(self.n_topics, (int, np.integer)) or self.n_topics < 1):
            raise ValueError(f"n_topics={self.n_topics!r} should be None or an integer >= 1")
        if self.projection not in ("auto", "ppmi", "lsa"):
            raise ValueError(f"projection={self.projection!r} should be 'auto', 'ppmi' or 'lsa'")
        if not 0.0 <= self.word_weight <= 1.0:
            raise ValueError(f"word_weight={self.word_weight!r} should be in [0, 1]")
        if self.max_topics < 1 or self.n_components < 1:
            raise ValueError(f"max_topics={self.max_topics!r} and n_components={self.n_components!r} should be >= 1")

    def _fit(self, texts: list[str], tokens: list[list[str]]) -> None:
        # The steps below are methods because the Dask engine (recommender.dask_training)
        # runs the same ones with the rows spread over workers; keep the two in step.
        n = len(texts)
        rows = np.flatnonzero([len(t) > 0 for t in tokens])
        self._check_rows(rows.size)
        segments = [char_segments(t) for t in texts]
        docs = [(tokens[i], segments[i]) for i in rows]
        doc_texts = [texts[i] for i in rows]
        counts = [count_terms(vec.build_analyzer(), self._block_docs(kind, docs)) for vec, kind in self._block_templates(rows.size)]
        self._set_vectorizers(counts, rows.size)
        sample = text_sample(doc_texts, SVD_SAMPLE)
        distinct = len({(tuple(t), tuple(s)) for t, s in docs})
        self._fit_projection(self._features([docs[i] for i in sample]), rows.size, distinct)

        Z = np.zeros((n, self.projection_.shape[1]), dtype=np.float64)
        Z[rows] = self._latent([d[0] for d in docs], [d[1] for d in docs])
        usable = rows[np.linalg.norm(Z[rows], axis=1) > 0]
        X = Z[usable]
        graph = text_sample([texts[i] for i in usable], GRAPH_SAMPLE)
        init, self.selection_scores_ = self._initial_topics(X[graph], [tokens[usable[i]] for i in graph])
        fit_labels, centroids = refine(X, X.mean(axis=0, keepdims=True) if init is None else init)
        fit_labels, centroids = self._by_size(fit_labels, centroids)
        sim = np.einsum("ij,ij->i", X, centroids[fit_labels])
        fit_labels = self._set_floors(fit_labels, sim, centroids.shape[0])

        labels = np.full(n, -1, dtype=np.int64)
        labels[usable] = fit_labels
        similarity = np.zeros(n)
        similarity[usable] = sim
        self._set_fitted(labels, similarity, centroids)
        self.topics_ = describe_topics(
            texts,
            tokens,
            Z,
            labels,
            similarity,
            centroids,
            n_keywords=self.n_keywords,
            n_examples=self.n_examples,
            theme_similarity=self.theme_similarity,
        )

    # -- the steps of fit, shared with the distributed engine ---------------------------
    def _check_rows(self, n_docs: int) -> None:
        """``n_docs``: lines with at least one topic word."""
        if n_docs == 0:
            raise ValueError("none of the texts has a topic word after tokenization")
        if self.n_topics is not None and self.n_topics > n_docs:
            raise ValueError(f"n_topics={self.n_topics} should be <= number of texts with words={n_docs}")

    def _block_templates(self, n_docs: int) -> list[tuple[TfidfVectorizer, str]]:
        """The unfitted vectorizer of each feature block and what it reads ("tokens": jieba
        words, "segments": the text cut at punctuation and boilerplate)."""
        # On a few dozen lines a word seen once may still be the only clue.
        min_df = max(1, min(self.min_df, n_docs // 50))
        common = dict(min_df=min_df, sublinear_tf=True, dtype=np.float32, lowercase=False, max_features=self.max_features)
        words = TfidfVectorizer(analyzer=word_analyzer, **common)
        tail = TAIL_CHARS if self._uses_ppmi(n_docs) else 0
        chars = TfidfVectorizer(analyzer=partial(char_ngrams, ngram_range=tuple(self.char_ngram_range), tail=tail), **common)
        return [(words, "tokens"), (chars, "segments")]

    @staticmethod
    def _block_docs(kind: str, docs: Sequence[tuple[list[str], list[str]]]) -> list[list[str]]:
        return [d[0] if kind == "tokens" else d[1] for d in docs]

    def _set_vectorizers(self, counts: Sequence[TermCounts], n_docs: int) -> None:
        """Fit each block's vectorizer from its (summed) term counts over ``n_docs`` lines."""
        fitted = [
            fitted_vectorizer(vec, select_terms(c, vec.min_df, vec.max_features), n_docs)
            for (vec, _), c in zip(self._block_templates(n_docs), counts)
        ]
        self.word_vectorizer_, self.char_vectorizer_ = fitted

    def _features(self, docs: Sequence[tuple[list[str], list[str]]]) -> sp.csr_matrix:
        """The stacked, weighted TF-IDF rows of ``docs`` ((tokens, segments) pairs)."""
        return self._stack(
            self.word_vectorizer_.transform([d[0] for d in docs]), self.char_vectorizer_.transform([d[1] for d in docs])
        )

    def _fit_projection(self, X: sp.csr_matrix, n_docs: int, n_distinct: int) -> None:
        """The LSA basis from ``X``, the feature rows of the hash-chosen SVD sample of the
        ``n_docs`` lines with words (``n_distinct`` of them different)."""
        # On small corpora a low-rank space generalises over shared characters and words;
        # as many dimensions as lines would just copy the sparse input.
        dims = int(min(self.n_components, X.shape[1] - 1, max(8, n_docs // 8)))
        seed = int(self.random_state) if self.random_state is not None else 0
        # One distinct line has one direction (and the SVD of identical rows overflows).
        if dims >= 1 and n_distinct > 1 and self._uses_ppmi(n_docs):
            # Deterministic whatever random_state: the randomized SVD's start is fixed.
            self.projection_, self.explained_variance_ratio_ = ppmi_projection(X, dims, random_state=0)
            self.latent_method_ = "ppmi"
            return
        self.latent_method_ = "lsa"
        if dims >= 1 and n_distinct > 1:
            # ARPACK converges to the leading singular subspace whatever the seed (the
            # randomized solver's subspace moved with random_state and so did the topics).
            # It needs fewer dimensions than distinct lines; on a handful of lines the
            # randomized solver is exact anyway.
            algorithm = "arpack" if dims < min(n_docs, n_distinct, X.shape[0]) else "randomized"
            svd = TruncatedSVD(n_components=dims, algorithm=algorithm, random_state=seed)
            with np.errstate(divide="ignore", invalid="ignore"):  # identical lines: no variance
                # The leading directions of 20,000 lines are those of all of them; the
                # sample is chosen by text hash, so it does not depend on the seed.
                components = svd.fit(X).components_
            self.explained_variance_ratio_ = float(np.nan_to_num(svd.explained_variance_ratio_).sum())
        else:  # one distinct line or a one-word vocabulary: one direction is all there is
            components = np.ones((1, X.shape[1]), dtype=np.float32)
            self.explained_variance_ratio_ = 1.0
        # Contiguous (features x dims): a sparse row times it costs microseconds, while
        # the transposed view would be copied on every call.
        self.projection_ = np.ascontiguousarray(components.T, dtype=np.float32)

    def _uses_ppmi(self, n_docs: int) -> bool:
        """Whether the latent step is the PPMI basis for ``n_docs`` lines with words."""
        return self.projection == "ppmi" or (self.projection == "auto" and n_docs >= PPMI_MIN_LINES)

    def _initial_topics(self, Xs: np.ndarray, sample_tokens: list[list[str]]) -> tuple[np.ndarray | None, dict[int, float]]:
        """Starting centroids from the graph sample (``None``: one topic) and the modularity
        of each Ward cut. The number of topics is decided here, on the sample alone."""
        n_topics = self.n_topics
        if n_topics is None and dominant_word_share(sample_tokens) >= ONE_THEME_SHARE:
            return None, {}  # most lines name the same thing: one topic, however they vary
        if n_topics is not None:
            n_topics = min(int(n_topics), Xs.shape[0])
        init, scores = hierarchical_topics(Xs, np.arange(Xs.shape[0]), n_topics, self.max_topics)
        return (None if init.shape[0] == 1 else init), scores

    @staticmethod
    def _by_size(labels: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Topics renumbered by size (largest first); empty ones (duplicates only) dropped."""
        k = centroids.shape[0]
        sizes = np.bincount(labels, minlength=k)
        order = [c for c in np.argsort(-sizes, kind="stable") if sizes[c] > 0]
        remap = np.full(k, -1, dtype=np.int64)
        remap[order] = np.arange(len(order))
        return remap[labels], centroids[order]

    def _set_floors(self, labels: np.ndarray, sim: np.ndarray, k: int) -> np.ndarray:
        """Set each topic's similarity floor; lines below theirs become -1."""
        self.similarity_floors_ = similarity_floors(sim, labels, k, self.min_similarity)
        return np.where(sim >= self.similarity_floors_[labels], labels, -1)

    def _set_fitted(self, labels: np.ndarray, similarity: np.ndarray, centroids: np.ndarray) -> None:
        k = centroids.shape[0]
        self.labels_ = labels
        self.n_topics_ = k
        self.centroids_ = centroids
        self.n_features_in_ = 1
        self.n_rows_ = labels.size
        assigned = labels >= 0
        self.quality_ = {
            "n_topics": int(k),
            "unassigned_share": round(float(1.0 - assigned.mean()), 4),
            "mean_similarity": round(float(similarity[assigned].mean()) if assigned.any() else 0.0, 4),
            "modularity": self.selection_scores_.get(k),
            "latent_method": getattr(self, "latent_method_", "lsa"),
        }

    def _stack(self, words: sp.spmatrix, chars: sp.spmatrix) -> sp.csr_matrix:
        w = float(self.word_weight)
        X = sp.hstack([np.sqrt(w) * words, np.sqrt(1.0 - w) * chars], format="csr")
        # float32 like projection_: a mixed product would upcast (copy) the whole projection.
        return X.astype(np.float32, copy=False)

    def _latent(self, tokens: list[list[str]], segments: list[list[str]]) -> np.ndarray:
        X = self._stack(self.word_vectorizer_.transform(tokens), self.char_vectorizer_.transform(segments))
        return normalize(np.asarray(X @ self.projection_, dtype=np.float64))

    # ------------------------------------------------------------------ inference
    def transform(self, texts: Sequence[str], tokens: Sequence[Sequence[str]] | None = None) -> np.ndarray:
        """L2-normalized latent vectors (n, d); a text without topic words maps to zeros."""
        check_is_fitted(self, "centroids_")
        texts, tokens = self._check_input(texts, tokens)
        Z = self._latent(tokens, [char_segments(t) for t in texts])
        Z[[not t for t in tokens]] = 0.0  # no topic word: no topic, whatever the characters
        return Z

    def predict_scores(
        self, texts: Sequence[str], tokens: Sequence[Sequence[str]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Topic of each text (-1 when it fits none) and its cosine to that topic's centroid."""
        Z = self.transform(texts, tokens)
        sims = Z @ self.centroids_.T
        labels = np.argmax(sims, axis=1).astype(np.int64)
        best = sims[np.arange(len(labels)), labels]
        labels = np.where(best >= self.similarity_floors_[labels], labels, -1)
        return labels, best

    def predict(self, texts: Sequence[str], tokens: Sequence[Sequence[str]] | None = None) -> np.ndarray:
        """Topic of each text, -1 for texts far from every topic."""
        return self.predict_scores(texts, tokens)[0]

    def fit_predict(self, texts: Sequence[str], y: object = None, tokens: Sequence[Sequence[str]] | None = None) -> np.ndarray:
        """``fit`` then return ``labels_``."""
        return self.fit(texts, tokens=tokens).labels_

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _check_input(
        texts: Sequence[str], tokens: Sequence[Sequence[str]] | None
    ) -> tuple[list[str], list[list[str]]]:
        if isinstance(texts, str):
            raise TypeError("texts should be a sequence of strings, not one string")
        texts = ["" if t is None else str(t) for t in texts]
        if tokens is None:
            tokens = [tokenize(t) for t in texts]
        else:
            tokens = [list(t) for t in tokens]
            if len(tokens) != len(texts):
                raise ValueError(f"tokens has {len(tokens)} entries but texts has {len(texts)}")
        return texts, tokens

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

"""TopicModel: a scikit-learn style estimator that turns short Chinese feedback into topics.

What an organizer needs from it (issue "Topics an organizer can schedule"):

* **Specific topics at the granularity of one class.** With ``n_topics=None`` (the
  service's setting) topics are the dense cores of the latent space (HDBSCAN leaves,
  ``density.py``) of at least ``min_topic_size`` lines, after the corpus's own boilerplate
  has been learned and down-weighted (``boilerplate.py``); a core is a topic only when
  distinctive, non-generic words cover most of its lines (``discovery.py``). The number of
  topics follows from the data.
* **Honest about what fits nowhere.** A line joins a topic only on evidence (a distinctive
  word of the topic, or closeness to its members; ``assignment.py``), else it gets -1; a
  line without any topic word (thanks, praise: 「讲得很好，谢谢老师」) gets -1 too.
* **Phrase labels** copied from the lines ("公众号排版", ``labels.py``) and **themes**
  grouping related topics for browsing (``themes_``).
* **Stable across retrains.** Everything is deterministic and the order of the lines does
  not matter (``fit`` takes them by text hash, ``clustering.canonical_order``: the same
  spreadsheets imported in another order give the same topics); ``fit(..., prior_labels=...)``
  (the previous model's topic of each line) carries previous topics over, so a retrain
  on the same lines changes nothing and a few new lines move few others.

With a fixed ``n_topics`` the lines are partitioned instead (Ward hierarchy on a kNN graph
refined by spherical k-means, ``clustering.py``): the setting ``bench/quality.py`` uses to
compare representations at k = number of labels.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClusterMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from recommender.model import fit_steps as steps
from recommender.model.assignment import index_prior
from recommender.model.clustering import SVD_SAMPLE, canonical_order, hash_sample, text_hashes
from recommender.text.tokenize import char_segments, char_segments_many, tokenize_many

logger = logging.getLogger(__name__)

#: The steps ``fit`` reports to its ``progress`` callback, in order (a progress bar's total).
FIT_STEPS = ("特征", "降维", "发现主题", "归类", "描述主题")

class TopicModel(ClusterMixin, BaseEstimator):
    """Topics of short Chinese texts.

    Parameters
    ----------
    n_topics : int or None, default=None
        None: find specific topics and leave the rest in -1 (see the module docstring).
        An integer: partition the lines into that many topics.
    random_state : int, default=0
        Seed of the SVD's start vector. The clustering itself has no random step.
    min_topic_size : int or None, default=None
        Fewest lines of a topic found with ``n_topics=None`` (None: 5, fewer on a few
        dozen lines).
    n_components : int, default=100
        Dimension of the latent space.
    word_weight : float in [0, 1], default=0.2
        Share of the word block against the character n-gram block.
    char_ngram_range : (int, int), default=(1, 3)
        Character n-gram lengths.
    min_df : int, default=2
        Minimum number of lines for a word or n-gram (lowered on tiny corpora).
    max_features : int, default=100_000
        Cap of each vocabulary block.
    min_similarity : float, default=0.1
        No line with a lower cosine to a topic's centroid joins it.
    theme_similarity : float, default=0.1
        Topics whose word and character n-gram profiles are less similar (cosine) are never
        related; themes group topics related pair by pair, each pair judged against the two
        topics' own nearest similarities (``describe.group_themes``).
    n_keywords, n_examples : int, default=8, 5
        Length of each topic's keyword and example lists.
    max_threads : int or None, default=None
        Limit of BLAS/OpenMP threads during ``fit`` (None: leave as is).
    n_jobs : int or None, default=None
        Processes that tokenize the texts when ``fit`` gets no tokens (None: one).
    projection : {"auto", "ppmi", "lsa"}, default="auto"
        The latent step: the PPMI co-occurrence basis, an SVD of the lines (LSA), or PPMI
        from 1,000 lines with words up and LSA below ("auto").

    Attributes
    ----------
    labels_ : ndarray of shape (n_texts,)
        Topic of each text of ``fit``; -1 for a text in no topic.
    scores_ : ndarray of shape (n_texts,)
        The assignment score of each text of ``fit`` (as :meth:`predict_scores` gives it).
    n_topics_ : int
        Number of topics, numbered 0.. by size (largest first).
    topics_ : list of dict
        One per topic: ``topic``, ``size``, ``keywords``, ``label`` (a phrase from its lines),
        ``terms`` (distinctive words), ``examples``, ``example_indices``, ``theme``,
        ``theme_label``, ``prior`` (the ``prior_labels`` value it continues, or -1).
    themes_ : list of dict
        One per theme: ``theme``, ``label``, ``topics`` (topic numbers).
    centroids_ : ndarray of shape (n_topics_, n_dims)
        Unit centroid of each topic in the space of :meth:`transform`.
    representation_ : Representation
        Vectorizers, learned feature weights and the latent projection.
    index_ : TopicIndex
        What assignment uses: centroids, floors, member exemplars, distinctive words.
    generic_words_ : frozenset of str
        Words learned to be the corpus's boilerplate.
    quality_ : dict
        Summary figures of the fit (topics, unassigned share, ...).
    fit_seconds_ : float
        Wall time of the last ``fit``.
    """

    _parameter_constraints: dict = {
        "n_topics": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "min_topic_size": [Interval(Integral, 2, None, closed="left"), None],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "word_weight": [Interval(Real, 0, 1, closed="both")],
        "char_ngram_range": [tuple],
        "min_df": [Interval(Integral, 1, None, closed="left")],
        "max_features": [Interval(Integral, 1, None, closed="left")],
        "min_similarity": [Interval(Real, -1, 1, closed="both")],
        "theme_similarity": [Interval(Real, -1, 1, closed="both")],
        "n_keywords": [Interval(Integral, 1, None, closed="left")],
        "n_examples": [Interval(Integral, 0, None, closed="left")],
        "max_threads": [Interval(Integral, 1, None, closed="left"), None],
        "n_jobs": [Interval(Integral, 1, None, closed="left"), None],
        "projection": [StrOptions({"auto", "ppmi", "lsa"})],
    }

    def __init__(
        self,
        n_topics: int | None = None,
        random_state: int = 0,
        *,
        min_topic_size: int | None = None,
        n_components: int = 100,
        word_weight: float = 0.2,
        char_ngram_range: tuple[int, int] = (1, 3),
        min_df: int = 2,
        max_features: int = 100_000,
        min_similarity: float = 0.1,
        theme_similarity: float = 0.1,
        n_keywords: int = 8,
        n_examples: int = 5,
        max_threads: int | None = None,
        n_jobs: int | None = None,
        projection: str = "auto",
    ) -> None:
        self.n_topics = n_topics
        self.random_state = random_state
        self.min_topic_size = min_topic_size
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
        self.n_jobs = n_jobs
        self.projection = projection

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        texts: Sequence[str],
        y: object = None,
        tokens: Sequence[Sequence[str]] | None = None,
        prior_labels: Sequence[int] | None = None,
        pinned: Sequence[int] = (),
        progress: Callable[[str], None] | None = None,
    ) -> TopicModel:
        """Learn topics from ``texts``.

        ``tokens``: cached ``tokenize`` output for them. ``prior_labels``: the previous
        model's topic of each text (any non-negative int per topic, -1: none, ``NEW_LINE``
        (-2): a text the previous model did not learn from and put in no topic), whose
        topics are carried over (see ``discovery.carry_over``; a topic that continues none
        must hold new texts: old texts the previous model left in no topic do not make one on
        their own); ``pinned``: values of ``prior_labels`` whose topics are kept whatever their
        lines look like; ``progress``: called with the name of each step of :data:`FIT_STEPS`
        as it starts (a progress bar).
        """
        texts, tokens = self._check_input(texts, tokens, n_jobs=self.n_jobs)
        prior = None if prior_labels is None else np.asarray(prior_labels, dtype=np.int64)
        if prior is not None and prior.shape != (len(texts),):
            raise ValueError(f"prior_labels has {prior.size} entries but texts has {len(texts)}")
        start = time.perf_counter()
        # The lines in a canonical order (by text hash), so that the same lines imported in
        # another order, or two stores merged, give the same topics; undone for the outputs.
        hashes = text_hashes(texts)
        order = canonical_order(hashes, prior)
        texts, tokens, hashes = [texts[i] for i in order], [tokens[i] for i in order], hashes[order]
        with threadpool_limits(limits=self.max_threads):
            self._fit(
                texts, tokens, hashes, None if prior is None else prior[order],
                frozenset(int(p) for p in pinned), progress or _no_progress,
            )
        self.labels_, self.scores_ = _unpermuted(self.labels_, order), _unpermuted(self.scores_, order)
        self.fit_seconds_ = time.perf_counter() - start
        logger.info(
            "fitted %d topics in %d themes on %d lines (%d in no topic) in %.1f s",
            self.n_topics_,
            len(self.themes_),
            len(texts),
            int((self.labels_ < 0).sum()),
            self.fit_seconds_,
        )
        return self

    def _fit(
        self,
        texts: list[str],
        tokens: list[list[str]],
        text_hash: np.ndarray,
        prior: np.ndarray | None,
        pinned: frozenset[int],
        step,
    ) -> None:
        # The steps live in fit_steps.py because the Dask engine runs the same ones with the
        # lines spread over workers; this is the same sequence with every line in memory.
        params = self.get_params()
        n = len(texts)
        rows = np.flatnonzero([len(t) > 0 for t in tokens])
        steps.check_rows(rows.size, self.n_topics)
        row_texts = [texts[i] for i in rows]
        row_tokens = [tokens[i] for i in rows]
        segments = char_segments_many(row_texts, self.n_jobs)
        hashes = text_hash[rows]

        step(FIT_STEPS[0])
        first, lines = steps.distinct_lines(row_tokens, segments)
        rep, X_distinct = steps.fit_features(params, [row_tokens[i] for i in first], [segments[i] for i in first], lines)
        X = X_distinct[lines]
        del X_distinct  # X[first] gives its rows again when the lines are projected
        distinct = first.size
        step(FIT_STEPS[1])
        steps.fit_projection(params, rep, X[hash_sample(hashes, SVD_SAMPLE)], rows.size, distinct)
        step(FIT_STEPS[2])
        if self.n_topics is None:
            sample = steps.discovery_rows(hashes)
            found = steps.discover(
                params, rep, X[sample], [row_texts[i] for i in sample], [row_tokens[i] for i in sample],
                hashes[sample], None if prior is None else prior[rows][sample], pinned,
            )
            rep.weights, generic, index, priors = found.weights, found.generic, found.index, found.priors
        else:
            sample = hash_sample(hashes, steps.PARTITION_SAMPLE)
            generic, index = frozenset(), steps.partition(params, rep, X[sample], hashes[sample])
            priors = [-1] * index.n_topics
        row_prior = None
        if prior is not None:
            row_prior = index_prior(prior[rows], {p: t for t, p in enumerate(priors) if p >= 0})
        step(FIT_STEPS[3])
        Z = rep.project(X[first])[lines]  # a line's latent row depends on its feature row alone
        row_labels, row_scores = index.assign(Z, row_tokens, row_prior, X=X)
        sizes = np.bincount(row_labels[row_labels >= 0], minlength=index.n_topics)
        order = steps.order_by_size(sizes, keep={t for t, p in enumerate(priors) if p in pinned})
        row_labels = steps.renumber(row_labels, order, index.n_topics)
        step(FIT_STEPS[4])
        stats = steps.topic_stats(row_texts, row_tokens, row_labels, row_scores, Z, X, hashes, len(order), generic)
        labels = np.full(n, -1, dtype=np.int64)
        labels[rows] = row_labels
        scores = np.zeros(n)
        scores[rows] = row_scores
        self.set_fitted(
            steps.finish(params, rep, index.subset(order), generic, [priors[t] for t in order], labels, scores, stats)
        )

    def set_fitted(self, fitted: steps.Fitted) -> TopicModel:
        """Take the learned state of a fit made elsewhere (the Dask engine runs the steps of
        ``fit`` on workers and hands the result here); returns self."""
        self.representation_ = fitted.representation
        self.index_ = fitted.index
        self.generic_words_ = fitted.generic
        self.labels_ = fitted.labels
        self.scores_ = fitted.scores
        self.n_topics_ = fitted.index.n_topics
        self.centroids_ = fitted.index.centroids
        self.n_rows_ = int(fitted.labels.size)
        self.topics_ = fitted.topics
        self.themes_ = fitted.themes
        self.quality_ = fitted.quality
        return self

    # ------------------------------------------------------------------ inference
    def transform(self, texts: Sequence[str], tokens: Sequence[Sequence[str]] | None = None) -> np.ndarray:
        """Unit latent vectors (n, d); a text without topic words maps to zeros."""
        check_is_fitted(self, "index_")
        texts, tokens = self._check_input(texts, tokens)
        return self._vectors(texts, tokens)[1]

    def _vectors(self, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> tuple[sp.csr_matrix, np.ndarray]:
        """The TF-IDF rows and the unit latent vectors of checked texts."""
        X, Z = self.representation_.encode(tokens, [char_segments(t) for t in texts])
        Z[[not t for t in tokens]] = 0.0  # no topic word: no topic, whatever the characters
        return X, Z

    def predict_scores(
        self, texts: Sequence[str], tokens: Sequence[Sequence[str]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Topic of each text (-1 when it fits none) and its assignment score (how familiar
        the text is: its similarity to the nearest training line in the latent and the
        TF-IDF space and the share of its words the model knows; low for texts about
        something the store has not seen, see ``TopicIndex.assign``)."""
        check_is_fitted(self, "index_")
        texts, tokens = self._check_input(texts, tokens)
        X, Z = self._vectors(texts, tokens)
        return self.index_.assign(Z, tokens, X=X)

    def predict(self, texts: Sequence[str], tokens: Sequence[Sequence[str]] | None = None) -> np.ndarray:
        """Topic of each text, -1 for texts unlike every topic."""
        return self.predict_scores(texts, tokens)[0]

    def fit_predict(self, texts: Sequence[str], y: object = None, **fit_params) -> np.ndarray:
        """``fit`` then return ``labels_``."""
        return self.fit(texts, **fit_params).labels_

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _check_input(
        texts: Sequence[str], tokens: Sequence[Sequence[str]] | None, n_jobs: int | None = None
    ) -> tuple[list[str], list[list[str]]]:
        if isinstance(texts, str):
            raise TypeError("texts should be a sequence of strings, not one string")
        texts = ["" if t is None else str(t) for t in texts]
        if tokens is None:
            tokens = tokenize_many(texts, n_jobs)
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


def _unpermuted(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``values`` of the lines taken in ``order``, back in the caller's order."""
    out = np.empty_like(values)
    out[order] = values
    return out


def _no_progress(step: str) -> None:
    """``fit`` without a progress callback."""

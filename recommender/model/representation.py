"""How a line becomes a vector: words and character n-grams, TF-IDF, a latent step.

Built for lines of 8 to 30 characters (longer ones work too):

1. jieba words without stop words (``recommender.text.tokenize``), TF-IDF;
2. character 1-3-grams of the text itself (boilerplate phrases, punctuation and digits cut
   out; see ``char_segments``), TF-IDF: robust to segmentation errors, rare words and
   variants ("防诈骗" / "反诈骗" share "诈骗"), and they keep request forms ("怎么办");
3. both blocks L2-normalized, weighted (``word_weight``), stacked, multiplied by the
   learned feature weights (generic words count less, see ``boilerplate.py``) and projected
   to a latent space: the PPMI co-occurrence basis from ``PPMI_MIN_LINES`` lines up
   (``cooccurrence.py``), an SVD of the lines (LSA) below; then L2-normalized, so a dot
   product is a cosine similarity.

:class:`Representation` holds the fitted parts; both training engines build it with the
functions below from term counts that add up across partitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import scipy.sparse as sp
from sklearn import config_context
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.preprocessing import normalize

from recommender.model.analyzers import TAIL_CHARS, TAIL_REPEATS, char_ngrams, word_analyzer  # noqa: F401 (re-exported: saved models name them here)
from recommender.model.cooccurrence import ppmi_projection
from recommender.model.ngram_counts import block_counts
from recommender.model.vocabulary import TermCounts, fitted_vectorizer, restricted_counts, select_terms

# From this many lines with words up, ``projection="auto"`` uses the PPMI co-occurrence
# basis: on fewer lines most feature pairs are seen once and their PMI is noise (measured:
# on 80-95 line corpora it merged topics that LSA keeps apart; bench/RESULTS.md).
PPMI_MIN_LINES = 1000
# From this many lines on, :meth:`Representation.features` counts them in numpy.
BATCH_LINES = 256


def uses_ppmi(projection: str, n_docs: int) -> bool:
    """Whether the latent step is the PPMI basis for ``n_docs`` lines with words."""
    return projection == "ppmi" or (projection == "auto" and n_docs >= PPMI_MIN_LINES)


def block_templates(
    n_docs: int, *, min_df: int, max_features: int, char_ngram_range: tuple[int, int], projection: str
) -> list[TfidfVectorizer]:
    """The unfitted vectorizers of the two feature blocks: jieba words, character n-grams."""
    # On a few dozen lines a word seen once may still be the only clue.
    min_df = max(1, min(min_df, n_docs // 50))
    common = dict(min_df=min_df, sublinear_tf=True, dtype=np.float32, lowercase=False, max_features=max_features)
    words = TfidfVectorizer(analyzer=word_analyzer, **common)
    tail = TAIL_CHARS if uses_ppmi(projection, n_docs) else 0
    chars = TfidfVectorizer(analyzer=partial(char_ngrams, ngram_range=tuple(char_ngram_range), tail=tail), **common)
    return [words, chars]


@dataclass
class Representation:
    """The fitted vectorizers, their weights and the latent projection."""

    word_vectorizer: TfidfVectorizer
    char_vectorizer: TfidfVectorizer
    word_weight: float
    projection: np.ndarray | None = None  # (features, dims) float32
    method: str = "lsa"
    explained_variance: float = 1.0
    weights: np.ndarray | None = field(default=None, repr=False)  # (features,) learned weights

    @classmethod
    def from_counts(cls, templates: Sequence[TfidfVectorizer], counts: Sequence[TermCounts], n_docs: int, word_weight: float):
        """Vectorizers fitted from each block's (summed) term counts over ``n_docs`` lines."""
        words, chars = (
            fitted_vectorizer(vec, select_terms(c, vec.min_df, vec.max_features), n_docs)
            for vec, c in zip(templates, counts)
        )
        return cls(words, chars, float(word_weight))

    @property
    def feature_names(self) -> np.ndarray:
        return np.concatenate(
            [self.word_vectorizer.get_feature_names_out(), self.char_vectorizer.get_feature_names_out()]
        ).astype(object)

    @property
    def n_features(self) -> int:
        return len(self.word_vectorizer.vocabulary_) + len(self.char_vectorizer.vocabulary_)

    def features(self, tokens: Sequence[Sequence[str]], segments: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """The stacked, block-weighted TF-IDF rows (float32, before the learned weights).

        Many lines (a retrain's vectors of every line, a Dask partition) are counted in
        numpy (``ngram_counts``) and restricted to the vocabulary: the same rows as the
        vectorizers' own ``transform``, which makes and looks up one string per n-gram."""
        if len(segments) < BATCH_LINES:
            return self._stack(self.word_vectorizer.transform(tokens), self.char_vectorizer.transform(segments))
        counts = []
        for vec, docs in ((self.word_vectorizer, tokens), (self.char_vectorizer, segments)):
            terms, matrix = block_counts(vec, docs)
            counts.append(restricted_counts(matrix, terms.terms, vec))
        return self.features_from_counts(*counts)

    def features_from_counts(self, word_counts: sp.csr_matrix, char_counts: sp.csr_matrix) -> sp.csr_matrix:
        """:meth:`features` from each block's count matrix over the vectorizer's vocabulary
        (``vocabulary.restricted_counts``): the same TF-IDF steps, without analyzing the
        texts again. The count matrices (float32) are used up: the steps run in place, as
        the matrices of 150,000 lines hold some 15 million entries."""
        blocks = []
        for vec, counts in ((self.word_vectorizer, word_counts), (self.char_vectorizer, char_counts)):
            tfidf = TfidfTransformer(norm=vec.norm, use_idf=vec.use_idf, smooth_idf=vec.smooth_idf, sublinear_tf=vec.sublinear_tf)
            tfidf.idf_ = vec.idf_
            blocks.append(tfidf.transform(counts.astype(vec.dtype, copy=False), copy=False))
        return self._stack(*blocks)

    def _stack(self, words: sp.spmatrix, chars: sp.spmatrix) -> sp.csr_matrix:
        # Each block times the square root of its share in float64, then float32 like the
        # projection (a mixed product would upcast, that is copy, the whole projection).
        blocks = []
        for block, share in ((words, self.word_weight), (chars, 1.0 - self.word_weight)):
            block = sp.csr_matrix(block)  # a new matrix on the same arrays: the input stays as it was
            block.data = (block.data * np.sqrt(share)).astype(np.float32)
            blocks.append(block)
        return sp.hstack(blocks, format="csr")

    def project(self, X: sp.csr_matrix, weights: np.ndarray | None = None, unit: bool = True) -> np.ndarray:
        """Latent rows of feature rows ``X``; ``weights`` default to the learned ones."""
        weights = self.weights if weights is None else weights
        if weights is not None:
            X = X @ self._diagonal(weights)
        Z = np.asarray(X @ self.projection, dtype=np.float64)
        return normalize(Z) if unit else Z

    def _diagonal(self, weights: np.ndarray) -> sp.csr_matrix:
        """The feature ``weights`` as a diagonal matrix in float32 and CSR: what the product
        with a ``sp.diags`` matrix converts it to first, so the product is the same. Kept for
        the last weights (``predict`` multiplies one line at a time by the learned ones)."""
        kept = getattr(self, "_kept_diagonal", None)
        if kept is None or not np.array_equal(kept[0], weights):
            kept = (weights.copy(), sp.csr_matrix(sp.diags(weights.astype(np.float32))))
            self._kept_diagonal = kept
        return kept[1]

    def __getstate__(self) -> dict:
        """A saved model leaves the kept diagonal out (it is made again on use)."""
        state = dict(self.__dict__)
        state.pop("_kept_diagonal", None)
        return state

    def encode(
        self, tokens: Sequence[Sequence[str]], segments: Sequence[Sequence[str]]
    ) -> tuple[sp.csr_matrix, np.ndarray]:
        """Feature rows and unit latent rows of new lines (``TopicModel.transform`` and
        ``predict``). scikit-learn's checks of the parameters its functions get here (fixed,
        valid ones) are skipped: on one line they were a fifth of the time; the arithmetic is
        the same."""
        with config_context(skip_parameter_validation=True):
            X = self.features(tokens, segments)
            return X, self.project(X)

    def fit_projection(
        self, X: sp.csr_matrix, n_docs: int, n_distinct: int, *, n_components: int, projection: str, random_state: int
    ) -> None:
        """The latent basis from ``X``, the feature rows of the hash-chosen SVD sample of the
        ``n_docs`` lines with words (``n_distinct`` of them different)."""
        # On small corpora a low-rank space generalises over shared characters and words;
        # as many dimensions as lines would just copy the sparse input.
        dims = int(min(n_components, X.shape[1] - 1, max(8, n_docs // 8)))
        if dims >= 1 and n_distinct > 1 and uses_ppmi(projection, n_docs):
            self.projection, self.explained_variance = ppmi_projection(X, dims, random_state=random_state)
            self.method = "ppmi"
            return
        self.method = "lsa"
        if dims >= 1 and n_distinct > 1:
            # ARPACK converges to the leading singular subspace whatever the seed. It needs
            # fewer dimensions than distinct lines; on a handful of lines the randomized
            # solver is exact anyway.
            algorithm = "arpack" if dims < min(n_docs, n_distinct, X.shape[0]) else "randomized"
            svd = TruncatedSVD(n_components=dims, algorithm=algorithm, random_state=random_state)
            with np.errstate(divide="ignore", invalid="ignore"):  # identical lines: no variance
                components = svd.fit(X).components_
            self.explained_variance = float(np.nan_to_num(svd.explained_variance_ratio_).sum())
        else:  # one distinct line or a one-word vocabulary: one direction is all there is
            components = np.ones((1, X.shape[1]), dtype=np.float32)
            self.explained_variance = 1.0
        # Contiguous (features x dims): a sparse row times it costs microseconds.
        self.projection = np.ascontiguousarray(components.T, dtype=np.float32)

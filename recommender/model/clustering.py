"""Clustering of L2-normalized document vectors: spherical k-means, the choice of the
number of topics, and the similarity floors that send outliers to -1.

Everything here works on dense rows of unit length, so a dot product is a cosine.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import normalize

logger = logging.getLogger(__name__)

# Below this mean silhouette no split is better than "one topic".
MIN_SILHOUETTE = 0.1
SELECTION_SAMPLE = 3000
INIT_SAMPLE = 10000
SILHOUETTE_SAMPLE = 2000


def spherical_kmeans(
    X: np.ndarray, k: int, random_state: int, n_init: int
) -> tuple[np.ndarray, np.ndarray]:
    """k-means on unit rows; returns labels and unit-length centroids."""
    if k == 1:
        centroid = normalize(X.mean(axis=0, keepdims=True))
        return np.zeros(X.shape[0], dtype=np.int64), centroid
    n = X.shape[0]
    if n <= INIT_SAMPLE:
        km = KMeans(n_clusters=k, n_init=n_init, random_state=random_state, max_iter=300)
        return km.fit_predict(X).astype(np.int64), normalize(km.cluster_centers_)
    # Restarts are what make k-means repeatable; on large data run them on a sample and
    # refine the best solution once on every row.
    rng = np.random.default_rng(random_state)
    sample = X[np.sort(rng.choice(n, INIT_SAMPLE, replace=False))]
    best = KMeans(n_clusters=k, n_init=n_init, random_state=random_state, max_iter=300).fit(sample)
    km = KMeans(n_clusters=k, init=best.cluster_centers_, n_init=1, max_iter=300)
    return km.fit_predict(X).astype(np.int64), normalize(km.cluster_centers_)


def candidate_ks(n_distinct: int, max_topics: int) -> list[int]:
    """A roughly geometric grid of topic counts from 2 to about sqrt(n_distinct)."""
    # sqrt(n) is the classic upper bound for k; more would mostly split near-duplicates.
    upper = int(min(max_topics, np.sqrt(n_distinct)))
    if upper < 2:
        return []
    ks: set[int] = set(range(2, min(upper, 8) + 1))
    k = 8.0
    while k < upper:
        k *= 1.3
        ks.add(min(upper, int(round(k))))
    return sorted(ks)


def _silhouette(X: np.ndarray, k: int, random_state: int) -> float:
    labels, _ = spherical_kmeans(X, k, random_state, n_init=1)
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(
        silhouette_score(
            X, labels, metric="cosine", sample_size=min(SILHOUETTE_SAMPLE, X.shape[0]), random_state=random_state
        )
    )


def choose_n_topics(X: np.ndarray, max_topics: int, random_state: int) -> tuple[int, dict[int, float]]:
    """Pick the number of topics by the mean cosine silhouette over a grid of k.

    Only distinct rows take part (a hundred copies of one line would otherwise make a
    tight cluster of their own and reward ever larger k), on a sample of at most
    ``SELECTION_SAMPLE`` rows. One topic is chosen when no split reaches
    ``MIN_SILHOUETTE``. Returns the chosen k and the silhouette of every candidate.
    """
    rng = np.random.default_rng(random_state)
    distinct = np.unique(np.round(X, 5), axis=0)
    if distinct.shape[0] > SELECTION_SAMPLE:
        distinct = distinct[np.sort(rng.choice(distinct.shape[0], SELECTION_SAMPLE, replace=False))]
    distinct = normalize(distinct)
    scores: dict[int, float] = {}
    for k in candidate_ks(distinct.shape[0], max_topics):
        score = _silhouette(distinct, k, random_state)
        if np.isfinite(score):
            scores[k] = round(score, 4)
    if not scores or max(scores.values()) < MIN_SILHOUETTE:
        return 1, scores
    return max(scores, key=lambda k: (scores[k], -k)), scores


def similarity_floors(similarity: np.ndarray, labels: np.ndarray, k: int, min_similarity: float) -> np.ndarray:
    """Per-topic similarity below which a line fits no topic.

    A line is an outlier of its topic when it is both below the robust lower fence of the
    topic's similarity distribution (median minus three scaled MADs) and less than half as
    similar as the median member; the floor is never below ``min_similarity``. The second
    condition keeps tight topics (MAD near zero) from rejecting mild variants.
    """
    floors = np.full(k, min_similarity, dtype=np.float64)
    for c in range(k):
        s = similarity[labels == c]
        if s.size < 20:  # too few lines to estimate a spread
            continue
        med = float(np.median(s))
        mad = 1.4826 * float(np.median(np.abs(s - med)))
        floors[c] = max(min_similarity, min(med - 3.0 * mad, 0.5 * med))
    return floors

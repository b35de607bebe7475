"""Diversity of the ranked list: near-duplicate topics move down, never out (pure functions).

Greedy maximal marginal relevance with a hard threshold, as the module docs of
:mod:`recommender.ranking.rank` describe: a topic whose centroid has cosine similarity
``>= threshold`` with an already chosen one goes after every topic that is not such a
near-duplicate, and is named in ``similar_to`` of the most similar chosen topic.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["diversify"]


def diversify(
    ordered: Sequence[str], centroids: Mapping[str, np.ndarray | None], top: int, threshold: float
) -> tuple[list[str], dict[str, list[str]]]:
    """Greedy walk best first: up to ``top`` topics, near-duplicates of a kept one after
    all the others (in their own order), and which topic each near-duplicate resembles."""
    distinct: list[str] = []
    later: list[str] = []
    similar: dict[str, list[str]] = defaultdict(list)
    vectors = {t: _unit(centroids.get(t)) for t in ordered}
    for topic_id in ordered:
        vector = vectors[topic_id]
        best: tuple[float, str] | None = None
        if vector is not None:
            for kept in distinct:
                other = vectors[kept]
                if other is None or other.shape != vector.shape:
                    continue
                cosine = float(np.dot(vector, other))
                if cosine >= threshold and (best is None or cosine > best[0]):
                    best = (cosine, kept)
        if best is not None:
            similar[best[1]].append(topic_id)
            later.append(topic_id)
        else:
            distinct.append(topic_id)
    return (distinct + later)[:top], similar


def _unit(vector: np.ndarray | None) -> np.ndarray | None:
    if vector is None:
        return None
    norm = float(np.linalg.norm(vector))
    if not math.isfinite(norm) or norm == 0.0:
        return None
    return vector / norm

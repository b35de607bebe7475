"""Diversity of the ranked list: topics move down, never out (pure functions).

Two greedy rules in the spirit of maximal marginal relevance, as the module docs of
:mod:`recommender.ranking.rank` describe:

- near-duplicates (:func:`diversify`): a topic whose centroid has cosine similarity
  ``>= threshold`` with an already chosen one goes after every topic that is not such a
  near-duplicate, and is named in ``similar_to`` of the most similar chosen topic;
- crowded themes (:func:`spread_themes`): a topic whose theme already has ``slots`` topics
  above it competes with the topics of other themes at ``ratio`` times its score, so the
  next topic of another theme goes first unless the theme's demand is clearly larger.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ThemeMove", "diversify", "spread_themes"]


def diversify(
    ordered: Sequence[str], centroids: Mapping[str, np.ndarray | None], threshold: float
) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """Greedy walk best first: the topics that are no near-duplicate of a better one, the
    near-duplicates (both in their own order; the second go after the first), and which
    topic each near-duplicate resembles."""
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
    return distinct, later, similar


@dataclass(frozen=True)
class ThemeMove:
    """Why a topic of a crowded theme stands where it does: ``above`` topics of its theme were
    already chosen when it was; it moved down ``places`` places for other themes' topics, or
    (``places == 0``) it kept its place with ``lead`` times the score of the best other-theme
    topic still waiting (its theme's demand is clearly larger)."""

    theme_id: str
    above: int
    places: int
    lead: float | None = None


def spread_themes(
    ordered: Sequence[str],
    scores: Mapping[str, float],
    themes: Mapping[str, str | None],
    slots: int,
    ratio: float,
) -> tuple[list[str], dict[str, ThemeMove]]:
    """``ordered`` (best first) with crowded themes spread out, and how each crowded topic moved.

    Greedy: the best remaining topic is taken, unless its theme already has ``slots`` chosen
    topics and the best remaining topic of a theme that does not (or of no theme) scores at
    least ``ratio`` times as much: that one goes first, and the crowded topic waits for the
    next place. Topics are never dropped; a topic without a theme is never crowded; the
    crowded topics keep their own order; ``slots == 0`` turns the rule off."""
    if slots <= 0:
        return list(ordered), {}
    remaining = list(ordered)
    chosen: list[str] = []
    taken: Counter[str] = Counter()
    # Topics taken while their theme was crowded: how many of the theme were above, and the
    # best other-theme topic still waiting then (None: there was none).
    crowded_at: dict[str, tuple[str, int, str | None]] = {}

    def crowded(topic_id: str) -> bool:
        theme = themes.get(topic_id)
        return theme is not None and taken[theme] >= slots

    while remaining:
        pick = remaining[0]
        if crowded(pick):
            other = next((t for t in remaining if not crowded(t)), None)
            if other is not None and scores[other] >= ratio * scores[pick]:
                pick = other
            else:
                theme = themes[pick]
                assert theme is not None
                crowded_at[pick] = (theme, taken[theme], other)
        remaining.remove(pick)
        chosen.append(pick)
        theme = themes.get(pick)
        if theme is not None:
            taken[theme] += 1

    before = {t: i for i, t in enumerate(ordered)}
    moves: dict[str, ThemeMove] = {}
    for place, topic_id in enumerate(chosen):
        if topic_id not in crowded_at:
            continue
        theme, above, other = crowded_at[topic_id]
        places = place - before[topic_id]
        if places > 0:
            moves[topic_id] = ThemeMove(theme, above, places)
        elif other is not None and scores[other] > 0:
            moves[topic_id] = ThemeMove(theme, above, 0, scores[topic_id] / scores[other])
    return chosen, moves


def _unit(vector: np.ndarray | None) -> np.ndarray | None:
    if vector is None:
        return None
    norm = float(np.linalg.norm(vector))
    if not math.isfinite(norm) or norm == 0.0:
        return None
    return vector / norm

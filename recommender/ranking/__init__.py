"""Ranking: demand → ranked suggestions (pure functions), and the dashboard's SVG charts.

The public names of :mod:`recommender.ranking.rank` are re-exported here.
"""

from recommender.ranking.rank import (
    ClassSession,
    DemandRecord,
    RankingParams,
    Suggestion,
    TopicCard,
    rank_topics,
)

__all__ = ["ClassSession", "DemandRecord", "RankingParams", "Suggestion", "TopicCard", "rank_topics"]

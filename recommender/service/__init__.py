"""The service: what the web layer and the CLI call (store + served model + ranking)."""

from recommender.service.core import RecommenderService

__all__ = ["RecommenderService"]

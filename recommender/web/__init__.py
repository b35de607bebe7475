"""The web layer: the only package that imports FastAPI."""

from recommender.web.app import create_app

__all__ = ["create_app"]

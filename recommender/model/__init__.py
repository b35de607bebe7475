"""The topic model: estimator, descriptions and persistence."""

from recommender.model.persistence import load_model, save_model
from recommender.model.topic_model import TopicModel

__all__ = ["TopicModel", "load_model", "save_model"]

"""The feedback store: the only package that talks to the database."""

from recommender.store.feedback_store import FeedbackStore
from recommender.store.rows import NewFeedback, PurgeReport, StoredFeedback

__all__ = ["FeedbackStore", "NewFeedback", "PurgeReport", "StoredFeedback"]

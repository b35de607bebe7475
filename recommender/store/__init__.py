"""The feedback store: the only package that talks to the database."""

from recommender.store.engine import UNAVAILABLE_ERRORS, is_disk_full
from recommender.store.feedback_store import FeedbackStore
from recommender.store.rows import NewFeedback, PurgeReport, StoredFeedback

__all__ = ["UNAVAILABLE_ERRORS", "is_disk_full", "FeedbackStore", "NewFeedback", "PurgeReport", "StoredFeedback"]

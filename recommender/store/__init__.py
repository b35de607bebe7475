"""The feedback store: the only module that talks to the database."""

from recommender.store.feedback_store import FeedbackStore, NewFeedback, PurgeReport, StoredFeedback

__all__ = ["FeedbackStore", "NewFeedback", "PurgeReport", "StoredFeedback"]

"""The feedback store: the only package that talks to the database."""

from recommender.store.engine import UNAVAILABLE_ERRORS, is_disk_full
from recommender.store.corrections import CORRECTION_KINDS, Correction
from recommender.store.feedback_store import FeedbackStore
from recommender.store.rows import NewFeedback, PurgeReport, StoredFeedback
from recommender.store.schema import class_sessions, column_length, feedback, topics

__all__ = [
    "CORRECTION_KINDS",
    "Correction",
    "UNAVAILABLE_ERRORS",
    "FeedbackStore",
    "NewFeedback",
    "PurgeReport",
    "StoredFeedback",
    "TEXT_LIMITS",
    "is_disk_full",
]

#: The most characters each free-text column holds (what validation checks against).
TEXT_LIMITS = {
    "topic_label": column_length(topics, "label_override"),
    "session_title": column_length(class_sessions, "title"),
    "session_instructor": column_length(class_sessions, "instructor"),
    "session_department": column_length(class_sessions, "department"),
    "moderation_reason": column_length(feedback, "moderation_reason"),
    "feedback_session_id": column_length(feedback, "session_id"),
    "topic_id": column_length(topics, "topic_id"),
}

"""FeedbackStore: the one door to the database (SQLite with WAL by default, PostgreSQL by URL).

Everything that reads or writes rows goes through this class; callers pass and receive
plain Python values (``StoredFeedback``, dicts, tuples). Text arriving here is already
validated and masked by :mod:`recommender.door.validation`; submitters arrive already hashed.

The class is one interface over one engine, assembled from the store's areas, each in its
own module and each a mixin over :class:`~recommender.store.engine.StoreEngine`:

================  ===============================================================
module            area
================  ===============================================================
engine.py         engine, write transactions and their locks, migrations, health
intake.py         inserting lines: one, a live batch (group commit), an import batch
recent.py         recent lines read inside a write (screening, repeat marking)
reads.py          stored feedback by id and in id order; the retrain's token cache
assignments.py    topic assignments per model version and the reads built on them
topics.py         topic records, labels, lineage; class sessions
classes.py        post-class feedback: classes by their link, answers and ratings
corrections.py    organizers' moves, merges, splits and pins, undo, what a retrain keeps
moderation.py     status changes with their audit entries, receipts, audit log, retention
experts.py        the directory of experts (who teaches what, from which department)
================  ===============================================================
"""

from __future__ import annotations

from recommender.store.assignments import AssignmentTables
from recommender.store.classes import ClassFeedbackTables
from recommender.store.corrections import Correction, CorrectionTables
from recommender.store.engine import MIGRATIONS_DIR, SQLITE_BUSY_TIMEOUT_MS
from recommender.store.experts import ExpertTables
from recommender.store.intake import FeedbackIntake
from recommender.store.moderation import ModerationTables
from recommender.store.reads import FeedbackReads
from recommender.store.rows import NewFeedback, PurgeReport, StoredFeedback
from recommender.store.topics import TopicTables

__all__ = [
    "MIGRATIONS_DIR",
    "SQLITE_BUSY_TIMEOUT_MS",
    "Correction",
    "FeedbackStore",
    "NewFeedback",
    "PurgeReport",
    "StoredFeedback",
]


class FeedbackStore(
    FeedbackIntake,
    FeedbackReads,
    AssignmentTables,
    TopicTables,
    CorrectionTables,
    ClassFeedbackTables,
    ModerationTables,
    ExpertTables,
):
    """Feedback, token cache, topic assignments, topics, corrections, class sessions and their
    answers, moderation, audit and experts.

    ``FeedbackStore(url)`` connects lazily; call :meth:`migrate` once at start-up (the
    service and the CLI do) to bring the schema to the newest Alembic revision.
    """

"""The exception tree of the recommender.

    RecommenderError
    ├── ValidationFailed          bad feedback or request input (a person can fix it)
    ├── NotFound                  no such topic, feedback line or receipt (the web answers 404)
    ├── Conflict                  a well-formed request the current state refuses (409):
    │                             a correction undone already, lines already where asked
    ├── ImportFailed              a whole import file cannot be read (bad format, broken XLSX)
    ├── StoreError                the database refused or is unreachable
    ├── ModelError
    │   ├── NoModelError          no model has been trained yet
    │   ├── ModelCompatibilityError  artifact written by other library versions / corrupt
    │   └── NotEnoughFeedback     too little feedback to train
    └── RetrainInProgress         another retrain holds the lock
"""

from __future__ import annotations


class RecommenderError(Exception):
    """Base of every error the recommender raises on purpose."""


class ValidationFailed(RecommenderError):
    """Input a person can fix. ``field`` names the input, ``message`` says why (Chinese)."""

    def __init__(self, message: str, field: str | None = None, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class NotFound(RecommenderError, LookupError):
    """The thing asked for does not exist (or is not in a state the action applies to).
    The message says which, in Chinese; the web layer translates it to 404 in one place."""


class Conflict(RecommenderError):
    """A well-formed request that the current state refuses (the web answers 409): undoing a
    correction undone already, moving lines where they already are. ``message`` says why
    (Chinese); ``code`` names the case."""

    def __init__(self, message: str, code: str = "conflict") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ImportFailed(RecommenderError):
    """A whole import file cannot be read."""


class StoreError(RecommenderError):
    """The feedback store failed."""


class ModelError(RecommenderError):
    """Something is wrong with a model or its artifact."""


class NoModelError(ModelError):
    """No model has been trained yet."""


class ModelCompatibilityError(ModelError):
    """An artifact cannot be used: corrupt, or written by incompatible library versions."""


class NotEnoughFeedback(ModelError):
    """Too little feedback to train a model."""


class RetrainInProgress(RecommenderError):
    """Another retrain holds the lock."""

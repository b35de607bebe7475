"""Needs-driven topic recommender for community night schools.

Public names: :class:`TopicModel` (a scikit-learn style estimator over raw Chinese strings)
and :func:`tokenize` (the jieba tokenizer it uses). They are imported lazily so that the
CLI and the web workers start without loading scikit-learn until they need it.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["TopicModel", "tokenize", "__version__"]


def __getattr__(name: str):
    if name == "TopicModel":
        from recommender.model.topic_model import TopicModel

        return TopicModel
    if name == "tokenize":
        from recommender.text.tokenize import tokenize

        return tokenize
    raise AttributeError(f"module 'recommender' has no attribute {name!r}")

"""The operator's log: one format and level for the CLI and for every service worker.

``recommender serve --workers N`` runs each worker in a process of its own that uvicorn
starts; uvicorn configures only its own loggers there, so without this the workers'
``recommender.*`` messages (which model is served, retrains, intake writer statistics,
database trouble) below WARNING would go nowhere. The app factory therefore calls
:func:`configure_logging` as the CLI does. Log lines never carry feedback text or tokens.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    """Send log records of ``level`` and above to stderr, unless the process already has a
    root handler (a test's log capture, an embedding application's own configuration)."""
    numeric = getattr(logging, str(level).upper(), logging.INFO)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=numeric, format=FORMAT)
    # Alembic announces every plugin and migration context at INFO: noise for operators.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))

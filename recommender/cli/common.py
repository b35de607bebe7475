"""What every command shares: the exit codes, the services a command opens (``main`` closes
them), the console's audit entries and times as organizers read them."""

from __future__ import annotations

import logging

from recommender.config import Settings

log = logging.getLogger("recommender")

EXIT_ERROR = 1
EXIT_NOT_ENOUGH = 2
EXIT_BUSY = 3
EXIT_NO_MODEL = 4

#: Services opened by this command; main() closes them (and their database pools) on exit.
OPEN_SERVICES: list = []


def open_service(settings: Settings):
    """A started RecommenderService that ``main`` closes when the command ends."""
    from recommender.service import RecommenderService

    service = RecommenderService(settings)
    OPEN_SERVICES.append(service)
    service.start()
    return service


def close_services() -> None:
    while OPEN_SERVICES:
        OPEN_SERVICES.pop().close()


def local_time(value: object, settings: Settings) -> str:
    """A stored ISO time as the organizers read it: ``YYYY-MM-DD HH:MM`` in RECOMMENDER_TIMEZONE."""
    from recommender.web.timefmt import to_local

    moment = to_local(value, settings.tz)
    return str(value or "") if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def audit(settings: Settings, action: str, target: str | None, detail: dict) -> None:
    """Write a console action to the audit log (actor ``console:<user>``, or ``console``)."""
    from recommender.door.screening import console_actor
    from recommender.store import FeedbackStore

    store = FeedbackStore(settings.database_url)
    try:
        store.migrate()
        store.audit(console_actor(), action, target, detail)
    finally:
        store.dispose()

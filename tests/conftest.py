"""Shared fixtures: settings, a migrated store on SQLite or PostgreSQL, the service, a test client.

Every fixture built on ``store_url`` runs on both backends: ``sqlite`` always, ``postgres``
only when ``RECOMMENDER_TEST_POSTGRES_URL`` is set (for example
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each PostgreSQL test gets its own
schema, dropped afterwards. Deselect PostgreSQL runs with ``-m "not postgres"``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from recommender.config import Settings, get_settings

from fastapi.testclient import TestClient

POSTGRES_ENV = "RECOMMENDER_TEST_POSTGRES_URL"
ORGANIZER_TOKEN = "test-organizer-token"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep the developer's RECOMMENDER_* variables (but not the test ones) out of every test."""
    for name in list(os.environ):
        if name.startswith("RECOMMENDER_") and not name.startswith("RECOMMENDER_TEST_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the PostgreSQL runs up front when no test server is configured (one summary line per file)."""
    if os.environ.get(POSTGRES_ENV):
        return
    skip = pytest.mark.skip(reason=f"{POSTGRES_ENV} is not set")
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("store_url") == "postgres":
            item.add_marker(skip)


def postgres_schema_url(base_url: str, schema: str) -> str:
    """``base_url`` with libpq options that put ``schema`` first on the search path."""
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A database URL: a fresh SQLite file, or a fresh schema in the test PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'feedback.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    schema = f"t_{uuid.uuid4().hex}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield postgres_schema_url(base, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def settings(store_url: str, tmp_path) -> Settings:
    """Settings for one test: its own database, data and models folders, a known organizer token."""
    return Settings(
        database_url=store_url,
        data_dir=tmp_path / "data",
        models_dir=tmp_path / "models",
        organizer_tokens=ORGANIZER_TOKEN,
        model_poll_seconds=0.1,
        rate_limit="off",  # tests submit many lines; tests/test_ratelimit.py turns it on
        withdraw_rate_limit="off",
        auth_failure_limit="off",  # tests try wrong tokens; tests/test_auth.py turns it on
        flag_burst_lines=0,  # tests submit many lines from one client; tests/test_moderation.py turns it on
        flag_duplicate_submitters=0,
        flag_address_lines=0,
    )


@pytest.fixture
def store(settings: Settings):
    """A migrated FeedbackStore on the test database."""
    from recommender.store import FeedbackStore

    feedback_store = FeedbackStore(settings.database_url)
    feedback_store.migrate()
    yield feedback_store
    feedback_store.dispose()


@pytest.fixture
def service(settings: Settings, store):
    """A started RecommenderService on the test store (no model until a test trains one)."""
    from recommender.service import RecommenderService

    svc = RecommenderService(settings, store=store)
    svc.start()
    yield svc
    svc.close()


@pytest.fixture
def client(settings: Settings, service):
    """A TestClient of the whole app, entered so the lifespan (start, model poller) runs."""
    from recommender.web.app import create_app

    with TestClient(create_app(settings, service)) as test_client:
        yield test_client


@pytest.fixture
def organizer_headers() -> dict[str, str]:
    """The Authorization header of the test organizer token."""
    return {"Authorization": f"Bearer {ORGANIZER_TOKEN}"}


@pytest.fixture(scope="session")
def set_up_service(tmp_path_factory):
    """``svc.setup()`` for a ``bench.load.ServiceProcess`` (demo feedback, one trained model),
    done once per session on SQLite: a service on SQLite gets a copy of the first one's
    database, data and models folders (the same lines, secrets and model, as a fresh
    ``recommender setup`` would make them). Other databases run ``recommender setup``."""
    import shutil

    from bench.load import ServiceProcess

    template: list[ServiceProcess] = []

    def set_up(svc) -> None:
        if not svc.database_url.startswith("sqlite:///"):
            svc.setup()
            return
        if not template:
            first = ServiceProcess(tmp_path_factory.mktemp("setup-template") / "svc", workers=1)
            first.setup()
            template.append(first)
        source = template[0]
        svc.folder.mkdir(parents=True, exist_ok=True)
        for part in ("data", "models"):
            shutil.copytree(source.folder / part, svc.folder / part)
        database = Path(svc.database_url.removeprefix("sqlite:///"))
        database.parent.mkdir(parents=True, exist_ok=True)
        original = Path(source.database_url.removeprefix("sqlite:///"))
        for file in original.parent.glob(original.name + "*"):  # with any -wal / -shm left
            shutil.copy2(file, database.with_name(database.name + file.name.removeprefix(original.name)))

    return set_up

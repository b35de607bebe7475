"""What an operator sees when the database is unreachable or the disk is full."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from recommender.errors import StoreError
from recommender.store import FeedbackStore, is_disk_full
from tests.helpers import assert_error


def test_a_wrong_postgresql_port_names_host_port_and_cause_without_the_password():
    """`database migration failed` says where (host, port, database, user) and why — never the password."""
    store = FeedbackStore("postgresql+psycopg://night:s3cret-pw@127.0.0.1:1/schooldb?connect_timeout=5")
    try:
        with pytest.raises(StoreError) as info:
            store.migrate()
    finally:
        store.dispose()
    message = str(info.value)
    assert "127.0.0.1:1" in message and "schooldb" in message and "night" in message
    assert "refused" in message.lower() or "failed" in message.lower()
    assert "s3cret-pw" not in message and "\n" not in message


def test_serve_prints_the_explained_migration_failure(monkeypatch, capsys, tmp_path):
    """`recommender serve` against a closed PostgreSQL port exits 1 naming the port and the cause."""
    from recommender import cli

    monkeypatch.setenv("RECOMMENDER_DATABASE_URL", "postgresql+psycopg://postgres:pw-123@127.0.0.1:1/test")
    monkeypatch.setenv("RECOMMENDER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RECOMMENDER_ORGANIZER_TOKENS", "a-long-enough-organizer-token")
    assert cli.main(["serve"]) == 1
    err = capsys.readouterr().err
    assert "127.0.0.1:1" in err and "OperationalError" in err and "pw-123" not in err


def test_disk_full_errors_are_recognised_on_both_databases():
    """SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100) and ENOSPC are a full disk; a lock is not."""
    import psycopg

    full = sqlite3.OperationalError("database or disk is full")
    assert is_disk_full(OperationalError("INSERT", {}, full))
    assert is_disk_full(OperationalError("INSERT", {}, psycopg.errors.DiskFull("could not extend file")))
    assert is_disk_full(OSError(28, "No space left on device"))
    assert not is_disk_full(OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_full_disk_says_so_and_readyz_reports_it(client, store, trained_model_service):
    """With the database unable to grow: submissions answer 503 `disk_full` (not "busy") and /readyz
    503 `disk_full`; once space is back /readyz is 200 again and submissions are stored."""
    pages = store.engine.connect().exec_driver_sql("PRAGMA page_count").scalar()

    def cap(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    event.listen(store.engine, "connect", cap)
    store.engine.dispose()
    try:
        refused = client.post("/api/feedback", json={"text": "想学公文写作。" * 250})
        body = assert_error(refused, 503, "disk_full")
        assert "磁盘已满" in body["error"]["message"]
        assert_error(client.get("/readyz"), 503, "disk_full")
        form = client.post("/feedback", data={"text": "想学做表格" * 300}, follow_redirects=False)
        assert form.status_code == 503 and "磁盘已满" in form.text
    finally:
        event.remove(store.engine, "connect", cap)
        store.engine.dispose()
    assert client.get("/readyz").status_code == 200
    assert client.post("/api/feedback", json={"text": "想学公文写作"}).status_code == 201


@pytest.fixture
def trained_model_service(service, settings):
    """A model in service, so that /readyz can be 200 when the disk is fine."""
    from tests.fixtures_organizer import load_feedback
    from recommender.retrain.pipeline import train_from_store

    load_feedback(service)
    train_from_store(service.store, settings, progress=False)
    service.refresh_model()
    return service


def _readme_paragraph(title: str) -> str:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start = text.index(f"- **{title}.**")
    return text[start:text.index("\n- **", start + 1)]


def test_readme_backups_name_every_secret_the_service_keeps(client, settings):
    """Restoring a backup as README says keeps receipt codes working: every file the service
    generates in the data folder (salt, receipt secret, session secret, organizer token) is
    named in the Backups paragraph."""
    from tests.conftest import ORGANIZER_TOKEN

    answer = client.post("/api/feedback", json={"text": "想学太极拳，周末上课"})
    assert answer.status_code == 201 and answer.json()["receipt"]
    client.post("/organizer/login", data={"token": ORGANIZER_TOKEN, "next": "/organizer"}, follow_redirects=False)
    kept = {p.name for p in settings.data_dir.iterdir() if not p.name.startswith("feedback.db")}
    assert {"submitter_salt", "receipt_secret", "session_secret"} <= kept
    backups = _readme_paragraph("Backups")
    for name in kept | {"organizer_token"}:  # the token: made by `serve` when none is set
        assert f"feedback_data/{name}" in backups, name


def test_a_restore_without_the_receipt_secret_is_logged_at_start(client, settings, store, caplog):
    """The database restored without ``receipt_secret`` / ``submitter_salt``: the service says
    which file is missing and how many lines need it, before it generates a new one."""
    import logging

    from recommender.service import RecommenderService

    assert client.post("/api/feedback", json={"text": "想学书法", "submitter": "wx-1"}).status_code == 201
    (settings.data_dir / "receipt_secret").unlink()
    (settings.data_dir / "submitter_salt").unlink()
    caplog.set_level(logging.INFO)
    restored = RecommenderService(settings, store=store)
    restored.start()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("receipt_secret is missing but 1 stored feedback lines" in m and "README: Backups" in m for m in errors), errors
    assert any("submitter_salt is missing but 1 stored feedback lines" in m for m in errors), errors
    assert not any("书法" in r.getMessage() for r in caplog.records)

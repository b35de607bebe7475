"""Withdrawn or purged text leaves the quotes kept inside every saved model version."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from recommender.door.screening import normalise_receipt, receipt_hash
from recommender.model.persistence import load_model
from recommender.retrain.pipeline import train_from_store
from recommender.retrain.quotes import quotes_of
from recommender.retrain.registry import ModelRegistry
from tests.fixtures_organizer import SEGMENTS, theme_lines


def _load_with_receipts(service) -> dict[str, str]:
    """The four-theme lines, each stored with a receipt code: text -> code."""
    now = datetime.now(timezone.utc)
    codes = {}
    for i, (_theme, text) in enumerate(theme_lines()):
        draft = service.draft(text, segment=SEGMENTS[i % len(SEGMENTS)], submitter=f"person-{i}",
                              submitted_at=now - timedelta(days=(i * 7) % 80, hours=1), source="api")
        _row, code = service.submit_with_receipt(draft)
        codes[draft.text] = code
    return codes


def _quotes_on_disk(settings) -> dict[str, set[str]]:
    registry = ModelRegistry(settings.models_dir)
    return {info.version: quotes_of(load_model(info.path)[0]) for info in registry.list_versions()}


def test_a_withdrawn_line_leaves_every_saved_version(client, service, settings):
    """Two versions quote a line; after its withdrawal (POST /api/withdraw) neither does, both
    still load, and every other quote is kept."""
    codes = _load_with_receipts(service)
    train_from_store(service.store, settings, progress=False)
    train_from_store(service.store, settings, progress=False, force=True)
    service.refresh_model()
    before = _quotes_on_disk(settings)
    assert len(before) == 2
    quoted = sorted(set.intersection(*before.values()))[0]
    assert client.post("/api/withdraw", json={"receipt": codes[quoted]}).json()["status"] == "withdrawn"
    assert service.moderation.quotes.wait(60)
    after = _quotes_on_disk(settings)
    assert set(after) == set(before)
    for version, quotes in after.items():
        assert quoted not in quotes
        assert quotes == before[version] - {quoted}
    assert client.get("/readyz").status_code == 200


def test_purged_lines_leave_the_saved_versions(service, settings):
    """`recommender purge` (everything past retention here): no version quotes a purged line."""
    _load_with_receipts(service)
    train_from_store(service.store, settings, progress=False)
    service.refresh_model()
    assert any(_quotes_on_disk(settings).values())
    report = service.purge(now=datetime.now(timezone.utc) + timedelta(days=365 * 30))
    assert report.lines > 0
    assert all(not quotes for quotes in _quotes_on_disk(settings).values())


def test_a_scrub_lost_with_its_process_is_done_at_the_next_start(service, settings, store):
    """A withdrawal whose background scrub never ran: the next service start catches up."""
    from recommender.service import RecommenderService

    codes = _load_with_receipts(service)
    train_from_store(service.store, settings, progress=False)
    service.refresh_model()
    service.moderation.quotes.run()  # records the stamp
    quoted = sorted(next(iter(_quotes_on_disk(settings).values())))[0]
    secret = service.moderation.receipt_secret.value
    row = store.withdraw(receipt_hash(secret, normalise_receipt(codes[quoted])))  # the store alone: no scrub
    assert row is not None and row.status == "withdrawn"
    restarted = RecommenderService(settings, store=store)
    restarted.start()
    assert restarted.moderation.quotes.wait(60)
    assert all(quoted not in quotes for quotes in _quotes_on_disk(settings).values())

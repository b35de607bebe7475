"""Model versions on disk after crashes: a corrupt pointer or version.json, retrains killed
before their switch."""

from __future__ import annotations

import json
import logging

import pytest

from recommender.errors import NoModelError
from recommender.retrain.hot_swap import ModelWatcher
from recommender.retrain.registry import METADATA_FILE, ModelRegistry


def _write(directory) -> None:
    (directory / "artifact.txt").write_text("ok", encoding="utf-8")


def _load(path) -> str:
    if (path / "artifact.txt").read_text(encoding="utf-8") != "ok":
        raise ValueError("corrupt artifact")
    return path.name


def _registry(tmp_path, versions: int = 5) -> tuple[ModelRegistry, list[str]]:
    registry = ModelRegistry(tmp_path / "models")
    names = [registry.publish(_write, {"n": i}) for i in range(versions)]
    return registry, names


def test_a_corrupt_pointer_falls_back_to_the_newest_valid_version(tmp_path, caplog):
    """After a restart with a corrupt CURRENT and five valid versions, the newest is served and the log says why."""
    registry, names = _registry(tmp_path)
    registry.pointer_path.write_bytes(b"\x00garbage\n")
    watcher = ModelWatcher(registry, _load, poll_seconds=0)
    with caplog.at_level(logging.ERROR):
        assert watcher.refresh() is True
    assert watcher.require().version == names[-1]
    assert "model pointer is corrupt" in caplog.text and names[-1] in caplog.text


def test_a_truncated_version_json_is_refused_like_a_bad_artifact(tmp_path, caplog):
    """CURRENT naming a version whose version.json is cut short: refused, and a fresh worker falls
    back to the newest version that is whole; a running worker keeps what it serves."""
    registry, names = _registry(tmp_path, versions=3)
    running = ModelWatcher(registry, _load, poll_seconds=0)
    running.refresh()
    newest = registry.path_of(registry.publish(_write, {"n": 9}))
    metadata = newest / METADATA_FILE
    metadata.write_bytes(metadata.read_bytes()[:20])
    assert running.refresh() is False and running.require().version == names[-1]
    assert "version.json" in running.last_error
    fresh = ModelWatcher(registry, _load, poll_seconds=0)
    fresh.refresh()
    assert fresh.require().version == names[-1]


def test_no_valid_version_means_no_model(tmp_path):
    """Every version refused: still no model (503), not a crash."""
    registry, names = _registry(tmp_path, versions=2)
    for name in names:
        (registry.path_of(name) / "artifact.txt").write_text("bad", encoding="utf-8")
    registry.pointer_path.write_text("nonsense", encoding="ascii")
    watcher = ModelWatcher(registry, _load, poll_seconds=0)
    assert watcher.refresh() is False
    with pytest.raises(NoModelError):
        watcher.require()


def test_versions_never_served_do_not_push_out_the_served_one(tmp_path):
    """Five retrains killed after writing their version but before switching: pruning with
    keep=2 removes them and keeps the version served before (the rollback target)."""
    registry = ModelRegistry(tmp_path / "models")
    first = registry.publish(_write, {})
    orphans = [registry.publish(_write, {}, make_current=False) for _ in range(5)]
    latest = registry.publish(_write, {})
    removed = registry.prune(2)
    assert sorted(removed) == sorted(orphans)
    assert [v.version for v in registry.list_versions()] == [latest, first]
    assert registry.served_versions() == {first, latest}


def test_a_folder_from_before_served_was_kept_counts_every_version_as_served(tmp_path):
    """Without SERVED (an older installation) no version is taken for an orphan."""
    registry, names = _registry(tmp_path, versions=4)
    (registry.models_dir / "SERVED").unlink()
    assert registry.prune(3) == [names[0]]
    registry.set_current(names[1])  # the first switch writes SERVED with what is on disk
    assert registry.served_versions() == set(names[1:])


def test_a_restarted_service_with_a_corrupt_pointer_is_ready(settings, store):
    """The service end to end: trained twice, CURRENT corrupted, a new service is ready with the newest version."""
    from fastapi.testclient import TestClient

    from recommender.retrain.pipeline import train_from_store
    from recommender.service import RecommenderService
    from recommender.web.app import create_app
    from tests.fixtures_organizer import load_feedback

    first = RecommenderService(settings, store=store)
    first.start()
    load_feedback(first)
    train_from_store(store, settings, progress=False)
    newest = train_from_store(store, settings, progress=False).version
    first.close()
    registry = ModelRegistry(settings.models_dir)
    registry.pointer_path.write_text("20261301T99", encoding="ascii")
    from recommender.store import FeedbackStore

    again = RecommenderService(settings, store=FeedbackStore(settings.database_url))
    with TestClient(create_app(settings, again)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["model_version"] == newest
    assert json.loads(json.dumps(registry.show(newest).as_dict()))["version"] == newest

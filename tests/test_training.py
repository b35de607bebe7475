"""The retrain pipeline: store → tokens (cached) → model → stable ids → current version."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from recommender.errors import NotEnoughFeedback, RetrainInProgress
from recommender.retrain.lock import retrain_lock
from recommender.retrain.registry import ModelRegistry
from recommender.retrain.pipeline import lock_path, train_from_store
from tests.feedback_corpus import THEMES, feedback_rows, load_into


@pytest.fixture
def loaded(service):
    """A service whose store holds the five-theme corpus."""
    load_into(service, feedback_rows(seed=1))
    return service


def test_train_publishes_a_current_version_with_every_line_assigned(loaded, settings):
    """A retrain makes a new current version and assigns every stored line under it."""
    result = train_from_store(loaded.store, settings, progress=False)
    registry = ModelRegistry(settings.models_dir)
    assert registry.current_version() == result.version
    assert loaded.store.assignment_count(result.version) == loaded.store.count()
    meta = registry.show(result.version).metadata
    assert meta["n_rows"] == loaded.store.count()
    assert len(meta["topic_ids"]) == result.n_topics >= 3


def test_topics_follow_the_themes(loaded, settings):
    """Lines of one theme mostly share a topic (the corpus has five obvious themes)."""
    from sklearn.metrics import normalized_mutual_info_score

    result = train_from_store(loaded.store, settings, progress=False)
    rows = list(loaded.store.assignment_rows(result.version))
    theme_of = {line: theme for theme, lines in THEMES.items() for line in lines}
    truth, found = [], []
    for row, topic, _ in rows:
        theme = next((t for line, t in theme_of.items() if line in row.text), None)
        if theme is not None and topic is not None:
            truth.append(theme)
            found.append(topic)
    assert normalized_mutual_info_score(truth, found) >= 0.6


def test_too_little_feedback_refuses_and_keeps_no_model(service, settings):
    """Fewer lines than min_train_rows raises NotEnoughFeedback and publishes nothing."""
    load_into(service, feedback_rows(seed=2, per_theme=2))
    with pytest.raises(NotEnoughFeedback, match="至少需要"):
        train_from_store(service.store, settings, progress=False)
    assert ModelRegistry(settings.models_dir).current_version() is None


def test_second_retrain_reuses_cached_tokens(loaded, settings):
    """Tokenization happens once per line: a second retrain tokenizes nothing."""
    first = train_from_store(loaded.store, settings, progress=False)
    second = train_from_store(loaded.store, settings, progress=False, force=True)
    assert first.tokenized == loaded.store.count()
    assert second.tokenized == 0 and not second.unchanged and second.version != first.version


def test_a_retrain_with_nothing_new_keeps_the_current_version(loaded, settings):
    """Nothing added, withdrawn or hidden since the current version: the retrain keeps it
    (every line's topic and every suggestion stay as they are); one more line, or
    ``force``, fits and publishes a new version."""
    first = train_from_store(loaded.store, settings, progress=False)
    again = train_from_store(loaded.store, settings, progress=False, actor="console")
    registry = ModelRegistry(settings.models_dir)
    assert again.unchanged and again.version == first.version == registry.current_version()
    assert (again.n_rows, again.n_topics, again.n_noise) == (first.n_rows, first.n_topics, first.n_noise)
    assert [v.version for v in registry.list_versions()] == [first.version]
    entries, _ = loaded.store.audit_entries(limit=1, action="retrain")
    assert entries[0]["detail"]["unchanged"] is True
    load_into(loaded, feedback_rows(seed=11, per_theme=1))
    grown = train_from_store(loaded.store, settings, progress=False)
    assert not grown.unchanged and grown.version != first.version
    forced = train_from_store(loaded.store, settings, progress=False, force=True)
    assert not forced.unchanged and forced.version != grown.version


def test_retrain_keeps_topic_ids_when_topics_do_not_change(loaded, settings):
    """A retrain on last month's data plus new feedback keeps ≥ 90% of the topic ids."""
    first = train_from_store(loaded.store, settings, progress=False)
    later = datetime(2026, 11, 25, tzinfo=timezone.utc)
    load_into(loaded, feedback_rows(seed=7, per_theme=3, end=later, days=20))
    second = train_from_store(loaded.store, settings, progress=False)
    registry = ModelRegistry(settings.models_dir)
    old_ids = set(registry.show(first.version).metadata["topic_ids"])
    new_ids = set(registry.show(second.version).metadata["topic_ids"])
    assert len(old_ids & new_ids) >= 0.9 * len(old_ids)
    assert registry.show(second.version).metadata["parent"] == first.version


def test_retrain_is_refused_while_another_holds_the_lock(loaded, settings):
    """Only one retrain at a time: the second gets RetrainInProgress and changes nothing."""
    with retrain_lock(lock_path(settings)):
        with pytest.raises(RetrainInProgress):
            train_from_store(loaded.store, settings, progress=False)
    assert ModelRegistry(settings.models_dir).current_version() is None


def test_organizer_label_survives_a_retrain(loaded, settings):
    """A renamed topic keeps its organizer label through the next retrain."""
    first = train_from_store(loaded.store, settings, progress=False)
    loaded.refresh_model()
    topic_id = loaded.topics()["topics"][0]["topic_id"]
    loaded.rename_topic(topic_id, "我们起的名字")
    train_from_store(loaded.store, settings, progress=False, force=True)
    loaded.refresh_model()
    labels = {t["topic_id"]: t["label"] for t in loaded.topics()["topics"]}
    assert first.version != loaded.served().version
    assert labels.get(topic_id) == "我们起的名字"


def test_sigkill_during_retrain_leaves_the_current_model_serving(loaded, settings, tmp_path):
    """Killing a retrain process at any moment never leaves a broken current model."""
    first = train_from_store(loaded.store, settings, progress=False)
    env = {
        **os.environ,
        "RECOMMENDER_DATABASE_URL": settings.database_url,
        "RECOMMENDER_MODELS_DIR": str(settings.models_dir),
        "RECOMMENDER_DATA_DIR": str(settings.data_dir),
    }
    root = Path(__file__).resolve().parents[1]
    for delay in (0.5, 1.5, 3.0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "recommender", "--quiet", "train"],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        registry = ModelRegistry(settings.models_dir)
        current = registry.current_version()
        assert current is not None
        loaded.watcher.refresh()
        served = loaded.served()
        assert served is not None and served.version == current
        assert loaded.store.assignment_count(current) == loaded.store.count()
    assert first.version in {v.version for v in ModelRegistry(settings.models_dir).list_versions()}

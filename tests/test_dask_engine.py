"""The Dask training engine on a real ``distributed.LocalCluster`` (2 worker processes).

The engine must give the local engine's model on the same data (``TopicModel.fit``'s labels,
topics and themes exactly, with and without previous topics), publish it the same way,
take the operator's user dictionary to the workers, and either survive a worker killed
mid-training (Dask recomputes the lost partitions) or fail cleanly with the current model
kept.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import replace

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from recommender.model.clustering import canonical_order, hash_sample, text_hashes
from recommender.model.persistence import load_model
from recommender.model.topic_model import TopicModel
from recommender.retrain.dask_engine import DaskFit, DaskTrainer, DaskTrainingError, partition_bounds, prepare_worker
from recommender.retrain.dask_partitions import word_hash_counts
from recommender.retrain.pipeline import previous_labels, train_from_store
from recommender.retrain.publishing import prior_topics, tokenizer_fingerprint, topic_number
from recommender.retrain.registry import ModelRegistry
from tests.feedback_corpus import feedback_rows, load_into

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


def _cluster():
    return distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", memory_limit="1GiB"
    )


@pytest.fixture(scope="module")
def dask_client():
    """One cluster for the module: starting worker processes takes seconds."""
    with _cluster() as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture
def dask_settings(settings):
    """Small partitions, so 120 lines already spread over several of them."""
    return settings.model_copy(update={"dask_partition_rows": 25})


@pytest.fixture
def loaded(service):
    load_into(service, feedback_rows(seed=1, per_theme=24))
    return service


def _cli_env(settings, **extra: str) -> dict[str, str]:
    """The environment of a ``recommender`` subprocess on the test's store and folders."""
    return {
        **os.environ,
        "RECOMMENDER_DATABASE_URL": settings.database_url,
        "RECOMMENDER_MODELS_DIR": str(settings.models_dir),
        "RECOMMENDER_DATA_DIR": str(settings.data_dir),
        **extra,
    }


def _model(settings, version):
    return load_model(ModelRegistry(settings.models_dir).path_of(version))[0]


def _same_model(dask_model, local_model) -> None:
    """The whole fitted state an organizer sees, exactly."""
    np.testing.assert_array_equal(dask_model.labels_, local_model.labels_)
    assert dask_model.topics_ == local_model.topics_
    assert dask_model.themes_ == local_model.themes_
    assert dask_model.quality_ == local_model.quality_
    np.testing.assert_allclose(dask_model.centroids_, local_model.centroids_, atol=1e-9)
    # The familiarity score and what it compares new lines with (the reference lines'
    # TF-IDF rows, kept for ``predict``).
    np.testing.assert_array_equal(dask_model.scores_, local_model.scores_)  # bit for bit: row_products
    a, b = dask_model.index_.reference_features, local_model.index_.reference_features
    if local_model.index_.open_set:  # the fixed-k partition scores by the centroid alone
        assert a is not None and a.shape == b.shape and (a != b).nnz == 0
    else:
        assert a is None and b is None


def _store_lines(store, settings):
    rows = list(store.iter_feedback(statuses=("visible",)))
    return [r.id for r in rows], [r.text for r in rows]


def _local_fit(settings, texts, **kwargs) -> TopicModel:
    """``TopicModel.fit`` with the BLAS threads the Dask client's steps use: their count
    changes the last bits of an SVD (see ``DaskTrainer._client_threads``)."""
    with threadpool_limits(limits=settings.train_threads or None):
        return TopicModel(**kwargs.pop("params", {})).fit(texts, **kwargs)


def _dask_fit(client, settings, ids, **kwargs) -> DaskFit:
    trainer = DaskTrainer(client, settings, progress=False)
    return trainer.fit(TopicModel(**kwargs.pop("params", {})), ids, fingerprint=tokenizer_fingerprint(settings),
                       user_dict=None, **kwargs)


@pytest.mark.parametrize("n_topics", [None, 5], ids=["automatic", "fixed-k"])
def test_dask_fit_is_the_local_fit(loaded, dask_settings, dask_client, n_topics):
    """The Dask engine's fit is ``TopicModel.fit`` on the same lines: the same labels,
    topics (labels, keywords, examples, themes), themes and centroids."""
    ids, texts = _store_lines(loaded.store, dask_settings)
    fit = _dask_fit(dask_client, dask_settings, ids, params={"n_topics": n_topics})
    assert len(fit.loaded) == 5  # 120 lines in partitions of 25
    local = _local_fit(dask_settings, texts, params={"n_topics": n_topics})
    assert local.n_topics_ >= 5
    _same_model(fit.model, local)


def test_dask_fit_continues_the_previous_topics_like_the_local_fit(loaded, dask_settings, dask_client):
    """A retrain after new lines arrived: the workers read each line's topic under the
    current version, and the fit equals ``TopicModel.fit`` with the local engine's
    ``prior_labels`` (``pipeline.previous_labels``) and the same pinned topic."""
    train_from_store(loaded.store, dask_settings, progress=False, engine="local")
    registry = ModelRegistry(dask_settings.models_dir)
    load_into(loaded, feedback_rows(seed=7, per_theme=3))
    previous = prior_topics(registry)
    previous = replace(previous, pinned=frozenset({topic_number(previous.topic_ids[-1])}))
    ids, texts = _store_lines(loaded.store, dask_settings)
    prior = previous_labels(loaded.store, registry, ids)
    assert (prior >= 0).any() and (prior < 0).any()

    fit = _dask_fit(dask_client, dask_settings, ids, previous=previous)
    local = _local_fit(dask_settings, texts, prior_labels=prior, pinned=previous.pinned)
    _same_model(fit.model, local)
    assert {t["prior"] for t in local.topics_} - {-1}


def test_retrain_on_either_engine_gives_the_same_version(loaded, dask_settings, dask_client):
    """From the same current version, after new lines arrived, a Dask retrain and a local
    retrain give the same model, keep the same topic ids and report the same identity
    events (fresh ids aside: the store's counter moved on between the two)."""
    first = train_from_store(loaded.store, dask_settings, progress=False, engine="local")
    registry = ModelRegistry(dask_settings.models_dir)
    load_into(loaded, feedback_rows(seed=7, per_theme=3))
    on_dask = train_from_store(loaded.store, dask_settings, progress=False, engine="dask", dask_client=dask_client)
    assert loaded.store.assignment_count(on_dask.version) == loaded.store.count()
    registry.set_current(first.version)
    local = train_from_store(
        loaded.store, dask_settings, progress=False, engine="local", blas_threads=dask_settings.train_threads
    )
    _same_model(_model(dask_settings, on_dask.version), _model(dask_settings, local.version))
    ids_dask, ids_local = (registry.show(r.version).metadata["topic_ids"] for r in (on_dask, local))
    assert on_dask.kept_ids == local.kept_ids > 0
    fresh = dict(zip(ids_dask, ids_local))

    def named(events):
        return re.sub(r"T\d{4,}", lambda m: fresh.get(m.group(), m.group()), json.dumps(events, sort_keys=True))

    assert named(on_dask.events) == json.dumps(local.events, sort_keys=True)


def test_samples_are_the_local_engine_samples(loaded, dask_settings, dask_client):
    """Samples drawn from (text hash, copies) counts hold the lines ``hash_sample`` picks
    from the lines in ``canonical_order`` (as ``TopicModel.fit`` takes them), in its order
    (by hash, copies of one text in store order), copies included."""
    ids, texts = _store_lines(loaded.store, dask_settings)
    fit = _dask_fit(dask_client, dask_settings, ids, params={"n_topics": 5})
    trainer = DaskTrainer(dask_client, dask_settings, progress=False)
    buckets = trainer._buckets([trainer.submit(word_hash_counts, p) for p in fit.loaded])
    hashes = text_hashes(texts)
    assert len(set(hashes.tolist())) < len(texts)  # repeated texts: copies matter
    for size in (7, 40, 119, 500):
        lines = trainer._sample(fit.loaded, buckets, len(texts), size)
        order = canonical_order(hashes)
        expected = order[hash_sample(hashes[order], size)]
        assert [line.hash for line in lines] == [int(h) for h in hashes[expected]]
        assert [line.text for line in lines] == [texts[i] for i in expected]


def test_dask_engine_publishes_the_local_model(loaded, dask_settings, dask_client):
    """Through ``train_from_store``: the Dask version is current with every line assigned,
    and a local retrain on the same lines (continuing it) gives the same model and keeps
    every topic id (the assignments the workers wrote are the model's)."""
    result = train_from_store(loaded.store, dask_settings, progress=False, engine="dask", dask_client=dask_client)
    registry = ModelRegistry(dask_settings.models_dir)
    assert registry.current_version() == result.version
    meta = registry.show(result.version).metadata
    assert meta["engine"] == "dask" and meta["partitions"] > 1
    assert loaded.store.assignment_count(result.version) == loaded.store.count()
    local = train_from_store(
        loaded.store, dask_settings, progress=False, engine="local", blas_threads=dask_settings.train_threads,
        force=True,  # the same lines: refit all the same, to compare the engines
    )
    a, b = _model(dask_settings, local.version), _model(dask_settings, result.version)
    assert [t["prior"] for t in a.topics_] == [topic_number(t) for t in registry.show(result.version).metadata["topic_ids"]]
    for topic in a.topics_:  # the second fit continues the first one's topics: compare the rest
        topic["prior"] = -1
    _same_model(b, a)
    assert local.kept_ids == local.n_topics == result.n_topics
    # A model the service serves like any other: predictions match the training labels.
    _, texts = _store_lines(loaded.store, dask_settings)
    assert list(b.predict(texts)) == list(b.labels_)
    served = loaded.refresh_model()
    assert served is not None
    assert loaded.suggestions()["suggestions"]


def test_user_dictionary_travels_to_the_workers(service, dask_settings, dask_client, tmp_path):
    """An operator's user dictionary keeps a local name whole in the tokens the workers cache."""
    term = "幸福里议事厅"
    user_dict = tmp_path / "user_dict.txt"
    user_dict.write_text(f"{term} 50 n\n", encoding="utf-8")
    settings = dask_settings.model_copy(update={"user_dict": user_dict})
    rows = feedback_rows(seed=3, per_theme=12)
    load_into(service, rows)
    service.submit(service.draft(f"{term}的议事规则怎么定", segment="居民", source="api"))
    train_from_store(service.store, settings, progress=False, engine="dask", dask_client=dask_client)
    ids = [r.id for r in service.store.iter_feedback() if term in r.text]
    tokens = service.store.get_tokens(ids, tokenizer_fingerprint(settings))
    assert ids and all(term in tokens[i] for i in ids)


def test_a_worker_with_another_tokenizer_is_refused():
    """A worker whose tokenizer fingerprint differs from the client's refuses the work."""
    with pytest.raises(DaskTrainingError, match="分词与本机不同"):
        prepare_worker("0000000000000000", None)


def test_partition_bounds_cover_every_id_once():
    ids = [3, 4, 9, 10, 11, 20, 21]
    bounds = partition_bounds(ids, 3)
    assert bounds == [(0, 9), (9, 20), (20, 21)]
    covered = [i for i in ids for lo, hi in bounds if lo < i <= hi]
    assert covered == ids


def test_worker_killed_mid_training_completes_or_keeps_the_current_model(loaded, dask_settings):
    """A worker process is killed (SIGKILL) while the lines are assigned. Dask's nanny
    restarts it and the scheduler recomputes the partitions it held from their lineage
    (reading them from the store again), so the retrain completes with the same topics;
    should it fail instead, it fails with a clear error and the current model stays."""
    first = train_from_store(loaded.store, dask_settings, progress=False, engine="local")
    registry = ModelRegistry(dask_settings.models_dir)
    with _cluster() as cluster, distributed.Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        killed = threading.Event()

        def on_stage(stage: str) -> None:
            if stage == "assignment" and not killed.is_set():
                os.kill(pids[0], signal.SIGKILL)
                killed.set()

        try:
            result = train_from_store(
                loaded.store, dask_settings, progress=False, engine="dask", dask_client=client, on_stage=on_stage,
                force=True,
            )
        except DaskTrainingError as exc:
            assert "当前模型保持不变" in str(exc)
            # The cluster's failure, not a bug of the engine's own code.
            assert not isinstance(exc.__cause__, (AttributeError, KeyError, IndexError, TypeError, ValueError))
            assert registry.current_version() == first.version
        else:
            assert registry.current_version() == result.version
            a, b = _model(dask_settings, first.version), _model(dask_settings, result.version)
            np.testing.assert_array_equal(a.labels_, b.labels_)  # the same lines: the same topics, continued
            assert result.kept_ids == result.n_topics
            assert loaded.store.assignment_count(result.version) == loaded.store.count()
        assert killed.is_set()


def test_unreachable_scheduler_fails_cleanly(loaded, dask_settings):
    """No scheduler at the address: a clear error, nothing published, the current model stays."""
    first = train_from_store(loaded.store, dask_settings, progress=False, engine="local")
    settings = dask_settings.model_copy(
        update={"train_engine": "dask", "dask_scheduler": "tcp://127.0.0.1:9", "dask_connect_timeout": 1.0}
    )
    with pytest.raises(DaskTrainingError, match="连不上 Dask 调度器"):
        train_from_store(loaded.store, settings, progress=False, force=True)
    registry = ModelRegistry(settings.models_dir)
    assert registry.current_version() == first.version
    assert [v.version for v in registry.list_versions()] == [first.version]


# The two CLI tests check the command's handling of the engine, the same on both databases;
# the workers reading PostgreSQL are checked by the engine tests above.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_cli_train_engine_dask_with_bad_scheduler_exits_1(loaded, dask_settings, tmp_path):
    """``recommender train --engine dask --scheduler …`` reports the failure with exit code 1."""
    env = _cli_env(dask_settings, RECOMMENDER_DASK_CONNECT_TIMEOUT="1")
    proc = subprocess.run(
        [sys.executable, "-m", "recommender.cli", "train", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Dask" in proc.stderr and "127.0.0.1:9" in proc.stderr
    assert ModelRegistry(dask_settings.models_dir).current_version() is None


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_cli_train_engine_dask_without_scheduler_uses_a_local_cluster(loaded, dask_settings):
    """``recommender train --engine dask`` with no scheduler address starts its own local
    cluster (2 worker processes), trains and makes the Dask-made version current."""
    env = _cli_env(dask_settings, RECOMMENDER_DASK_PARTITION_ROWS="40")
    proc = subprocess.run(
        [sys.executable, "-m", "recommender.cli", "-q", "train", "--engine", "dask"],
        capture_output=True, text=True, env=env, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    registry = ModelRegistry(dask_settings.models_dir)
    current = registry.current_version()
    assert current is not None and current in proc.stdout
    meta = registry.show(current).metadata
    assert meta["engine"] == "dask" and meta["partitions"] == 3
    assert loaded.store.assignment_count(current) == loaded.store.count()


def test_a_lines_score_does_not_depend_on_its_batch_or_the_thread_count():
    """The Dask engine assigns each partition in store order on one BLAS thread, the local
    fit every line at once in hash order on several: a line's score must be the same bit
    for bit, or the order of a topic's most central lines (by score), and so its examples,
    differs between the engines (SMP2017 in automatic mode, bench/train_dask.py --quality)."""
    texts = [r["text"] for r in feedback_rows(seed=3, per_theme=40)]
    model = TopicModel(random_state=0).fit(texts)
    with threadpool_limits(limits=2):
        _, together = model.predict_scores(texts)
    with threadpool_limits(limits=1):
        _, reversed_ = model.predict_scores(texts[::-1])
        partitions = np.concatenate([model.predict_scores(texts[i : i + 7])[1] for i in range(0, len(texts), 7)])
    np.testing.assert_array_equal(reversed_[::-1], together)
    np.testing.assert_array_equal(partitions, together)

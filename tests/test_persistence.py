"""Tests of recommender.model.persistence: round trips, sidecar, version and corruption checks."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from recommender.errors import ModelCompatibilityError, NoModelError
from recommender.model import TopicModel, load_model, save_model
from recommender.model import persistence

TEXTS = [
    f"{prefix}{subject}"
    for prefix in ["希望多讲讲", "建议开设", "想学习"]
    for subject in ["消防安全", "灭火器使用", "消防通道", "智能手机拍照", "手机微信", "智能手机挂号", "公文写作", "公文格式", "通知公文"]
]
NEW = ["灭火器放哪里", "手机怎么发微信", "公文标题", "谢谢老师"]


@pytest.fixture(scope="module")
def model():
    return TopicModel(n_topics=3, random_state=0).fit(TEXTS)


@pytest.fixture
def saved(model, tmp_path):
    save_model(model, tmp_path, {"topic_ids": ["T0001", "T0002", "T0003"], "window": "2024-01"})
    return tmp_path


def test_pickle_round_trip(model):
    """A pickled model predicts exactly as the original."""
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(NEW), model.predict(NEW))


def test_save_writes_artifact_and_sidecar(saved, model):
    """model.joblib and model.json exist; the sidecar records versions, params, size, quality."""
    assert (saved / "model.joblib").is_file()
    sidecar = json.loads((saved / "model.json").read_text(encoding="utf-8"))
    assert sidecar["libraries"]["scikit-learn"]
    assert sidecar["libraries"]["jieba"]
    assert sidecar["params"]["n_topics"] == 3
    assert sidecar["n_rows"] == len(TEXTS)
    assert sidecar["n_topics"] == model.n_topics_
    assert "unassigned_share" in sidecar["quality"]
    assert sidecar["topic_ids"] == ["T0001", "T0002", "T0003"]


def test_load_returns_model_and_metadata(saved, model):
    """load_model gives a model with identical predictions and the caller's metadata."""
    loaded, metadata = load_model(saved)
    np.testing.assert_array_equal(loaded.predict(NEW), model.predict(NEW))
    assert loaded.topics_ == model.topics_
    assert metadata["window"] == "2024-01"


def test_fresh_process_gives_identical_predictions(saved, model):
    """A model loaded in a new Python process predicts the same labels and scores."""
    code = (
        "import json, sys; from recommender.model import load_model\n"
        f"m, _ = load_model({str(saved)!r})\n"
        f"labels, scores = m.predict_scores({NEW!r})\n"
        "print(json.dumps([labels.tolist(), scores.tolist()]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    labels, scores = json.loads(out.stdout)
    expected_labels, expected_scores = model.predict_scores(NEW)
    assert labels == expected_labels.tolist()
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-6)


def test_version_mismatch_is_reported(saved):
    """A sidecar from another scikit-learn version raises, naming both versions."""
    path = saved / "model.json"
    sidecar = json.loads(path.read_text(encoding="utf-8"))
    sidecar["libraries"]["scikit-learn"] = "0.24.2"
    path.write_text(json.dumps(sidecar), encoding="utf-8")
    with pytest.raises(ModelCompatibilityError, match=r"scikit-learn 0\.24\.2 \(this process has"):
        load_model(saved)


def test_corrupt_artifact_is_reported(saved):
    """A truncated model.joblib raises ModelCompatibilityError."""
    artifact = saved / "model.joblib"
    artifact.write_bytes(artifact.read_bytes()[:100])
    with pytest.raises(ModelCompatibilityError, match="corrupt"):
        load_model(saved)


def test_unreadable_artifact_with_matching_checksum_is_reported(saved):
    """Garbage that passes the checksum still raises ModelCompatibilityError, not a pickle error."""
    artifact = saved / "model.joblib"
    artifact.write_bytes(b"not a pickle")
    sidecar = json.loads((saved / "model.json").read_text(encoding="utf-8"))
    sidecar["sha256"] = persistence._sha256(artifact)
    (saved / "model.json").write_text(json.dumps(sidecar), encoding="utf-8")
    with pytest.raises(ModelCompatibilityError, match="cannot be read"):
        load_model(saved)


def test_corrupt_sidecar_is_reported(saved):
    """A model.json that is not JSON raises ModelCompatibilityError."""
    (saved / "model.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelCompatibilityError, match="sidecar"):
        load_model(saved)


def test_missing_model_is_no_model_error(tmp_path):
    """An empty directory is 'no model yet', not a compatibility problem."""
    with pytest.raises(NoModelError):
        load_model(tmp_path)


def test_reserved_metadata_keys_are_refused(model, tmp_path):
    """Caller metadata cannot overwrite the version record."""
    with pytest.raises(ValueError, match="reserved"):
        save_model(model, tmp_path, {"libraries": {}})


def test_unfitted_model_cannot_be_saved(tmp_path):
    """Saving an unfitted model is a clear error."""
    with pytest.raises(ValueError, match="fitted"):
        save_model(TopicModel(), tmp_path, {})

"""Saving and loading a fitted TopicModel: ``model.joblib`` plus a ``model.json`` sidecar.

The sidecar records the library versions the artifact was written with, the model's
parameters, the number of training rows, quality figures, a SHA-256 of the artifact and
whatever metadata the caller passes (e.g. topic ids, training window). Pickles of
scikit-learn objects are only safe with the same scikit-learn version, so loading checks
the versions *before* unpickling and raises ``ModelCompatibilityError`` with both versions
named; a truncated or altered artifact fails the checksum with the same error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import tempfile
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import joblib

from recommender.errors import ModelCompatibilityError, NoModelError
from recommender.model.topic_model import TopicModel

logger = logging.getLogger(__name__)

ARTIFACT = "model.joblib"
SIDECAR = "model.json"
FORMAT_VERSION = 2
# distribution -> how much of the version must match ("exact", "minor" or "major").
REQUIRED_MATCH = {
    "scikit-learn": "exact",
    "jieba": "exact",
    "numpy": "major",
    "scipy": "minor",
    "joblib": "major",
}
RESERVED_KEYS = ("format_version", "libraries", "sha256")


def library_versions() -> dict[str, str]:
    """Versions of the libraries a model artifact depends on (and Python's, for the record)."""
    found = {"python": platform.python_version()}
    for dist in [*REQUIRED_MATCH, "stopwordsiso", "night-school-recommender"]:
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = "unknown"
    return found


def _version_key(v: str, level: str) -> tuple[str, ...]:
    parts = v.split(".")
    return {"exact": tuple(parts), "minor": tuple(parts[:2]), "major": tuple(parts[:1])}[level]


def check_compatible(saved: dict[str, str], directory: Path) -> None:
    """Raise ``ModelCompatibilityError`` naming every library whose version does not fit."""
    current = library_versions()
    problems = []
    for dist, level in REQUIRED_MATCH.items():
        want = saved.get(dist)
        have = current.get(dist)
        if want is None or have is None or _version_key(want, level) != _version_key(have, level):
            problems.append(f"{dist} {want} (this process has {have})")
    if problems:
        raise ModelCompatibilityError(
            f"model in {directory} was saved with " + ", ".join(problems) + "; retrain the model with the installed libraries"
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_write_bytes(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(model: TopicModel, directory: Path | str, metadata: dict | None = None) -> None:
    """Write ``model.joblib`` and ``model.json`` into ``directory`` (created if needed)."""
    if not hasattr(model, "centroids_"):
        raise ValueError("only a fitted TopicModel can be saved")
    metadata = dict(metadata or {})
    clash = [k for k in RESERVED_KEYS if k in metadata]
    if clash:
        raise ValueError(f"metadata keys {clash} are reserved for the sidecar")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    artifact = directory / ARTIFACT
    _atomic_write_bytes(artifact, lambda fh: joblib.dump(model, fh, compress=3))
    sidecar = {
        "params": _jsonable(model.get_params()),
        "n_rows": int(model.n_rows_),
        "n_topics": int(model.n_topics_),
        "quality": _jsonable(getattr(model, "quality_", {})),
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **_jsonable(metadata),
        "format_version": FORMAT_VERSION,
        "libraries": library_versions(),
        "sha256": _sha256(artifact),
    }
    payload = json.dumps(sidecar, ensure_ascii=False, indent=2).encode("utf-8")
    _atomic_write_bytes(directory / SIDECAR, lambda fh: fh.write(payload))
    logger.info("saved model with %d topics to %s", model.n_topics_, directory)


def read_sidecar(directory: Path | str) -> dict:
    """The parsed ``model.json`` of ``directory`` (``ModelCompatibilityError`` if unreadable)."""
    directory = Path(directory)
    path = directory / SIDECAR
    if not path.is_file() or not (directory / ARTIFACT).is_file():
        raise NoModelError(f"no model in {directory}")
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelCompatibilityError(f"model sidecar {path} is corrupt: {exc}") from exc
    if not isinstance(sidecar, dict) or not isinstance(sidecar.get("libraries"), dict):
        raise ModelCompatibilityError(f"model sidecar {path} is corrupt: no library versions")
    return sidecar


def load_model(directory: Path | str) -> tuple[TopicModel, dict]:
    """Load a model saved by :func:`save_model`; returns ``(model, sidecar metadata)``.

    Raises ``NoModelError`` when the files are missing and ``ModelCompatibilityError`` when
    they are corrupt or were written by incompatible library versions.
    """
    directory = Path(directory)
    sidecar = read_sidecar(directory)
    if sidecar.get("format_version") != FORMAT_VERSION:
        raise ModelCompatibilityError(
            f"model in {directory} has format version {sidecar.get('format_version')}, expected {FORMAT_VERSION}"
        )
    check_compatible(sidecar["libraries"], directory)
    artifact = directory / ARTIFACT
    if _sha256(artifact) != sidecar.get("sha256"):
        raise ModelCompatibilityError(f"model artifact {artifact} is corrupt (checksum differs from {SIDECAR})")
    try:
        model = joblib.load(artifact)
    except Exception as exc:  # unpickling can fail in many ways; all mean "unusable"
        raise ModelCompatibilityError(f"model artifact {artifact} cannot be read: {exc}") from exc
    if not isinstance(model, TopicModel):
        raise ModelCompatibilityError(f"model artifact {artifact} holds a {type(model).__name__}, not a TopicModel")
    return model, sidecar

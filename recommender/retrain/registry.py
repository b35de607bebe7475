"""Model versions on disk and the ``CURRENT`` pointer (hot swap: ``hot_swap.py``; the lock: ``lock.py``).

Plain Python: nothing here knows what a model artifact is. Writing and loading one is
passed in as callables (``write(directory)``, ``load(directory) -> object``), so the
registry works with ``recommender.model.persistence`` or any other artifact.

Layout of ``models_dir``::

    models/
      CURRENT                         text file: the name of the version being served
      20261128T120501Z-ab12/          one folder per version (UTC time + 4 hex digits)
        version.json                  the registry's record: version, created_at, parent + caller metadata
        model.joblib, model.json      whatever ``write`` put there
      .tmp-20261201T030000Z-cd34/     a version being written, or debris of a killed retrain
      .trash-…/                       a version being deleted by ``prune``
      SERVED                          every version that was ever current, one a line
      .retrain.lock                   the retrain lock, and .retrain.lock.holder.json (who holds it)

Crash safety. A version is written under ``.tmp-<VERSION>``, every file and the folder are
fsynced, then the folder is renamed to ``<VERSION>`` and ``models/`` is fsynced; only after
that is ``CURRENT`` switched. A process killed at any point leaves either the old pointer
(and at most a ``.tmp-`` folder that :meth:`ModelRegistry.prune` removes later) or the new
pointer naming a complete, durable folder – never a pointer to half a version.

Why a pointer *file* and not a ``current -> <VERSION>`` symlink: replacing a small file with
``os.replace`` is atomic on POSIX and on Windows (``MoveFileEx`` with replace), works on
network mounts, Docker volumes on macOS/Windows and FUSE file systems that lack or fake
symlinks, survives ``cp``/``zip``/backup tools that dereference links, and is readable and
writable by a person with any editor. Readers open it, read ~25 bytes and are done.

Mutating calls (``publish``, ``set_current``, ``prune``) should run while holding
:func:`recommender.retrain.lock.retrain_lock` on :attr:`ModelRegistry.lock_path`, so that a retrain, a rollback and a
prune never interleave; the registry does not take the lock itself because a retrain holds
it for the whole training, not only for the publish.

Versions never served. A retrain killed after writing its version but before switching
``CURRENT`` leaves a complete folder that was never in service. ``SERVED`` lists the versions
``CURRENT`` ever named (written with the pointer); :meth:`ModelRegistry.prune` deletes the
others and counts only served ones toward ``keep``, so orphans never push out the version
served before (a rollback target). Without ``SERVED`` (a folder from before it existed) every
version counts as served; the first switch writes the file, listing the versions then on disk.

Version ordering. Names sort by creation time to the second; ``version.json`` records
``created_at`` to the microsecond, which is what :meth:`ModelRegistry.list_versions` sorts by
(ties, and folders whose ``version.json`` is unreadable, fall back to the name).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from recommender.errors import ModelCompatibilityError, NoModelError

__all__ = [
    "LOCK_FILE",
    "METADATA_FILE",
    "POINTER_FILE",
    "ModelRegistry",
    "Pointer",
    "VersionInfo",
    "new_version_name",
    "validate_version",
]

logger = logging.getLogger(__name__)

POINTER_FILE = "CURRENT"
SERVED_FILE = "SERVED"
METADATA_FILE = "version.json"
LOCK_FILE = ".retrain.lock"
STALE_TMP_SECONDS = 3600.0

_VERSION_RE = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}")
_VERSION_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_TMP_PREFIX = ".tmp-"
_TRASH_PREFIX = ".trash-"
_POINTER_TMP_PREFIX = POINTER_FILE + ".tmp-"
_SERVED_TMP_PREFIX = SERVED_FILE + ".tmp-"
_RESERVED_KEYS = frozenset({"version", "created_at", "parent"})


# --- version names --------------------------------------------------------------------------


def validate_version(version: object) -> str:
    """Return ``version`` if it is a well-formed version name, else raise ``ValueError``.

    Only names like ``20261128T120501Z-ab12`` pass, so a name coming from the CLI or an HTTP
    request can never point outside ``models_dir`` (``../x``, ``/etc``, ``CURRENT``…).
    """
    if not isinstance(version, str) or _VERSION_RE.fullmatch(version) is None:
        raise ValueError(
            f"“{version}”不是模型版本名（应形如 20261128T120501Z-ab12）"
        )
    return version


def new_version_name(now: datetime | None = None) -> str:
    """A fresh version name: UTC time to the second, a dash and 4 random hex digits."""
    now = now or datetime.now(UTC)
    return f"{now.astimezone(UTC).strftime(_VERSION_TIME_FORMAT)}-{secrets.token_hex(2)}"


def _time_of_name(version: str) -> datetime:
    return datetime.strptime(version.split("-", 1)[0], _VERSION_TIME_FORMAT).replace(tzinfo=UTC)


def version_time(version: object) -> datetime | None:
    """When a version was trained (UTC), read from its name; None for a name of another form."""
    try:
        return _time_of_name(str(version))
    except ValueError:
        return None


# --- durable file operations ----------------------------------------------------------------


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # Windows cannot open a directory for fsync; NTFS journals renames itself.
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """fsync every file under ``root``, then every folder bottom-up (so new names are durable)."""
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            _fsync_path(Path(dirpath) / name)
        _fsync_dir(Path(dirpath))


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _json_default(value: Any) -> Any:
    # Quality figures are often numpy scalars or arrays; dates and paths are common too.
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    to_list = getattr(value, "tolist", None)  # numpy scalars and arrays, without importing numpy
    if callable(to_list):
        return to_list()
    raise TypeError(f"metadata value {value!r} of type {type(value).__name__} is not JSON serializable")


def _newest_mtime(path: Path) -> float:
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for dirpath, dirnames, filenames in os.walk(path):
            for name in (*dirnames, *filenames):
                try:
                    newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
                except FileNotFoundError:
                    pass
    return newest


# --- registry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionInfo:
    """One model version on disk.

    ``metadata`` is the whole ``version.json`` (the caller's metadata plus ``version``,
    ``created_at`` and ``parent``). ``error`` says why ``version.json`` could not be read;
    such a version is still listed (so an operator sees it) but cannot be made current.
    """

    version: str
    created_at: datetime
    parent: str | None
    metadata: dict[str, Any]
    is_current: bool
    path: Path
    error: str | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form for ``recommender models list/show`` and the admin API."""
        return {
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "parent": self.parent,
            "is_current": self.is_current,
            "path": str(self.path),
            "error": self.error,
            "metadata": self.metadata,
        }


class Pointer(NamedTuple):
    """What ``CURRENT`` said when read, and a signature that changes whenever it is rewritten."""

    version: str | None
    signature: tuple[int, int, int, str] | None


class ModelRegistry:
    """Versioned model folders under ``models_dir`` and the atomic ``CURRENT`` pointer."""

    def __init__(self, models_dir: Path | str) -> None:
        self.models_dir = Path(models_dir)

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.models_dir)!r})"

    @property
    def pointer_path(self) -> Path:
        """``models/CURRENT``."""
        return self.models_dir / POINTER_FILE

    @property
    def lock_path(self) -> Path:
        """The retrain lock every door (cron, admin endpoint, console) must use."""
        return self.models_dir / LOCK_FILE

    def path_of(self, version: str) -> Path:
        """Folder of ``version`` (validated; the folder need not exist)."""
        return self.models_dir / validate_version(version)

    # -- reading ------------------------------------------------------------------------

    def read_pointer(self) -> Pointer:
        """Read ``CURRENT`` once; raise ``ModelCompatibilityError`` if it holds no version name."""
        try:
            with open(self.pointer_path, "rb") as handle:
                raw = handle.read(256)
                stat = os.fstat(handle.fileno())
        except FileNotFoundError:
            return Pointer(None, None)
        text = raw.decode("ascii", errors="replace").strip()
        if _VERSION_RE.fullmatch(text) is None:
            raise ModelCompatibilityError(f"{self.pointer_path} holds {text[:40]!r}, which is not a version name")
        return Pointer(text, (stat.st_ino, stat.st_mtime_ns, stat.st_size, text))

    def current_version(self) -> str | None:
        """The version ``CURRENT`` names, or ``None`` when there is no pointer yet.

        The name is returned even if its folder has gone missing: whoever loads it then gets
        a clear error naming the version (the watcher keeps the old model in service) instead
        of a silent "no model". A pointer that holds no version name raises
        ``ModelCompatibilityError``.
        """
        return self.read_pointer().version

    def _current_or_none(self) -> str | None:
        try:
            return self.current_version()
        except ModelCompatibilityError as exc:
            logger.warning("ignoring unreadable model pointer: %s", exc)
            return None

    def _info(self, version: str, current: str | None) -> VersionInfo:
        path = self.models_dir / version
        record: dict[str, Any] = {}
        error: str | None = None
        created_at = _time_of_name(version)
        try:
            loaded = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
            if not isinstance(loaded, dict):
                raise ValueError("it is not a JSON object")
            record = loaded
            if record.get("version") != version:
                raise ValueError(f"it names version {record.get('version')!r}")
            created_at = datetime.fromisoformat(str(record["created_at"]))
            if created_at.tzinfo is None:
                created_at = created_at.replace(tzinfo=UTC)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            error = f"unreadable {METADATA_FILE}: {exc}"
        parent = record.get("parent")
        return VersionInfo(
            version=version,
            created_at=created_at,
            parent=parent if isinstance(parent, str) else None,
            metadata=record,
            is_current=version == current,
            path=path,
            error=error,
        )

    def list_versions(self) -> list[VersionInfo]:
        """Every version folder, newest first. A broken pointer is logged, not raised."""
        if not self.models_dir.is_dir():
            return []
        current = self._current_or_none()
        infos = [
            self._info(entry.name, current)
            for entry in self.models_dir.iterdir()
            if _VERSION_RE.fullmatch(entry.name) and entry.is_dir()
        ]
        infos.sort(key=lambda info: (info.created_at, info.version), reverse=True)
        return infos

    def show(self, version: str) -> VersionInfo:
        """One version; ``ValueError`` for a malformed name, ``NoModelError`` if it does not exist."""
        path = self.path_of(version)
        if not path.is_dir():
            raise NoModelError(f"{self.models_dir} 中没有模型版本 {version}")
        return self._info(version, self._current_or_none())

    # -- writing ------------------------------------------------------------------------

    def _reserve(self) -> tuple[str, datetime, Path]:
        for _attempt in range(20):
            now = datetime.now(UTC)
            version = new_version_name(now)
            tmp = self.models_dir / f"{_TMP_PREFIX}{version}"
            if (self.models_dir / version).exists():
                continue
            try:
                tmp.mkdir()
            except FileExistsError:
                continue
            return version, now, tmp
        raise RuntimeError(f"could not reserve a fresh version name under {self.models_dir}")

    def publish(
        self,
        write: Callable[[Path], None],
        metadata: Mapping[str, Any] | None = None,
        *,
        make_current: bool = True,
    ) -> str:
        """Write a new version durably and (by default) make it current; return its name.

        ``write(directory)`` puts the artifact files into a fresh temporary folder. The
        registry adds ``version.json`` = ``metadata`` + ``version``, ``created_at`` and
        ``parent`` (the current version at publish time); those three keys are the
        registry's and may not appear in ``metadata``. If ``write`` or anything after it
        fails, the temporary folder is removed and ``CURRENT`` is untouched.
        """
        metadata = dict(metadata or {})
        clash = sorted(_RESERVED_KEYS & metadata.keys())
        if clash:
            raise ValueError(f"metadata keys {clash} are set by the registry; remove them from metadata")
        self.models_dir.mkdir(parents=True, exist_ok=True)
        version, created_at, tmp = self._reserve()
        try:
            write(tmp)
            if (tmp / METADATA_FILE).exists():
                raise ValueError(f"write() must not create {METADATA_FILE}; the registry writes it")
            try:
                parent = self.current_version()
            except ModelCompatibilityError as exc:
                logger.warning("publishing %s without a parent: %s", version, exc)
                parent = None
            record = {"version": version, "created_at": created_at.isoformat(), "parent": parent, **metadata}
            payload = json.dumps(record, ensure_ascii=False, indent=2, default=_json_default)
            _write_file(tmp / METADATA_FILE, payload.encode("utf-8"))
            _fsync_tree(tmp)
            os.rename(tmp, self.models_dir / version)
            _fsync_dir(self.models_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        logger.info("published model version %s in %s (parent %s)", version, self.models_dir / version, parent)
        if make_current:
            self._write_pointer(version)
        return version

    def served_versions(self) -> set[str] | None:
        """The versions ``CURRENT`` ever named (``SERVED``); None when the folder predates it."""
        try:
            text = (self.models_dir / SERVED_FILE).read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return None
        return {line.strip() for line in text.splitlines() if _VERSION_RE.fullmatch(line.strip())}

    def _record_served(self, version: str) -> None:
        served = self.served_versions()
        if served is None:  # first switch with this code: what is on disk was served before it
            served = {info.version for info in self.list_versions()}
        if version in served and (self.models_dir / SERVED_FILE).exists():
            return
        served.add(version)
        tmp = self.models_dir / f"{_SERVED_TMP_PREFIX}{secrets.token_hex(4)}"
        try:
            _write_file(tmp, "".join(f"{v}\n" for v in sorted(served)).encode("ascii"))
            os.replace(tmp, self.models_dir / SERVED_FILE)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _write_pointer(self, version: str) -> None:
        self._record_served(version)  # first: a version named by CURRENT is always in SERVED
        # A unique temporary name, so a rollback racing a retrain cannot write into the
        # other's half-written temporary file.
        tmp = self.models_dir / f"{_POINTER_TMP_PREFIX}{secrets.token_hex(4)}"
        try:
            _write_file(tmp, f"{version}\n".encode("ascii"))
            os.replace(tmp, self.pointer_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.models_dir)
        logger.info("current model version is now %s", version)

    def set_current(self, version: str, *, verify: Callable[[Path], object] | None = None) -> None:
        """Point ``CURRENT`` at an existing version (rollback).

        Refuses (``NoModelError`` / ``ModelCompatibilityError``) a missing version or one whose
        ``version.json`` is unreadable. ``verify(path)``, when given (e.g. the artifact
        loader), runs first and may raise to refuse the switch.
        """
        info = self.show(version)
        if info.error is not None:
            raise ModelCompatibilityError(f"model version {version} cannot be made current: {info.error}")
        if verify is not None:
            verify(info.path)
        self._write_pointer(version)

    def prune(self, keep: int, *, stale_tmp_seconds: float = STALE_TMP_SECONDS) -> list[str]:
        """Delete versions that were never served and served ones beyond the newest ``keep``;
        never the current one. Return the deleted names.

        Also removes debris: ``.tmp-*`` folders and ``CURRENT.tmp-*`` files untouched for
        ``stale_tmp_seconds`` (left by a killed retrain; younger ones may belong to a retrain
        running right now) and ``.trash-*`` folders. If ``CURRENT`` is unreadable, no version is
        deleted, since we cannot tell which one the service is using.
        """
        if keep < 1:
            raise ValueError(f"keep={keep} should be >= 1")
        if not self.models_dir.is_dir():
            return []
        removed: list[str] = []
        try:
            current = self.current_version()
        except ModelCompatibilityError as exc:
            logger.error("not pruning model versions: %s", exc)
        else:
            served = self.served_versions()
            versions = self.list_versions()
            never = [
                info for info in versions
                if served is not None and info.version not in served and info.version != current
            ]
            if never:
                logger.info(
                    "removing model versions that were never served (a retrain stopped before switching): %s",
                    ", ".join(info.version for info in never),
                )
            beyond = [info for info in versions if info not in never][keep:]
            for info in [*never, *(info for info in beyond if info.version != current)]:
                try:
                    self._remove_tree(info.path)
                except FileNotFoundError:  # removed meanwhile by another prune
                    continue
                removed.append(info.version)
            if removed:
                logger.info("pruned model versions %s", ", ".join(removed))
        self._clean_debris(stale_tmp_seconds)
        return removed

    def _remove_tree(self, path: Path) -> None:
        # Rename first (atomic), so a half-deleted folder never looks like a version.
        trash = self.models_dir / f"{_TRASH_PREFIX}{path.name}-{secrets.token_hex(2)}"
        os.rename(path, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def _clean_debris(self, stale_seconds: float) -> None:
        now = time.time()
        for entry in self.models_dir.iterdir():
            name = entry.name
            try:
                if name.startswith(_TRASH_PREFIX):
                    shutil.rmtree(entry, ignore_errors=True)
                elif name.startswith((_TMP_PREFIX, _POINTER_TMP_PREFIX, _SERVED_TMP_PREFIX)):
                    if now - _newest_mtime(entry) < stale_seconds:
                        continue
                    logger.info("removing leftover %s", entry)
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)
            except FileNotFoundError:  # removed meanwhile by another prune
                continue

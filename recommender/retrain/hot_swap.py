"""Hot swap: every service worker serves the version ``CURRENT`` names, without a restart.

:class:`ModelWatcher` reads the pointer of a :class:`~recommender.retrain.registry.ModelRegistry`
and loads a new version with a loader passed in, so it knows nothing of model artifacts.

A version is loaded only when its ``version.json`` reads (a truncated one is refused like a
corrupt artifact). When a worker serves nothing yet and ``CURRENT`` cannot be used (it holds
no version name, or names a version that is refused), it falls back to the newest version on
disk that loads, and says so in the log: a corrupt pointer does not leave a restarted service
without a model while valid versions are on disk. ``CURRENT`` itself is left as it is for the
operator (``recommender models rollback VERSION`` rewrites it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from recommender.errors import ModelCompatibilityError, NoModelError
from recommender.retrain.registry import ModelRegistry

__all__ = ["ModelWatcher", "ServedModel"]

logger = logging.getLogger(__name__)


class ServedModel(NamedTuple):
    """The model a worker serves: its version and whatever ``load`` returned. Immutable."""

    version: str
    model: Any


_UNSEEN = object()


class ModelWatcher:
    """Keeps one worker's model in step with ``CURRENT``, without restarts or failed requests.

    Each service worker owns one. Request handlers call :meth:`get` (a single attribute
    read of an immutable :class:`ServedModel`, so a reader sees the old pair or the new
    pair, never a mix) and :meth:`maybe_refresh`; a background thread may call
    :meth:`refresh`. A new version is loaded with ``load(path)``, then ``on_swap(version,
    model)`` runs (to precompute), and only then is it published to readers. If anything
    fails, one error line is logged ("refusing model V: reason; keeping W") and the old
    model stays; the same pointer is not retried until ``CURRENT`` is rewritten (even with the
    same name, e.g. by ``recommender models rollback V``) or ``refresh(force=True)`` is called.
    """

    def __init__(
        self,
        registry: ModelRegistry,
        load: Callable[[Path], object],
        *,
        poll_seconds: float = 5.0,
        on_swap: Callable[[str, object], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if poll_seconds < 0:
            raise ValueError(f"poll_seconds={poll_seconds} should be >= 0")
        self.registry = registry
        self.poll_seconds = poll_seconds
        self._load = load
        self._on_swap = on_swap
        self._clock = clock
        self._lock = threading.Lock()
        self._served: ServedModel | None = None
        self._handled: object = _UNSEEN  # pointer signature last acted on
        self._last_check: float | None = None
        self.last_error: str | None = None

    def get(self) -> ServedModel | None:
        """The model being served, or ``None`` before any model could be loaded."""
        return self._served

    def require(self) -> ServedModel:
        """The model being served; ``NoModelError`` if there is none (the web layer answers 503)."""
        served = self._served
        if served is None:
            raise NoModelError("还没有可用的模型，请先重新训练。")
        return served

    def maybe_refresh(self) -> bool:
        """Refresh if ``poll_seconds`` passed since the last check; never waits for another thread's load."""
        last = self._last_check
        if last is not None and self._clock() - last < self.poll_seconds:
            return False
        if not self._lock.acquire(blocking=False):
            return False  # another thread is checking or loading right now
        try:
            return self._refresh_locked(force=False)
        finally:
            self._lock.release()

    def refresh(self, *, force: bool = False) -> bool:
        """Check ``CURRENT`` now; load and swap if it names another version. True if swapped."""
        with self._lock:
            return self._refresh_locked(force=force)

    def _keeping(self) -> str:
        served = self._served
        return served.version if served is not None else "no model"

    def _refuse(self, what: str, reason: str) -> None:
        self.last_error = f"refusing {what}: {reason}"
        logger.error("refusing %s: %s; keeping %s", what, reason, self._keeping())

    def _load_checked(self, version: str) -> object:
        """Load ``version`` (its folder must exist and its ``version.json`` read), run on_swap."""
        path = self.registry.path_of(version)
        if not path.is_dir():
            raise NoModelError(f"folder {path} does not exist")
        error = self.registry.show(version).error
        if error is not None:
            raise ModelCompatibilityError(error)
        model = self._load(path)
        if self._on_swap is not None:
            self._on_swap(version, model)
        return model

    def _fall_back(self, why: str, skip: str | None = None) -> bool:
        """Nothing served and ``CURRENT`` unusable: serve the newest version that loads."""
        for info in self.registry.list_versions():
            if info.version == skip or info.error is not None:
                continue
            try:
                model = self._load_checked(info.version)
            except Exception as exc:  # noqa: BLE001 - try the next one
                logger.warning("fallback: refusing model %s too: %s: %s", info.version, type(exc).__name__, exc)
                continue
            self._served = ServedModel(info.version, model)
            self.last_error = None
            logger.error(
                "%s; serving the newest valid version %s instead (fix it with `recommender models rollback VERSION`)",
                why, info.version,
            )
            return True
        return False

    def _refresh_locked(self, *, force: bool) -> bool:
        self._last_check = self._clock()
        try:
            pointer = self.registry.read_pointer()
        except (ModelCompatibilityError, OSError) as exc:
            key = ("unreadable", str(exc))
            if force or key != self._handled:
                self._handled = key
                self._refuse("model pointer", str(exc))
                if self._served is None:
                    return self._fall_back(f"the model pointer is corrupt ({exc})")
            return False
        if pointer.version is None:
            if self._handled is not None and self._served is not None:
                logger.warning("%s is missing; keeping %s", self.registry.pointer_path, self._keeping())
            self._handled = None
            return False
        if not force and pointer.signature == self._handled:
            return False
        self._handled = pointer.signature
        served = self._served
        if served is not None and served.version == pointer.version:
            return False
        version = pointer.version
        try:
            model = self._load_checked(version)
        except Exception as exc:  # any failure of a foreign loader must keep the old model serving
            self._refuse(f"model {version}", f"{type(exc).__name__}: {exc}")
            logger.debug("details of refusing model %s", version, exc_info=True)
            if served is None:
                return self._fall_back(f"the current model {version} is refused ({type(exc).__name__})", skip=version)
            return False
        self._served = ServedModel(version, model)
        self.last_error = None
        logger.info("serving model %s (was %s)", version, served.version if served else "no model")
        return True

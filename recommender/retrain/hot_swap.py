"""Hot swap: every service worker serves the version ``CURRENT`` names, without a restart.

:class:`ModelWatcher` reads the pointer of a :class:`~recommender.retrain.registry.ModelRegistry`
and loads a new version with a loader passed in, so it knows nothing of model artifacts.
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
            raise NoModelError("还没有可用的模型 (no model is being served yet; run a retrain)")
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

    def _refresh_locked(self, *, force: bool) -> bool:
        self._last_check = self._clock()
        try:
            pointer = self.registry.read_pointer()
        except (ModelCompatibilityError, OSError) as exc:
            key = ("unreadable", str(exc))
            if force or key != self._handled:
                self._handled = key
                self._refuse("model pointer", str(exc))
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
        path = self.registry.path_of(version)
        try:
            if not path.is_dir():
                raise NoModelError(f"folder {path} does not exist")
            model = self._load(path)
            if self._on_swap is not None:
                self._on_swap(version, model)
        except Exception as exc:  # any failure of a foreign loader must keep the old model serving
            self._refuse(f"model {version}", f"{type(exc).__name__}: {exc}")
            logger.debug("details of refusing model %s", version, exc_info=True)
            return False
        self._served = ServedModel(version, model)
        self.last_error = None
        logger.info("serving model %s (was %s)", version, served.version if served else "no model")
        return True

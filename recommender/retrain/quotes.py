"""Quotes kept inside saved models follow the store: a withdrawn or purged line leaves every
model version on disk, not only the pages.

A fitted model keeps a few lines of each topic as quotes (``topics_[i]["examples"]``, and the
same key of ``themes_`` where a model has it), and a version keeps them until it is pruned.
:func:`scrub_versions` reads each version on disk, asks the store which of its quotes some line
with text (visible, hidden or flagged) still says, and rewrites the versions that quote lines
that are gone (withdrawn or purged): the quote is dropped (with its ``example_indices`` entry),
the artifact written into a new folder, the two folders swapped (``renameat2`` with
``RENAME_EXCHANGE`` on Linux: atomic), the old one deleted. ``version.json`` and everything else
in the folder are kept; the artifact's checksum in ``model.json`` is new.

When it runs: after each withdrawal (in the background, :class:`QuoteScrubber`), at the end of
``recommender purge``, on the new version at the end of every retrain (a line withdrawn while
the retrain read the store),
and when a service starts and the store's moderation counter moved since the last scrub
(``models/.quotes-checked``), so a scrub lost with a killed process is done later. Scrubs take
``models/.quotes.lock``, not the retrain lock: a withdrawal never waits for a retrain.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from filelock import FileLock

from recommender.retrain.registry import METADATA_FILE, ModelRegistry

__all__ = ["QuoteScrubber", "quotes_of", "scrub_versions"]

log = logging.getLogger(__name__)

LOCK_FILE = ".quotes.lock"
CHECKED_FILE = ".quotes-checked"
#: Keys of the model's per-topic (and per-theme) dicts that hold lines as written.
QUOTE_KEYS = ("examples",)
#: model.json keys that save_model writes itself (the rest is the caller's metadata).
_SIDECAR_OWN = ("params", "n_rows", "n_topics", "quality", "saved_at", "format_version", "libraries", "sha256")
_RENAME_EXCHANGE = 2


def _quote_holders(model) -> list[dict]:
    holders = []
    for name in ("topics_", "themes_"):
        for item in getattr(model, name, None) or ():
            if isinstance(item, dict):
                holders.append(item)
    return holders


def quotes_of(model) -> set[str]:
    """Every line the model keeps as a quote."""
    found: set[str] = set()
    for holder in _quote_holders(model):
        for key in QUOTE_KEYS:
            found.update(q for q in holder.get(key) or () if isinstance(q, str))
    return found


def _drop_quotes(model, gone: set[str]) -> int:
    dropped = 0
    for holder in _quote_holders(model):
        for key in QUOTE_KEYS:
            quotes = holder.get(key)
            if not quotes:
                continue
            keep = [i for i, q in enumerate(quotes) if q not in gone]
            dropped += len(quotes) - len(keep)
            indices = holder.get("example_indices")
            if key == "examples" and isinstance(indices, list) and len(indices) == len(quotes):
                holder["example_indices"] = [indices[i] for i in keep]
            holder[key] = [quotes[i] for i in keep]
    return dropped


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (Linux ``renameat2``); False where that is not available."""
    libc_name = ctypes.util.find_library("c")
    if os.name != "posix" or not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def _rewrite(registry: ModelRegistry, version: str, model, sidecar: dict) -> None:
    from recommender.model.persistence import save_model

    path = registry.path_of(version)
    fresh = registry.models_dir / f".tmp-quotes-{version}-{secrets.token_hex(2)}"
    try:
        shutil.copytree(path, fresh)
        save_model(model, fresh, {k: v for k, v in sidecar.items() if k not in _SIDECAR_OWN})
        for name in (METADATA_FILE,):  # the registry's record stays as it was
            shutil.copy2(path / name, fresh / name)
        for file in fresh.iterdir():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
        if _exchange(fresh, path):
            shutil.rmtree(fresh, ignore_errors=True)  # now the old content
        else:  # two renames: for an instant the version is missing (retried at the next scrub)
            old = registry.models_dir / f".trash-quotes-{version}-{secrets.token_hex(2)}"
            os.rename(path, old)
            os.rename(fresh, path)
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise


def scrub_versions(
    registry: ModelRegistry, still_said: Callable[[Iterable[str]], set[str]], *, only: Iterable[str] | None = None
) -> list[str]:
    """Drop, from every version on disk (or those named in ``only``), the quotes no line with
    text says any more; return the versions rewritten. A version that cannot be loaded is left
    alone (it cannot be served)."""
    from recommender.model.persistence import load_model

    rewritten = []
    lock = FileLock(registry.models_dir / LOCK_FILE, thread_local=False)
    registry.models_dir.mkdir(parents=True, exist_ok=True)
    with lock:
        wanted = None if only is None else set(only)
        for info in registry.list_versions():
            if wanted is not None and info.version not in wanted:
                continue
            try:
                model, sidecar = load_model(info.path)
            except Exception as exc:  # noqa: BLE001 - an unusable version holds nothing to serve
                log.debug("quotes: skipping model %s: %s", info.version, exc)
                continue
            quotes = quotes_of(model)
            gone = quotes - set(still_said(quotes)) if quotes else set()
            if not gone:
                continue
            dropped = _drop_quotes(model, gone)
            try:
                _rewrite(registry, info.version, model, sidecar)
            except FileNotFoundError:  # pruned meanwhile
                continue
            rewritten.append(info.version)
            log.info("model %s: dropped %d quote(s) of withdrawn or deleted feedback", info.version, dropped)
    return rewritten


class QuoteScrubber:
    """Runs :func:`scrub_versions` for one service process: now (``run``), in the background
    (``request``: requests arriving while one runs are served by one more run), or at start
    when the store's moderation counter moved since the last scrub (``catch_up``)."""

    def __init__(self, models_dir: Path | str, still_said: Callable[[Iterable[str]], set[str]],
                 stamp: Callable[[], int] | None = None) -> None:
        self.registry = ModelRegistry(Path(models_dir))
        self.still_said = still_said
        self.stamp = stamp
        self._lock = threading.Lock()
        self._pending = False
        self._thread: threading.Thread | None = None

    def run(self) -> list[str]:
        stamp = self.stamp() if self.stamp else None
        rewritten = scrub_versions(self.registry, self.still_said)
        if stamp is not None:
            try:
                (self.registry.models_dir / CHECKED_FILE).write_text(str(stamp), encoding="ascii")
            except OSError:
                pass
        return rewritten

    def request(self) -> None:
        with self._lock:
            self._pending = True
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._loop, name="quote-scrubber", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._thread = None
                    return
                self._pending = False
            try:
                self.run()
            except Exception:  # noqa: BLE001 - logged; the next request or start tries again
                log.exception("dropping quotes of withdrawn feedback from saved models failed")

    def catch_up(self) -> None:
        """In the background, when something changed since the last scrub (or none is recorded)."""
        if self.stamp is None or not self.registry.models_dir.is_dir():
            return
        try:
            checked = int((self.registry.models_dir / CHECKED_FILE).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            checked = None
        if checked != self.stamp():
            self.request()

    def wait(self, timeout: float = 60.0) -> bool:
        """Until no scrub runs or waits (tests, shutdown); False on timeout."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True


"""Secrets, keyed hashes and randomness: the secrets kept under the data folder (submitter
salt, receipt secret, organizer token, session secret), submitter hashing, the constant-time
token check and the pooled OS randomness behind per-request values.

Submitter identifiers (a phone number, a name, a questionnaire user id) are never stored:
only ``hash_submitter(salt, raw)``, a keyed hash that lets the ranking count distinct
people without knowing who they are.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import unicodedata
from pathlib import Path

_RANDOM_POOL = bytearray()
_RANDOM_LOCK = threading.Lock()
_RANDOM_READ = 4096
# A child made by fork() must never hand out the parent's bytes again.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_RANDOM_POOL.clear)


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the OS random source (as :func:`secrets.token_bytes`), read 4 KiB at a
    time and each byte handed out once.

    For the values made on every request (receipt codes, the CSP nonce): each read of the OS
    source lets go of the GIL, and on the event loop of a busy worker, where the intake writer
    and the assignment pass want the GIL too, taking it back is what costs, not the bytes.
    """
    with _RANDOM_LOCK:
        if len(_RANDOM_POOL) < n:
            _RANDOM_POOL.extend(secrets.token_bytes(max(_RANDOM_READ, n)))
        out = bytes(_RANDOM_POOL[:n])
        del _RANDOM_POOL[:n]
    return out


def token_urlsafe(nbytes: int) -> str:
    """:func:`secrets.token_urlsafe` from the pooled source of :func:`random_bytes`."""
    return base64.urlsafe_b64encode(random_bytes(nbytes)).rstrip(b"=").decode("ascii")


def load_or_create_secret(path: Path, *, nbytes: int = 32) -> tuple[str, bool]:
    """Read a secret from ``path``, creating it (mode 0600) if missing. Returns (secret, created)."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8").strip(), False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker created it first: use theirs
        return path.read_text(encoding="utf-8").strip(), False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value, True


def hash_submitter(salt: str, raw: str | None) -> str | None:
    """Keyed hash of a submitter identifier (normalised), or None when there is none."""
    if raw is None:
        return None
    norm = unicodedata.normalize("NFKC", raw).strip().lower()
    if not norm:
        return None
    return hmac.new(salt.encode(), norm.encode(), hashlib.sha256).hexdigest()[:32]


def tokens_match(candidate: str, valid: list[str]) -> bool:
    """Constant-time comparison of a presented token against every valid one."""
    found = False
    for token in valid:
        found |= hmac.compare_digest(candidate.encode(), token.encode())
    return found


class DataSecret:
    """A secret kept in a file under the data folder, read (or created) on first use, or
    given by configuration (``value``)."""

    def __init__(self, path: Path, value: str | None = None) -> None:
        self.path = Path(path)
        self._value = value

    @property
    def missing(self) -> bool:
        """Not configured and not yet in its file: the first use will generate a new one."""
        return self._value is None and not self.path.exists()

    @property
    def value(self) -> str:
        if self._value is None:
            self._value, _ = load_or_create_secret(self.path)
        return self._value

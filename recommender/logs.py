"""The operator's log: one format and level for the CLI and for every service worker.

``recommender serve --workers N`` runs each worker in a process of its own that uvicorn
starts; uvicorn configures only its own loggers there, so without this the workers'
``recommender.*`` messages (which model is served, retrains, intake writer statistics,
database trouble) below WARNING would go nowhere. The app factory therefore calls
:func:`configure_logging` as the CLI does. Log lines never carry feedback text or tokens.

Every line is one line: control characters in a message (a NUL or a newline in a request path
someone sent) are written escaped (``\\n``, ``\\x00``), so nobody can forge a log line.
Tracebacks are the one multi-line part, after the escaped message.

uvicorn's access log (:func:`uvicorn_log_config`) never carries the client's address: the
address is replaced by ``client-<6 hex>``, a keyed hash with a key made fresh in each process
(lines of one worker can be told apart, an address cannot be found from them). The README
promises that addresses are never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ACCESS_FORMAT = '%(asctime)s %(levelname)s %(name)s: %(client)s "%(request_line)s" %(status_code)s'

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\u202a-\u202e\u2066-\u2069]|\n|\r|\t")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ACCESS_KEY = secrets.token_bytes(16)


def one_line(text: str) -> str:
    """``text`` with every control or line-breaking character escaped."""
    return _CONTROL.sub(lambda m: _ESCAPES.get(m.group(), f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}"), text)


class OneLineFormatter(logging.Formatter):
    """The project's format, with the message escaped to one line (see the module docs)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        safe = one_line(message)
        if safe != message:
            record = logging.makeLogRecord({**record.__dict__, "msg": safe, "args": None})
        return super().format(record)


def client_label(address: object) -> str:
    """``client-<6 hex>``: a keyed hash of an address, never the address."""
    digest = hmac.new(_ACCESS_KEY, str(address).encode("utf-8", "replace"), hashlib.sha256).hexdigest()
    return f"client-{digest[:6]}"


class AccessFormatter(OneLineFormatter):
    """uvicorn's access lines (args: address, method, path, HTTP version, status) without the address."""

    def format(self, record: logging.LogRecord) -> str:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            address, method, path, version, status = args
            record = logging.makeLogRecord({
                **record.__dict__,
                "client": client_label(address),
                "request_line": one_line(f"{method} {path} HTTP/{version}"),
                "status_code": status,
            })
        else:
            record = logging.makeLogRecord({**record.__dict__, "client": "-", "request_line": "", "status_code": ""})
        return super().format(record)


def uvicorn_log_config(level: str = "INFO") -> dict:
    """``log_config`` for ``uvicorn.run``: its own loggers in the project's one-line format, the
    access log through :class:`AccessFormatter` (no client addresses)."""
    level = str(level).upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"()": OneLineFormatter, "fmt": FORMAT},
            "access": {"()": AccessFormatter, "fmt": ACCESS_FORMAT},
        },
        "handlers": {
            "default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
            "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
        },
    }


def configure_logging(level: str = "INFO") -> None:
    """Send log records of ``level`` and above to stderr, unless the process already has a
    root handler (a test's log capture, an embedding application's own configuration)."""
    numeric = getattr(logging, str(level).upper(), logging.INFO)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(OneLineFormatter(FORMAT))
        root.addHandler(handler)
        root.setLevel(numeric)
    # Alembic announces every plugin and migration context at INFO: noise for operators.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))

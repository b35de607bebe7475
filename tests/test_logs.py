"""The operator's log: one line per record whatever a client sends, and no client addresses."""

from __future__ import annotations

import logging

from recommender.logs import FORMAT, AccessFormatter, OneLineFormatter, uvicorn_log_config


def _record(msg: str, *args, name: str = "recommender.web.errors", exc_info=None) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, exc_info)


def test_a_path_with_a_newline_or_nul_cannot_forge_a_line():
    """The decoded request path of an error line is written escaped: still one line."""
    line = OneLineFormatter(FORMAT).format(
        _record("unhandled error on %s %s", "GET", "/x\n2026-01-01 00:00:00 INFO recommender: forged\x00\u2028")
    )
    assert "\n" not in line and "\x00" not in line and "\u2028" not in line
    assert "\\n2026-01-01" in line and "\\x00" in line


def test_a_traceback_still_follows_the_message():
    """Tracebacks stay readable (the one multi-line part), after the escaped message."""
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        text = OneLineFormatter(FORMAT).format(_record("failed on %s", "/a\nb", exc_info=sys.exc_info()))
    first, *rest = text.splitlines()
    assert first.endswith("failed on /a\\nb") and rest[0].startswith("Traceback")


def test_access_lines_carry_no_client_address():
    """uvicorn's access record (address, method, path, version, status) is written with a keyed hash."""
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("203.0.113.9:51234", "GET", "/healthz", "1.1", 200), None)
    line = AccessFormatter(uvicorn_log_config()["formatters"]["access"]["fmt"]).format(record)
    assert "203.0.113.9" not in line and "client-" in line and '"GET /healthz HTTP/1.1" 200' in line

"""Errors the framework or a bug raises: a 500 keeps the connection, 405 names every method of the path."""

from __future__ import annotations

import http.client
import socket
import threading
import time

import pytest
import uvicorn

from recommender.web.app import create_app
from tests.helpers import assert_error


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_app(settings, service):
    """The app served by a real uvicorn (HTTP/1.1 keep-alive) in a thread, with one route that fails."""
    app = create_app(settings, service)

    @app.get("/api/boom")
    def boom() -> dict:
        raise RuntimeError("a bug")

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=30)


def test_a_500_keeps_the_kept_alive_connection(live_app, caplog):
    """`curl URL500 URL500 /healthz` on one connection: two 500s in the error shape, then 200 — no reset."""
    conn = http.client.HTTPConnection("127.0.0.1", live_app, timeout=10)
    try:
        for _ in range(2):
            conn.request("GET", "/api/boom")
            response = conn.getresponse()
            body = response.read()
            assert response.status == 500 and b'"internal_error"' in body
            assert response.getheader("content-security-policy")  # the outer middleware still ran
            assert (response.getheader("connection") or "").lower() != "close"
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b'{"status":"ok"}'
    finally:
        conn.close()
    assert caplog.text.count("unhandled error on GET /api/boom") == 2


def test_a_500_from_the_test_client_is_the_error_shape(settings, service):
    """The same bug through the ASGI test client: 500 JSON error, logged once, not re-raised."""
    from fastapi.testclient import TestClient

    app = create_app(settings, service)

    @app.get("/api/boom")
    def boom() -> dict:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=True) as client:
        assert_error(client.get("/api/boom"), 500, "internal_error")
        assert_error(client.get("/boom-page-does-not-exist"), 404)


@pytest.mark.parametrize(
    "path,allowed",
    [
        ("/withdraw", "GET, POST"),
        ("/api/sessions", "GET, POST"),
        ("/api/admin/retrain", "GET, POST"),
        ("/api/topics/T0001", "GET, PATCH"),
        ("/api/feedback", "POST"),
    ],
)
def test_405_allow_lists_every_method_of_the_path(client, path, allowed):
    """OPTIONS (or any other method) on a path served by several routes names all their methods in Allow."""
    response = client.request("OPTIONS", path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed

"""End to end: the real `recommender serve` process takes feedback through the form and stores it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from recommender.store import FeedbackStore
from tests.helpers import parse_html

pytestmark = pytest.mark.e2e

STARTUP_SECONDS = 60


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A running service process and where to reach it."""

    def __init__(self, process: subprocess.Popen, base_url: str, database_url: str, log: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.database_url = database_url
        self.log = log

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def serving(tmp_path, store_url, **settings: str):
    """`python -m recommender serve --port P` on a free port with a temporary data folder and
    ``settings`` (RECOMMENDER_* variables) beside the test's (always stopped)."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RECOMMENDER_")},
        "RECOMMENDER_DATABASE_URL": store_url,
        "RECOMMENDER_DATA_DIR": str(tmp_path / "data"),
        "RECOMMENDER_MODELS_DIR": str(tmp_path / "models"),
        "RECOMMENDER_ORGANIZER_TOKENS": "e2e-organizer-token",
        "RECOMMENDER_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **settings,
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "recommender", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,  # nothing may depend on the project folder being the working directory
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    srv = Server(process, f"http://127.0.0.1:{port}", store_url, log)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"serve exited with {process.returncode}:\n{srv.output()}")
            try:
                if httpx.get(f"{srv.base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"serve did not answer /healthz within {STARTUP_SECONDS}s:\n{srv.output()}")
            time.sleep(0.2)
        yield srv
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture
def server(tmp_path, store_url):
    """The service with the test's settings (see :func:`serving`)."""
    with serving(tmp_path, store_url) as srv:
        yield srv


def test_form_submission_through_the_real_server_is_stored(server):
    """GET / shows the form; POST /feedback redirects (303) to /thanks and the line is stored masked."""
    with httpx.Client(base_url=server.base_url, timeout=10, follow_redirects=True) as http:
        page = parse_html(http.get("/").text)
        assert page.find("form", method="post", action="/feedback") is not None

        response = http.post(
            "/feedback",
            data={"text": "端到端测试：想学做表格，电话13812345678", "segment": "网格员", "session_id": "E2E"},
        )
        assert [r.status_code for r in response.history] == [303]
        assert response.history[0].headers["location"] == "/thanks"
        assert response.status_code == 200 and response.url.path == "/thanks"
        assert "谢谢" in parse_html(response.text).find("h1").text

        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").status_code == 503  # no model trained in this folder

    store = FeedbackStore(server.database_url)
    try:
        rows = list(store.iter_feedback())
    finally:
        store.dispose()
    assert [(r.text, r.segment, r.session_id, r.source) for r in rows] == [
        ("端到端测试：想学做表格，电话[手机号]", "网格员", "E2E", "form")
    ]
    assert "13812345678" not in server.output()
    assert "端到端测试" not in server.output()  # feedback text is never logged


def test_the_access_log_holds_no_client_address(server):
    """uvicorn's access lines name a keyed hash of the client, never its address."""
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        assert http.get("/healthz").status_code == 200
        http.get("/nothing%0Ahere%00")
    time.sleep(0.5)
    access = [line for line in server.output().splitlines() if '"GET /' in line]
    assert access and all("client-" in line and "127.0.0.1" not in line for line in access), access


def test_server_shuts_down_gracefully_on_sigterm(server):
    """On SIGTERM (what systemd and the fixture send) the service runs its shutdown and exits."""
    server.process.terminate()
    # uvicorn re-raises the signal after a graceful shutdown, so -SIGTERM is a clean exit too.
    assert server.process.wait(timeout=15) in (0, -signal.SIGTERM), server.output()
    assert "Application shutdown complete" in server.output()


def _idle_connection_closed_after(base_url: str, seconds: float) -> bool:
    """One request on a kept-alive connection, then ``seconds`` idle: whether the service has
    closed the connection by then."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: e2e\r\n\r\n")
        answer = b""
        while not answer.endswith(b'{"status":"ok"}'):
            chunk = sock.recv(4096)
            assert chunk, answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200")
        time.sleep(seconds)
        sock.settimeout(0.5)
        try:
            return sock.recv(4096) == b""  # the service's FIN
        except TimeoutError:
            return False  # still open
        except ConnectionResetError:
            return True


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_keeps_idle_connections_as_long_as_the_keep_alive_setting(tmp_path, store_url, workers):
    """RECOMMENDER_KEEP_ALIVE reaches uvicorn with one worker and with several: set to 1 s, an
    idle connection is closed after 2.5 s (uvicorn's own 5 s would keep it); at 8 s it is still
    open after 6 s (uvicorn's own 5 s would have closed it)."""
    (tmp_path / "short").mkdir()
    with serving(tmp_path / "short", store_url, RECOMMENDER_KEEP_ALIVE="1", RECOMMENDER_WORKERS=workers) as srv:
        assert _idle_connection_closed_after(srv.base_url, 2.5), srv.output()
    if workers == "1":  # the same setting: once is enough for the longer wait
        (tmp_path / "long").mkdir()
        with serving(tmp_path / "long", store_url, RECOMMENDER_KEEP_ALIVE="8") as srv:
            assert not _idle_connection_closed_after(srv.base_url, 6), srv.output()

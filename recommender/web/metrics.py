"""``GET /metrics`` in the Prometheus text format, and the middleware that feeds it.

What is measured:

- ``recommender_http_requests_total{method,route,status}`` and
  ``recommender_http_request_duration_seconds{method,route}``: by route *template*
  (``/api/topics/{topic_id}``), never the raw path, so an id cannot blow up the series;
  paths that match no route count as ``route="<unmatched>"``.
- ``recommender_feedback_stored_total{source}``: lines stored through the form
  (``form``) and the API (``api``), counted on a successful answer (303 / 201). Imports
  run in the CLI's own process and are not counted here.
- ``recommender_class_answers_total{outcome}``: answers to post-class forms
  (``POST /class/{token}``), ``new`` or ``changed`` (the same browser changed its answer),
  counted by the route once the answer is stored. A 「下次想学什么」 that became a line is
  not in ``feedback_stored`` (that counts the two feedback doors).
- ``recommender_model_info{version}`` (always 1), ``recommender_model_age_seconds``,
  ``recommender_model_train_seconds`` (from the served version's metadata,
  ``train_seconds``, when the retrain recorded it) and ``recommender_model_topics``: read
  from the worker's served model at scrape time.

Several workers: when ``PROMETHEUS_MULTIPROC_DIR`` is set (``recommender serve
--workers N`` sets it, see :func:`prepare_multiprocess_dir`), counters and histograms are
written to files there and every scrape sums all workers' files; the model figures come
from the worker that answers (all workers serve the same version within
``model_poll_seconds``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "<unmatched>"

REQUESTS = Counter(
    "recommender_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "recommender_http_request_duration_seconds",
    "Time from receiving a request to the end of its response body, by route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
FEEDBACK_STORED = Counter(
    "recommender_feedback_stored",
    "Feedback lines stored by this service, by door (form, api).",
    ["source"],
)
CLASS_ANSWERS = Counter(
    "recommender_class_answers",
    "Answers to post-class forms, by outcome (new; changed: a browser changed its earlier answer).",
    ["outcome"],
)
#: (method, path, success status) of the doors that store one feedback line.
STORING = {("POST", "/api/feedback", 201): "api", ("POST", "/feedback", 303): "form"}


def prepare_multiprocess_dir(workers: int) -> Path | None:
    """For ``serve``: with several workers, point ``PROMETHEUS_MULTIPROC_DIR`` at an empty folder.

    Call before the workers start (they inherit the environment). A folder the operator
    set is emptied of old ``*.db`` files (stale counts of a previous run); otherwise a
    fresh temporary folder is made. Returns the folder, or None for a single worker.
    """
    if workers <= 1:
        return None
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink(missing_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="recommender-metrics-"))
        os.environ[MULTIPROC_ENV] = str(folder)
    return folder


def cleanup_multiprocess_dir(folder: Path | None) -> None:
    """Remove a folder made by :func:`prepare_multiprocess_dir` (not one the operator set)."""
    if folder is not None and folder.name.startswith("recommender-metrics-"):
        shutil.rmtree(folder, ignore_errors=True)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestMetrics:
    """ASGI middleware: count and time every HTTP request by route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        finally:
            method = scope["method"]
            route = _route_template(scope)
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)
            source = STORING.get((method, scope["path"], status))
            if source is not None:
                FEEDBACK_STORED.labels(source).inc()


def count_class_answer(*, changed: bool) -> None:
    """One answer to a post-class form stored (or changed), after it was committed."""
    CLASS_ANSWERS.labels("changed" if changed else "new").inc()


class ModelCollector:
    """The served model's version, age, size and training time, read at scrape time."""

    def __init__(self, service) -> None:
        self.service = service

    def collect(self):
        served = self.service.served()
        info = GaugeMetricFamily(
            "recommender_model_info", "The model version being served (value always 1).", labels=["version"]
        )
        if served is None:
            yield info
            return
        info.add_metric([served.version], 1.0)
        yield info
        meta = served.metadata or {}
        created = _parse_time(meta.get("created_at")) or _parse_time(meta.get("saved_at")) or _time_of_version(served.version)
        if created is not None:
            age = (datetime.now(timezone.utc) - created).total_seconds()
            yield GaugeMetricFamily(
                "recommender_model_age_seconds", "Seconds since the served model version was created.", value=age
            )
        train_seconds = meta.get("train_seconds")
        if isinstance(train_seconds, int | float):
            yield GaugeMetricFamily(
                "recommender_model_train_seconds",
                "How long the retrain that produced the served version took.",
                value=float(train_seconds),
            )
        yield GaugeMetricFamily(
            "recommender_model_topics", "Topics in the served model version.", value=float(len(served.topic_ids))
        )


def _time_of_version(version: str) -> datetime | None:
    """Version names start with their UTC creation time (``20261128T120501Z-ab12``)."""
    try:
        return datetime.strptime(version.split("-", 1)[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _parse_time(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def render_metrics(service) -> bytes:
    """The exposition text: this process's (or all workers') metrics plus the model figures."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base)
    else:
        base = REGISTRY
    return generate_latest(_Scrape(base, ModelCollector(service) if service is not None else None))


class _Scrape:
    """One scrape: the base registry's metrics, then the served model's figures."""

    def __init__(self, base: CollectorRegistry, model: ModelCollector | None) -> None:
        self.base = base
        self.model = model

    def collect(self):
        yield from self.base.collect()
        if self.model is not None:
            yield from self.model.collect()


router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Request counts and latencies, feedback stored, model version and age (Prometheus text format)."""
    body = render_metrics(getattr(request.app.state, "service", None))
    return Response(body, media_type=CONTENT_TYPE_LATEST)

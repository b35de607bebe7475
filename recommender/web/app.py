"""create_app(): wires settings, the service, routers, templates and error handlers. No logic."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from recommender import __version__
from recommender.config import Settings, get_settings
from recommender.door.screening import actor_zh
from recommender.logs import configure_logging
from recommender.retrain.runner import RetrainRunner
from recommender.service import RecommenderService
from recommender.service.moderation import MAX_NOTE
from recommender.service.planning import MAX_LABEL, MAX_PERSON, MAX_TITLE
from recommender.web import (
    audit_pages,
    class_pages,
    corrections_api,
    corrections_pages,
    dashboard,
    experts_api,
    experts_pages,
    organizer_api,
    public,
)
from recommender.web.auth import OrganizerAuth
from recommender.web.deps import LoginRequired
from recommender.web.docs_page import install_docs
from recommender.web.errors import ServerErrors, install_error_handlers
from recommender.web.limits import BodySizeLimit
from recommender.web.metrics import RequestMetrics
from recommender.web.metrics import router as metrics_router
from recommender.web.openapi import install_openapi
from recommender.web.ratelimit import FailureLimiter, RateLimit
from recommender.web.security import SecurityHeaders
from recommender.web.timefmt import install_time_filters

log = logging.getLogger(__name__)
HERE = Path(__file__).parent


#: How often each worker assigns newly arrived lines to topics.
ASSIGN_EVERY_SECONDS = 1.0


async def _background(service: RecommenderService, stop: asyncio.Event) -> None:
    """Every second until ``stop`` is set: assign new lines to topics and refresh the demand
    behind the suggestions; every `model_poll_seconds` (inside refresh_model) check the
    `current` pointer and swap in a new model without a restart.

    Stopped by the event, not by cancelling: a cancelled await would leave its thread still
    reading the store after the app disposed the engine (a connection nobody closes)."""
    while True:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), ASSIGN_EVERY_SECONDS)
        if stop.is_set():
            return
        try:
            before = service.served()
            await run_in_threadpool(service.refresh_model, force=False)
            if service.served() is not before:
                await run_in_threadpool(_refreeze)
            # Ahead of the requests: GET /api/suggestions then answers from memory.
            await run_in_threadpool(service.refresh_demand)
        except Exception:  # never let the loop die: the previous model keeps serving
            log.exception("model refresh or assignment failed; the previous model stays in service")


def _refreeze() -> None:
    """After a model swap: let the collector see the old model once (anything of it caught in
    a reference cycle is freed), then freeze the new one with the rest (see the lifespan)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None, service: RecommenderService | None = None) -> FastAPI:
    """The FastAPI application (the uvicorn target is ``api:app`` or this factory)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)  # a `--workers N` worker process has no log set up yet

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        # Before this worker starts listening: take one connection per wake-up (libuv, under
        # uvloop), so that with `--workers N` a burst of new connections (a load balancer's or a
        # benchmark's kept-alive pool) is spread over the workers instead of all landing on the
        # one that woke first. Set UV_TCP_SINGLE_ACCEPT=0 to turn it off.
        os.environ.setdefault("UV_TCP_SINGLE_ACCEPT", "1")
        svc = app.state.service
        await run_in_threadpool(svc.start)
        served = svc.served()
        if served is None:
            log.warning("no model yet: the form takes feedback; run `recommender train` for suggestions")
        else:
            log.info("serving model %s", served.version)
        svc.start_intake()  # this worker's intake writer (group commit of form and API submissions)
        # What is loaded by now (modules, the model, the tokenizer) lives as long as the worker:
        # take it out of the garbage collector's scans, so that a full collection under load
        # looks only at what requests made. Measured: a full collection of a worker with the
        # demo model went from about 100 ms, a stall of every request in flight, to under 1 ms.
        # (No gc.collect() first: it would cost that 100 ms at every start, and what little
        # start-up garbage gets frozen is freed at the next model swap, see _refreeze.)
        gc.freeze()
        stop = asyncio.Event()
        poller = asyncio.create_task(_background(svc, stop))
        try:
            yield
        finally:
            gc.unfreeze()  # an app stopped inside a longer-lived process (tests) leaves nothing pinned
            # Requests in flight have been answered by now (uvicorn waits for them); store
            # whatever is still queued before the engine is disposed.
            await run_in_threadpool(svc.stop_intake)
            stop.set()
            await poller  # a pass in flight finishes (its thread included) before the engine goes
            app.state.retrain_runner.close()  # a retrain ending later loads nothing into a closed service
            svc.close()

    app = FastAPI(
        title="夜校需求主题推荐 · Night-school topic recommender",
        version=__version__,
        description=(
            "Collects free-text feedback from night-school attendees and suggests the next "
            "session's topic from real demand. Organizer endpoints need `Authorization: Bearer <token>`."
        ),
        lifespan=lifespan,
        redoc_url=None,  # ReDoc needs a CDN script; /docs is enough (see web/security.py)
        docs_url=None,  # /docs is served with local assets (web/docs_page.py)
    )
    app.state.settings = settings
    app.state.service = service or RecommenderService(settings)
    app.state.organizer_auth = OrganizerAuth(settings)  # refuses tokens shorter than 16 characters
    app.state.auth_failures = FailureLimiter(settings.auth_failure_limit, settings.rate_limit_storage)
    app.state.retrain_runner = RetrainRunner(
        settings, audit=app.state.service.audit, on_success=app.state.service.refresh_model,
        served_topics=lambda: [t["topic_id"] for t in app.state.service.topics()["topics"]],
    )
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.state.templates.env.globals["segments"] = settings.segments
    # The organizer forms' maxlength: what the service accepts, so a browser never lets through
    # text the server then refuses (and the form loses).
    app.state.templates.env.globals["field_max"] = {
        "note": MAX_NOTE, "title": MAX_TITLE, "person": MAX_PERSON, "label": MAX_LABEL,
    }
    app.state.templates.env.filters["actor_zh"] = actor_zh
    install_time_filters(app.state.templates.env, settings.tz, settings.timezone)
    install_error_handlers(app)
    app.add_exception_handler(LoginRequired, dashboard.login_required)
    install_docs(app)  # before /static: its assets live under /static/swagger-ui
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(public.router)
    app.include_router(organizer_api.router)
    app.include_router(corrections_api.router)
    app.include_router(experts_api.router)
    app.include_router(experts_pages.router)
    app.include_router(dashboard.router)
    app.include_router(corrections_pages.router)
    app.include_router(audit_pages.router)
    app.include_router(class_pages.router)
    app.include_router(class_pages.organizer_router)
    app.include_router(metrics_router)
    install_openapi(app, settings)  # every status each route can answer; settings-dependent schema parts
    app.add_middleware(ServerErrors)  # innermost: a bug is a 500 with metrics and headers, the connection kept
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        RateLimit,
        rate_limit=settings.rate_limit,
        withdraw_rate_limit=settings.withdraw_rate_limit,
        storage_uri=settings.rate_limit_storage,
        trusted_proxies=settings.trusted_proxy_networks,
    )
    app.add_middleware(RequestMetrics)  # outermost: counts 413 and 429 answers too
    app.add_middleware(SecurityHeaders)  # CSP, nosniff, referrer policy on every answer, 413/429 too
    app.add_middleware(ServerErrors)  # outermost too: a failing middleware still answers 500 and keeps the connection
    return app

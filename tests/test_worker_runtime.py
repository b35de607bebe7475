"""What each service worker does for itself at start and stop (recommender.web.app lifespan)."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from recommender.web.app import create_app
from tests.fixtures_organizer import trained_service  # noqa: F401  (fixture)


def test_startup_objects_are_kept_out_of_full_collections_while_serving(settings, service):
    """Modules, model and tokenizer loaded at start are frozen (a full collection under load
    then scans only what requests made); stopping the app unfreezes them again."""
    gc.unfreeze()
    with TestClient(create_app(settings, service)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 1000
    assert gc.get_freeze_count() == 0


def test_background_demand_refresh_answers_suggestions_from_memory(trained_service, monkeypatch):
    """refresh_demand (the workers' once-a-second pass) reads the new lines, so a request right
    after it ranks from memory: it does not read the store, and it sees the new line."""
    import recommender.service.demand as service_module

    svc = trained_service
    first = svc.suggestions(top=50)
    assert first["suggestions"]
    created = svc.submit(svc.draft("灭火器怎么正确使用，想学消防安全", source="api", submitter="p-fresh"))
    svc.assign_pending()
    monkeypatch.setattr(service_module, "DEMAND_MAX_AGE", 0.0)  # everything is "half its age" now
    svc.refresh_demand()
    monkeypatch.setattr(service_module, "DEMAND_MAX_AGE", 3600.0)  # requests now count it as fresh

    def no_reads(*args, **kwargs):
        raise AssertionError("a request read the store")

    monkeypatch.setattr(svc.store, "assignment_rows", no_reads)
    monkeypatch.setattr(svc.store, "moderation_stamp", no_reads)
    after = svc.suggestions(top=50)
    assert sum(s["feedback_count"] for s in after["suggestions"]) == sum(
        s["feedback_count"] for s in first["suggestions"]
    ) + 1
    assert any(created.public_id in s["feedback_ids"] for s in after["suggestions"])


def test_a_slow_demand_refresh_does_not_hold_up_requests(trained_service, monkeypatch):
    """While one thread reads the database for new demand (slow after heavy intake), a request
    for suggestions gets the last published state at once instead of queueing behind it."""
    import threading
    import time

    svc = trained_service
    first = svc.suggestions(top=50)
    svc.submit(svc.draft("灭火器怎么正确使用，想学消防安全", source="api", submitter="p-slow"))
    svc.assign_pending()
    entered, release = threading.Event(), threading.Event()
    real = svc.store.assignment_rows

    def slow_rows(*args, **kwargs):
        entered.set()
        release.wait(10)
        yield from real(*args, **kwargs)

    monkeypatch.setattr(svc.store, "assignment_rows", slow_rows)
    monkeypatch.setattr("recommender.service.demand.DEMAND_MAX_AGE", 0.0)  # every state is stale now
    refresher = threading.Thread(target=svc.refresh_demand)
    refresher.start()
    try:
        assert entered.wait(10)
        started = time.monotonic()
        during = svc.suggestions(top=50)
        assert time.monotonic() - started < 2.0
        assert during == first  # the last published state, not a half-read one
    finally:
        release.set()
        refresher.join(10)
    count = lambda result: sum(s["feedback_count"] for s in result["suggestions"])  # noqa: E731
    assert count(svc.suggestions(top=50)) == count(first) + 1


def test_new_demand_is_ranked_once_while_other_requests_get_the_previous_ranking(trained_service, monkeypatch):
    """When new demand arrives, one request ranks it; requests meanwhile answer with the same
    query's previous ranking instead of all ranking the same records at once."""
    import threading
    import time

    import recommender.service.demand as service_module
    import recommender.service.demand_view as view_module

    svc = trained_service
    first = svc.suggestions(top=50)
    svc.submit(svc.draft("灭火器怎么正确使用，想学消防安全", source="api", submitter="p-rank"))
    svc.assign_pending()
    monkeypatch.setattr(service_module, "DEMAND_MAX_AGE", 0.0)
    svc.refresh_demand()  # new stamp: the next suggestions call has to rank again
    entered, release, calls = threading.Event(), threading.Event(), []
    real = view_module.rank_topics

    def slow_rank(*args, **kwargs):
        calls.append(1)
        entered.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(view_module, "rank_topics", slow_rank)
    monkeypatch.setattr(service_module, "DEMAND_MAX_AGE", 3600.0)
    results = {}
    ranker = threading.Thread(target=lambda: results.setdefault("ranker", svc.suggestions(top=50)))
    ranker.start()
    try:
        assert entered.wait(10)
        started = time.monotonic()
        assert svc.suggestions(top=50) == first  # the previous ranking, at once
        assert time.monotonic() - started < 2.0
    finally:
        release.set()
        ranker.join(10)
    count = lambda result: sum(s["feedback_count"] for s in result["suggestions"])  # noqa: E731
    assert count(results["ranker"]) == count(first) + 1
    assert svc.suggestions(top=50) is results["ranker"] and len(calls) == 1


def test_stopping_the_app_waits_for_the_background_pass_in_flight(settings, service, monkeypatch):
    """The app disposes the store's engine only after the once-a-second pass running in a
    thread has finished: a pass still reading would open a connection on the disposed engine
    that nothing closes (psycopg warns when it is collected, in whichever test runs then)."""
    import threading

    import recommender.web.app as app_module

    monkeypatch.setattr(app_module, "ASSIGN_EVERY_SECONDS", 0.01)
    entered, release, events = threading.Event(), threading.Event(), []
    real_refresh, real_dispose = service.refresh_demand, service.store.dispose

    def slow_refresh():
        entered.set()
        release.wait(10)
        real_refresh()
        events.append("pass done")

    def dispose():
        events.append("dispose")
        real_dispose()

    monkeypatch.setattr(service, "refresh_demand", slow_refresh)
    monkeypatch.setattr(service.store, "dispose", dispose)
    with TestClient(create_app(settings, service)):
        assert entered.wait(10)
        threading.Timer(0.3, release.set).start()  # the pass is still reading when the app stops
    assert events[:2] == ["pass done", "dispose"]


def test_a_retrain_ending_after_the_app_stopped_loads_nothing_into_the_closed_service(
    settings, service, monkeypatch, tmp_path, caplog
):
    """A retrain started from the app outlives it (its own session). When it ends after the app
    stopped, its reaper does not call refresh_model on the closed service (that would load the
    model and read the store on a disposed engine): it logs that the next start serves it."""
    import logging
    import sys
    import time

    import recommender.retrain.runner as runner_module

    go = tmp_path / "go"  # the child exits 0 once this file exists: no timing involved
    script = f"import os, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.02)\n"
    monkeypatch.setattr(runner_module, "retrain_command", lambda: [sys.executable, "-c", script])
    events: list[str] = []
    real_refresh, real_dispose = service.serving.watcher.refresh, service.store.dispose
    monkeypatch.setattr(service.serving.watcher, "refresh", lambda **kw: (events.append("refresh"), real_refresh(**kw))[1])
    monkeypatch.setattr(service.store, "dispose", lambda: (events.append("dispose"), real_dispose())[1])

    app = create_app(settings, service)
    with TestClient(app):
        retrain = app.state.retrain_runner
        retrain.start("organizer-test")
    assert retrain.status()["status"] == "running" and events[-1] == "dispose"
    with caplog.at_level(logging.INFO, logger="recommender.retrain.runner"):
        go.touch()
        deadline = time.monotonic() + 20
        while retrain.status()["status"] == "running":
            assert time.monotonic() < deadline, "the retrain child did not end"
            time.sleep(0.02)
    assert retrain.status()["status"] == "finished"
    assert events[-1] == "dispose", events  # nothing refreshed after the store was disposed
    assert "finished after the service stopped" in caplog.text


def test_a_closed_service_refreshes_nothing_until_it_starts_again(settings, service, monkeypatch):
    """refresh_model and the assignment pass on a closed service do nothing (whoever calls
    them late); starting the service again serves as before."""
    service.start()
    service.close()
    calls: list[str] = []
    real_refresh = service.serving.watcher.refresh
    monkeypatch.setattr(service.serving.watcher, "refresh", lambda **kw: (calls.append("refresh"), real_refresh(**kw))[1])
    assert service.refresh_model() is None and service.assign_pending() == 0
    assert calls == []
    service.start()
    assert calls == ["refresh"]
    service.close()

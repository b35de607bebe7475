"""GET /metrics: Prometheus text with request counts and latencies by route template,
feedback stored by door, and the served model's version, age and size."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from recommender.web.metrics import MULTIPROC_ENV, cleanup_multiprocess_dir, prepare_multiprocess_dir
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 (fixtures)


def scrape(client) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one scrape."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def requests_of(samples, route: str, status: str, method: str = "GET") -> float:
    key = ("recommender_http_requests_total", (("method", method), ("route", route), ("status", status)))
    return samples.get(key, 0.0)


def test_requests_are_counted_by_route_template_not_raw_path(trained_client, organizer_headers):
    """A request for /api/topics/<id> counts under /api/topics/{topic_id}; unknown paths under <unmatched>."""
    before = scrape(trained_client)
    trained_client.get("/api/topics/T9999", headers=organizer_headers)
    trained_client.get("/no/such/page-12345")
    trained_client.get("/healthz")
    after = scrape(trained_client)
    assert requests_of(after, "/api/topics/{topic_id}", "404") == requests_of(before, "/api/topics/{topic_id}", "404") + 1
    assert requests_of(after, "<unmatched>", "404") == requests_of(before, "<unmatched>", "404") + 1
    assert requests_of(after, "/healthz", "200") >= requests_of(before, "/healthz", "200") + 1
    assert not any("T9999" in str(labels) or "page-12345" in str(labels) for _name, labels in after)
    count_key = ("recommender_http_request_duration_seconds_count", (("method", "GET"), ("route", "/healthz")))
    assert after[count_key] >= 1


def test_feedback_stored_is_counted_by_door(client):
    """A stored API line counts as source=api, a stored form line as source=form; a rejected one not at all."""
    key = lambda source: ("recommender_feedback_stored_total", (("source", source),))  # noqa: E731
    before = scrape(client)
    assert client.post("/api/feedback", json={"text": "想学习公文写作的格式"}).status_code == 201
    assert client.post("/api/feedback", json={"text": ""}).status_code == 422
    form = client.post("/feedback", data={"text": "想学做表格", "segment": "网格员"}, follow_redirects=False)
    assert form.status_code == 303
    after = scrape(client)
    assert after.get(key("api"), 0) == before.get(key("api"), 0) + 1
    assert after.get(key("form"), 0) == before.get(key("form"), 0) + 1


def test_class_answers_are_counted_new_or_changed(trained_client, organizer_headers):
    """An answer to a post-class form counts as outcome=new; the same browser changing it as
    outcome=changed; a refused one not at all."""
    key = lambda outcome: ("recommender_class_answers_total", (("outcome", outcome),))  # noqa: E731
    topic = trained_client.get("/api/topics", headers=organizer_headers).json()["topics"][0]["topic_id"]
    session = trained_client.post(
        "/api/sessions", headers=organizer_headers,
        json={"topic_id": topic, "title": "消防安全第一课", "date": "2026-12-01", "status": "held"},
    ).json()
    path = "/class/" + session["feedback_url"].rsplit("/", 1)[1]
    before = scrape(trained_client)
    assert trained_client.post(path, data={"rating": "9"}).status_code == 422
    assert trained_client.post(path, data={"rating": "4"}, follow_redirects=False).status_code == 303
    assert trained_client.post(path, data={"rating": "5"}, follow_redirects=False).status_code == 303
    after = scrape(trained_client)
    assert after.get(key("new"), 0) == before.get(key("new"), 0) + 1
    assert after.get(key("changed"), 0) == before.get(key("changed"), 0) + 1


def test_model_version_and_age_are_exported(trained_client, trained_service):
    """recommender_model_info carries the served version; age and topic count are present."""
    samples = scrape(trained_client)
    version = trained_service.served().version
    assert samples[("recommender_model_info", (("version", version),))] == 1.0
    assert 0 <= samples[("recommender_model_age_seconds", ())] < 3600
    assert samples[("recommender_model_topics", ())] == len(trained_service.served().topic_ids)


def test_train_seconds_comes_from_the_version_metadata(trained_client, trained_service, monkeypatch):
    """When the served version's metadata records train_seconds, it is exported as recommender_model_train_seconds."""
    served = trained_service.served()
    monkeypatch.setitem(served.metadata, "train_seconds", 12.5)
    assert scrape(trained_client)[("recommender_model_train_seconds", ())] == 12.5


def test_no_model_yet_still_answers(client):
    """Before the first model /metrics answers 200 with an empty model_info family."""
    samples = scrape(client)
    assert not any(name == "recommender_model_info" for name, _ in samples)


def test_multiprocess_dir_is_prepared_only_for_several_workers(monkeypatch, tmp_path):
    """serve with one worker leaves the environment alone; with two it gets an empty folder (stale files removed)."""
    # setenv first so monkeypatch restores the variable's absence after the test
    # (prepare_multiprocess_dir writes os.environ directly).
    monkeypatch.setenv(MULTIPROC_ENV, "")
    monkeypatch.delenv(MULTIPROC_ENV)
    assert prepare_multiprocess_dir(1) is None
    made = prepare_multiprocess_dir(2)
    try:
        assert made is not None and made.is_dir() and list(made.iterdir()) == []
        assert str(made) == __import__("os").environ[MULTIPROC_ENV]
    finally:
        cleanup_multiprocess_dir(made)
    assert not made.exists()
    given = tmp_path / "prom"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"old")
    monkeypatch.setenv(MULTIPROC_ENV, str(given))
    assert prepare_multiprocess_dir(2) == given
    assert list(given.iterdir()) == []
    cleanup_multiprocess_dir(given)  # the operator's folder is kept
    assert given.is_dir()

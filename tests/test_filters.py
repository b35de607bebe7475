"""Filters and pages at the edges of the calendar and of 64-bit integers: answers, never overflows."""

from __future__ import annotations

from datetime import date

import pytest

from recommender.errors import ValidationFailed
from recommender.service.filters import (
    EARLIEST_AS_OF,
    LATEST_AS_OF,
    bounded_as_of,
    bounded_page,
    check_top,
    parse_suggestion_query,
)
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 (fixtures)
from tests.helpers import assert_error

HUGE = "9223372036854775807"


def test_as_of_is_kept_within_the_calendar_the_ranking_reckons_in():
    """Dates beyond the bounds are read as the bounds; others are kept."""
    assert bounded_as_of(date(9999, 12, 31)) == LATEST_AS_OF
    assert bounded_as_of(date(1, 1, 1)) == EARLIEST_AS_OF
    assert bounded_as_of(date(2026, 5, 1)) == date(2026, 5, 1)
    assert bounded_as_of(None) is None
    assert bounded_page(int(HUGE), 10**9) == (100_000, 200)


@pytest.mark.parametrize("top", [0, -1, 51, True, "3"])
def test_top_outside_1_to_50_is_refused(top):
    """check_top refuses what the API's schema refuses."""
    with pytest.raises(ValidationFailed):
        check_top(top)


def test_typed_filters_follow_the_schema(settings):
    """Free-form dates and week dates are refused; an empty field means "not given"."""
    for bad in ("2026-5-1", "2026-W01-1", "２０２６-０５-０１", "tomorrow"):
        with pytest.raises(ValidationFailed):
            parse_suggestion_query(settings, None, bad, None)
    assert parse_suggestion_query(settings, "", "", "").as_of is None


@pytest.mark.parametrize("as_of", ["9999-12-31", "0001-01-01", "9000-12-31", "1900-01-01"])
def test_suggestions_export_and_dashboard_answer_at_the_ends_of_the_calendar(trained_client, organizer_headers, as_of):
    """as_of=9999-12-31 (and 0001-01-01) on suggestions, export and the dashboard: 200, not OverflowError."""
    response = trained_client.get(f"/api/suggestions?as_of={as_of}", headers=organizer_headers)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["as_of"] == str(bounded_as_of(date.fromisoformat(as_of)))
    assert trained_client.get(f"/api/suggestions/export?as_of={as_of}", headers=organizer_headers).status_code == 200
    assert trained_client.get(f"/organizer?as_of={as_of}", headers=organizer_headers).status_code == 200


def test_a_huge_page_is_an_answer_not_an_integer_error(trained_client, organizer_headers):
    """page=2**63-1: the API refuses it (422, as documented); the dashboard shows the last page allowed."""
    tid = trained_client.get("/api/topics", headers=organizer_headers).json()["topics"][0]["topic_id"]
    assert_error(trained_client.get(f"/api/topics/{tid}?page={HUGE}", headers=organizer_headers), 422)
    page = trained_client.get(f"/organizer/topics/{tid}?page={HUGE}", headers=organizer_headers)
    assert page.status_code == 200
    assert_error(trained_client.get(f"/api/audit?page={HUGE}", headers=organizer_headers), 422)


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "message"),
    [
        ("get", "/api/suggestions?top=0", None, "invalid_request", "top 应不小于 1"),
        ("get", "/api/suggestions?top=51", None, "invalid_request", "top 应不大于 50"),
        ("get", "/api/suggestions?top=x", None, "invalid_request", "top 应为整数"),
        ("get", "/api/topics/{tid}?page=0&per_page=999", None, "invalid_request", "page 应不小于 1；per_page 应不大于 200"),
        ("patch", "/api/topics/{tid}", {"label": "长" * 31}, "too_long", "label 过长（最多 30 个字符），请缩短后再提交"),
        ("post", "/api/sessions", {"topic_id": "{tid}", "title": "课", "date": "2026-12-20", "status": "maybe"},
         "invalid_request", "status 应为 planned、held、cancelled 之一"),
        ("post", "/api/experts", {"name": "赵站长", "department": "区消防救援站", "subjects": []},
         "invalid_request", "subjects 至少 1 项"),
    ],
    ids=["top-0", "top-51", "top-x", "pages", "label-long", "status", "subjects-empty"],
)
def test_a_refused_value_says_what_it_should_be(trained_client, organizer_headers, method, path, body, code, message):
    """A 422 names each field with what it should be, in Chinese (the API's top is 1–50, a label
    30 characters …), not only 「top 的格式不对」 with pydantic's English in the details."""
    tid = trained_client.get("/api/topics", headers=organizer_headers).json()["topics"][0]["topic_id"]
    if isinstance(body, dict):
        body = {k: v.replace("{tid}", tid) if isinstance(v, str) else v for k, v in body.items()}
    response = trained_client.request(method, path.replace("{tid}", tid), json=body, headers=organizer_headers)
    assert assert_error(response, 422, code)["error"]["message"] == message


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_service_pages_are_bounded_for_every_caller(trained_service):
    """The service itself bounds pages and offsets (the dashboard and the CLI call it directly)."""
    tid = trained_service.topics()["topics"][0]["topic_id"]
    assert trained_service.topic(tid, page=int(HUGE), per_page=int(HUGE))["members"]["items"] == []
    assert trained_service.audit_log(offset=int(HUGE), limit=int(HUGE))["items"] == []
    assert trained_service.moderation_list("hidden", offset=int(HUGE))["items"] == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "argv,code,said",
    [
        (["suggest", "--as-of", "9999-12-31"], 0, "9000-12-31"),
        (["suggest", "--as-of", "0001-01-01", "--format", "json"], 0, "1900-01-01"),
        (["suggest", "--top", "-1"], 1, "top"),
        (["suggest", "--top", "0"], 1, "top"),
        (["suggest", "--top", "51"], 1, "top"),
        (["suggest", "--segment", "火星人"], 1, "火星人"),
    ],
)
def test_cli_suggest_edges_print_a_message_not_a_traceback(trained_service, settings, monkeypatch, capsys, argv, code, said):
    """`recommender suggest --as-of 9999-12-31` ranks; `--top -1` is a one-line error (exit 1)."""
    from recommender import cli

    monkeypatch.setenv("RECOMMENDER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RECOMMENDER_MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("RECOMMENDER_DATA_DIR", str(settings.data_dir))
    assert cli.main(["-q", *argv]) == code
    out = capsys.readouterr()
    assert said in (out.out if code == 0 else out.err)
    assert "Traceback" not in out.err


def test_cli_turns_an_unexpected_error_into_one_line(monkeypatch, capsys, settings):
    """Any bug in a command: exit 1 with one line naming the error, no traceback on the terminal."""
    from recommender import cli

    def broken(args, settings):
        raise OverflowError("date value out of range")

    monkeypatch.setenv("RECOMMENDER_DATABASE_URL", settings.database_url)
    parser = cli.build_parser
    monkeypatch.setattr(cli, "cmd_models", broken)
    monkeypatch.setattr(cli, "build_parser", lambda: _with_func(parser(), broken))
    assert cli.main(["models", "list"]) == 1
    err = capsys.readouterr().err
    assert "OverflowError: date value out of range" in err and "Traceback" not in err


def _with_func(parser, func):
    parser.set_defaults(func=func)
    for action in parser._subparsers._group_actions:
        for sub in action.choices.values():
            sub.set_defaults(func=func)
    return parser

"""The corrections in the organizer API and on the dashboard: move, merge, split, pin, the
list and undo; organizers only, clear 4xx answers, failed forms keep what was typed."""

from __future__ import annotations

import pytest

from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 - fixtures
from tests.helpers import assert_error, parse_html


def topics(client, headers) -> dict[str, dict]:
    return {t["topic_id"]: t for t in client.get("/api/topics", headers=headers).json()["topics"]}


def members(client, headers, topic_id: str) -> list[dict]:
    return client.get(f"/api/topics/{topic_id}?per_page=200", headers=headers).json()["members"]["items"]


def two_topics(client, headers) -> tuple[str, str]:
    ids = sorted(topics(client, headers), key=lambda t: t)
    return ids[0], ids[1]


def test_correction_routes_need_an_organizer(trained_client):
    """Without a token every correction route answers 401 in the JSON error shape."""
    for method, path, body in [
        ("POST", "/api/feedback/1/move", {"topic_id": None}),
        ("POST", "/api/corrections/move", {"feedback_ids": [1], "topic_id": None}),
        ("POST", "/api/topics/T0001/merge", {"other_topic_id": "T0002"}),
        ("POST", "/api/topics/T0001/split", {"feedback_ids": [1]}),
        ("POST", "/api/topics/T0001/pin", {"pinned": True}),
        ("GET", "/api/corrections", None),
        ("POST", "/api/corrections/1/undo", None),
    ]:
        assert_error(trained_client.request(method, path, json=body), 401)


def test_move_split_merge_pin_list_and_undo_through_the_api(trained_client, organizer_headers):
    """Each correction answers its record, shows at once in /api/topics, is listed, and undoes."""
    client, h = trained_client, organizer_headers
    a, b = two_topics(client, h)
    lines = [m["feedback_id"] for m in members(client, h, a)]

    moved = client.post(f"/api/feedback/{lines[0]}/move", json={"topic_id": b}, headers=h)
    assert moved.status_code == 201 and moved.json()["kind"] == "move" and moved.json()["topic_id"] == b
    assert lines[0] in [m["feedback_id"] for m in members(client, h, b)]

    to_none = client.post("/api/corrections/move", json={"feedback_ids": [lines[1]], "topic_id": None}, headers=h)
    assert to_none.status_code == 201 and to_none.json()["topic_id"] is None
    no_topic = client.get("/api/no-topic?per_page=200", headers=h).json()["members"]["items"]
    assert lines[1] in [m["feedback_id"] for m in no_topic]

    split = client.post(f"/api/topics/{a}/split", json={"feedback_ids": lines[2:5], "label": "拆出来的"}, headers=h)
    assert split.status_code == 201, split.text
    new_id = split.json()["topic_id"]
    assert topics(client, h)[new_id]["label"] == "拆出来的" and topics(client, h)[new_id]["size"] == 3

    merged = client.post(f"/api/topics/{a}/merge", json={"other_topic_id": new_id}, headers=h)
    assert merged.status_code == 201 and sorted(merged.json()["feedback_ids"]) == sorted(lines[2:5])
    assert new_id not in topics(client, h)

    pinned = client.post(f"/api/topics/{a}/pin", json={"pinned": True}, headers=h)
    assert pinned.status_code == 200 and pinned.json()["pinned"] is True
    assert topics(client, h)[a]["pinned"] is True

    listed = client.get("/api/corrections", headers=h).json()
    assert listed["total"] == 5 and [c["kind"] for c in listed["items"]] == ["pin", "merge", "split", "move", "move"]
    assert listed["pinned"] == [a] and listed["page"] == 1

    undone = client.post(f"/api/corrections/{merged.json()['id']}/undo", headers=h)
    assert undone.status_code == 200 and undone.json()["restored"] == 3 and undone.json()["active"] is False
    assert new_id in topics(client, h)
    assert_error(client.post(f"/api/corrections/{merged.json()['id']}/undo", headers=h), 409, "already_undone")
    audit = client.get("/api/audit", headers=h).json()["items"]
    assert [e["action"] for e in audit[:6]] == ["undo", "pin", "merge", "split", "move", "move"]
    assert all("说明" in e["detail"] for e in audit[:6])


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/feedback/999999/move", {"topic_id": None}, 404),
        ("/api/feedback/1/move", {"topic_id": "T9999"}, 409),
        ("/api/feedback/1/move", {"topic_id": "bad id!"}, 422),
        ("/api/feedback/0/move", {"topic_id": None}, 422),
        ("/api/corrections/move", {"feedback_ids": [], "topic_id": None}, 422),
        ("/api/topics/T9999/merge", {"other_topic_id": "T0001"}, 404),
        ("/api/topics/T0001/merge", {"other_topic_id": "T9999"}, 409),
        ("/api/topics/T0001/merge", {"other_topic_id": "T0001"}, 409),
        ("/api/topics/T0001/split", {"feedback_ids": [2**63]}, 422),
        ("/api/topics/T0001/split", {"feedback_ids": [999999]}, 404),
        ("/api/topics/T0001/pin", {"pinned": 0}, 422),
        ("/api/topics/T0001/split", {"feedback_ids": [1], "label": "名" * 31}, 422),
        ("/api/topics/T0001/pin", {}, 422),
        ("/api/corrections/424242/undo", None, 404),
    ],
    ids=["unknown-line", "unknown-target", "bad-topic-id", "line-zero", "no-lines", "merge-unknown", "merge-unknown-other",
         "merge-itself",
         "split-huge-id", "split-unknown-line", "pin-not-a-bool", "split-long-label", "pin-no-body", "undo-unknown"],
)
def test_bad_corrections_answer_clear_errors(trained_client, organizer_headers, path, body, status):
    """Unknown topics (path), lines and corrections are 404; malformed bodies 422; refused states
    (a body's topic not among the current ones) 409; nothing is stored."""
    assert_error(trained_client.post(path, json=body, headers=organizer_headers), status)
    assert trained_client.get("/api/corrections", headers=organizer_headers).json()["total"] == 0


def test_dashboard_moves_splits_merges_pins_and_undoes(trained_client, organizer_headers):
    """The topic page's forms move and split ticked lines, merge and pin; the list page undoes."""
    client, h = trained_client, organizer_headers
    a, b = two_topics(client, h)
    page = client.get(f"/organizer/topics/{a}", headers=h)
    assert page.status_code == 200 and 'id="lines-form"' in page.text and 'form="lines-form"' in page.text
    assert "移到所选主题" in page.text and "拆分为新主题" in page.text and "固定本主题" in page.text
    lines = [m["feedback_id"] for m in members(client, h, a)]

    moved = client.post(
        f"/organizer/topics/{a}/lines", data={"action": "move", "target": b, "feedback_id": [str(lines[0])]},
        headers=h, follow_redirects=False,
    )
    assert moved.status_code == 303 and moved.headers["location"] == f"/organizer/topics/{a}"
    split = client.post(
        f"/organizer/topics/{a}/lines", data={"action": "split", "label": "", "feedback_id": [str(i) for i in lines[1:3]]},
        headers=h, follow_redirects=False,
    )
    assert split.status_code == 303
    new_id = split.headers["location"].rsplit("/", 1)[1]
    assert sorted(m["feedback_id"] for m in members(client, h, new_id)) == sorted(lines[1:3])
    merged = client.post(f"/organizer/topics/{b}/merge", data={"other_topic_id": new_id}, headers=h, follow_redirects=False)
    assert merged.status_code == 303
    pinned = client.post(f"/organizer/topics/{b}/pin", data={"pinned": "1"}, headers=h, follow_redirects=False)
    assert pinned.status_code == 303 and "已固定" in client.get(f"/organizer/topics/{b}", headers=h).text

    listing = client.get("/organizer/corrections", headers=h)
    assert listing.status_code == 200 and listing.text.count("撤销</button>") == 4
    assert "拆分主题" in listing.text and "并入" in listing.text
    first = client.get("/api/corrections", headers=h).json()["items"][-1]
    undone = client.post(f"/organizer/corrections/{first['id']}/undo", data={}, headers=h, follow_redirects=False)
    assert undone.status_code == 303
    assert lines[0] in [m["feedback_id"] for m in members(client, h, a)]


def test_corrections_list_shows_times_in_the_organizers_zone_and_a_move_names_its_topic(
    trained_client, organizer_headers
):
    """The list's times are in RECOMMENDER_TIMEZONE like every other page (not UTC), and the
    messages after a move and a merge name the topic as the list does, by its name 「label」
    (the organizer picked it by name; no topic id leads or follows it)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    client, h = trained_client, organizer_headers
    a, b = two_topics(client, h)
    line = members(client, h, a)[0]["feedback_id"]
    moved = client.post(
        f"/organizer/topics/{a}/lines", data={"action": "move", "target": b, "feedback_id": [str(line)]}, headers=h,
    )
    assert moved.status_code == 200
    b_label = topics(client, h)[b]["label"]
    flash = parse_html(moved.text).find(class_="flash").text
    assert f"移到「{b_label}」" in flash and b not in flash
    c = sorted(topics(client, h))[2]
    merged_label = topics(client, h)[c]["label"]
    merged = client.post(f"/organizer/topics/{b}/merge", data={"other_topic_id": c}, headers=h)
    assert merged.status_code == 200 and f"已把「{merged_label}」并入本主题" in merged.text
    assert c not in parse_html(merged.text).find(class_="flash").text
    created = datetime.fromisoformat(client.get("/api/corrections", headers=h).json()["items"][0]["created_at"])
    local = created.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    listing = client.get("/organizer/corrections", headers=h).text
    assert "时间（北京时间）" in listing and local in listing
    summaries = [td.text for td in parse_html(listing).find_all("td", class_="correction-summary")]
    assert summaries[0].startswith(f"「{merged_label}」并入「{b_label}」（") and summaries[1] == f"1 条反馈移到「{b_label}」"
    assert not any(t in " ".join(summaries) for t in (b, c)), summaries
    audit = client.get("/api/audit", headers=h).json()["items"]
    assert audit[0]["summary"].endswith(f"说明：把「{merged_label}」并入「{b_label}」")


def test_a_failed_dashboard_correction_keeps_what_was_typed(trained_client, organizer_headers):
    """A split with a too-long label goes back to the topic page (303, Post/Redirect/Get: a
    reload or a bookmark is that page, not the POST-only URL) with the error, the lines ticked
    and the label kept; reloading it after that shows the page as it is."""
    client, h = trained_client, organizer_headers
    a, _ = two_topics(client, h)
    lines = [m["feedback_id"] for m in members(client, h, a)]
    label = "太长的名字" * 7
    form = {"action": "split", "label": label, "feedback_id": [str(lines[0])]}
    failed = client.post(f"/organizer/topics/{a}/lines", data=form, headers=h, follow_redirects=False)
    assert failed.status_code == 303 and failed.headers["location"] == f"/organizer/topics/{a}"
    shown = client.get(failed.headers["location"], headers=h)
    assert shown.status_code == 200
    assert "新主题名称过长" in shown.text and f'value="{label}"' in shown.text
    assert f'value="{lines[0]}" id="pick-{lines[0]}" checked' in shown.text
    reloaded = client.get(f"/organizer/topics/{a}", headers=h).text
    assert "新主题名称过长" not in reloaded and f'id="pick-{lines[0]}" checked' not in reloaded
    nothing = client.post(f"/organizer/topics/{a}/lines", data={"action": "move", "target": "", "feedback_id": [str(lines[0])]}, headers=h)
    assert nothing.status_code == 200 and str(nothing.url).endswith(f"/organizer/topics/{a}")
    assert "请选择要移到哪个主题" in nothing.text
    assert client.get("/api/corrections", headers=h).json()["total"] == 0


def test_a_refused_merge_goes_back_to_the_topic_page_with_the_topic_still_chosen(trained_client, organizer_headers):
    """Merging a topic that is gone is refused: back to the topic page (303) with the message,
    not a page drawn at the POST-only merge URL."""
    client, h = trained_client, organizer_headers
    a, b = two_topics(client, h)
    client.post(f"/api/topics/{b}/merge", json={"other_topic_id": a}, headers=h)  # a is gone now
    refused = client.post(f"/organizer/topics/{b}/merge", data={"other_topic_id": a}, headers=h, follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"] == f"/organizer/topics/{b}"
    page = parse_html(client.get(refused.headers["location"], headers=h).text)
    assert page.find("div", class_="flash--error") is not None


def test_moving_lines_where_they_are_or_splitting_another_topics_lines_is_a_conflict(trained_client, organizer_headers):
    """Well-formed requests the state refuses answer 409 with a Chinese message."""
    client, h = trained_client, organizer_headers
    a, b = two_topics(client, h)
    line = members(client, h, a)[0]["feedback_id"]
    body = assert_error(client.post(f"/api/feedback/{line}/move", json={"topic_id": a}, headers=h), 409, "nothing_to_move")
    assert "已经在这个主题里" in body["error"]["message"]
    assert_error(client.post(f"/api/topics/{b}/split", json={"feedback_ids": [line]}, headers=h), 409, "not_in_topic")
    taken = topics(client, h)[b]["label"]
    body = assert_error(client.post(f"/api/topics/{a}/split", json={"feedback_ids": [line], "label": taken}, headers=h),
                        409, "label_taken")
    assert taken in body["error"]["message"]


def test_a_split_label_is_masked_like_feedback(trained_client, organizer_headers):
    """A phone number typed into a new topic's label is masked before it is stored."""
    client, h = trained_client, organizer_headers
    a, _ = two_topics(client, h)
    line = members(client, h, a)[0]["feedback_id"]
    done = client.post(f"/api/topics/{a}/split", json={"feedback_ids": [line], "label": "王13812345678"}, headers=h)
    assert done.status_code == 201 and "13812345678" not in done.text
    assert "13812345678" not in topics(client, h)[done.json()["topic_id"]]["label"]


def test_dashboard_correction_forms_need_the_csrf_token(trained_client):
    """A cookie session without the form's CSRF token is refused (403) and stores nothing."""
    from tests.conftest import ORGANIZER_TOKEN

    client = trained_client
    login = client.post("/organizer/login", data={"token": ORGANIZER_TOKEN}, follow_redirects=False)
    assert login.status_code == 303
    refused = client.post("/organizer/topics/T0001/pin", data={"pinned": "1"}, headers={"Origin": "http://testserver"})
    assert refused.status_code == 403
    assert client.get("/api/corrections").json()["total"] == 0


def test_lines_in_no_topic_can_be_moved_into_a_topic_from_the_no_topic_page(trained_client, organizer_headers):
    """The 未归类 page ticks lines and moves them to a topic (303 back with a message)."""
    client, h = trained_client, organizer_headers
    a, b = two_topics(client, h)
    line = members(client, h, a)[0]["feedback_id"]
    client.post(f"/api/feedback/{line}/move", json={"topic_id": None}, headers=h)
    page = client.get("/organizer/no-topic", headers=h)
    assert f'id="pick-{line}"' in page.text and 'action="/organizer/lines"' in page.text
    assert '<option value="none"' not in page.text  # already 未归类
    moved = client.post(
        "/organizer/lines", data={"target": b, "feedback_id": [str(line)], "return_to": "/organizer/no-topic"},
        headers=h, follow_redirects=False,
    )
    assert moved.status_code == 303 and moved.headers["location"] == "/organizer/no-topic"
    assert line in [m["feedback_id"] for m in members(client, h, b)]
    refused = client.post("/organizer/lines", data={"target": "", "feedback_id": [str(line)]}, headers=h)
    assert refused.status_code == 200 and str(refused.url).endswith("/organizer/no-topic")
    assert "请选择要移到哪个主题" in refused.text


def test_a_refused_move_on_the_no_topic_page_keeps_the_lines_ticked(trained_client, organizer_headers):
    """A refused move from the 未归类 page goes back to the page the form came from (303) with
    the error, the same lines ticked and the topic still chosen."""
    client, h = trained_client, organizer_headers
    a, b = two_topics(client, h)
    lines = [m["feedback_id"] for m in members(client, h, a)[:2]]
    client.post("/api/corrections/move", json={"feedback_ids": lines, "topic_id": None}, headers=h)
    form = {"target": "T9999", "feedback_id": [str(i) for i in lines], "return_to": "/organizer/no-topic?page=1"}
    refused = client.post("/organizer/lines", data=form, headers=h, follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"] == "/organizer/no-topic?page=1"
    page = parse_html(client.get(refused.headers["location"], headers=h).text)
    assert page.find("div", class_="flash--error") is not None
    assert {int(box.get("value")) for box in page.find_all("input", name="feedback_id", checked=True)} == set(lines)
    assert page.find("input", name="return_to").get("value") == "/organizer/no-topic?page=1"
    still = client.get("/api/no-topic?per_page=200", headers=h).json()["members"]["items"]
    assert set(lines) <= {m["feedback_id"] for m in still}

    nothing_ticked = client.post("/organizer/lines", data={**form, "target": b, "feedback_id": []}, headers=h)
    assert nothing_ticked.status_code == 200
    chosen = parse_html(nothing_ticked.text).by_id("move-target").find("option", selected=True)
    assert chosen is not None and chosen.get("value") == b


def test_corrections_list_names_topics_as_they_were_when_corrected(trained_client, trained_service, organizer_headers):
    """A move into a topic renamed since: 主题更正 shows the label the organizer saw then (and
    the API answers it as topic_label); a row stored before labels were kept shows the current one."""
    from sqlalchemy import update

    from recommender.store.schema import corrections

    client, h = trained_client, organizer_headers
    a, b = two_topics(client, h)
    seen = topics(client, h)[b]["label"]
    line = members(client, h, a)[0]["feedback_id"]
    done = client.post("/api/corrections/move", json={"feedback_ids": [line], "topic_id": b}, headers=h).json()
    assert done["topic_label"] == seen and done["other_topic_label"] is None
    assert client.patch(f"/api/topics/{b}", json={"label": "改过的名称"}, headers=h).status_code == 200
    listing = parse_html(client.get("/organizer/corrections", headers=h).text)
    row = listing.find("tr", **{"data-correction-id": str(done["id"])})
    assert f"移到「{seen}」" in row.text and "改过的名称" not in row.text
    with trained_service.store.engine.begin() as conn:  # as migration 0008 leaves an older row
        conn.execute(update(corrections).values(topic_label=None, other_topic_label=None))
    older = parse_html(client.get("/organizer/corrections", headers=h).text)
    assert "移到「改过的名称」" in older.find("tr", **{"data-correction-id": str(done["id"])}).text


def test_a_correction_forms_url_opened_as_a_page_goes_to_the_forms_page(trained_client, organizer_headers):
    """A bookmarked or reloaded form URL (GET) is sent to the page the form is on, not 405."""
    client = trained_client
    for path, page in [
        ("/organizer/topics/T0001/lines", "/organizer/topics/T0001"),
        ("/organizer/topics/T0001/merge", "/organizer/topics/T0001"),
        ("/organizer/topics/T0001/pin", "/organizer/topics/T0001"),
        ("/organizer/lines", "/organizer/no-topic"),
        # Pages drawn by a POST (a refused expert edit, the delete and retrain confirmations).
        ("/organizer/experts/1", "/organizer/experts/1/edit"),
        ("/organizer/experts/1/delete", "/organizer/experts/1/edit"),
        ("/organizer/retrain", "/organizer#model"),
    ]:
        opened = client.get(path, headers=organizer_headers, follow_redirects=False)
        assert opened.status_code == 303 and opened.headers["location"] == page, path

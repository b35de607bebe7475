"""Markup pushed through every field renders inert on every page, in the API and in exports."""

from __future__ import annotations

import csv
import io
import re

from openpyxl import load_workbook

from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401  (fixtures)
from tests.helpers import parse_html

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(1)>"
SHORT = "<img src=x onerror=alert(1)>"  # fits the 30-character topic label
AUTH = {"Authorization": "Bearer test-organizer-token"}


def assert_inert(response, *, shows: str | None = None) -> None:
    """No script element without the page's nonce, no on* attribute, no injected <img>; ``shows`` appears as text."""
    html = response.text
    page = parse_html(html)
    nonce = re.search(r"'nonce-([^']+)'", response.headers["content-security-policy"]).group(1)
    for el in page.iter():
        if el.tag == "script":
            assert el.get("nonce") == nonce, (response.request.url, el.attrs)
        assert not any(name.startswith("on") for name in el.attrs), (response.request.url, el.tag, el.attrs)
        assert not (el.tag == "img" and el.get("src") == "x"), response.request.url
    assert "<script>alert" not in html and "<img src=x" not in html
    if shows is not None:
        assert shows in page.text or any(shows in (v or "") for el in page.iter() for v in el.attrs.values()), (
            response.request.url, shows)


def _login(client):
    client.post("/organizer/login", data={"token": "test-organizer-token", "next": "/organizer"})
    page = client.get("/organizer")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_markup_in_every_field_renders_as_text_everywhere(trained_client, trained_service):
    """text, segment, session_id, label, class title/instructor/department, token and receipt: all inert."""
    client = trained_client
    # --- public form: an invalid segment and a session id come back on the error page, as text
    bad = client.post("/feedback", data={"text": PAYLOAD, "segment": PAYLOAD, "session_id": PAYLOAD})
    assert bad.status_code == 422
    assert_inert(bad, shows=PAYLOAD)
    empty = client.post("/feedback", data={"text": "", "session_id": PAYLOAD})
    assert_inert(empty, shows=PAYLOAD)

    # --- a stored line carrying the payload in its text and session id (through the form), and through the API
    line = "灭火器怎么正确使用，想学消防安全 " + PAYLOAD
    ok = client.post("/feedback", data={"text": line, "segment": "居民", "session_id": PAYLOAD}, follow_redirects=True)
    assert ok.status_code == 200
    assert_inert(ok)
    created = client.post("/api/feedback", json={"text": line, "session_id": PAYLOAD, "submitter": PAYLOAD}).json()
    fid = created["id"]
    row = trained_service.store.get(int(fid))
    trained_service.assign_pending()  # what each web worker runs every second
    topic_id = next(t for r, t, _ in trained_service.store.assignment_rows(trained_service.served().version) if r.id == row.id)
    assert topic_id is not None

    # --- organizer: rename, plan a class with markup everywhere, log in with markup
    csrf = _login(client)
    client.post(f"/organizer/topics/{topic_id}/label", data={"csrf_token": csrf, "label": SHORT})
    plan = client.post("/organizer/sessions", data={
        "csrf_token": csrf, "topic_id": topic_id, "title": PAYLOAD, "date": "2026-12-01", "status": "planned",
        "instructor": PAYLOAD, "department": PAYLOAD, "return_to": "/organizer?top=20"}, follow_redirects=True)
    assert_inert(plan, shows=PAYLOAD)  # the flash message names the class
    client.patch(f"/api/topics/{topic_id}", json={"label": SHORT}, headers=AUTH)

    dash = client.get("/organizer?top=20")
    assert_inert(dash, shows=SHORT)
    assert_inert(dash, shows=PAYLOAD)  # the audit log shows the class title
    topic_page = client.get(f"/organizer/topics/{topic_id}?page=1")
    assert_inert(topic_page, shows=line)
    assert_inert(topic_page, shows=SHORT)

    # --- moderation lists show the text
    client.post(f"/api/feedback/{fid}/hide", json={"reason": "other", "note": PAYLOAD}, headers=AUTH)
    hidden = client.get("/organizer")
    assert_inert(hidden, shows=line)
    assert_inert(hidden, shows=PAYLOAD)
    client.post(f"/api/feedback/{fid}/restore", headers=AUTH)

    # --- error pages echo what was asked for, as text
    assert_inert(client.get(f"/organizer/topics/{PAYLOAD}"))
    assert_inert(client.get("/organizer/topics/%3Cscript%3Ealert(1)%3C%2Fscript%3E"))
    fresh = type(client)(client.app)
    login = fresh.post("/organizer/login", data={"token": PAYLOAD, "next": PAYLOAD})
    assert login.status_code == 401
    assert_inert(login)

    # --- withdrawal pages echo the typed code
    assert_inert(client.post("/withdraw/lookup", data={"receipt": PAYLOAD}), shows=PAYLOAD)
    assert_inert(client.post("/withdraw", data={"receipt": PAYLOAD}), shows=PAYLOAD)
    receipt = created["receipt"]
    assert_inert(client.post("/withdraw/lookup", data={"receipt": receipt}), shows=line)

    # --- JSON is JSON (no HTML rendering), exports carry the text as plain cells
    topic_json = client.get(f"/api/topics/{topic_id}?per_page=200", headers=AUTH)
    assert topic_json.headers["content-type"].startswith("application/json")
    assert line in [m["text"] for m in topic_json.json()["members"]["items"]]
    export = client.get(f"/api/topics/{topic_id}/export?format=csv", headers=AUTH)
    assert export.headers["content-type"].startswith("text/csv")
    cells = [c for r in csv.reader(io.StringIO(export.content.decode("utf-8-sig"))) for c in r]
    assert line in cells
    xlsx = client.get(f"/api/topics/{topic_id}/export?format=xlsx", headers=AUTH)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert line in [c.value for r in sheet.iter_rows() for c in r]
    assert "<" not in xlsx.headers["content-disposition"].split("filename=")[1].split(";")[0]
    suggestions = client.get("/api/suggestions/export?format=csv&top=20", headers=AUTH).content.decode("utf-8-sig")
    assert SHORT in suggestions  # the renamed label, as a plain cell

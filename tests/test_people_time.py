"""People and time (issue 15, item 6): RECOMMENDER_TIMEZONE for every time a person reads,
named organizer tokens as audit actors, audit details in Chinese words, columns that do not
wrap mid-word, XLSX exports sized to their content with a frozen header."""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recommender.config import Settings
from recommender.door.validation import parse_timestamp
from recommender.service.audit_text import describe_audit
from recommender.web import exports
from tests.conftest import ORGANIZER_TOKEN
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 (fixtures)
from tests.helpers import parse_html

CSS = Path(__file__).resolve().parents[1] / "recommender" / "web" / "static" / "dashboard.css"


def test_timezone_setting_default_and_validation():
    """Default Asia/Shanghai; a name zoneinfo does not know is refused with the name in the message."""
    assert Settings().timezone == "Asia/Shanghai" and str(Settings().tz) == "Asia/Shanghai"
    assert str(Settings(timezone="Europe/Berlin").tz) == "Europe/Berlin"
    with pytest.raises(ValueError, match="Mars/Olympus"):
        Settings(timezone="Mars/Olympus")


def test_naive_times_are_read_in_the_given_zone():
    """A spreadsheet's 2026-01-05 08:00 is 00:00 UTC in Shanghai and 07:00 UTC in Berlin."""
    from zoneinfo import ZoneInfo

    assert parse_timestamp("2026-01-05 08:00", ZoneInfo("Asia/Shanghai")) == datetime(2026, 1, 5, 0, tzinfo=timezone.utc)
    assert parse_timestamp("2026-01-05 08:00", ZoneInfo("Europe/Berlin")) == datetime(2026, 1, 5, 7, tzinfo=timezone.utc)
    assert parse_timestamp("2026-01-05 08:00") == datetime(2026, 1, 5, 0, tzinfo=timezone.utc)  # the process default


@pytest.mark.parametrize(
    ("action", "detail", "text"),
    [
        ("retrain", {"rows": 430, "topics": 15, "noise": 6, "kept_ids": 0, "engine": "local"},
         "训练完成：430 条，15 个主题，不属于任何主题 6 条，沿用编号 0 个，引擎 本机"),
        # The process id is for an operator (the server's log, the API's detail), not the organizer.
        ("retrain", {"status": "started", "pid": 42}, "已在后台开始训练，进度和结果会显示在看板顶部"),
        ("hide", {"reason": "spam", "note": None}, "原因：垃圾信息"),
        ("restore", {"previous_status": "hidden"}, "原状态：已隐藏"),
        ("rename", {"label": "消防安全"}, "改名为“消防安全”"),
        ("plan_class", {"session_id": 1, "title": "消防课", "date": "2026-05-01", "status": "held"}, "“消防课”，2026-05-01，已开课"),
        ("expert_add", {"name": "王医生", "department": "卫生站"}, "王医生（卫生站）"),
        ("something_new", {"rows": 3, "zzz": "x"}, "反馈：3；zzz：x"),
        ("move", {"feedback_ids": [3, 4], "status": "hidden", "to": {"a": 1}}, "feedback_ids：3、4；状态：已隐藏；to：{'a': 1}"),
        ("rollback", {}, ""),
    ],
    ids=["retrain", "retrain-started", "hide", "restore", "rename", "plan", "expert", "unknown", "lists", "empty"],
)
def test_audit_details_in_words(action, detail, text):
    """Each stored detail reads as Chinese words, unknown keys included (never key=value)."""
    assert describe_audit(action, detail) == text


@pytest.fixture
def named_client(trained_service, settings):
    """The app with the test token carrying a name (张老师:token)."""
    from recommender.web.app import create_app

    named = settings.model_copy(update={"organizer_tokens": f"张老师:{ORGANIZER_TOKEN},{'x' * 20}"})
    with TestClient(create_app(named, trained_service)) as client:
        yield client


def test_audit_log_shows_name_local_time_and_words(named_client, organizer_headers):
    """操作记录: the actor is 张老师, the time is Beijing time (UTC+8), the detail is in words."""
    before = datetime.now(timezone.utc)
    tid = named_client.get("/api/topics", headers=organizer_headers).json()["topics"][0]["topic_id"]
    assert named_client.patch(f"/api/topics/{tid}", json={"label": "消防安全课"}, headers=organizer_headers).status_code == 200
    entry = named_client.get("/api/audit", headers=organizer_headers).json()["items"][0]
    assert entry["actor"] == "张老师" and entry["summary"] == "改名为“消防安全课”"
    assert named_client.post("/organizer/login", data={"token": ORGANIZER_TOKEN}, follow_redirects=False).status_code == 303
    page = parse_html(named_client.get("/organizer").text)
    table = page.find("table", class_="audit")
    assert "时间（北京时间）" in table.find("thead").text
    row = table.find("tbody").find("tr")
    cells = [td.text.strip() for td in row.find_all("td")]
    assert cells[1] == "张老师" and cells[4] == "改名为“消防安全课”"
    shown = datetime.strptime(cells[0], "%Y-%m-%d %H:%M:%S")
    utc = before.replace(tzinfo=None, microsecond=0)
    assert abs((shown - utc).total_seconds() - 8 * 3600) < 120  # +8 h, not UTC
    assert "=" not in cells[4]


def test_audit_columns_do_not_wrap_mid_word():
    """The audit table never breaks inside a word (no overflow-wrap: anywhere) and keeps the
    time, actor and action columns on one line."""
    css = CSS.read_text(encoding="utf-8")
    audit = re.search(r"\.audit th,\s*\.audit td \{(.*?)\}", css, re.S).group(1)
    assert "overflow-wrap: anywhere" not in audit and "overflow-wrap: break-word" in audit
    nowrap = re.search(r"\.audit td\.audit-at,(.*?)\{\s*white-space: nowrap;", css, re.S)
    assert nowrap and "audit-actor" in nowrap.group(1) and "audit-action" in nowrap.group(1)


def test_xlsx_columns_fit_their_content_and_the_header_is_frozen():
    """Widths follow the widest cell (CJK counts double, bounded); the first row is frozen."""
    from openpyxl import load_workbook

    body = exports.write_xlsx(["编号", "反馈内容"], [["1", "想学" * 10], ["22", "短"]], sheet_title="t")
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width == exports.MIN_WIDTH  # "编号" is 4 units + 2 < 6
    assert sheet.column_dimensions["B"].width == 42  # 20 CJK characters = 40 units + 2
    long = exports.write_xlsx(["x"], [["字" * 200]], sheet_title="t")
    assert load_workbook(io.BytesIO(long)).active.column_dimensions["A"].width == exports.MAX_WIDTH
    assert exports.display_width("ab公文") == 6


def test_topic_export_times_are_local(trained_client, organizer_headers):
    """A topic's CSV export writes each time in RECOMMENDER_TIMEZONE (YYYY-MM-DD HH:MM:SS)."""
    api = trained_client.get("/api/topics", headers=organizer_headers).json()["topics"][0]["topic_id"]
    detail = trained_client.get(f"/api/topics/{api}?per_page=1", headers=organizer_headers).json()
    first = detail["members"]["items"][0]
    csv_text = trained_client.get(f"/api/topics/{api}/export?format=csv", headers=organizer_headers).content.decode("utf-8-sig")
    stored = datetime.fromisoformat(first["submitted_at"])
    local = stored.astimezone(Settings().tz).strftime("%Y-%m-%d %H:%M:%S")
    assert local in csv_text and "+00:00" not in csv_text

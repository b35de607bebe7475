"""The directory of experts (issue 15, item 5): matching experts to topics, masked contacts,
the store on both databases, the API, the dashboard forms, the CLI and the suggestions."""

from __future__ import annotations

import csv
import re

import pytest

from recommender.door.experts import (
    MAX_CONTACT,
    MAX_DEPARTMENT,
    MAX_EXPERT_NAME,
    MAX_SUBJECT,
    MAX_SUBJECTS,
    clean_expert,
    parse_subjects,
    read_experts_file,
)
from recommender.errors import ImportFailed, ValidationFailed
from recommender.ranking.experts import NO_EXPERT, ExpertEntry, match_experts
from recommender.store import TEXT_LIMITS
from recommender.text.contact import is_contact, mask_contact
from tests.conftest import ORGANIZER_TOKEN
from tests.test_cli import env  # noqa: F401 (fixture: the CLI pointed at the test store)
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 (fixtures)
from tests.helpers import assert_error, parse_html

PHONE = "13812345678"
FIRE = {"name": "赵站长", "department": "区消防救援站", "subjects": ["消防安全", "灭火器使用"], "contact": PHONE}


# --------------------------------------------------------------------------- matching (pure)

CPR = {"label": "急救·心肺复苏", "keywords": ["急救", "心肺复苏", "培训"], "examples": ["想学心肺复苏和AED"]}


@pytest.mark.parametrize(
    ("subjects", "matches"),
    [
        (("心肺复苏",), True),  # the phrase is a keyword
        (("AED",), True),  # found in a representative line
        (("急救知识",), True),  # shares the word 急救 once cut by jieba
        (("现场急救与心肺复苏技能",), True),  # holds a keyword
        (("公文写作",), False),
        (("课",), False),  # one character never matches on its own
        ((), False),
    ],
    ids=["keyword", "example", "shared-word", "holds-keyword", "unrelated", "one-char", "none"],
)
def test_match_experts_by_phrase_or_shared_words(subjects, matches):
    """An expert matches when a subject phrase is in the topic's label/keywords/lines or shares its words."""
    found = match_experts(CPR, [ExpertEntry("王医生", "社区卫生服务中心", subjects)])
    assert found == ([{"name": "王医生", "department": "社区卫生服务中心"}] if matches else [])


def test_match_experts_keeps_directory_order_and_lists_each_once():
    """Several matching experts are listed in directory order, each once."""
    experts = [
        ExpertEntry("甲", "A", ("急救", "心肺复苏")),
        ExpertEntry("乙", "B", ("公文",)),
        ExpertEntry("丙", "C", ("心肺复苏",)),
    ]
    assert [e["name"] for e in match_experts(CPR, experts)] == ["甲", "丙"]
    assert NO_EXPERT == "需要邀请讲师"


# --------------------------------------------------------------------------- contact and validation


@pytest.mark.parametrize(
    ("contact", "shown"),
    [(PHONE, "138****5678"), ("zhang.wei@example.org", "z***@example.org"), ("010-6234 5678", "010****5678"), ("6234-5678", "****5678"), (None, None)],
    ids=["mobile", "email", "landline", "local", "none"],
)
def test_mask_contact(contact, shown):
    """A contact is shown with most of it hidden: never the whole number or address."""
    assert mask_contact(contact) == shown


def test_is_contact_accepts_one_phone_or_email():
    assert is_contact(PHONE) and is_contact("a.b@c.cn") and is_contact("(010) 6234-5678 转 12")
    assert not is_contact("找居委会") and not is_contact("12345")


def test_clean_expert_checks_each_field():
    """Subjects split on 、，；, cleaned, each once; bad fields raise with the field named."""
    draft = clean_expert(name=" 王医生 ", department="社区卫生服务中心", subjects="急救、心肺复苏；急救", contact=PHONE)
    assert (draft.name, draft.subjects, draft.contact) == ("王医生", ["急救", "心肺复苏"], PHONE)
    for fields, field in [
        ({"name": "", "department": "x", "subjects": "急救"}, "name"),
        ({"name": "王", "department": "", "subjects": "急救"}, "department"),
        ({"name": "王", "department": "x", "subjects": " 、 "}, "subjects"),
        ({"name": "王", "department": "x", "subjects": "急" * (MAX_SUBJECT + 1)}, "subjects"),
        ({"name": "王", "department": "x", "subjects": [f"主题{i}" for i in range(MAX_SUBJECTS + 1)]}, "subjects"),
        ({"name": "王", "department": "x", "subjects": "急救", "contact": "随时找我"}, "contact"),
    ]:
        with pytest.raises(ValidationFailed) as info:
            clean_expert(**fields)
        assert info.value.field == field and info.value.message


def test_limits_fit_the_columns():
    """Each limit of the directory's doors fits its column, subjects at their longest included."""
    assert TEXT_LIMITS["expert_name"] >= MAX_EXPERT_NAME
    assert TEXT_LIMITS["expert_department"] >= MAX_DEPARTMENT
    assert TEXT_LIMITS["expert_contact"] >= MAX_CONTACT
    import json

    longest = json.dumps([f"{i:02d}" + "急" * (MAX_SUBJECT - 2) for i in range(MAX_SUBJECTS)], ensure_ascii=False)
    assert len(longest) <= TEXT_LIMITS["expert_subjects"]
    assert parse_subjects(None) == []


# --------------------------------------------------------------------------- store (both databases)


def test_store_round_trip(store):
    """Add, read, update, list and delete keep every field (contact as typed)."""
    added = store.add_expert(name="王医生", department="卫生站", subjects=["急救", "心肺复苏"], contact=PHONE)
    assert store.get_expert(added["id"])["subjects"] == ["急救", "心肺复苏"]
    store.add_expert(name="李老师", department="街道办", subjects=["公文写作"], contact=None)
    assert [e["department"] for e in store.list_experts()] == sorted(["卫生站", "街道办"])
    updated = store.update_expert(added["id"], name="王医生", department="卫生站", subjects=["急救"], contact="a@b.cn")
    assert (updated["subjects"], updated["contact"]) == (["急救"], "a@b.cn")
    assert store.update_expert(9999, name="x", department="y", subjects=["z"], contact=None) is None
    assert store.delete_expert(added["id"])["name"] == "王医生"
    assert store.delete_expert(added["id"]) is None and store.get_expert(added["id"]) is None


# --------------------------------------------------------------------------- API


def test_api_crud_masks_contacts_and_audits(client, organizer_headers):
    """POST/GET/PUT/DELETE /api/experts: contacts masked in every answer, each change audited."""
    assert_error(client.get("/api/experts"), 401)
    created = client.post("/api/experts", json=FIRE, headers=organizer_headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["contact"] == "138****5678" and body["subjects"] == ["消防安全", "灭火器使用"]
    listed = client.get("/api/experts", headers=organizer_headers).json()["experts"]
    assert [e["name"] for e in listed] == ["赵站长"] and PHONE not in str(listed)
    eid = body["id"]
    assert client.get(f"/api/experts/{eid}", headers=organizer_headers).json()["contact"] == "138****5678"
    changed = client.put(f"/api/experts/{eid}", json={**FIRE, "subjects": ["消防"]}, headers=organizer_headers)
    assert changed.status_code == 200 and changed.json()["subjects"] == ["消防"]
    assert client.delete(f"/api/experts/{eid}", headers=organizer_headers).status_code == 200
    assert_error(client.get(f"/api/experts/{eid}", headers=organizer_headers), 404)
    assert_error(client.delete(f"/api/experts/{eid}", headers=organizer_headers), 404)
    audit = client.get("/api/audit?per_page=10", headers=organizer_headers).json()["items"]
    assert {"expert_add", "expert_edit", "expert_delete"} <= {e["action"] for e in audit}
    assert PHONE not in str(audit)


@pytest.mark.parametrize(
    "body",
    [
        {**FIRE, "contact": "随时找我"},
        {**FIRE, "subjects": []},
        {**FIRE, "name": ""},
        {**FIRE, "name": "王" * (MAX_EXPERT_NAME + 1)},
    ],
    ids=["contact", "no-subjects", "no-name", "long-name"],
)
def test_api_refuses_bad_experts_with_422(client, organizer_headers, body):
    """Bad input: 422 in the one error shape, nothing stored."""
    assert_error(client.post("/api/experts", json=body, headers=organizer_headers), 422)
    assert client.get("/api/experts", headers=organizer_headers).json()["experts"] == []


def test_suggestions_list_matching_experts(trained_client, organizer_headers):
    """GET /api/suggestions: the fire topic lists the fire expert; the others have none."""
    before = trained_client.get("/api/suggestions", headers=organizer_headers).json()["suggestions"]
    assert all(s["experts"] == [] for s in before)
    assert trained_client.post("/api/experts", json=FIRE, headers=organizer_headers).status_code == 201
    after = trained_client.get("/api/suggestions", headers=organizer_headers).json()["suggestions"]
    fire = [s for s in after if "消防" in s["keywords"] or "消防" in s["label"]]
    assert fire and all(s["experts"] == [{"name": "赵站长", "department": "区消防救援站"}] for s in fire)
    assert any(s["experts"] == [] for s in after)


# --------------------------------------------------------------------------- dashboard


def _login(client) -> str:
    assert client.post("/organizer/login", data={"token": ORGANIZER_TOKEN}, follow_redirects=False).status_code == 303
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/organizer/experts").text)
    assert match
    return match.group(1)


def test_dashboard_add_edit_delete(client):
    """The expert pages: add (CSRF form), the list masks the contact, only the edit form shows it, delete."""
    csrf = _login(client)
    form = {"csrf_token": csrf, "name": "王医生", "department": "社区卫生服务中心", "subjects": "急救，心肺复苏", "contact": PHONE}
    response = client.post("/organizer/experts", data=form, follow_redirects=False)
    assert response.status_code == 303
    page = client.get("/organizer/experts")
    assert "已添加专家" in page.text and "138****5678" in page.text and PHONE not in page.text
    eid = re.search(r'data-expert-id="(\d+)"', page.text).group(1)
    edit = client.get(f"/organizer/experts/{eid}/edit")
    assert edit.status_code == 200 and f'value="{PHONE}"' in edit.text and "急救、心肺复苏" in edit.text
    saved = client.post(f"/organizer/experts/{eid}", data={**form, "department": "卫生服务站"}, follow_redirects=False)
    assert saved.status_code == 303
    assert "卫生服务站" in client.get("/organizer/experts").text
    asked = client.post(f"/organizer/experts/{eid}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert asked.status_code == 200 and "从专家库删除“王医生”？" in asked.text  # a confirmation first
    assert 'value="yes"' in asked.text and "卫生服务站" in client.get("/organizer/experts").text
    gone = client.post(f"/organizer/experts/{eid}/delete", data={"csrf_token": csrf, "confirm": "yes"}, follow_redirects=False)
    assert gone.status_code == 303
    assert "专家库还是空的" in client.get("/organizer/experts").text


def test_dashboard_refused_form_keeps_what_was_typed(client):
    """A bad contact: 303 back to the list's add form (Post/Redirect/Get: a reload or a bookmark
    is that page, not the POST-only URL) with the message and every field as typed, once; without
    CSRF: 403."""
    csrf = _login(client)
    form = {"csrf_token": csrf, "name": "王医生", "department": "卫生站", "subjects": "急救", "contact": "随时找我"}
    response = client.post("/organizer/experts", data=form, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/organizer/experts#add-expert"
    shown = client.get(response.headers["location"])
    assert shown.status_code == 200
    page = parse_html(shown.text)
    assert page.find("input", name="contact").get("value") == "随时找我"
    assert page.find("input", name="subjects").get("value") == "急救"
    assert page.find("input", name="name").get("value") == "王医生"
    assert "联系方式" in page.find("p", **{"class": "form-error"}).text
    assert page.find("div", class_="flash--error") is None  # said once, in the form
    reloaded = parse_html(client.get("/organizer/experts").text)
    assert reloaded.find("p", **{"class": "form-error"}) is None
    assert reloaded.find("input", name="contact").get("value") == ""
    assert client.post("/organizer/experts", data={**form, "csrf_token": "x"}).status_code == 403
    assert client.get("/api/experts", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}).json()["experts"] == []
    assert client.get("/organizer/experts/999/edit").status_code == 404


def test_dashboard_refused_edit_goes_back_to_the_edit_page_with_what_was_typed(client):
    """A refused edit: 303 to that expert's edit page with the message and the fields as typed
    (not the stored ones); reloading it shows the stored expert; nothing is saved; another
    expert's edit page does not show it."""
    csrf = _login(client)
    stored = {"csrf_token": csrf, "name": "王医生", "department": "卫生站", "subjects": "急救", "contact": PHONE}
    client.post("/organizer/experts", data=stored)
    client.post("/organizer/experts", data={**stored, "name": "李老师"})
    ids = re.findall(r'data-expert-id="(\d+)"', client.get("/organizer/experts").text)
    eid, other = ids[0], ids[1]
    typed = {**stored, "department": "社区卫生服务中心", "contact": "随时找我"}
    refused = client.post(f"/organizer/experts/{eid}", data=typed, follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"] == f"/organizer/experts/{eid}/edit"
    page = parse_html(client.get(refused.headers["location"]).text)
    assert page.find("input", name="department").get("value") == "社区卫生服务中心"
    assert page.find("input", name="contact").get("value") == "随时找我"
    assert "联系方式" in page.find("p", **{"class": "form-error"}).text
    again = parse_html(client.get(f"/organizer/experts/{eid}/edit").text)
    assert again.find("input", name="department").get("value") == "卫生站" and again.find("p", class_="form-error") is None
    client.post(f"/organizer/experts/{eid}", data=typed)
    assert parse_html(client.get(f"/organizer/experts/{other}/edit").text).find("p", class_="form-error") is None
    assert "社区卫生服务中心" not in client.get("/organizer/experts").text


def test_dashboard_refused_form_with_a_subjects_line_too_long_to_carry_says_so(client):
    """What a refused form carries back rides in a cookie (at most 4 KB): a subjects line too long
    for it is left out and the message says to type it again, rather than the whole message being
    dropped by the browser."""
    csrf = _login(client)
    subjects = "、".join(f"{'消防安全知识讲座' * 3}{i:02d}" for i in range(40))
    form = {"csrf_token": csrf, "name": "王医生", "department": "卫生站", "subjects": subjects, "contact": ""}
    refused = client.post("/organizer/experts", data=form, follow_redirects=False)
    assert refused.status_code == 303
    assert len(refused.headers["set-cookie"]) < 4096
    page = parse_html(client.get(refused.headers["location"]).text)
    error = page.find("p", class_="form-error").text
    assert "可授课程" in error and "重新填写" in error
    assert page.find("input", name="name").get("value") == "王医生"


def test_dashboard_expert_form_urls_opened_as_pages_go_to_the_forms_page(client):
    """The POST-only expert URLs opened (GET): the edit page, not 405."""
    _login(client)
    for path in ("/organizer/experts/7", "/organizer/experts/7/delete"):
        opened = client.get(path, follow_redirects=False)
        assert opened.status_code == 303 and opened.headers["location"] == "/organizer/experts/7/edit", path


def test_dashboard_cards_show_experts_or_invite(trained_client, organizer_headers):
    """Each card says who can teach it, or 需要邀请讲师."""
    trained_client.post("/api/experts", json=FIRE, headers=organizer_headers)
    _login(trained_client)
    page = parse_html(trained_client.get("/organizer").text)
    lines = [p.text for p in page.find_all("p", **{"class": "experts-line"})]
    assert any("赵站长（区消防救援站）" in line for line in lines)
    assert any("需要邀请讲师" in line for line in lines)


# --------------------------------------------------------------------------- import and CLI


def _write_csv(path, rows, header=("专家姓名", "所在单位", "擅长领域", "联系电话")):
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_read_experts_file_maps_headers_and_reports_bad_rows(tmp_path):
    """Headers are found by name; a bad row is reported with its line and reason."""
    path = _write_csv(tmp_path / "专家.csv", [["王医生", "卫生站", "急救、心肺复苏", PHONE], ["", "街道办", "公文", ""]])
    columns, rows = read_experts_file(path)
    assert columns == {"name": "专家姓名", "department": "所在单位", "subjects": "擅长领域", "contact": "联系电话"}
    assert rows[0].expert.subjects == ["急救", "心肺复苏"]
    assert rows[1].line == 3 and "姓名" in rows[1].problem
    with pytest.raises(ImportFailed, match="可授课程"):
        read_experts_file(_write_csv(tmp_path / "b.csv", [["王", "x"]], header=("姓名", "部门")))


def test_cli_import_and_list(env, tmp_path, capsys):
    """`experts import` adds, updates on re-import, reports skipped rows; `experts list` masks contacts."""
    from openpyxl import Workbook

    from recommender.cli import main

    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "部门", "可授课程", "联系方式"])
    sheet.append(["王医生", "卫生站", "急救、心肺复苏", int(PHONE)])
    sheet.append(["李老师", "街道办", "", ""])
    path = tmp_path / "专家.xlsx"
    book.save(path)
    assert main(["--quiet", "experts", "import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "新增：1 位" in out and "有误跳过：1 行" in out and "第 3 行" in out and "姓名=“姓名”" in out
    assert main(["--quiet", "experts", "import", str(path)]) == 0
    assert "更新：1 位" in capsys.readouterr().out
    assert main(["--quiet", "experts", "list"]) == 0
    out = capsys.readouterr().out
    assert "王医生" in out and "138****5678" in out and PHONE not in out
    assert main(["--quiet", "experts", "import", str(tmp_path / "none.csv")]) == 1
    assert "找不到文件" in capsys.readouterr().err


def test_cli_import_with_named_columns(env, tmp_path, capsys):
    """Headers the mapping cannot guess are named with --name-column …; a wrong name is a clear error."""
    from recommender.cli import main

    path = _write_csv(tmp_path / "x.csv", [["王医生", "卫生站", "急救", PHONE]], header=("A", "B", "C", "D"))
    assert main(["--quiet", "experts", "import", str(path)]) == 1
    assert "找不到姓名、部门、可授课程所在的列" in capsys.readouterr().err
    args = ["--name-column", "A", "--department-column", "B", "--subjects-column", "C", "--contact-column", "D"]
    assert main(["--quiet", "experts", "import", str(path), *args]) == 0
    assert "新增：1 位" in capsys.readouterr().out
    assert main(["--quiet", "experts", "import", str(path), "--name-column", "姓名"]) == 1
    assert "找不到列“姓名”" in capsys.readouterr().err



def test_cli_suggest_lists_experts(env, trained_service, capsys):
    """`suggest --format json` carries `experts`; the table says who can teach or 需要邀请讲师."""
    import json

    from recommender.cli import main

    trained_service.experts.add(**FIRE)
    assert main(["--quiet", "suggest", "--top", "10", "--format", "json"]) == 0
    suggestions = json.loads(capsys.readouterr().out)["suggestions"]
    assert any(s["experts"] == [{"name": "赵站长", "department": "区消防救援站"}] for s in suggestions)
    assert any(s["experts"] == [] for s in suggestions)
    assert main(["--quiet", "suggest", "--top", "10"]) == 0
    out = capsys.readouterr().out
    assert "可请专家：赵站长（区消防救援站）" in out and "需要邀请讲师" in out

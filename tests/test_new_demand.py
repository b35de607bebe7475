"""Issue 14 as a new user meets it, through the service and the API: themes, lines in no
topic (未归类) and lines that ask for nothing (课堂反馈), 新出现的需求 between retrains, and a
retrain that turns new demand into a topic while keeping the others."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 (fixtures)

TAI_CHI = ["希望开一个太极拳班", "想学太极拳", "太极拳能不能开课", "社区能教太极拳吗", "太极拳入门想学学"]
PRAISE = ["讲得很好，谢谢老师", "老师辛苦了", "非常满意"]
UNRELATED = ["孩子放学后没人辅导作业", "能不能教做短视频"]


def submit(service, texts: list[str], who: str) -> None:
    now = datetime.now(timezone.utc)
    for i, text in enumerate(texts):
        service.submit(service.draft(text, segment="居民", submitter=f"{who}-{i}", submitted_at=now - timedelta(hours=i), source="api"))
    service.refresh_model()


def test_suggestions_carry_their_theme(trained_client, organizer_headers):
    """Each suggestion names its theme, and GET /api/themes lists every topic under one theme."""
    suggestions = trained_client.get("/api/suggestions?top=10", headers=organizer_headers).json()["suggestions"]
    themes = trained_client.get("/api/themes", headers=organizer_headers).json()
    listed = {t["topic_id"]: th["theme_id"] for th in themes["themes"] for t in th["topics"]}
    for s in suggestions:
        assert listed[s["topic_id"]] == s["theme_id"]
        assert s["theme_label"] in {th["label"] for th in themes["themes"]}
    topics = trained_client.get("/api/topics", headers=organizer_headers).json()["topics"]
    assert sorted(listed) == sorted(t["topic_id"] for t in topics)
    assert {"no_topic", "no_request"} <= set(themes)


def test_no_suggestion_is_a_catch_all(trained_client, organizer_headers):
    """Every suggestion's lines share its subject: most of them are about one theme of the store."""
    from tests.fixtures_organizer import theme_lines

    theme_of = {text: theme for theme, text in theme_lines()}
    suggestions = trained_client.get("/api/suggestions?top=10", headers=organizer_headers).json()["suggestions"]
    assert len(suggestions) >= 4
    for s in suggestions:
        topic = trained_client.get(f"/api/topics/{s['topic_id']}?per_page=200", headers=organizer_headers).json()
        members = [theme_of.get(m["text"]) for m in topic["members"]["items"]]
        main = max(set(members), key=members.count)
        assert members.count(main) >= 0.8 * len(members), (s["label"], members)


def test_unrelated_requests_and_praise_fit_no_topic(trained_client, trained_service, organizer_headers):
    """Between retrains, requests about new subjects go to 未归类 (never into a topic) and
    praise goes to 课堂反馈; both are counted and can be browsed."""
    before = {t["topic_id"]: t["size"] for t in trained_client.get("/api/topics", headers=organizer_headers).json()["topics"]}
    submit(trained_service, UNRELATED, "new")
    submit(trained_service, PRAISE, "fan")
    after = {t["topic_id"]: t["size"] for t in trained_client.get("/api/topics", headers=organizer_headers).json()["topics"]}
    assert after == before
    no_topic = trained_client.get("/api/no-topic?per_page=50", headers=organizer_headers).json()
    texts = [m["text"] for m in no_topic["members"]["items"]]
    assert set(UNRELATED) <= set(texts) and not set(PRAISE) & set(texts)
    praise = trained_client.get("/api/no-topic?kind=no_request", headers=organizer_headers).json()
    assert {m["text"] for m in praise["members"]["items"]} >= set(PRAISE)
    themes = trained_client.get("/api/themes", headers=organizer_headers).json()
    assert themes["no_topic"] >= len(UNRELATED) and themes["no_request"] >= len(PRAISE)


def test_new_demand_is_grouped_and_advises_a_retrain(trained_client, trained_service, organizer_headers):
    """Five people asking for tai chi since the last retrain: 「太极拳 · 5 人」 in
    /api/new-demand and on the dashboard, with the retrain advice."""
    quiet = trained_client.get("/api/new-demand", headers=organizer_headers).json()
    assert quiet["groups"] == [] and quiet["retrain_advised"] is False
    submit(trained_service, TAI_CHI, "taichi")
    submit(trained_service, UNRELATED, "other")
    body = trained_client.get("/api/new-demand", headers=organizer_headers).json()
    group = body["groups"][0]
    assert "太极拳" in group["label"] and group["people"] == 5 and group["lines"] == 5
    assert body["retrain_advised"] is True and body["no_topic"] >= 7
    from tests.test_web_organizer import _login
    from tests.helpers import parse_html

    _login(trained_client)
    page = parse_html(trained_client.get("/organizer").text)
    section = page.by_id("new-demand")
    assert section is not None and "太极拳" in section.text and "5 人" in section.text
    assert page.by_id("retrain-advice") is not None


def test_new_demand_since_is_the_organizers_day(trained_client, trained_service, monkeypatch):
    """「上次训练（…）」 is the day in RECOMMENDER_TIMEZONE: 17:01 UTC on 6 December is
    01:01 on 7 December in Beijing (the JSON keeps UTC)."""
    from tests.helpers import parse_html
    from tests.test_web_organizer import _login

    real = trained_service.new_demand

    def evening_utc():
        return {**real(), "since": "2026-12-06T17:01:27.797607+00:00"}

    monkeypatch.setattr(trained_service, "new_demand", evening_utc)
    _login(trained_client)
    section = parse_html(trained_client.get("/organizer").text).by_id("new-demand")
    assert "上次训练（2026-12-07）" in section.text


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_retrain_turns_new_demand_into_a_topic_and_keeps_the_others(trained_client, trained_service, settings, organizer_headers):
    """After the retrain the tai-chi requests are a topic labelled with their own words, the
    praise is still in no topic, and the lines that were in a topic keep its id."""
    from recommender.retrain.pipeline import train_from_store

    topics = trained_client.get("/api/topics", headers=organizer_headers).json()["topics"]
    before = {}
    for t in topics:
        items = trained_client.get(f"/api/topics/{t['topic_id']}?per_page=200", headers=organizer_headers).json()
        before.update({m["feedback_id"]: t["topic_id"] for m in items["members"]["items"]})
    submit(trained_service, TAI_CHI, "taichi")
    submit(trained_service, PRAISE, "fan")
    train_from_store(trained_service.store, settings, progress=False)
    trained_service.refresh_model()
    after = {}
    labels = {}
    for t in trained_client.get("/api/topics", headers=organizer_headers).json()["topics"]:
        items = trained_client.get(f"/api/topics/{t['topic_id']}?per_page=200", headers=organizer_headers).json()
        after.update({m["feedback_id"]: t["topic_id"] for m in items["members"]["items"]})
        labels[t["topic_id"]] = (t["label"], [m["text"] for m in items["members"]["items"]])
    kept = sum(after.get(fid) == tid for fid, tid in before.items())
    assert kept >= 0.9 * len(before)
    tai_chi = [tid for tid, (_, texts) in labels.items() if set(TAI_CHI) & set(texts)]
    assert len(tai_chi) == 1 and "太极拳" in labels[tai_chi[0]][0]
    assert not any(set(PRAISE) & set(texts) for _, texts in labels.values())


def test_a_few_new_lines_in_no_topic_do_not_advise_a_retrain(trained_client, trained_service, organizer_headers):
    """One unrelated line among the first three since the retrain is a third in no topic, but
    no retrain could make a topic of it: no advice until as many lines as the smallest topic."""
    submit(trained_service, UNRELATED[:1], "other")
    submit(trained_service, ["灭火器怎么正确使用，想学消防安全", "电信诈骗的新套路有哪些"], "known")
    body = trained_client.get("/api/new-demand", headers=organizer_headers).json()
    assert body["no_topic"] == 1 and body["unassigned_share"] >= 0.3
    assert body["retrain_advised"] is False


def test_long_messages_are_quoted_around_what_they_ask(trained_client, trained_service, organizer_headers):
    """A message of 200+ characters is quoted as the part that says what the group or topic
    is about (recommender/text/excerpt.py), not whole: the organizer reads a card, not a
    letter. The lines themselves stay whole in the store."""
    openings = [
        "我今年六十八岁，老伴前年走了，儿女都在外地工作，一个人在家时间长了总觉得闷得慌，晚上也睡不好觉，",
        "单位体检时医生说我血压偏高，膝盖也有点毛病，让我找点温和的运动坚持下去，跑步爬山肯定不行了，",
        "上个月在公园看见一群人早上锻炼，动作很慢很好看，问了才知道他们是自己凑起来的，没有老师带着练，",
        "我们楼里几个退休的姐妹商量过好几回，跳广场舞嫌吵，打麻将又伤身体，想找个大家一起学的正经东西，",
        "听说隔壁街道的夜校办得不错，开了书法、合唱和养生课，报名的人很多，我们这边一直还没有类似的课，",
    ]
    long_lines = [f"{text * 2}所以想问问：能不能开一个太极拳班，每周两次就行，费用大家可以分摊。" for text in openings]
    submit(trained_service, long_lines, "long")
    groups = trained_client.get("/api/new-demand", headers=organizer_headers).json()["groups"]
    group = next(g for g in groups if "太极拳" in g["label"])
    assert group["examples"] and all(len(e) <= 100 and group["label"] in e for e in group["examples"]), group
    no_topic = trained_client.get("/api/no-topic?per_page=50", headers=organizer_headers).json()
    assert set(long_lines) <= {m["text"] for m in no_topic["members"]["items"]}
    topics = trained_client.get("/api/topics", headers=organizer_headers).json()["topics"]
    assert all(len(e) <= 100 for t in topics for e in t["examples"])

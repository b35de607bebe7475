"""Organizers' corrections: moves, merges, splits and pins, applied at once, audited,
undoable, and kept by the next retrain (store, service and retrain; the API is in
tests/test_corrections_api.py)."""

from __future__ import annotations

import pytest

from recommender.errors import Conflict, NotFound, ValidationFailed
from recommender.retrain.pipeline import train_from_store
from tests.fixtures_organizer import trained_service  # noqa: F401 - fixture

ACTOR = "张老师"
#: Lines of the smartphone topic about paying and booking with the phone (a split picks them).
SERVICES = ("支付", "缴费", "打车", "挂号", "医保")


def topic_with(service, word: str) -> dict:
    """The topic whose label or keywords say ``word``."""
    for t in service.topics()["topics"]:
        if word in t["label"] or any(word in k for k in t["keywords"]):
            return t
    raise AssertionError(f"no topic about {word}: {[t['label'] for t in service.topics()['topics']]}")


def member_ids(service, topic_id: str) -> list[int]:
    return [m["feedback_id"] for m in service.topic(topic_id, per_page=200)["members"]["items"]]


def retrain(service, settings, engine: str = "local", dask_client=None, *, force: bool = False) -> None:
    train_from_store(service.store, settings, progress=False, engine=engine, dask_client=dask_client, force=force)
    service.refresh_model()


@pytest.fixture(params=["local", pytest.param("dask", marks=pytest.mark.slow)])
def engine(request):
    """(engine, client): the local engine, or the Dask engine on a real LocalCluster."""
    if request.param == "local":
        yield "local", None
        return
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", memory_limit="1GiB"
    ) as cluster, distributed.Client(cluster) as client:
        yield "dask", client


def test_move_puts_a_line_in_another_topic_at_once_and_undo_brings_it_back(trained_service):
    """A moved line shows in its new topic (and not the old) at once; undo restores it; both audited."""
    service = trained_service
    fire, fraud = topic_with(service, "消防"), topic_with(service, "诈骗")
    line = member_ids(service, fire["topic_id"])[0]
    done = service.move_lines([line], fraud["topic_id"], actor=ACTOR)
    assert done["kind"] == "move" and done["feedback_ids"] == [line] and done["active"]
    assert line in member_ids(service, fraud["topic_id"])
    assert line not in member_ids(service, fire["topic_id"])
    undone = service.undo_correction(done["id"], actor=ACTOR)
    assert undone["restored"] == 1 and not undone["active"]
    assert line in member_ids(service, fire["topic_id"])
    actions = [e["action"] for e in service.audit_log()["items"]]
    assert actions[:2] == ["undo", "move"]
    with pytest.raises(Conflict):
        service.undo_correction(done["id"], actor=ACTOR)


def test_move_to_no_topic_and_bad_input(trained_service):
    """A line moved to 未归类 leaves every topic; unknown topics and lines are NotFound, none picked is 422."""
    service = trained_service
    fire = topic_with(service, "消防")
    line = member_ids(service, fire["topic_id"])[0]
    service.move_lines([line], None, actor=ACTOR)
    assert line not in member_ids(service, fire["topic_id"])
    assert line in [m["feedback_id"] for m in service.no_topic(per_page=200)["members"]["items"]]
    with pytest.raises(Conflict):
        service.move_lines([line], "T9999", actor=ACTOR)
    with pytest.raises(NotFound):
        service.move_lines([10**9], fire["topic_id"], actor=ACTOR)
    with pytest.raises(ValidationFailed):
        service.move_lines([], fire["topic_id"], actor=ACTOR)


def test_merge_hides_the_merged_topic_and_undo_restores_it(trained_service):
    """After a merge one topic holds both topics' lines and the other is gone; undo splits them again."""
    service = trained_service
    fire, fraud = topic_with(service, "消防"), topic_with(service, "诈骗")
    fire_lines, fraud_lines = member_ids(service, fire["topic_id"]), member_ids(service, fraud["topic_id"])
    done = service.merge_topics(fire["topic_id"], fraud["topic_id"], actor=ACTOR)
    assert sorted(member_ids(service, fire["topic_id"])) == sorted(fire_lines + fraud_lines)
    assert fraud["topic_id"] not in [t["topic_id"] for t in service.topics()["topics"]]
    with pytest.raises(NotFound):
        service.topic(fraud["topic_id"])
    with pytest.raises(Conflict):
        service.merge_topics(fire["topic_id"], fire["topic_id"], actor=ACTOR)
    service.undo_correction(done["id"], actor=ACTOR)
    assert sorted(member_ids(service, fraud["topic_id"])) == sorted(fraud_lines)


def test_split_makes_a_new_topic_with_a_computed_or_given_label(trained_service):
    """Picked lines become a new topic at once, labelled from their words unless a label is given."""
    service = trained_service
    fire = topic_with(service, "手机")
    items = service.topic(fire["topic_id"], per_page=200)["members"]["items"]
    picked = [m["feedback_id"] for m in items if any(w in m["text"] for w in SERVICES)]
    texts = [m["text"] for m in items if m["feedback_id"] in picked]
    assert len(picked) >= 4
    done = service.split_topic(fire["topic_id"], picked, None, actor=ACTOR)
    new_id = done["topic_id"]
    assert new_id != fire["topic_id"] and done["label"]
    assert any(done["label"].split("·")[0] in t for t in texts)
    shown = {t["topic_id"]: t for t in service.topics()["topics"]}
    assert shown[new_id]["size"] == len(picked)
    assert sorted(member_ids(service, new_id)) == sorted(picked)
    assert not set(picked) & set(member_ids(service, fire["topic_id"]))
    ranked = service.suggestions(top=10)["suggestions"]
    assert new_id in [s["topic_id"] for s in ranked]
    named = service.split_topic(fire["topic_id"], member_ids(service, fire["topic_id"])[:2], "楼道隐患", actor=ACTOR)
    assert service.topic(named["topic_id"])["label"] == "楼道隐患"
    with pytest.raises(Conflict):  # lines of another topic
        service.split_topic(fire["topic_id"], picked[:1], None, actor=ACTOR)


def test_pin_is_a_toggle_listed_with_the_corrections(trained_service):
    """Pinning shows on the topic and in the list; pinning again stores nothing; unpin clears it."""
    service = trained_service
    phone = topic_with(service, "手机")
    assert service.pin_topic(phone["topic_id"], True, actor=ACTOR)["correction"]["kind"] == "pin"
    assert service.topic(phone["topic_id"])["pinned"] is True
    assert service.pin_topic(phone["topic_id"], True, actor=ACTOR)["correction"] is None
    listed = service.list_corrections()
    assert listed["pinned"] == [phone["topic_id"]] and listed["total"] == 1
    service.pin_topic(phone["topic_id"], False, actor=ACTOR)
    assert service.topic(phone["topic_id"])["pinned"] is False


def test_corrections_survive_a_retrain(trained_service, settings, engine):
    """After a move, a merge, a split and a pin, a retrain (either engine) keeps every one of them."""
    service = trained_service
    fire, extinguisher = topic_with(service, "消防安全"), topic_with(service, "灭火器")
    writing, phone, fraud = topic_with(service, "公文"), topic_with(service, "手机"), topic_with(service, "诈骗")
    moved = member_ids(service, writing["topic_id"])[0]
    service.move_lines([moved], phone["topic_id"], actor=ACTOR)
    items = service.topic(phone["topic_id"], per_page=200)["members"]["items"]
    picked = sorted(m["feedback_id"] for m in items if any(w in m["text"] for w in SERVICES))
    split = service.split_topic(phone["topic_id"], picked, "手机办事", actor=ACTOR)
    service.merge_topics(fire["topic_id"], extinguisher["topic_id"], actor=ACTOR)
    service.pin_topic(fraud["topic_id"], True, actor=ACTOR)
    merged = sorted(member_ids(service, fire["topic_id"]))
    before = service.served().version

    retrain(service, settings.model_copy(update={"dask_partition_rows": 25}), *engine)

    assert service.served().version != before
    shown = {t["topic_id"] for t in service.topics()["topics"]}
    assert moved in member_ids(service, phone["topic_id"])
    # Every picked line stays in the split topic (the model may add lines like them).
    assert set(picked) <= set(member_ids(service, split["topic_id"]))
    assert service.topic(split["topic_id"])["label"] == "手机办事"
    assert extinguisher["topic_id"] not in shown
    assert set(merged) <= set(member_ids(service, fire["topic_id"]))
    assert fraud["topic_id"] in shown and service.topic(fraud["topic_id"])["pinned"]
    # The split topic is the model's own now: new lines like it are assigned to it.
    assert split["topic_id"] in service.served().cards


def test_a_correction_is_something_new_for_a_retrain(trained_service, settings):
    """A retrain with nothing new keeps the current version; after a correction (or its undo) it refits."""
    service = trained_service
    fire, phone = topic_with(service, "消防"), topic_with(service, "手机")
    first = service.served().version
    retrain(service, settings)
    assert service.served().version == first
    done = service.move_lines(member_ids(service, fire["topic_id"])[:1], phone["topic_id"], actor=ACTOR)
    retrain(service, settings)
    second = service.served().version
    assert second != first
    service.undo_correction(done["id"], actor=ACTOR)
    retrain(service, settings)
    assert service.served().version != second


def test_undo_after_a_retrain_restores_lines_to_topics_that_still_exist(trained_service, settings):
    """Undoing a move after a retrain puts the line back in its old topic in the new version."""
    service = trained_service
    fire, phone = topic_with(service, "消防"), topic_with(service, "手机")
    line = member_ids(service, fire["topic_id"])[0]
    done = service.move_lines([line], phone["topic_id"], actor=ACTOR)
    retrain(service, settings)
    assert line in member_ids(service, phone["topic_id"])
    service.undo_correction(done["id"], actor=ACTOR)
    assert line in member_ids(service, fire["topic_id"])
    retrain(service, settings)
    assert line in member_ids(service, fire["topic_id"])


def test_store_reapplies_active_corrections_to_a_new_version(trained_service):
    """``reapply_corrections`` puts moved lines back in a new version when their topic is
    there, skips a move into a topic the version lacks, and ignores undone corrections."""
    service = trained_service
    store, version = service.store, service.served().version
    fire, phone = topic_with(service, "消防"), topic_with(service, "手机")
    a, b = member_ids(service, fire["topic_id"])[:2]
    kept = store.add_correction("move", model_version=version, actor=ACTOR, topic_id=phone["topic_id"], line_ids=[a])
    undone = store.add_correction("move", model_version=version, actor=ACTOR, topic_id=phone["topic_id"], line_ids=[b])
    store.undo_correction(undone.id, actor=ACTOR, model_version=version, known_topics={fire["topic_id"]})
    assert kept.lines == {a: fire["topic_id"]}
    # A "new version" in which the model put both lines back where they were.
    store.put_assignments("v2", [(a, fire["topic_id"], 0.5), (b, fire["topic_id"], 0.5)])
    assert store.reapply_corrections("v2", {fire["topic_id"]}) == 0  # the target is not in v2
    assert store.reapply_corrections("v2", {fire["topic_id"], phone["topic_id"]}) == 1
    assert store.topics_of_lines("v2", [a, b]) == {a: phone["topic_id"], b: fire["topic_id"]}
    assert store.protected_topics() == {phone["topic_id"]}


def test_store_pins_follow_the_latest_pin_or_unpin(trained_service):
    """The pinned set is the latest pin/unpin of each topic; undoing an unpin pins again."""
    store, version = trained_service.store, trained_service.served().version
    store.add_correction("pin", model_version=version, actor=ACTOR, topic_id="T0001")
    unpin = store.add_correction("unpin", model_version=version, actor=ACTOR, topic_id="T0001")
    assert store.pinned_topics() == set()
    store.undo_correction(unpin.id, actor=ACTOR, model_version=version, known_topics=set())
    assert store.pinned_topics() == {"T0001"} and store.protected_topics() == {"T0001"}
    assert store.undo_correction(unpin.id, actor=ACTOR, model_version=version, known_topics=set())[1] == -1
    assert store.undo_correction(10**6, actor=ACTOR, model_version=version, known_topics=set()) is None


def test_a_class_on_a_merged_topic_cools_down_the_topic_it_joined(trained_service):
    """After a merge, a class held on the merged-away topic counts for the topic it joined."""
    from datetime import date

    service = trained_service
    fire, extinguisher = topic_with(service, "消防安全"), topic_with(service, "灭火器")
    service.record_session(topic_id=extinguisher["topic_id"], title="灭火器实操", held_on=date.today(), status="held")
    service.merge_topics(fire["topic_id"], extinguisher["topic_id"], actor=ACTOR)
    ranked = {s["topic_id"]: s for s in service.suggestions(top=10)["suggestions"]}
    assert ranked[fire["topic_id"]]["recently_covered"]


def test_a_rollback_keeps_the_corrections(trained_service, settings, monkeypatch):
    """`recommender models rollback` to the version before a move: the moved line stays moved."""
    from recommender.cli import main
    from recommender.config import get_settings

    service = trained_service
    first = service.served().version
    fire, phone = topic_with(service, "消防"), topic_with(service, "手机")
    line = member_ids(service, fire["topic_id"])[0]
    retrain(service, settings, force=True)
    assert service.served().version != first
    service.move_lines([line], phone["topic_id"], actor=ACTOR)
    for name, value in (("DATABASE_URL", settings.database_url), ("DATA_DIR", str(settings.data_dir)),
                        ("MODELS_DIR", str(settings.models_dir))):
        monkeypatch.setenv(f"RECOMMENDER_{name}", value)
    get_settings.cache_clear()
    assert main(["--quiet", "models", "rollback", first]) == 0
    service.refresh_model()
    assert service.served().version == first
    assert line in member_ids(service, phone["topic_id"])

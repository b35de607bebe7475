"""RecommenderService: intake with repeats, live assignment, hot swap, suggestions."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from recommender.errors import NoModelError, ValidationFailed
from recommender.retrain.pipeline import train_from_store
from tests.feedback_corpus import feedback_rows, load_into


def test_submit_masks_and_hashes(service):
    """Stored text is masked and the submitter is kept only as a hash."""
    draft = service.draft("我的电话13812345678，想学公文写作", segment="居民", submitter="张三", source="api")
    stored = service.submit(draft)
    assert "13812345678" not in stored.text
    assert stored.submitter_hash and "张三" not in stored.submitter_hash


def test_near_identical_text_from_same_person_is_a_repeat(service):
    """The same submitter sending near-identical text within 30 days is marked a repeat."""
    at = datetime.now(timezone.utc) - timedelta(days=60)
    first = service.submit(service.draft("希望多讲讲公文写作", submitter="p1", submitted_at=at, source="api"))
    again = service.submit(
        service.draft("希望多讲讲公文写作！", submitter="p1", submitted_at=at + timedelta(days=3), source="api")
    )
    other = service.submit(
        service.draft("希望多讲讲公文写作！", submitter="p2", submitted_at=at + timedelta(days=3), source="api")
    )
    late = service.submit(
        service.draft("希望多讲讲公文写作", submitter="p1", submitted_at=at + timedelta(days=40), source="api")
    )
    assert first.repeat_of is None
    assert again.repeat_of == first.id
    assert other.repeat_of is None
    assert late.repeat_of is None


def test_repeats_inside_one_import_batch_are_linked(service):
    """Two near-identical lines from one person in the same import batch: the later is a repeat."""
    at = datetime.now(timezone.utc) - timedelta(days=10)
    drafts = [
        service.draft("消防演练怎么组织", submitter="p9", submitted_at=at, source="import:x.csv", external_id="a"),
        service.draft(
            "消防演练怎么组织？", submitter="p9", submitted_at=at + timedelta(hours=1), source="import:x.csv", external_id="b"
        ),
    ]
    ids, skipped = service.store_batch(drafts)
    assert skipped == 0
    rows = service.store.get_many(ids)
    assert rows[0].repeat_of is None and rows[1].repeat_of == rows[0].id
    assert service.store_batch(drafts) == ([], 2)


def test_no_model_means_no_suggestions_but_intake_works(service):
    """Without a model the form still takes feedback and suggestions raise NoModelError."""
    service.submit(service.draft("想学智能手机", source="form"))
    with pytest.raises(NoModelError, match="recommender train"):
        service.suggestions()


def test_new_feedback_is_assigned_within_a_pass_and_moves_suggestions(service, settings, monkeypatch):
    """A line arriving after training is assigned by the next assignment pass and counted the same day."""
    load_into(service, feedback_rows(seed=3))
    train_from_store(service.store, settings, progress=False)
    service.refresh_model()
    as_of = date(2026, 11, 20)
    before = service.suggestions(as_of=as_of, top=10)
    stored = service.submit(
        service.draft(
            "灭火器怎么正确使用",
            submitter="new-person",
            submitted_at=datetime(2026, 11, 19, tzinfo=timezone.utc),
            source="api",
        )
    )
    version = service.served().version
    assert service.assign_pending() == 1  # what each web worker runs every second
    assert service.store.assignment_count(version) == service.store.count()
    monkeypatch.setattr("recommender.service.demand.DEMAND_MAX_AGE", 0.0)  # skip the one-second refresh throttle
    after = service.suggestions(as_of=as_of, top=10)
    ids_after = {fid for s in after["suggestions"] for fid in s["feedback_ids"]}
    assert str(stored.id) in ids_after
    assert before != after


def test_hot_swap_picks_up_a_new_model_and_catches_up(service, settings):
    """After a retrain the service swaps models and assigns lines it had not seen."""
    load_into(service, feedback_rows(seed=4))
    first = train_from_store(service.store, settings, progress=False)
    service.refresh_model()
    assert service.served().version == first.version
    second = train_from_store(service.store, settings, progress=False)
    extra = service.store.add(
        __import__("recommender.store", fromlist=["NewFeedback"]).NewFeedback(
            text="电信诈骗的新套路有哪些", segment="居民", submitted_at=datetime.now(timezone.utc), source="api"
        )
    )
    service.refresh_model()
    assert service.served().version == second.version
    assert service.store.unassigned(second.version) == []
    assert extra.id in {row.id for row, _, _ in service.store.assignment_rows(second.version)}


def test_suggestions_shape_and_segment_validation(service, settings):
    """Suggestions have the INTERFACE keys; an unknown segment is a validation error."""
    load_into(service, feedback_rows(seed=5))
    train_from_store(service.store, settings, progress=False)
    service.refresh_model()
    result = service.suggestions(as_of=date(2026, 11, 1), top=3)
    assert set(result) == {"as_of", "model_version", "suggestions"}
    assert 1 <= len(result["suggestions"]) <= 3
    first = result["suggestions"][0]
    for key in (
        "topic_id", "rank", "label", "keywords", "score", "score_breakdown", "feedback_count",
        "distinct_submitters", "trend", "examples", "feedback_ids",
    ):
        assert key in first
    with pytest.raises(ValidationFailed):
        service.suggestions(segment="外星人")


def test_recorded_class_holds_a_topic_back(service, settings):
    """A class held on the top topic marks it recently covered and lowers its score."""
    load_into(service, feedback_rows(seed=6))
    train_from_store(service.store, settings, progress=False)
    service.refresh_model()
    as_of = date(2026, 11, 1)
    top = service.suggestions(as_of=as_of, top=10)["suggestions"][0]
    service.record_session(topic_id=top["topic_id"], title="专题课", held_on=date(2026, 10, 31), status="held")
    after = {s["topic_id"]: s for s in service.suggestions(as_of=as_of, top=10)["suggestions"]}
    assert after[top["topic_id"]]["recently_covered"] is True
    assert after[top["topic_id"]]["score"] < top["score"]

"""Stable topic ids across model versions (recommender.retrain.topic_identity.match_topics)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from recommender.retrain.topic_identity import PreviousTopics, match_topics


def counter(start: int = 100) -> Callable[[], str]:
    """A next_id like the store's topic counter."""
    state = {"n": start}

    def next_id() -> str:
        state["n"] += 1
        return f"T{state['n']:04d}"

    return next_id


def ids(prefix: str, n: int) -> set[str]:
    return {f"{prefix}-{k}" for k in range(n)}


def events_of(result, kind: str) -> list[dict]:
    return [event for event in result.events if event["kind"] == kind]


def test_unchanged_topics_keep_their_ids() -> None:
    """A retrain that reorders, trims and grows topics keeps (>= 90 %) of their ids."""
    rng = np.random.default_rng(0)
    n_topics, dim = 20, 16
    prev_ids = [f"T{k:04d}" for k in range(1, n_topics + 1)]
    prev_members = [ids(f"old{k}", 30) for k in range(n_topics)]
    prev_centroids = rng.normal(size=(n_topics, dim))
    order = rng.permutation(n_topics)
    new_members = [set(sorted(prev_members[k])[3:]) | ids(f"new{k}", 10) for k in order]
    new_centroids = prev_centroids[order] + rng.normal(scale=0.1, size=(n_topics, dim))

    result = match_topics(
        PreviousTopics(prev_ids, prev_members, prev_centroids), new_members, new_centroids, next_id=counter()
    )

    expected = [prev_ids[k] for k in order]
    kept = sum(got == want for got, want in zip(result.topic_ids, expected, strict=True))
    assert kept / n_topics >= 0.9
    assert result.topic_ids == expected
    assert len(events_of(result, "kept")) == n_topics
    assert result.centroid_source == "previous"


def test_growing_topic_keeps_id_on_shared_feedback() -> None:
    """A topic that gains many new feedback lines is still the same topic (Jaccard on shared ids)."""
    prev = PreviousTopics(["T0001"], [ids("a", 10)])
    result = match_topics(prev, [ids("a", 10) | ids("fresh", 90)], None, next_id=counter())
    assert result.topic_ids == ["T0001"]
    assert result.member_similarity[0, 0] == pytest.approx(1.0)


def test_new_topic_gets_a_new_id() -> None:
    """A topic unlike any previous one gets the next id and a 'new' event."""
    prev = PreviousTopics(["T0001", "T0002"], [ids("a", 20), ids("b", 20)], np.eye(3)[:2])
    new_members = [ids("b", 20), ids("c", 15), ids("a", 20)]
    result = match_topics(prev, new_members, np.eye(3)[[1, 2, 0]], next_id=counter())
    assert result.topic_ids == ["T0002", "T0101", "T0001"]
    assert events_of(result, "new") == [
        {"kind": "new", "topic_id": "T0101", "other_topic_ids": [], "new_index": 1, "split_from": None}
    ]
    assert result.matched_prev == [1, None, 0]


def test_split_is_detected() -> None:
    """A topic whose members go 60/40 to two new topics: the bigger keeps the id, the other splits off."""
    a = sorted(ids("a", 40))
    prev = PreviousTopics(["T0001", "T0002"], [set(a), ids("b", 20)])
    result = match_topics(prev, [set(a[24:]), ids("b", 20), set(a[:24])], None, next_id=counter())
    assert result.topic_ids == ["T0101", "T0002", "T0001"]
    (split,) = events_of(result, "split")
    assert split["topic_id"] == "T0001" and split["other_topic_ids"] == ["T0101"] and split["parent_kept"]
    assert split["shares"] == {"T0001": 0.6, "T0101": 0.4}
    assert events_of(result, "new")[0]["split_from"] == "T0001"
    assert not events_of(result, "retired") and not events_of(result, "merge")


def test_merge_is_detected() -> None:
    """Two previous topics that become one: the best match keeps its id, the other is merged into it."""
    a, b = ids("a", 22), ids("b", 18)
    prev = PreviousTopics(["T0001", "T0002", "T0003"], [a, b, ids("c", 20)])
    result = match_topics(prev, [ids("c", 20), a | b], None, next_id=counter())
    assert result.topic_ids == ["T0003", "T0001"]
    (merge,) = events_of(result, "merge")
    assert merge == {
        "kind": "merge",
        "topic_id": "T0001",
        "other_topic_ids": ["T0002"],
        "new_index": 1,
        "shares": {"T0002": 1.0},
    }
    assert not events_of(result, "retired") and not events_of(result, "split")


def test_retirement_is_detected() -> None:
    """A previous topic whose feedback is gone (or became noise) is retired."""
    prev = PreviousTopics(["T0001", "T0002", "T0003"], [ids("a", 20), ids("gone", 20), ids("noise", 20)])
    universe = ids("a", 20) | ids("noise", 20)
    result = match_topics(prev, [ids("a", 20)], None, next_id=counter(), universe=universe)
    assert result.topic_ids == ["T0001"]
    assert [e["topic_id"] for e in events_of(result, "retired")] == ["T0002", "T0003"]


def test_weak_pairs_are_not_matched() -> None:
    """A pair below min_similarity gets no inherited id, even if it is the only candidate."""
    prev = PreviousTopics(["T0001"], [ids("a", 40)])
    new_members = [set(sorted(ids("a", 40))[:5]) | ids("x", 30)]
    universe = ids("a", 40) | ids("x", 30)  # the other 35 "a" lines fit no topic now
    result = match_topics(prev, new_members, None, next_id=counter(), universe=universe)
    assert result.topic_ids == ["T0101"]
    assert result.similarity[0, 0] == pytest.approx(5 / 40)
    assert [e["topic_id"] for e in events_of(result, "retired")] == ["T0001"]


def test_centroids_of_another_dimension_are_ignored() -> None:
    """Previous centroids from a space of another dimension do not enter the similarity."""
    prev = PreviousTopics(["T0001", "T0002"], [ids("a", 10), ids("b", 10)], np.eye(4)[:2])
    result = match_topics(prev, [ids("b", 10), ids("a", 10)], np.eye(6)[:2], next_id=counter())
    assert result.centroid_source == "none" and result.centroid_similarity is None
    assert result.topic_ids == ["T0002", "T0001"]


def test_reprojected_centroids_match_without_shared_members() -> None:
    """With no shared feedback, centroids re-projected into the new space still carry ids over."""
    prev = PreviousTopics(["T0001", "T0002"], [ids("a", 10), ids("b", 10)], np.ones((2, 7)))
    new_centroids = np.array([[0.0, 1.0, 0.1], [1.0, 0.0, 0.1]])
    result = match_topics(
        prev,
        [ids("x", 10), ids("y", 10)],
        new_centroids,
        next_id=counter(),
        prev_centroids_in_new_space=np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
    )
    assert result.centroid_source == "reprojected"
    assert result.topic_ids == ["T0002", "T0001"]


def test_no_previous_model_gives_all_new_ids() -> None:
    """The first model gets fresh ids in topic order."""
    result = match_topics(None, [ids("a", 3), ids("b", 3)], np.eye(2), next_id=counter())
    assert result.topic_ids == ["T0101", "T0102"]
    assert [e["kind"] for e in result.events] == ["new", "new"]


def test_matching_is_deterministic() -> None:
    """The same input gives the same ids and events."""
    prev = PreviousTopics(["T0001", "T0002"], [ids("a", 10), ids("b", 10)])
    new = [ids("a", 5) | ids("b", 5), ids("c", 4)]
    first = match_topics(prev, new, None, next_id=counter())
    second = match_topics(prev, new, None, next_id=counter())
    assert first.topic_ids == second.topic_ids and first.events == second.events


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prev": PreviousTopics(["T1", "T1"], [set(), set()])}, "duplicates"),
        ({"prev": PreviousTopics(["T1"], [set(), set()])}, "member sets"),
        ({"new_centroids": np.eye(3)}, "shape"),
        ({"next_id": lambda: "T1"}, "already in use"),
        ({"overlap_weight": 1.5}, "overlap_weight"),
    ],
    ids=["duplicate-ids", "length-mismatch", "centroid-rows", "id-collision", "weight"],
)
def test_bad_input_is_refused(kwargs: dict, message: str) -> None:
    """Inconsistent input raises ValueError naming the problem."""
    arguments = {
        "prev": PreviousTopics(["T1"], [ids("a", 5)]),
        "new_members": [ids("a", 5), ids("b", 5)],
        "new_centroids": None,
        "next_id": counter(),
    } | kwargs
    with pytest.raises(ValueError, match=message):
        match_topics(
            arguments.pop("prev"), arguments.pop("new_members"), arguments.pop("new_centroids"), **arguments
        )


def test_a_topic_the_model_carried_over_keeps_its_id_whatever_the_overlap() -> None:
    """The model's own continuation (``continues``) wins over the similarity match: a topic
    that lost most of its shared lines to a neighbour still keeps its id, and the others
    are matched among themselves."""
    prev = PreviousTopics(["T0001", "T0002"], [ids("a", 20), ids("b", 20)])
    # New topic 0 holds most of a; new topic 1 holds a little of a and most of b.
    new_members = [ids("a", 12), set(sorted(ids("a", 20))[12:]) | ids("b", 4)]
    unforced = match_topics(prev, new_members, None, next_id=counter())
    forced = match_topics(prev, new_members, None, next_id=counter(), continues=["T0002", None])
    assert unforced.topic_ids[0] == "T0001"
    assert forced.topic_ids == ["T0002", "T0001"]
    assert forced.matched_prev == [1, 0]


def test_a_continuation_to_an_unknown_id_is_ignored() -> None:
    prev = PreviousTopics(["T0001"], [ids("a", 20)])
    result = match_topics(prev, [ids("a", 20)], None, next_id=counter(), continues=["T0099"])
    assert result.topic_ids == ["T0001"]

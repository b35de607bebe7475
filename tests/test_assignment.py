"""Open-set assignment (recommender/model/assignment.py) on small vectors the tests build:
what counts as evidence for joining a topic, and what the familiarity score weighs."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.model.assignment import build_index


def unit(*rows: list[float]) -> np.ndarray:
    Z = np.asarray(rows, dtype=np.float64)
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


# One topic about video calls: 20 lines near e1, spread a little towards e2.
MEMBERS = unit(*[[1.0, 0.02 * i, 0.0] for i in range(20)])
MEMBER_TOKENS = [["微信", "视频", "通话"] if i % 2 else ["视频", "通话", "怎么", "设置"] for i in range(20)]
KNOWN = {w: i for i, w in enumerate(["微信", "视频", "通话", "怎么", "设置", "手机"])}


@pytest.fixture(scope="module")
def index():
    return build_index(
        MEMBERS, [np.arange(20)], [frozenset({"视频"})], min_similarity=0.1, known_words=KNOWN, tokens=MEMBER_TOKENS
    )


FAR = unit([0.3, 0.0, 1.0])  # cosine about 0.29 to the topic: above min_similarity, below every member


def test_a_distinctive_word_joins_a_line_of_established_words(index):
    labels, _ = index.assign(FAR, [["手机", "视频", "通话"]])
    assert labels.tolist() == [0]


def test_a_distinctive_word_alone_does_not_join_a_far_line_about_something_new(index):
    """视频 in 「短视频剪辑直播带货」: most of its words are new to the store and it is far from
    every member, so the word is incidental: no topic."""
    labels, _ = index.assign(FAR, [["视频", "剪辑", "直播", "带货"]])
    assert labels.tolist() == [-1]


def test_a_line_about_something_new_still_joins_by_its_word_when_close(index):
    close = unit([1.0, 0.05, 0.0])
    labels, _ = index.assign(close, [["视频", "剪辑", "直播", "带货"]])
    assert labels.tolist() == [0]


def test_closeness_floor_is_near_the_weakest_members(index):
    """Without a distinctive word a line joins by closeness when it is about as close to the
    topic as its weakest members (the 5th percentile of their similarity), not only when it
    is as close as the closest nine tenths."""
    own = np.sort(MEMBERS @ index.centroids[0])
    assert index.floors[0] == pytest.approx(np.percentile(own, 5))
    assert index.floors[0] < np.percentile(own, 10)
    # Between the two: joins (tokens all established, no distinctive word).
    target = (np.percentile(own, 5) + np.percentile(own, 10)) / 2
    c = index.centroids[0]
    side = np.cross(c, [0.0, 0.0, 1.0])
    side /= np.linalg.norm(side)
    line = target * c + np.sqrt(1 - target**2) * side
    labels, _ = index.assign(line[None, :], [["微信", "通话"]])
    assert labels.tolist() == [0]


def test_known_share_weighs_words_by_how_specific_they_are(index):
    """An unknown 太极拳 (general IDF 9.9) makes a line less familiar than an unknown 然后 (4.8)."""
    lines = [["视频", "太极拳"], ["视频", "然后"]]
    plain = index.known_share(lines)
    weighted = index.known_share(lines, weighted=True)
    assert plain.tolist() == [0.5, 0.5]
    assert weighted[0] < 0.5 < weighted[1]
    _, scores = index.assign(unit([1.0, 0.1, 0.0], [1.0, 0.1, 0.0]), lines)
    assert scores[0] < scores[1]

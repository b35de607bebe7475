"""A subject new in the store is a topic of its own wherever its few lines fell
(discovery.split_subjects with ``recent``): six recent complaints about a mixing plant, two
in a broad noise topic and four in no topic, among older lines written here."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from recommender.model.discovery import Topic, recent_rise, split_subjects


def _store(plant_recent: list[bool], host_recent_share: float = 0.5, in_host: int = 2):
    """A host topic of 40 noise lines (half of them recent), ``len(plant_recent)`` lines about
    a mixing plant (``in_host`` of them in the host, the rest in no topic), 20 other lines."""
    host = [["噪音", "扰民", f"来源{i}"] for i in range(40)]
    plant = [["搅拌站", "噪音", "扰民"] if i < in_host else ["搅拌站", "夜间", f"地点{i}"] for i in range(len(plant_recent))]
    other = [["公积金", f"问题{i}"] for i in range(20)]
    tokens = host + plant + other
    labels = np.array([0] * 40 + [0] * in_host + [-1] * (len(plant) - in_host) + [1] * 20)
    topics = [Topic(members=np.arange(40), terms=["噪音", "扰民"]), Topic(members=np.arange(40 + len(plant), len(tokens)), terms=["公积金"])]
    recent = np.array([i < host_recent_share * 40 for i in range(40)] + plant_recent + [i % 2 == 0 for i in range(20)])
    return tokens, labels, topics, recent


def _split(tokens, labels, topics, recent=None, prior=None):
    counts = Counter(w for toks in tokens for w in set(toks))
    return split_subjects(topics, labels, tokens, counts, len(tokens), set(), prior, 5, recent)


def test_a_new_subject_mostly_in_no_topic_is_a_topic_of_its_own():
    tokens, labels, topics, recent = _store([True] * 6)
    assert len(_split(tokens, labels, topics)) == 2  # without recency: only two of six in a topic
    out = _split(tokens, labels, topics, recent)
    assert len(out) == 3
    assert sorted(out[2].members.tolist()) == list(range(40, 46))
    assert "搅拌站" in out[2].terms
    assert not set(out[0].members.tolist()) & set(range(40, 46))


def test_one_older_line_among_six_recent_ones_is_still_new():
    tokens, labels, topics, recent = _store([True] * 6 + [False])
    assert len(_split(tokens, labels, topics, recent)) == 3


def test_a_word_as_old_as_the_store_is_no_new_subject():
    """Half recent, as the store's lines are: six people sharing a rare word is common."""
    tokens, labels, topics, recent = _store([True, False] * 4)
    assert len(_split(tokens, labels, topics, recent)) == 2


def test_a_word_of_a_topic_that_is_new_as_a_whole_is_an_aspect_of_it():
    """The host's other lines are as recent as the word's (电动车 inside a new 「充电桩」)."""
    tokens, labels, topics, recent = _store([True] * 6, host_recent_share=1.0)
    assert len(_split(tokens, labels, topics, recent)) == 2


def test_the_host_subject_itself_never_splits_off():
    tokens, labels, topics, recent = _store([True] * 6)
    topics[0].terms = ["搅拌站", "噪音"]
    assert len(_split(tokens, labels, topics, recent)) == 2


def test_recent_rise_is_the_posterior_that_the_share_rose():
    assert recent_rise(6, 1, 0.5) == pytest.approx(1 - 9 / 256)  # the ranking's 0.965
    assert recent_rise(5, 1, 0.5) == pytest.approx(0.9375)
    assert recent_rise(6, 1, 0.6) < recent_rise(6, 1, 0.5)
    with pytest.raises(ValueError):
        recent_rise(-1, 0, 0.5)


def test_the_service_reads_recent_lines_off_the_newest_line():
    from datetime import datetime, timedelta, timezone

    from recommender.retrain.pipeline import recent_lines

    newest = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    times = [newest - timedelta(days=d) for d in (0, 10, 29, 31, 45)]
    assert recent_lines(times, 30).tolist() == [True, True, True, False, False]
    assert recent_lines([], 30).size == 0


def test_fit_refuses_a_recent_mask_of_another_length():
    from recommender.model import TopicModel

    with pytest.raises(ValueError, match="recent has 2 entries"):
        TopicModel(random_state=0).fit(["公积金贷款额度", "灭火器怎么用", "公积金提取"], recent=[True, False])

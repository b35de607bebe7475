"""Open-set assignment (recommender/model/assignment.py) on small vectors the tests build:
what counts as evidence for joining a topic, and what the familiarity score weighs."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.model.assignment import build_index


def unit(*rows: list[float]) -> np.ndarray:
    Z = np.asarray(rows, dtype=np.float64)
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


# One topic about video calls: 20 lines near e1, spread towards e2 at growing angles apart
# (0.002, 0.004, ... radians), so members differ in how close their nearest member is.
ANGLES = np.cumsum([0.0] + [0.002 * k for k in range(1, 20)])
MEMBERS = np.stack([np.cos(ANGLES), np.sin(ANGLES), np.zeros(20)], axis=1)
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


def test_a_line_as_close_to_a_member_as_most_members_are_joins(index):
    """Without a distinctive word a line joins by closeness when it is as close to one of
    the topic's members as the least connected tenth of members are to theirs (and close
    enough to the centroid), not only when it beats the least connected quarter."""
    S = MEMBERS @ MEMBERS.T
    np.fill_diagonal(S, -np.inf)
    nn = S.max(axis=1)
    assert index.neighbour_floors[0] == pytest.approx(np.percentile(nn, 10))
    # Off the plane of the members, at an angle to the most central member between the
    # 10th and the 25th percentile of the members' own nearest angles.
    delta = (np.arccos(np.percentile(nn, 10)) + np.arccos(np.percentile(nn, 25))) / 2
    j = int(np.argmax(MEMBERS @ index.centroids[0]))
    line = np.cos(delta) * MEMBERS[j] + np.sin(delta) * np.array([0.0, 0.0, 1.0])
    assert line @ index.centroids[0] >= index.floors[0]
    labels, _ = index.assign(line[None, :], [["微信", "通话"]])  # established words, no distinctive one
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


@pytest.mark.parametrize(
    "word,noun", [("太极拳", True), ("灭火器", True), ("梅西", False), ("英语", False), ("首映", False), ("短视频", False)]
)
def test_common_nouns_are_those_jieba_tags_n(word, noun):
    """A common noun (太极拳, 灭火器) is a thing a line is about; a name (梅西), a proper noun
    (英语, nz), a verb (首映) or a word jieba's dictionary lacks (短视频) is not one."""
    from recommender.text.lexicon import is_common_noun

    assert is_common_noun(word) is noun


def test_the_score_counts_an_unknown_common_noun_more_than_a_new_verb_or_name(index):
    """A new 太极拳 (a common noun) says more about what a line is about than a new 首映 (a
    verb) or 梅西 (a name): in the share the score uses it counts ``SUBJECT_NOUN_WEIGHT``
    times its general IDF, so the line scores lower; the share the tests of acceptance use
    (``weighted``) is unchanged."""
    from recommender.model.assignment import SUBJECT_NOUN_WEIGHT, UNLISTED_IDF
    from recommender.text.lexicon import general_idf

    assert SUBJECT_NOUN_WEIGHT > 1
    lines = [["视频", "太极拳"], ["视频", "首映"], ["视频", "梅西"]]
    a = general_idf("视频")
    new = [general_idf("太极拳"), general_idf("首映"), general_idf("梅西") or UNLISTED_IDF]
    plain = index.known_share(lines, weighted=True)
    assert plain == pytest.approx([a / (a + b) for b in new])
    scored = index.known_share(lines, weighted=True, subject_nouns=True)
    assert scored == pytest.approx([a / (a + SUBJECT_NOUN_WEIGHT * new[0]), plain[1], plain[2]])
    Z = np.repeat(unit([1.0, 0.1, 0.0]), 3, axis=0)
    _, scores = index.assign(Z, lines)
    # The same latent row: the scores (mean of the nearest line and the share) differ by the share only.
    assert scores[1] - scores[0] == pytest.approx((scored[1] - scored[0]) / 2, abs=1e-6)
    assert scores[2] - scores[0] == pytest.approx((scored[2] - scored[0]) / 2, abs=1e-6)
    assert scores[0] < scores[1]  # without the weight 太极拳 (9.9) would count less than 首映 (10.9)


def test_the_score_adds_the_nearest_reference_line_in_tfidf_space():
    # The same latent rows and words as the fixture; TF-IDF rows: every member has features
    # 0 and 1, so a new line with those features repeats the store's wording, one with
    # feature 2 only shares nothing of it, whatever its latent vector.
    import scipy.sparse as sp

    X = sp.csr_matrix(np.tile([1.0, 2.0, 0.0], (20, 1)))
    with_rows = build_index(
        MEMBERS, [np.arange(20)], [frozenset({"视频"})], min_similarity=0.1, known_words=KNOWN,
        tokens=MEMBER_TOKENS, X=X,
    )
    assert with_rows.reference_features.shape == (3, 20)
    Z = np.vstack([MEMBERS[3], MEMBERS[3]])
    words = [["视频", "通话"], ["视频", "通话"]]
    new = sp.csr_matrix([[2.0, 4.0, 0.0], [0.0, 0.0, 5.0]])
    labels, scores = with_rows.assign(Z, words, X=new)
    assert labels.tolist() == [0, 0]  # the score does not decide the topic
    # Latent 1 and known share 1 for both; TF-IDF cosine 1 against 0.
    assert scores == pytest.approx([1.0, 2.0 / 3.0], abs=1e-6)
    with pytest.raises(ValueError, match="pass X"):
        with_rows.assign(Z, words)
    assert with_rows.subset([0]).reference_features is with_rows.reference_features


def test_a_distinctive_word_does_not_join_a_far_line_whose_specific_word_is_new(index):
    """「来一首青花瓷」 beside a topic about poems (一首): half its words are known, but the
    new one is the specific one (太极拳 here, general IDF 9.9): by IDF most of what the line
    is about is new, so the frame word is no evidence. A line whose new word is a common one
    (然后, 4.8) still joins by its distinctive word."""
    labels, _ = index.assign(np.vstack([FAR, FAR]), [["视频", "太极拳"], ["视频", "然后"]])
    assert labels.tolist() == [-1, 0]


# The nearest-lines rule (nearest_lines.py): the fixture's topic, 6 training lines in no
# topic near e3 (familiar text that fits no topic), and TF-IDF rows: members use features 0
# and 1, the other lines feature 2.
OUTSIDE_ANGLES = 0.6 + 0.02 * np.arange(6)
OUTSIDE = np.stack([np.zeros(6), np.sin(OUTSIDE_ANGLES), np.cos(OUTSIDE_ANGLES)], axis=1)
BEYOND = ANGLES[-1] + 0.01  # along the members' arc, a little past the outermost member


@pytest.fixture(scope="module")
def with_lines():
    import scipy.sparse as sp

    Z = np.vstack([MEMBERS, OUTSIDE])
    X = sp.csr_matrix(np.vstack([np.tile([1.0, 2.0, 0.0], (20, 1)), np.tile([0.0, 0.0, 1.0], (6, 1))]))
    tokens = MEMBER_TOKENS + [["手机", "设置"]] * 6
    return build_index(
        Z, [np.arange(20)], [frozenset({"视频"})], min_similarity=0.1, known_words=KNOWN, tokens=tokens, X=X
    ), Z, X, tokens


def test_a_line_whose_nearest_training_lines_are_members_joins_their_topic(with_lines):
    """A new line just past the outermost member: below the centroid floor (the core's own
    weakest members), no distinctive word, but its nearest training line by meaning and by
    wording is a member, as close as the store's lines are to their own nearest: it is a new
    line of the topic."""
    import scipy.sparse as sp

    index, *_ = with_lines
    line = np.array([[np.cos(BEYOND), np.sin(BEYOND), 0.0]])
    assert line[0] @ index.centroids[0] < index.floors[0]
    labels, _ = index.assign(line, [["微信", "通话"]], X=sp.csr_matrix([[1.0, 2.0, 0.0]]))
    assert labels.tolist() == [0]
    # The same place with a new specific word (太极拳, IDF 9.9) beside a known one (通话, 9.0):
    # what the line is about is new.
    labels, _ = index.assign(line, [["通话", "太极拳"]], X=sp.csr_matrix([[1.0, 2.0, 0.0]]))
    assert labels.tolist() == [-1]
    # Its wording is that of the lines in no topic: familiar text that fits no topic.
    labels, _ = index.assign(line, [["微信", "通话"]], X=sp.csr_matrix([[0.0, 0.0, 1.0]]))
    assert labels.tolist() == [-1]
    # Far from every line by meaning and wording (nothing in common): no topic.
    far = unit([0.5, 1.0, 0.0])
    labels, _ = index.assign(far, [["微信", "通话"]], X=sp.csr_matrix([[0.0, 1.0, 0.0]]))
    assert labels.tolist() == [-1]


def test_the_training_lines_keep_their_topics_when_assigned_again(with_lines):
    index, Z, X, tokens = with_lines
    labels, _ = index.assign(Z, tokens, X=X)
    assert labels.tolist() == [0] * 20 + [-1] * 6
    assert sorted(index.reference_labels.tolist()) == [-1] * 6 + [0] * 20


def test_a_subset_renumbers_the_reference_lines_topics():
    import scipy.sparse as sp

    Z = np.vstack([MEMBERS, OUTSIDE])
    X = sp.csr_matrix(np.vstack([np.tile([1.0, 2.0, 0.0], (20, 1)), np.tile([0.0, 0.0, 1.0], (6, 1))]))
    tokens = MEMBER_TOKENS + [["手机", "设置"]] * 6
    two = build_index(
        Z, [np.arange(20), np.arange(20, 26)], [frozenset({"视频"}), frozenset({"手机"})], min_similarity=0.1,
        known_words=KNOWN, tokens=tokens, X=X,
    )
    assert sorted(two.reference_labels.tolist()) == [0] * 20 + [1] * 6
    assert sorted(two.subset([1, 0]).reference_labels.tolist()) == [0] * 6 + [1] * 20
    assert sorted(two.subset([1]).reference_labels.tolist()) == [-1] * 20 + [0] * 6


def test_an_index_saved_before_the_nearest_lines_rule_still_assigns(with_lines):
    """Models saved before this rule have no reference topics: they assign without it."""
    import pickle

    import scipy.sparse as sp

    index, *_ = with_lines
    state = dict(pickle.loads(pickle.dumps(index)).__dict__)
    del state["reference_labels"], state["reference_floors"]
    old = object.__new__(type(index))
    old.__dict__.update(state)
    line = np.array([[np.cos(BEYOND), np.sin(BEYOND), 0.0]])
    labels, _ = old.assign(line, [["微信", "通话"]], X=sp.csr_matrix([[1.0, 2.0, 0.0]]))
    assert labels.tolist() == [-1]

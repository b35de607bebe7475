"""A line in no topic joins the topic its neighbourhood agrees on (nearest_lines.spread and
join_by_agreement), on small vectors the tests build: a topic's members around e1, another
topic's around e2, lines in no topic around e3."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.model.nearest_lines import AGREE_NEIGHBOURS, join_by_agreement, spread


def arc(axis: int, towards: int, angles: np.ndarray) -> np.ndarray:
    """Unit vectors in 3 dimensions at ``angles`` from axis ``axis`` towards ``towards``."""
    V = np.zeros((angles.size, 3))
    V[:, axis], V[:, towards] = np.cos(angles), np.sin(angles)
    return V


TOPIC_0 = arc(0, 2, 0.02 * np.arange(8))  # around e1, leaning towards e3
TOPIC_1 = arc(1, 2, 0.02 * np.arange(8))  # around e2
NO_TOPIC = arc(2, 0, 0.5 + 0.03 * np.arange(16))  # 16 lines between e3 and e1, in no topic
INSIDE = arc(0, 2, np.array([0.07]))  # among topic 0's members, but in no topic
BETWEEN = np.array([[np.sqrt(0.5), np.sqrt(0.5), 0.0]])  # as near topic 1 as topic 0
Z = np.vstack([TOPIC_0, TOPIC_1, NO_TOPIC, INSIDE, BETWEEN])
LABELS = np.array([0] * 8 + [1] * 8 + [-1] * 16 + [-1, -1])


def similarities(Z: np.ndarray) -> np.ndarray:
    S = Z @ Z.T
    np.fill_diagonal(S, -np.inf)
    return S


def test_a_line_whose_neighbourhood_agrees_joins_the_topic_and_a_disputed_one_stays_out():
    assert Z.shape[0] > AGREE_NEIGHBOURS + 1  # the neighbourhood is not every line
    S = similarities(Z)
    labels, floors = spread(LABELS, S, S.copy(), np.ones(Z.shape[0], dtype=bool), 2)
    # INSIDE: its nearest lines in a topic are all topic 0's, as close as the members are
    # to each other; BETWEEN's are of both topics; the lines in no topic near e3 have
    # topic-0 lines among their neighbours, but are further from them than members are.
    assert labels[-2] == 0
    assert labels[-1] == -1
    assert (labels[16:32] == -1).all()
    assert (labels[:16] == LABELS[:16]).all()
    assert np.isfinite(floors).all() and floors.shape == (2, 2)


def test_a_line_that_may_not_join_stays_out():
    S = similarities(Z)
    allowed = np.ones(Z.shape[0], dtype=bool)
    allowed[-2] = False  # most of its words are new to the store
    labels, _ = spread(LABELS, S, S.copy(), allowed, 2)
    assert labels[-2] == -1


def test_a_new_line_joins_by_the_reference_lines_neighbourhood():
    """The same rule for a new line against the reference lines and their topics: a line
    amid topic 0's members joins it even when its single nearest reference line is in no
    topic; one as near topic 1 as topic 0 stays out."""
    reference = np.vstack([TOPIC_0, TOPIC_1, NO_TOPIC])
    labels = LABELS[:32]
    S = similarities(reference)
    _, floors = spread(labels, S, S.copy(), np.ones(32, dtype=bool), 2)
    new = np.vstack([arc(0, 2, np.array([0.05])), BETWEEN])
    near_no_topic = np.vstack([reference, arc(0, 2, np.array([0.0501]))])  # a line in no topic right by it
    ref_labels = np.append(labels, -1)
    sims = new @ near_no_topic.T
    assert ref_labels[sims[0].argmax()] == -1
    joined = join_by_agreement(
        np.array([-1, -1]), sims, sp.csr_matrix(np.maximum(sims, 0)), ref_labels, floors, np.array([True, True])
    )
    assert joined.tolist() == [0, -1]


def test_a_topic_without_reference_lines_gets_a_floor_no_line_reaches():
    """A large store's reference lines are a sample: a topic may have none of them."""
    S = similarities(Z)
    _, floors = spread(LABELS, S, S.copy(), np.ones(Z.shape[0], dtype=bool), 3)
    assert floors.shape == (2, 3) and np.isinf(floors[:, 2]).all()

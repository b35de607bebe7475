"""A one-domain store (bench/RESULTS.md, "One-domain stores: a learned question-type
("frame") test, not kept", branch s27-a): every line is subject × question type, 「糖尿病是怎么回事」,
「白癜风哪家医院好」. An organizer of a single-subject programme needs topics named by the
subjects (a class on 糖尿病), not by the question types (「怎么回事」 cannot be taught).

Known limitation, kept as a strict expected failure until discovery judges it: on main the
store's topics are the six question types; the question-type words are in 12 lines each, the
subjects in 6, so the latent space's directions are the question types and the boilerplate
tests make the subjects generic."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.model import TopicModel

SUBJECTS = ["糖尿病", "白癜风", "高血压", "胃炎", "失眠", "便秘", "湿疹", "痛风", "哮喘", "鼻炎", "痔疮", "颈椎病"]
QUESTION_TYPES = ["{}是怎么回事", "{}是什么原因引起的", "{}哪家医院好", "{}吃什么好", "{}能治好吗", "{}的费用大概多少"]
TEXTS = [q.format(s) for s in SUBJECTS for q in QUESTION_TYPES]


@pytest.mark.xfail(strict=True, reason="question-type topics on a one-domain store (bench/RESULTS.md, s27-a)")
def test_a_one_domain_store_is_offered_its_subjects_not_its_question_types():
    model = TopicModel(random_state=0).fit(TEXTS)
    sizes = np.bincount(model.labels_[model.labels_ >= 0], minlength=model.n_topics_)
    top = [model.topics_[int(t)]["label"] for t in np.argsort(-sizes, kind="stable")[:5]]
    assert len(top) >= 3
    assert all(any(s in label for s in SUBJECTS) for label in top), top

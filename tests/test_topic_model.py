"""Tests of recommender.model.TopicModel on tiny hand-written corpora with known themes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import homogeneity_score, normalized_mutual_info_score

from recommender.model import TopicModel
from recommender.text.tokenize import tokenize

TEMPLATES = ["希望多讲讲{}", "建议开设{}课程", "能不能讲一下{}", "{}怎么办", "想学习{}", "下次讲讲{}吧，谢谢老师"]

# Each theme's lines share an anchor word, as real requests about one subject do.
THEMES = {
    "fire": ["灭火器和消防安全", "消防安全常识", "火灾逃生和消防", "消防通道堵塞", "消防器材放在哪里", "电动车充电消防隐患", "家庭消防安全", "消防报警电话"],
    "phone": ["智能手机拍照", "手机微信视频", "智能手机挂号", "手机支付安全", "智能手机字体调大", "手机清理内存", "手机微信发语音", "手机下载软件"],
    "writing": ["公文写作格式", "公文通知的写法", "公文写作规范", "公文会议纪要写法", "公文工作总结写法", "公文请示报告格式", "公文标题写法", "通知公文格式"],
    "fraud": ["防诈骗知识", "电信诈骗手段", "识别诈骗电话", "网络诈骗防范", "老人防诈骗", "冒充客服诈骗", "刷单诈骗", "诈骗短信识别"],
}


def themed_corpus(themes: list[str] | None = None, repeats: int = 1) -> tuple[list[str], list[int]]:
    """Lines of the given themes (all by default) and the index of each line's theme."""
    names = themes or list(THEMES)
    texts, truth = [], []
    for r in range(repeats):
        for t, name in enumerate(names):
            for i, phrase in enumerate(THEMES[name]):
                texts.append(TEMPLATES[(i + r + t) % len(TEMPLATES)].format(phrase))
                truth.append(t)
    return texts, truth


ANCHORS = {"fire": "消防", "phone": "手机", "writing": "公文", "fraud": "诈骗"}


@pytest.fixture(scope="module")
def corpus():
    return themed_corpus(repeats=3)


@pytest.fixture(scope="module")
def fitted(corpus):
    return TopicModel(n_topics=4, random_state=0).fit(corpus[0])


def test_fixed_k_recovers_known_themes(corpus, fitted):
    """With k = 4 on four obvious themes, topics match the themes."""
    texts, truth = corpus
    assert fitted.n_topics_ == 4
    assert normalized_mutual_info_score(truth, fitted.labels_) >= 0.8


def test_fixed_k_labels_name_the_themes(fitted):
    """Each theme's anchor word appears in some topic's label or top keywords."""
    described = [" ".join([t["label"], *t["keywords"][:3]]) for t in fitted.topics_]
    for anchor in ANCHORS.values():
        assert any(anchor in d for d in described), (anchor, described)


@pytest.mark.parametrize("random_state", [0, 1], ids=["seed0", "seed1"])
def test_automatic_number_of_topics_gives_pure_topics(corpus, random_state):
    """With n_topics=None topics are (nearly) pure: a theme may be split, themes are not mixed."""
    texts, truth = corpus
    model = TopicModel(random_state=random_state).fit(texts)
    assert 4 <= model.n_topics_ <= 8
    assert homogeneity_score(truth, model.labels_) >= 0.85
    assert normalized_mutual_info_score(truth, model.labels_) >= 0.7


@pytest.mark.parametrize("theme", list(THEMES))
def test_one_theme_is_one_topic_without_noise(theme):
    """A corpus about one subject is one topic, with (nearly) no line in -1."""
    texts, _ = themed_corpus([theme], repeats=3)
    model = TopicModel().fit(texts)
    assert model.n_topics_ == 1
    assert (model.labels_ == -1).mean() <= 0.1
    assert ANCHORS[theme] in " ".join([model.topics_[0]["label"], *model.topics_[0]["keywords"]])


@pytest.mark.parametrize("n_topics", [None, 4], ids=["automatic", "fixed"])
def test_different_seeds_give_the_same_topics(corpus, n_topics):
    """The clustering is deterministic: fits with different random_state agree."""
    texts, _ = corpus
    a = TopicModel(n_topics=n_topics, random_state=0).fit(texts)
    b = TopicModel(n_topics=n_topics, random_state=1).fit(texts)
    assert a.n_topics_ == b.n_topics_
    assert normalized_mutual_info_score(a.labels_, b.labels_) >= 0.95


def test_demo_feedback_gives_readable_topics_and_named_requests():
    """The bundled demo (about 12 themes plus two recurring named requests) gets a
    moderate number of topics, and each named request has a topic of its own."""
    from recommender.door.demo import demo_feedback

    texts = [row["text"] for row in demo_feedback()]
    model = TopicModel(random_state=0).fit(texts)
    assert 8 <= model.n_topics_ <= 20
    assert model.n_topics_ < model.max_topics
    assert (model.labels_ == -1).mean() <= 0.05
    for name, anchor in [("灭火器使用", "灭火器"), ("居住证办理", "居住证")]:
        about = np.array([anchor in t for t in texts])
        values, counts = np.unique(model.labels_[about], return_counts=True)
        main = int(values[np.argmax(counts)])
        assert main >= 0 and counts.max() >= 0.7 * about.sum(), name
        topic = model.topics_[main]
        assert anchor in topic["label"], (name, topic["label"])
        # its own topic: most of its lines are about the named thing
        assert about[model.labels_ == main].mean() >= 0.7, (name, topic["examples"])


@pytest.mark.parametrize("closing", ["，请尽快处理", "请相关部门尽快解决！", "（来自微信小程序）"], ids=["request", "addressee", "template"])
def test_a_closing_on_every_line_does_not_make_one_theme(closing):
    """Themes stay apart when every line ends with the same closing request or template."""
    texts, truth = themed_corpus(repeats=3)
    texts = [f"{t}{closing}" for t in texts]
    model = TopicModel(random_state=0).fit(texts)
    assert model.n_topics_ >= 4
    assert homogeneity_score(truth, model.labels_) >= 0.85


@pytest.mark.parametrize("theme", list(THEMES))
def test_one_theme_with_a_closing_is_still_one_topic(theme):
    """A shared closing neither splits a one-theme corpus nor becomes its subject."""
    texts, _ = themed_corpus([theme], repeats=3)
    model = TopicModel().fit([f"{t}，请尽快处理（来自微信小程序）" for t in texts])
    assert model.n_topics_ == 1
    assert (model.labels_ == -1).mean() <= 0.1


def test_homogeneous_corpus_is_one_topic():
    """Lines that all say the same thing with small variations make a single topic."""
    texts = [f"希望多讲讲智能手机{w}的用法" for w in ["", "微信", "", "相机", "", "微信", ""] * 4]
    model = TopicModel().fit(texts)
    assert model.n_topics_ == 1
    assert (model.labels_ == 0).all()


def test_specific_recurring_request_gets_its_own_topic():
    """Dozens of lines about one named thing become a topic of their own."""
    texts, _ = themed_corpus(repeats=2)
    specific = [f"{p}星光夜校网格员{s}" for p in ["希望讲讲", "建议开设", "想学"] for s in ["系统", "系统操作", "系统登录", "系统上报", "系统怎么用", "系统填报", "系统账号", "系统"]]
    model = TopicModel(random_state=0).fit(texts + specific)
    labels = model.labels_[len(texts) :]
    values, counts = np.unique(labels, return_counts=True)
    main = values[np.argmax(counts)]
    assert main >= 0 and counts.max() >= 0.8 * len(specific)
    topic = model.topics_[main]
    assert topic["size"] <= len(specific) + 3  # not folded into a broad topic
    assert "网格员" in topic["keywords"] or "星光夜校" in topic["keywords"]


def test_topics_describe_contract(fitted, corpus):
    """topics_ has one dict per topic with the documented keys and sane content."""
    texts, _ = corpus
    assert [t["topic"] for t in fitted.topics_] == list(range(fitted.n_topics_))
    for t in fitted.topics_:
        assert set(t) == {"topic", "size", "keywords", "label", "examples", "example_indices", "theme"}
        assert t["size"] == int((fitted.labels_ == t["topic"]).sum())
        assert 0 < len(t["label"]) <= 12
        assert 1 <= len(t["examples"]) <= 5
        assert t["examples"] == [texts[i] for i in t["example_indices"]]
        assert all(fitted.labels_[i] == t["topic"] for i in t["example_indices"])
        assert len(set(t["examples"])) == len(t["examples"])  # no duplicates
        assert all(len(k) >= 2 for k in t["keywords"])
        assert not {"希望", "培训", "课程", "学习", "老师"} & set(t["keywords"])
        assert isinstance(t["theme"], int)


def test_centroids_and_transform_are_unit_length(fitted, corpus):
    """centroids_ and transform rows are L2-normalized in the same space."""
    Z = fitted.transform(corpus[0][:5])
    assert Z.shape[1] == fitted.centroids_.shape[1]
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(fitted.centroids_, axis=1), 1.0, atol=1e-6)


def test_predict_assigns_new_texts(fitted):
    """New lines go to the topic of their theme; a line with no topic word gets -1."""
    labels, scores = fitted.predict_scores(["手机怎么设置微信", "公文格式怎么写", "谢谢老师"])
    topic_of = {t["topic"]: " ".join(t["keywords"]) for t in fitted.topics_}
    assert "手机" in topic_of[labels[0]]
    assert "公文" in topic_of[labels[1]]
    assert labels[2] == -1
    assert scores[0] > 0.3 and scores.shape == (3,)
    np.testing.assert_array_equal(fitted.predict(["手机怎么设置微信"]), labels[:1])


def test_precomputed_tokens_give_the_same_model(corpus, fitted):
    """fit with cached tokenize() output equals fit on the raw texts."""
    texts, _ = corpus
    model = TopicModel(n_topics=4, random_state=0).fit(texts, tokens=[tokenize(t) for t in texts])
    np.testing.assert_array_equal(model.labels_, fitted.labels_)


def test_tokens_length_must_match(corpus):
    """A tokens list of the wrong length is rejected with both lengths named."""
    with pytest.raises(ValueError, match="tokens has 2 entries"):
        TopicModel().fit(corpus[0], tokens=[["a"], ["b"]])


def test_same_random_state_same_model(corpus):
    """Two fits with the same seed are identical."""
    a = TopicModel(random_state=3).fit(corpus[0])
    b = TopicModel(random_state=3).fit(corpus[0])
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.centroids_, b.centroids_)
    assert a.topics_ == b.topics_


def test_estimator_contract(corpus):
    """get_params/clone work, __init__ stores only parameters, and unfitted use raises."""
    model = TopicModel(n_topics=3, random_state=7, n_components=50)
    assert model.get_params()["n_topics"] == 3
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert not hasattr(twin, "labels_")
    with pytest.raises(NotFittedError):
        twin.predict(["消防安全"])
    assert "n_components=50" in repr(model)
    assert model.fit(corpus[0]) is model


def test_fit_predict_returns_labels(corpus):
    """fit_predict is fit followed by labels_."""
    model = TopicModel(n_topics=4)
    np.testing.assert_array_equal(model.fit_predict(corpus[0]), model.labels_)


@pytest.mark.parametrize(
    ("kwargs", "texts", "message"),
    [
        ({"n_topics": 0}, ["消防安全", "智能手机"], "n_topics=0"),
        ({"n_topics": 5}, ["消防安全", "智能手机", "公文写作"], "n_topics=5 should be <="),
        ({}, ["谢谢老师", "！！"], "none of the texts"),
        ({"word_weight": 2.0}, ["消防安全", "智能手机"], "word_weight"),
    ],
    ids=["zero-topics", "more-topics-than-texts", "no-words", "bad-weight"],
)
def test_invalid_input_is_named(kwargs, texts, message):
    """Bad parameters or unusable data raise ValueError naming the problem."""
    with pytest.raises(ValueError, match=message):
        TopicModel(**kwargs).fit(texts)


def test_single_string_is_rejected():
    """Passing one string instead of a list is a TypeError, not 1-character documents."""
    with pytest.raises(TypeError):
        TopicModel().fit("消防安全")


def test_lines_without_words_get_minus_one(corpus):
    """Lines that are only boilerplate or placeholders fit no topic."""
    texts = corpus[0] + ["谢谢老师", "[手机号]", ""]
    model = TopicModel(n_topics=4).fit(texts)
    assert (model.labels_[-3:] == -1).all()


@pytest.mark.parametrize("n_topics", [4, None])
def test_ppmi_latent_step_recovers_known_themes(corpus, n_topics):
    """The co-occurrence (PPMI) basis, forced on a small corpus, still separates the four
    themes, fits deterministically whatever the seed, and predict agrees with labels_."""
    texts, truth = corpus
    a = TopicModel(n_topics=n_topics, random_state=0, projection="ppmi").fit(texts)
    b = TopicModel(n_topics=n_topics, random_state=7, projection="ppmi").fit(texts)
    assert a.latent_method_ == "ppmi" and a.quality_["latent_method"] == "ppmi"
    assert normalized_mutual_info_score(truth, a.labels_) >= 0.8
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.predict(texts), a.labels_)


def test_auto_latent_step_switches_to_ppmi_from_enough_lines():
    """``projection="auto"``: LSA on a small corpus, PPMI from PPMI_MIN_LINES lines up."""
    from recommender.model.topic_model import PPMI_MIN_LINES

    small, _ = themed_corpus(repeats=3)
    assert TopicModel(n_topics=4).fit(small).latent_method_ == "lsa"
    repeats = PPMI_MIN_LINES // (len(small) // 3) + 1
    large, truth = themed_corpus(repeats=repeats)
    model = TopicModel(n_topics=4).fit(large)
    assert len(large) >= PPMI_MIN_LINES and model.latent_method_ == "ppmi"
    assert normalized_mutual_info_score(truth, model.labels_) >= 0.8


def test_unknown_projection_is_named():
    with pytest.raises(ValueError, match="projection='svd'"):
        TopicModel(projection="svd").fit(["消防安全", "智能手机"])


def test_char_ngrams_weigh_the_end_of_a_line_on_the_ppmi_path():
    """End focus: n-grams ending in the last TAIL_CHARS characters of the last segment count
    TAIL_REPEATS times (the PPMI path only); other segments and the LSA path are unchanged."""
    from collections import Counter

    from recommender.model.topic_model import TAIL_CHARS, TAIL_REPEATS, char_ngrams

    plain = Counter(char_ngrams(["灭火器", "怎么正确使用"], (1, 3)))
    tailed = Counter(char_ngrams(["灭火器", "怎么正确使用"], (1, 3), tail=TAIL_CHARS))
    assert TAIL_CHARS == 3
    for gram in ("用", "使用", "确使用", "使", "确", "正确", "么正确"):  # end in the last 3 characters
        assert tailed[gram] == plain[gram] * TAIL_REPEATS, gram
    for gram in ("怎", "怎么", "么", "么正", "灭火器", "火"):  # end earlier, or another segment
        assert tailed[gram] == plain[gram] == 1, gram
    assert char_ngrams([], (1, 3), tail=TAIL_CHARS) == []

    small, _ = themed_corpus(repeats=3)
    lsa = TopicModel(n_topics=4).fit(small)
    assert lsa.latent_method_ == "lsa" and lsa.char_vectorizer_.analyzer.keywords.get("tail", 0) == 0
    ppmi = TopicModel(n_topics=4, projection="ppmi").fit(small)
    assert ppmi.char_vectorizer_.analyzer.keywords["tail"] == TAIL_CHARS

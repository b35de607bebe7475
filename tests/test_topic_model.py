"""Tests of recommender.model.TopicModel on tiny hand-written corpora with known themes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import homogeneity_score, normalized_mutual_info_score
from sklearn.utils._param_validation import InvalidParameterError

from recommender.model import TopicModel
from recommender.model.discovery import NEW_LINE
from recommender.text.tokenize import tokenize

TEMPLATES = ["希望多讲讲{}", "建议开设{}课程", "能不能讲一下{}", "{}怎么办", "想学习{}", "下次讲讲{}吧，谢谢老师"]

# Each theme's lines share an anchor word, as real requests about one subject do.
THEMES = {
    "fire": ["灭火器和消防安全", "消防安全常识", "火灾逃生和消防", "消防通道堵塞", "消防器材放在哪里", "电动车充电消防隐患", "家庭消防安全", "消防报警电话"],
    "phone": ["智能手机拍照", "手机微信视频", "智能手机挂号", "手机支付安全", "智能手机字体调大", "手机清理内存", "手机微信发语音", "手机下载软件"],
    "writing": ["公文写作格式", "公文通知的写法", "公文写作规范", "公文会议纪要写法", "公文工作总结写法", "公文请示报告格式", "公文标题写法", "通知公文格式"],
    "fraud": ["防诈骗知识", "电信诈骗手段", "识别诈骗电话", "网络诈骗防范", "老人防诈骗", "冒充客服诈骗", "刷单诈骗", "诈骗短信识别"],
}
ANCHORS = {"fire": "消防", "phone": "手机", "writing": "公文", "fraud": "诈骗"}


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


# Citizen-style messages: each opens with a word that says what kind of message it is
# (投诉, 咨询, 反映), whatever it is about; the subjects are what an organizer schedules.
SUBJECTS = {
    "噪音": ["工地夜间施工噪音", "广场舞噪音扰民", "楼下烧烤店噪音", "装修噪音太大", "酒吧深夜噪音"],
    "公积金": ["公积金贷款额度", "公积金提取流程", "异地公积金转移", "公积金缴存比例", "公积金贷款利率"],
    "停车": ["小区停车位不够", "停车收费太贵", "路边乱停车", "停车位被占用", "地下停车场漏水"],
    "幼儿园": ["幼儿园入园报名", "幼儿园收费标准", "幼儿园学位不足", "公办幼儿园名额", "幼儿园接送拥堵"],
}
OPENINGS = ["投诉{}问题", "咨询{}的事情", "反映{}情况", "关于{}的投诉", "请求解决{}"]


def message_board() -> tuple[list[str], list[str]]:
    texts, truth = [], []
    for r in range(3):
        for subject, phrases in SUBJECTS.items():
            for i, phrase in enumerate(phrases):
                texts.append(OPENINGS[(i + r) % len(OPENINGS)].format(phrase))
                truth.append(subject)
    return texts, truth


@pytest.fixture(scope="module")
def corpus():
    return themed_corpus(repeats=3)


@pytest.fixture(scope="module")
def fitted(corpus):
    return TopicModel(n_topics=4, random_state=0).fit(corpus[0])


@pytest.fixture(scope="module")
def automatic(corpus):
    return TopicModel().fit(corpus[0])


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


def test_automatic_topics_are_pure_and_themes_follow_the_subjects(corpus, automatic):
    """n_topics=None: topics are specific (a theme may be split into several, never mixed)
    and the themes that group them are the four subjects."""
    texts, truth = corpus
    truth = np.asarray(truth)
    assigned = automatic.labels_ >= 0
    assert assigned.mean() >= 0.8
    assert homogeneity_score(truth[assigned], automatic.labels_[assigned]) >= 0.9
    theme_of = np.array([automatic.topics_[t]["theme"] if t >= 0 else -1 for t in automatic.labels_])
    assert normalized_mutual_info_score(truth[assigned], theme_of[assigned]) >= 0.9
    for anchor in ANCHORS.values():
        assert any(anchor in th["label"] for th in automatic.themes_), (anchor, automatic.themes_)


@pytest.mark.parametrize("theme", list(THEMES))
def test_one_subject_is_one_theme(theme):
    """A corpus about one subject is one theme (its topics may be finer), named after the
    subject, with nearly every line in a topic."""
    texts, _ = themed_corpus([theme], repeats=3)
    model = TopicModel().fit(texts)
    assert len(model.themes_) == 1
    assert (model.labels_ == -1).mean() <= 0.1
    assert ANCHORS[theme] in model.themes_[0]["label"]


def test_no_catch_all_of_generic_words():
    """Messages that all open with 投诉/咨询/反映 give topics about their subjects: no topic
    is held together by the generic openings, none is labelled with one."""
    texts, truth = message_board()
    model = TopicModel().fit(texts)
    assigned = model.labels_ >= 0
    assert assigned.mean() >= 0.6
    assert homogeneity_score(np.asarray(truth)[assigned], model.labels_[assigned]) >= 0.9
    openings = {"投诉", "咨询", "反映", "请求", "解决", "问题", "情况", "事情"}
    for topic in model.topics_:
        assert topic["label"] not in openings, topic
        assert not openings & set(topic["terms"]), topic


# One-off subjects in the frames citizens' messages use ("关于…事宜的咨询", "…存在的几个问题",
# "呼吁加快…"): the frame words are all these lines share.
ONE_OFF = [
    "人才落户", "职称评审", "社保卡制卡", "新生儿医保", "车辆年检", "房屋继承", "护照办理", "档案转移",
    "养犬登记", "宅基地确权", "退役军人优待", "残疾人证", "流动人口登记", "失业金领取", "殡葬补贴", "燃气开户",
]
FRAMES = ["关于{}事宜的咨询", "{}存在的几个问题", "呼吁加快{}", "关于{}一事的请求"]


def test_no_topic_of_request_frames():
    """Lines that share only the frame of a request (事宜, 存在, 几个, 呼吁, 加快, 一事) form no
    topic of it: the subjects' own topics are still found."""
    texts, _ = message_board()
    texts += [frame.format(s) for i, s in enumerate(ONE_OFF) for frame in FRAMES[i % 2 :: 2]]
    model = TopicModel().fit(texts)
    frames = {"事宜", "存在", "几个", "呼吁", "加快", "一事", "请求"}
    for topic in model.topics_:
        assert not frames & (set(topic["terms"]) | {topic["label"]}), topic
    labels = {topic["label"] for topic in model.topics_}
    assert {"噪音", "公积金"} <= {w for w in SUBJECTS if any(w in label for label in labels)}


def test_demo_store_gets_specific_topics_with_phrase_labels():
    """The bundled demo: dozens of specific topics in fewer themes; the two recurring
    named requests have a topic of their own labelled with their own words."""
    from recommender.door.demo import demo_feedback

    texts = [row["text"] for row in demo_feedback()]
    model = TopicModel().fit(texts)
    assert 15 <= model.n_topics_ <= 80
    assert len(model.themes_) < model.n_topics_
    assert (model.labels_ == -1).mean() <= 0.3
    for anchor in ("灭火器", "居住证"):
        about = np.array([anchor in t for t in texts])
        values, counts = np.unique(model.labels_[about], return_counts=True)
        main = int(values[np.argmax(counts)])
        assert main >= 0 and anchor in model.topics_[main]["label"], (anchor, model.topics_[main])
        assert about[model.labels_ == main].mean() >= 0.9, model.topics_[main]["examples"]


def test_unrelated_requests_fit_no_topic():
    """Requests about subjects the store never had go to -1, not to the nearest topic."""
    texts, _ = themed_corpus(repeats=3)
    model = TopicModel().fit(texts)
    new = ["孩子放学后没人辅导作业", "希望开一个太极拳班", "能不能教做短视频", "八段锦怎么练"]
    labels, scores = model.predict_scores(new)
    assert (labels == -1).all(), list(zip(new, labels))
    known_labels, known_scores = model.predict_scores(["希望讲讲消防通道堵塞怎么处理", "手机支付安全怎么设置"])
    assert (known_labels >= 0).all()
    assert scores.max() < known_scores.min()


def test_score_says_how_familiar_a_request_is_even_when_a_word_joined_it(automatic):
    """A request about something new that shares one word with a topic (手机 in a request to
    learn short-video editing, a store without 短视频 or 剪辑) may join that topic, but its score
    stays clearly below that of new phrasings of the store's requests: the score is how
    familiar the line is."""
    new = ["想学短视频剪辑和直播带货，用手机拍", "抖音短视频剪辑配乐，手机上怎么弄"]
    known = ["手机支付安全要注意什么", "公文通知格式怎么写", "家里灭火器怎么用", "手机清理内存的方法"]
    _, new_scores = automatic.predict_scores(new)
    known_labels, known_scores = automatic.predict_scores(known)
    assert (known_labels >= 0).all()
    assert new_scores.max() < known_scores.min() - 0.1, (new_scores, known_scores)


def test_share_of_known_words_counts_words_of_two_characters_or_more(automatic):
    index = automatic.index_
    shares = index.known_share([["消防", "安全"], ["消防", "短视频"], ["的", "了"], []])
    assert shares.tolist() == [1.0, 0.5, 1.0, 1.0]


def test_praise_and_thanks_fit_no_topic(corpus):
    """Lines that ask for nothing (thanks, praise of the class) are in no topic."""
    praise = ["讲得很好，谢谢老师", "老师辛苦了", "非常满意", "收获很大", "谢谢！"]
    model = TopicModel().fit(corpus[0] + praise)
    assert (model.labels_[-len(praise) :] == -1).all()
    assert (model.predict(praise) == -1).all()


def test_labels_are_distinct_phrases_from_the_lines(automatic, corpus):
    """Every label is copied from a line of its topic, no two topics share one, and no
    label is a generic word or joins keywords with a separator."""
    texts, _ = corpus
    labels = [t["label"] for t in automatic.topics_]
    assert len(set(labels)) == len(labels)
    for t in automatic.topics_:
        members = [texts[i] for i in np.flatnonzero(automatic.labels_ == t["topic"])]
        assert any(t["label"] in m for m in members), t
        assert "·" not in t["label"] and t["label"] not in automatic.generic_words_


def test_a_word_jieba_cuts_in_two_comes_back_whole_in_the_label():
    """jieba cuts 公众号 into 公众 + 号; the label is copied from the text: 公众号…"""
    texts, _ = themed_corpus(repeats=2)
    extra = [f"{p}公众号{s}" for p in ["希望讲讲", "想学", "能不能教"] for s in ["排版", "文章排版", "怎么排版"]]
    model = TopicModel().fit(texts + extra)
    topic = model.topics_[int(np.bincount(model.labels_[len(texts) :][model.labels_[len(texts) :] >= 0]).argmax())]
    assert "公众号" in topic["label"], topic


def test_retraining_on_the_same_lines_changes_nothing(automatic, corpus):
    """With the previous model's topics as prior, a retrain on the same lines gives the
    same topics, each continuing its previous one."""
    texts, _ = corpus
    again = TopicModel().fit(texts, prior_labels=automatic.labels_)
    continued = {t["topic"]: t["prior"] for t in again.topics_}
    mapped = np.array([continued[t] if t >= 0 else -1 for t in again.labels_])
    np.testing.assert_array_equal(mapped, automatic.labels_)
    assert again.n_topics_ == automatic.n_topics_


def test_one_percent_more_lines_keeps_the_topics():
    """A retrain with 1 % more lines keeps at least 90 % of the lines in their topic and
    the number of topics within 10 %."""
    from recommender.door.demo import demo_feedback

    texts = [row["text"] for row in demo_feedback()]
    base, extra = texts[:-5], texts[-5:]
    before = TopicModel().fit(base)
    after = TopicModel().fit(base + extra, prior_labels=[*before.labels_, *[NEW_LINE] * len(extra)])
    continued = {t["topic"]: t["prior"] for t in after.topics_}
    mapped = np.array([continued[t] if t >= 0 else -1 for t in after.labels_[: len(base)]])
    assert (mapped == before.labels_).mean() >= 0.9
    assert abs(after.n_topics_ - before.n_topics_) <= 0.1 * before.n_topics_


def _in_order(model: TopicModel, order: np.ndarray) -> tuple:
    """What a fit on the lines taken in ``order`` says of each line (back in the first
    order) and of each topic."""
    labels, scores = np.empty_like(model.labels_), np.empty_like(model.scores_)
    labels[order], scores[order] = model.labels_, model.scores_
    topics = [{k: v for k, v in t.items() if k != "example_indices"} for t in model.topics_]
    return labels.tolist(), scores.tolist(), topics, model.themes_


def test_the_order_of_the_lines_changes_nothing():
    """The same lines in another order (spreadsheets imported in another order, two stores
    merged) give the same topic for each line, the same labels, keywords and themes; so does
    a retrain continuing the first fit's topics."""
    texts, _ = message_board()
    first = TopicModel().fit(texts)
    assert first.n_topics_ >= 2
    for seed in (1, 3):
        order = np.random.default_rng(seed).permutation(len(texts))
        again = TopicModel().fit([texts[i] for i in order])
        assert _in_order(again, order) == _in_order(first, np.arange(len(texts)))
    texts = texts + texts[:6]  # copies of a text, as a store gets them
    prior = np.concatenate([first.labels_, first.labels_[:3], [NEW_LINE] * 3])  # one copy new, one not
    retrain = TopicModel().fit(texts, prior_labels=prior)
    order = np.random.default_rng(3).permutation(len(texts))
    again = TopicModel().fit([texts[i] for i in order], prior_labels=prior[order])
    assert _in_order(again, order) == _in_order(retrain, np.arange(len(texts)))


def test_a_new_topic_in_a_retrain_needs_new_lines():
    """In a retrain, lines the previous model left in no topic do not make a topic on
    their own; new lines (prior NEW_LINE) about a new subject do."""
    texts, _ = themed_corpus(repeats=3)
    tai_chi = [f"{p}太极拳{s}" for p in ["希望开一个", "想学", "能不能教"] for s in ["班", "入门", "的基本动作"]]
    base = texts + tai_chi
    before = TopicModel().fit(texts)
    old = np.r_[before.labels_, np.full(len(tai_chi), -1)]  # the tai chi lines: old, in no topic
    kept = TopicModel().fit(base, prior_labels=old)
    assert all(t["prior"] >= 0 for t in kept.topics_), [t["label"] for t in kept.topics_ if t["prior"] < 0]
    new = np.r_[before.labels_, np.full(len(tai_chi), NEW_LINE)]
    grown = TopicModel().fit(base, prior_labels=new)
    fresh = [t for t in grown.topics_ if t["prior"] < 0]
    assert any("太极" in t["label"] for t in fresh), [t["label"] for t in grown.topics_]


def test_pinned_topic_is_kept():
    """A pinned previous topic survives a retrain even when its lines would not form one."""
    texts, truth = themed_corpus(repeats=3)
    prior = np.full(len(texts), -1)
    prior[:3] = 99  # three lines no core would make a topic of
    model = TopicModel().fit(texts, prior_labels=prior, pinned=[99])
    assert 99 in {t["prior"] for t in model.topics_}


def test_topics_describe_contract(automatic, corpus):
    """topics_ and themes_ have the documented keys and consistent content."""
    texts, _ = corpus
    assert [t["topic"] for t in automatic.topics_] == list(range(automatic.n_topics_))
    keys = {"topic", "size", "keywords", "label", "terms", "examples", "theme", "theme_label", "prior"}
    for t in automatic.topics_:
        assert set(t) == keys
        assert t["size"] == int((automatic.labels_ == t["topic"]).sum())
        assert 1 <= len(t["examples"]) <= 5 and len(set(t["examples"])) == len(t["examples"])
        assert all(e in texts for e in t["examples"])
        assert not {"希望", "培训", "课程", "学习", "老师"} & set(t["keywords"])
        assert automatic.themes_[t["theme"]]["label"] == t["theme_label"]
        assert t["topic"] in automatic.themes_[t["theme"]]["topics"]
    assert sorted(x for th in automatic.themes_ for x in th["topics"]) == list(range(automatic.n_topics_))


def test_centroids_and_transform_are_unit_length(fitted, corpus):
    """centroids_ and transform rows are L2-normalized in the same space."""
    Z = fitted.transform(corpus[0][:5])
    assert Z.shape[1] == fitted.centroids_.shape[1]
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(fitted.centroids_, axis=1), 1.0, atol=1e-6)


def test_predict_agrees_with_fit(automatic, corpus):
    """predict gives every training line the topic fit gave it."""
    np.testing.assert_array_equal(automatic.predict(corpus[0]), automatic.labels_)


def test_predict_assigns_new_texts(automatic):
    """New lines about a known subject join its topic; a line with no topic word gets -1."""
    labels = automatic.predict(["手机支付安全怎么设置", "公文格式怎么写", "谢谢老师"])
    about = {t["topic"]: t["theme_label"] for t in automatic.topics_}
    assert "手机" in about[labels[0]]
    assert "公文" in about[labels[1]]
    assert labels[2] == -1


def test_precomputed_tokens_give_the_same_model(corpus, automatic):
    """fit with cached tokenize() output equals fit on the raw texts."""
    texts, _ = corpus
    model = TopicModel().fit(texts, tokens=[tokenize(t) for t in texts])
    np.testing.assert_array_equal(model.labels_, automatic.labels_)


def test_tokens_and_prior_lengths_must_match(corpus):
    """tokens or prior_labels of the wrong length are rejected with both lengths named."""
    with pytest.raises(ValueError, match="tokens has 2 entries"):
        TopicModel().fit(corpus[0], tokens=[["a"], ["b"]])
    with pytest.raises(ValueError, match="prior_labels has 2 entries"):
        TopicModel().fit(corpus[0], prior_labels=[1, 2])


@pytest.mark.parametrize("n_topics", [None, 4], ids=["automatic", "fixed"])
def test_different_seeds_give_the_same_topics(corpus, n_topics):
    """The clustering has no random step: fits with different random_state agree."""
    a = TopicModel(n_topics=n_topics, random_state=0).fit(corpus[0])
    b = TopicModel(n_topics=n_topics, random_state=1).fit(corpus[0])
    assert a.n_topics_ == b.n_topics_
    assert normalized_mutual_info_score(a.labels_, b.labels_) >= 0.95


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
    assert not hasattr(model, "n_features_in_")  # the input is text, not a feature matrix


def test_fit_predict_returns_labels(corpus):
    """fit_predict is fit followed by labels_."""
    model = TopicModel(n_topics=4)
    np.testing.assert_array_equal(model.fit_predict(corpus[0]), model.labels_)


@pytest.mark.parametrize(
    ("kwargs", "texts", "error", "message"),
    [
        ({"n_topics": 0}, ["消防安全", "智能手机"], InvalidParameterError, "'n_topics' parameter"),
        ({"n_topics": 5}, ["消防安全", "智能手机", "公文写作"], ValueError, "n_topics=5 should be <="),
        ({}, ["谢谢老师", "！！"], ValueError, "none of the texts"),
        ({"word_weight": 2.0}, ["消防安全", "智能手机"], InvalidParameterError, "'word_weight' parameter"),
        ({"projection": "svd"}, ["消防安全", "智能手机"], InvalidParameterError, "'projection' parameter"),
    ],
    ids=["zero-topics", "more-topics-than-texts", "no-words", "bad-weight", "bad-projection"],
)
def test_invalid_input_is_named(kwargs, texts, error, message):
    """Bad parameters or unusable data raise errors naming the problem."""
    with pytest.raises(error, match=message):
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
    themes and predict agrees with labels_."""
    texts, truth = corpus
    model = TopicModel(n_topics=n_topics, projection="ppmi").fit(texts)
    assert model.representation_.method == "ppmi" and model.quality_["latent_method"] == "ppmi"
    assigned = model.labels_ >= 0
    assert homogeneity_score(np.asarray(truth)[assigned], model.labels_[assigned]) >= 0.8
    np.testing.assert_array_equal(model.predict(texts), model.labels_)


def test_auto_latent_step_switches_to_ppmi_from_enough_lines():
    """``projection="auto"``: LSA on a small corpus, PPMI from PPMI_MIN_LINES lines up."""
    from recommender.model.representation import PPMI_MIN_LINES

    small, _ = themed_corpus(repeats=3)
    assert TopicModel(n_topics=4).fit(small).representation_.method == "lsa"
    repeats = PPMI_MIN_LINES // (len(small) // 3) + 1
    large, truth = themed_corpus(repeats=repeats)
    model = TopicModel(n_topics=4).fit(large)
    assert len(large) >= PPMI_MIN_LINES and model.representation_.method == "ppmi"
    assert normalized_mutual_info_score(truth, model.labels_) >= 0.8


def test_char_ngrams_weigh_the_end_of_a_line_on_the_ppmi_path():
    """End focus: n-grams ending in the last TAIL_CHARS characters of the last segment count
    TAIL_REPEATS times (the PPMI path only); other segments and the LSA path are unchanged."""
    from collections import Counter

    from recommender.model.representation import TAIL_CHARS, TAIL_REPEATS, char_ngrams

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
    assert lsa.representation_.char_vectorizer.analyzer.keywords.get("tail", 0) == 0
    ppmi = TopicModel(n_topics=4, projection="ppmi").fit(small)
    assert ppmi.representation_.char_vectorizer.analyzer.keywords["tail"] == TAIL_CHARS

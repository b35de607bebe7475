"""Tests of recommender.text.tokenize: stop words, dictionaries, placeholders, odd input."""

from __future__ import annotations

import pickle

import pytest

from recommender.config import get_settings
from recommender.text import stopwords
from recommender.text.tokenize import is_known_word, load_user_dict, reset_tokenizer, tokenize


@pytest.fixture
def fresh_tokenizer():
    """A tokenizer rebuilt for the test (dictionaries loaded by it are forgotten after)."""
    reset_tokenizer()
    get_settings.cache_clear()
    yield
    reset_tokenizer()
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("text", "kept", "dropped"),
    [
        ("希望多讲讲消防安全知识，灭火器怎么用？", ["消防安全", "灭火器"], ["希望", "知识", "怎么"]),
        ("建议能不能开设公文写作培训课程", ["公文写作"], ["建议", "能不能", "开设", "培训", "课程"]),
        ("谢谢老师！下次想学学垃圾分类", ["垃圾分类"], ["谢谢", "老师", "下次"]),
    ],
    ids=["politeness-and-request", "request-verbs-and-course-words", "thanks-and-wish"],
)
def test_boilerplate_and_stop_words_are_removed(text, kept, dropped):
    """Feedback boilerplate and iso stop words disappear, topic words stay."""
    tokens = tokenize(text)
    for word in kept:
        assert word in tokens
    for word in dropped:
        assert word not in tokens


def test_stop_word_list_combines_iso_and_domain_words():
    """The stop-word set holds stopwordsiso's zh list and the domain boilerplate."""
    words = stopwords.stop_words()
    assert "的" in words and "怎么" in words  # stopwordsiso
    assert "培训" in words and "希望" in words  # domain list
    assert "消防" not in words


@pytest.mark.parametrize("term", ["网格员", "楼栋长", "星光夜校"])
def test_project_user_dictionary_keeps_local_terms_whole(term):
    """Local terms of the project dictionary come out as one token."""
    assert term in tokenize(f"{term}工作经验交流")
    assert is_known_word(term)


def test_operator_user_dictionary_from_settings(tmp_path, monkeypatch, fresh_tokenizer):
    """The dictionary named by RECOMMENDER_USER_DICT is loaded when the tokenizer is built."""
    path = tmp_path / "dict.txt"
    path.write_text("蒲公英驿站\n", encoding="utf-8")
    monkeypatch.setenv("RECOMMENDER_USER_DICT", str(path))
    get_settings.cache_clear()
    assert "蒲公英驿站" in tokenize("蒲公英驿站的活动安排")


def test_load_user_dict_applies_immediately(tmp_path, fresh_tokenizer):
    """load_user_dict adds terms to an already built tokenizer."""
    tokenize("预热")
    path = tmp_path / "dict.txt"
    path.write_text("青禾议事会 100 n\n", encoding="utf-8")
    load_user_dict(path)
    assert "青禾议事会" in tokenize("青禾议事会怎么组织")


def test_missing_user_dict_is_an_error(tmp_path):
    """Loading a dictionary that does not exist names the file."""
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_user_dict(tmp_path / "nope.txt")


@pytest.mark.parametrize("placeholder", ["[手机号]", "[身份证号]", "[邮箱]", "[银行卡号]", "[电话]"])
def test_masking_placeholders_are_dropped(placeholder):
    """Placeholders left by masking never become tokens."""
    tokens = tokenize(f"我的{placeholder}想咨询社保缴费")
    assert "社保" in tokens
    assert not any(part in "".join(tokens) for part in (placeholder, placeholder.strip("[]")))


def test_punctuation_digits_whitespace_and_emoji_are_dropped():
    """Only word tokens remain: no punctuation, numbers, spaces or emoji."""
    tokens = tokenize("  消防演练 2024年 3次！！👍😀…… 12345  ")
    assert "消防" in "".join(tokens)
    assert all(t.strip() and any(ch.isalpha() for ch in t) for t in tokens)
    assert not any(ch.isdigit() for t in tokens for ch in t if t.isdigit())
    assert "👍" not in "".join(tokens)


def test_mixed_chinese_english_digits():
    """Latin words are kept lower-cased, plain numbers dropped, full-width letters folded."""
    tokens = tokenize("想学Python和ＥＸＣＥＬ表格，2024年考WPS证书")
    assert "python" in tokens
    assert "excel" in tokens
    assert "wps" in tokens
    assert "2024" not in tokens


def test_traditional_characters_give_words():
    """Traditional-character feedback still yields topic words."""
    tokens = tokenize("希望講講電信詐騙的防範")
    assert tokens
    assert any("詐騙" in t or "电信" in t or "電信" in t for t in tokens)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "！？。",
        "[手机号]",
        "谢谢老师",
        "暂时没有",
        "对这个很感兴趣，盼望尽快安排",
        "老师讲得太好了，受益匪浅",
        "今天学到很多，下次还来",
        "今晚的课讲得很棒",
    ],
    ids=[
        "empty",
        "spaces",
        "punct",
        "placeholder",
        "only-boilerplate",
        "nothing-for-now",
        "interest-phrasing",
        "praise",
        "came-again",
        "tonight-praise",
    ],
)
def test_texts_without_topic_words_give_empty_list(text):
    """Nothing topical in, empty list out."""
    assert tokenize(text) == []


def test_tokenize_pickles_by_reference():
    """tokenize is module-level, so pickling stores a reference, not a copy of jieba."""
    restored = pickle.loads(pickle.dumps(tokenize))
    assert restored is tokenize
    assert len(pickle.dumps(tokenize)) < 200


def test_jieba_stays_quiet(capfd, fresh_tokenizer):
    """Building the private tokenizer prints nothing to stderr."""
    tokenize("消防安全")
    assert "prefix dict" not in capfd.readouterr().err


@pytest.mark.parametrize(
    ("text", "kept", "dropped"),
    [
        ("=cmd|' /C calc'!A0 想学消防安全", ["消防安全"], ["cmd", "calc", "a0"]),
        ("=HYPERLINK(\"http://x.y\") 灭火器怎么用", ["灭火器"], ["hyperlink", "http"]),
        ("表格里A1和B2单元格的公式，想学excel和wifi设置、5G手机、win10", ["excel", "wifi", "5g", "win10"], ["a1", "b2"]),
    ],
    ids=["dde-payload", "formula", "cell-references"],
)
def test_formula_payloads_and_latin_codes_are_dropped(text, kept, dropped):
    """Pasted formulas and letter-digit codes are no words; real Latin words stay."""
    tokens = tokenize(text)
    for word in kept:
        assert word in tokens
    for word in dropped:
        assert word not in tokens


@pytest.mark.parametrize(
    ("text", "kept", "dropped"),
    [
        ("小区停车位被外来车辆占用，请尽快处理", ["停车位", "占用"], ["处理"]),
        ("小区停车位被外来车辆占用请尽快处理", ["停车位", "占用"], ["处理"]),
        ("电梯坏了，请相关部门尽快解决！", ["电梯"], ["部门", "解决"]),
        ("路灯坏了很久，望领导重视", ["路灯"], ["领导", "重视"]),
        ("垃圾没人清理，请及时处理，谢谢", ["垃圾"], ["处理"]),
        ("噪音扰民，请尽快处理，望回复", ["噪音"], ["处理", "回复"]),
    ],
    ids=["comma", "no-punctuation", "addressee", "wish-marker", "thanks-after", "two-closings"],
)
def test_closing_requests_that_name_nothing_are_dropped(text, kept, dropped):
    """A closing request (marker, addressee/adverbs, one action verb) is boilerplate: it asks
    someone to act on what the line said and names nothing itself. The char n-grams lose it too."""
    from recommender.text.tokenize import char_segments

    tokens = tokenize(text)
    for word in kept:
        assert word in tokens
    for word in dropped:
        assert word not in tokens
    assert not any(word in seg for seg in char_segments(text) for word in dropped)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("请尽快处理小区停车问题", ["处理", "停车"]),
        ("电器坏了，希望讲讲怎么维修", ["维修"]),
        ("课很好，请尽快安排消防课程", ["消防"]),
        ("课很好，希望消防安全", ["消防安全"]),
        ("江苏保三希望大增", ["大增"]),
        ("请尽快处理", ["处理"]),
        ("申请居住证怎么办理", ["申请", "居住证"]),
    ],
    ids=["names-its-object", "teaching-request", "noun-follows", "noun-not-verb", "hope-as-noun", "nothing-before", "shen-qing"],
)
def test_requests_that_name_something_are_kept(text, kept):
    """Only a request with no object of its own is a closing; a request for a topic, a
    line that is nothing but the request, and 请/希望 inside other words stay."""
    tokens = tokenize(text)
    for word in kept:
        assert word in tokens


def test_batches_in_threads_cut_the_same_words_and_leave_no_cache():
    """The service cuts requests in several threads: each batch keeps its own block cache,
    gives the words a batch of one would, and leaves no cache behind."""
    import importlib
    from concurrent.futures import ThreadPoolExecutor

    tk = importlib.import_module("recommender.text.tokenize")  # the package re-exports a function of that name

    texts = [f"第{i}栋楼道堆放杂物，消防通道被占用，请尽快处理" for i in range(40)] + ["智能手机怎么挂号"] * 3
    alone = [tk.tokenize(t) for t in texts]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: tk.tokenize_many(texts), range(8)))
    assert all(r == alone for r in results)
    assert getattr(tk._batch, "blocks", None) is None


def test_links_carry_no_words():
    """A link pasted into a message is no word its writer used about the subject: long
    messages that carry one would otherwise share "https" and "com" and make a topic."""
    from recommender.text.tokenize import pieces, tokenize

    for line in ("规划的线路见https://baidu.com/总投资152亿元", "链接 HTTP://Example.com/a?b=1 打不开",
                 "详见www.example.cn/notice", "被截断的链接https:/"):
        words = tokenize(line)
        assert not {"https", "http", "com", "baidu", "example", "cn", "www", "notice"} & set(words), words
        assert "https" not in "".join(pieces(line))
    assert "http" in tokenize("想学http协议")
    assert "excel" in tokenize("www.a.cn 想学excel")


@pytest.mark.parametrize(
    "text",
    ["支持夜校", "希望多办几期", "继续办下去，支持！", "希望多举办这样的活动", "时间能不能改到周末",
     "能不能晚上七点半开始", "老师讲课很认真，很有耐心", "没什么意见", "希望每周都有",
     "场地有点小，希望换个大教室", "希望能多办几场，每次都来"],
)
def test_lines_about_the_class_itself_ask_for_nothing(text):
    """Support, more sessions, the class's time, place or teacher: words about the class
    itself name no subject, so the line is class feedback (课堂反馈), never demand."""
    assert tokenize(text) == []


@pytest.mark.parametrize(
    ("text", "subject"),
    [("希望多办几期太极拳", "太极拳"), ("支持垃圾分类知识讲座", "垃圾分类"), ("周末能不能开个书法班", "书法"),
     ("希望多举办防诈骗的活动", "防诈骗"), ("时间管理", "管理"), ("希望继续办广场舞培训", "广场舞")],
)
def test_a_subject_beside_class_words_is_a_request_with_all_its_words(text, subject):
    """One word that is not about the class makes the line a request; its class words stay."""
    words = tokenize(text)
    assert subject in words and stopwords.only_class_words(words) is False
    assert len(words) >= 2


@pytest.mark.parametrize(
    "text",
    ["声音太小，后排听不清", "座位不够", "音响有杂音", "投影看不清", "教室太热", "讲义能不能提前发",
     "PPT字太小", "能不能录像，方便回放", "停车不方便", "老师讲得太快了，跟不上", "空调开得太冷",
     "上课的地方太偏", "屋子里太冷了"],
)
def test_complaints_about_the_class_conditions_ask_for_nothing(text):
    """Sound, seats, room, screen, handouts, recordings, pace, parking: the class's conditions
    name no subject to teach, so the line is class feedback, not demand."""
    assert tokenize(text) == []


@pytest.mark.parametrize(
    ("text", "subject"),
    [("希望讲讲投影仪怎么用", "投影仪"), ("教老人用手机看回放", "手机"), ("停车位规划的政策", "规划"),
     ("空调清洗的安全知识", "清洗"), ("想学PPT", "ppt"), ("想学发短信", "发短信"), ("想学写通知", "通知"), ("总是记不住怎么办", "记不住"), ("家里音响怎么连蓝牙", "蓝牙"),
     ("希望多举办中秋活动", "中秋")],
)
def test_a_subject_among_condition_words_is_a_request(text, subject):
    """A condition's word is also a subject people ask about: with a subject beside it, or a
    thing of the class alone (「想学PPT」), the line is a request and keeps its words."""
    assert subject in tokenize(text)


def test_things_of_the_class_need_a_word_of_how_it_was():
    """「PPT」「空调」 alone are subjects; beside a class word they speak of the class."""
    assert not stopwords.only_class_words(["ppt"]) and not stopwords.only_class_words(["空调", "停车"])
    assert stopwords.only_class_words(["ppt", "字", "太小"]) and stopwords.only_class_words(["停车", "方便"])


def test_class_words_file_decides_and_is_in_the_token_fingerprint(tmp_path, monkeypatch):
    """The class words are read from their file (a word added there makes its lines ask for
    nothing), and the cached tokens' fingerprint changes with them."""
    from recommender.retrain.publishing import tokenizer_fingerprint

    settings = get_settings()
    before = tokenizer_fingerprint(settings)
    path = tmp_path / "class_words.txt"
    path.write_text("# test\n太极拳\n", encoding="utf-8")
    monkeypatch.setattr(stopwords, "CLASS_WORDS_FILE", path)
    stopwords.class_words.cache_clear()
    try:
        assert stopwords.only_class_words(["太极拳", "三期"]) and not stopwords.only_class_words([])
        assert tokenizer_fingerprint(settings) != before
    finally:
        stopwords.class_words.cache_clear()
    things = tmp_path / "class_things.txt"
    things.write_text("书法\n", encoding="utf-8")
    monkeypatch.setattr(stopwords, "CLASS_THINGS_FILE", things)
    stopwords.class_things.cache_clear()
    try:
        assert stopwords.only_class_words(["书法", "三期"]) and not stopwords.only_class_words(["书法"])
        assert tokenizer_fingerprint(settings) != before
    finally:
        stopwords.class_things.cache_clear()
        stopwords.class_words.cache_clear()

"""Tests for recommender.door.validation: the validation rules shared by the form, the API and imports."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from recommender.config import Settings
from recommender.errors import ValidationFailed
from recommender.door.validation import FeedbackDraft, clean_feedback, clean_text, near_duplicate, parse_timestamp

SETTINGS = Settings(max_text_length=50)
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)


def clean(text: object = "希望讲讲消防安全", **kwargs: object) -> FeedbackDraft:
    kwargs.setdefault("source", "form")
    kwargs.setdefault("settings", SETTINGS)
    kwargs.setdefault("now", NOW)
    return clean_feedback(text, **kwargs)  # type: ignore[arg-type]


def has_chinese(message: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in message)


# --- text ------------------------------------------------------------------------------

CLEANED = [
    ("trimmed", "  想学公文写作  ", "想学公文写作"),
    ("newlines-become-one-space", "第一点：消防\n\n第二点：反诈", "第一点：消防 第二点：反诈"),
    ("tabs-and-crlf", "想学\t表格\r\n制作", "想学 表格 制作"),
    ("fullwidth-space", "想学　　公文", "想学 公文"),
    ("zero-width-removed", "想\u200b学\u200d反\ufeff诈\u2060", "想学反诈"),
    ("control-removed", "想学\x00\x07消防\x7f", "想学消防"),
    ("bidi-override-removed", "abc\u202edef", "abcdef"),
    ("nfc", "cafe\u0301 课程", "café 课程"),
    ("lone-surrogate-removed", "想学\ud800消防", "想学消防"),
    ("emoji-kept-with-text", "反诈课很好👍", "反诈课很好👍"),
    ("digits-only-allowed", "2024", "2024"),
]


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CLEANED], ids=[c[0] for c in CLEANED])
def test_text_is_cleaned(raw: str, expected: str) -> None:
    """Whitespace collapses to single spaces, invisible and control characters go, NFC applies."""
    assert clean(raw).text == expected


REFUSED_TEXT = [
    ("empty", "", "empty", "不能为空"),
    ("spaces", "   \n\t　", "empty", "不能为空"),
    ("zero-width-only", "\u200b\u200b", "empty", "不能为空"),
    ("punctuation-only", "？？？！！！……", "no_content", "标点或符号"),
    ("emoji-only", "👍👍🎉", "no_content", "标点或符号"),
    ("symbols-only", "+++---///", "no_content", "标点或符号"),
    ("too-long", "长" * 51, "too_long", "最多 50 个字，当前 51 个字"),
]


@pytest.mark.parametrize(("raw", "code", "words"), [c[1:] for c in REFUSED_TEXT], ids=[c[0] for c in REFUSED_TEXT])
def test_bad_text_is_refused_with_a_chinese_reason(raw: str, code: str, words: str) -> None:
    """Empty, content-free and over-long text is refused, naming the field and the reason."""
    with pytest.raises(ValidationFailed) as info:
        clean(raw)
    assert info.value.field == "text"
    assert info.value.code == code
    assert words in info.value.message
    assert has_chinese(info.value.message)


@pytest.mark.parametrize("raw", [None, 123, b"bytes", ["list"]], ids=["none", "int", "bytes", "list"])
def test_non_string_text_is_refused(raw: object) -> None:
    """Text that is not a string is a validation error, not a crash."""
    with pytest.raises(ValidationFailed) as info:
        clean(raw)
    assert info.value.field == "text"
    assert info.value.code == "type"


def test_length_is_counted_after_cleaning() -> None:
    """Spaces and invisible characters that cleaning removes do not count toward the limit."""
    raw = "长" * 50 + " " * 30 + "\u200b" * 30
    assert clean(raw).text == "长" * 50


def test_text_is_masked_after_validation() -> None:
    """Personal data is masked in the stored text."""
    draft = clean("我叫张三，电话13812345678，想学反诈")
    assert draft.text == "我叫[姓名]，电话[手机号]，想学反诈"


def test_masked_text_never_exceeds_the_limit() -> None:
    """A placeholder longer than what it replaces cannot push the text over the limit."""
    raw = "我叫张三" + "长" * 46  # 50 characters, "[姓名]" adds two
    with pytest.raises(ValidationFailed) as info:
        clean(raw)
    assert info.value.code == "too_long"


# --- segment ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("segment", "expected"),
    [(None, "其他"), ("", "其他"), ("  ", "其他"), ("网格员", "网格员"), (" 楼栋长 ", "楼栋长")],
    ids=["none", "empty", "blank", "known", "trimmed"],
)
def test_segment_defaults_and_trims(segment: str | None, expected: str) -> None:
    """A missing segment becomes 其他; a known one is kept."""
    assert clean(segment=segment).segment == expected


def test_unknown_segment_lists_the_allowed_values() -> None:
    """An unknown segment is refused with the list of allowed values."""
    with pytest.raises(ValidationFailed) as info:
        clean(segment="外星人")
    assert info.value.field == "segment"
    assert "外星人" in info.value.message
    for allowed in SETTINGS.segments:
        assert allowed in info.value.message


def test_configured_segments_are_used() -> None:
    """Segments come from settings."""
    custom = Settings(segments=("学生", "教师"))
    assert clean(segment="教师", settings=custom).segment == "教师"
    with pytest.raises(ValidationFailed):
        clean(segment="网格员", settings=custom)


# --- session, submitter, external id -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "limit"),
    [("session_id", 100), ("submitter", 200), ("external_id", 200)],
    ids=["session", "submitter", "external-id"],
)
def test_optional_strings_are_trimmed_and_limited(name: str, limit: int) -> None:
    """Optional identifiers are trimmed, blank means None, too long is refused naming the limit."""
    assert getattr(clean(**{name: "  abc "}), name) == "abc"
    assert getattr(clean(**{name: "   "}), name) is None
    assert getattr(clean(**{name: None}), name) is None
    assert getattr(clean(**{name: "x" * limit}), name) == "x" * limit
    with pytest.raises(ValidationFailed) as info:
        clean(**{name: "x" * (limit + 1)})
    assert info.value.field == name
    assert str(limit) in info.value.message
    assert has_chinese(info.value.message)


def test_submitter_is_kept_raw_for_the_store_to_hash() -> None:
    """The draft carries the submitter as given (the store's caller hashes it)."""
    assert clean(submitter="wx_openid_123").submitter == "wx_openid_123"


# --- votes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("votes", "expected"),
    [(0, 0), (7, 7), (3.0, 3), ("12", 12), ("", 0), (None, 0), ("1,234", 1234), ("１，２３４", 1234), ("1.2万", 12000)],
    ids=["zero", "int", "integral-float", "digit-string", "empty-string", "none", "thousands", "thousands-fullwidth", "wan"],
)
def test_votes_accepted(votes: object, expected: int) -> None:
    """Non-negative whole numbers are accepted, grouped in thousands (「1,234」, Excel's CSV of a
    formatted number) or in 万 (「1.2万」, as message boards show likes)."""
    assert clean(votes=votes).votes == expected


@pytest.mark.parametrize(
    ("votes", "code"),
    [
        (-1, "negative"),
        ("-3", "negative"),
        (True, "type"),
        (1.5, "type"),
        ("很多", "type"),
        ([1], "type"),
        (float("nan"), "type"),
        ("12,34", "type"),
        ("1,2", "type"),
    ],
    ids=["negative", "negative-string", "bool", "fraction", "words", "list", "nan", "misgrouped", "decimal-comma"],
)
def test_bad_votes_are_refused(votes: object, code: str) -> None:
    """Negative, boolean and non-integer votes are refused with a Chinese message."""
    with pytest.raises(ValidationFailed) as info:
        clean(votes=votes)
    assert info.value.field == "votes"
    assert info.value.code == code
    assert "点赞数" in info.value.message


# --- submitted_at ------------------------------------------------------------------------


def test_time_defaults_to_now_in_utc() -> None:
    """Without a time, the draft is stamped with now (UTC)."""
    assert clean().submitted_at == NOW
    assert clean_feedback("想学", source="api", settings=SETTINGS).submitted_at.tzinfo is not None


def test_naive_time_is_shanghai() -> None:
    """A naive time is read as Asia/Shanghai and stored in UTC."""
    draft = clean(submitted_at=datetime(2024, 5, 1, 19, 30))
    assert draft.submitted_at == datetime(2024, 5, 1, 11, 30, tzinfo=timezone.utc)
    assert draft.submitted_at.utcoffset() == timedelta(0)


def test_aware_time_is_converted_to_utc() -> None:
    """An aware time keeps its instant and is expressed in UTC."""
    eastern = timezone(timedelta(hours=-5))
    draft = clean(submitted_at=datetime(2024, 5, 1, 7, 0, tzinfo=eastern))
    assert draft.submitted_at == datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def test_slightly_future_time_is_allowed() -> None:
    """Clock skew of up to a day is accepted."""
    assert clean(submitted_at=NOW + timedelta(hours=20)).submitted_at == NOW + timedelta(hours=20)


def test_far_future_time_is_refused() -> None:
    """A time more than a day ahead is refused."""
    with pytest.raises(ValidationFailed) as info:
        clean(submitted_at=NOW + timedelta(days=2))
    assert info.value.field == "submitted_at"
    assert info.value.code == "future"
    assert "晚于当前时间" in info.value.message


def test_unparseable_time_is_refused() -> None:
    """A time that cannot be read is refused with examples of accepted formats."""
    with pytest.raises(ValidationFailed) as info:
        clean(submitted_at="昨天晚上")
    assert info.value.field == "submitted_at"
    assert "2024-05-01" in info.value.message


def test_source_must_be_given() -> None:
    """An empty source is a programming error, not a validation failure."""
    with pytest.raises(ValueError, match="source"):
        clean(source="")


# --- parse_timestamp ---------------------------------------------------------------------

UTC = timezone.utc
TIMESTAMPS = [
    ("iso-offset", "2024-05-01T19:30:00+08:00", datetime(2024, 5, 1, 11, 30, tzinfo=UTC)),
    ("iso-z", "2024-05-01T11:30:00Z", datetime(2024, 5, 1, 11, 30, tzinfo=UTC)),
    ("space-minutes", "2024-05-01 19:30", datetime(2024, 5, 1, 11, 30, tzinfo=UTC)),
    ("slashes-date", "2024/5/1", datetime(2024, 4, 30, 16, 0, tzinfo=UTC)),
    ("slashes-seconds", "2024/5/1 19:30:05", datetime(2024, 5, 1, 11, 30, 5, tzinfo=UTC)),
    ("chinese-date", "2024年5月1日", datetime(2024, 4, 30, 16, 0, tzinfo=UTC)),
    ("chinese-time", "2024年5月1日 19时30分", datetime(2024, 5, 1, 11, 30, tzinfo=UTC)),
    ("chinese-pm", "2024年5月1日下午7点", datetime(2024, 5, 1, 11, 0, tzinfo=UTC)),
    ("dots", "2024.05.01", datetime(2024, 4, 30, 16, 0, tzinfo=UTC)),
    ("chinese-hao", "2024年5月1号", datetime(2024, 4, 30, 16, 0, tzinfo=UTC)),
    ("excel-long-date-weekday", "2024年5月1日星期三", datetime(2024, 4, 30, 16, 0, tzinfo=UTC)),
    ("weekday-in-brackets-and-time", "2024/5/1（周三）19:30", datetime(2024, 5, 1, 11, 30, tzinfo=UTC)),
    ("english-excel-pm", "2024/5/1 7:30 PM", datetime(2024, 5, 1, 11, 30, tzinfo=UTC)),
    ("english-excel-midnight", "2024/5/1 12:10 AM", datetime(2024, 4, 30, 16, 10, tzinfo=UTC)),
    ("compact", "20240501", datetime(2024, 4, 30, 16, 0, tzinfo=UTC)),
    ("fullwidth", "２０２４－０５－０１ １９：３０", datetime(2024, 5, 1, 11, 30, tzinfo=UTC)),
    ("excel-serial", 45413.8125, datetime(2024, 5, 1, 11, 30, tzinfo=UTC)),
    ("excel-serial-string", "45413", datetime(2024, 4, 30, 16, 0, tzinfo=UTC)),
    ("unix-seconds", 1714563000, datetime(2024, 5, 1, 11, 30, tzinfo=UTC)),
    ("naive-datetime", datetime(2024, 5, 1, 19, 30), datetime(2024, 5, 1, 11, 30, tzinfo=UTC)),
    ("date", date(2024, 5, 1), datetime(2024, 4, 30, 16, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize(("value", "expected"), [c[1:] for c in TIMESTAMPS], ids=[c[0] for c in TIMESTAMPS])
def test_parse_timestamp_formats(value: object, expected: datetime) -> None:
    """Common spreadsheet and questionnaire time formats parse to the right UTC instant."""
    parsed = parse_timestamp(value)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    ["", "昨天", "2024-13-01", "2024/2/30", "5月1日", "2024/5/1 星期八", True, -5, float("inf"), 10**20, object()],
    ids=["empty", "words", "month-13", "feb-30", "no-year", "no-such-weekday", "bool", "negative", "inf", "huge", "object"],
)
def test_parse_timestamp_refuses_garbage(value: object) -> None:
    """Unreadable times raise ValidationFailed on submitted_at."""
    with pytest.raises(ValidationFailed) as info:
        parse_timestamp(value)
    assert info.value.field == "submitted_at"


# --- near_duplicate ------------------------------------------------------------------------

NEAR = [
    ("identical", "希望讲讲公文写作", "希望讲讲公文写作", True),
    ("punctuation-and-space", "希望讲讲 公文写作！", "希望讲讲公文写作。", True),
    ("one-char-appended", "想学灭火器的使用方法，最好有实操演练", "想学灭火器的使用方法，最好有实操演练啊", True),
    ("case-and-width", "想学ＥＸＣＥＬ表格", "想学excel表格", True),
    ("different-topic", "希望讲讲公文写作", "想学灭火器使用", False),
    ("same-frame-different-ask", "希望下次夜校讲讲公文写作", "希望下次夜校讲讲反诈宣传", False),
    ("empty-vs-text", "！！", "想学", False),
]


@pytest.mark.parametrize(("a", "b", "expected"), [c[1:] for c in NEAR], ids=[c[0] for c in NEAR])
def test_near_duplicate(a: str, b: str, expected: bool) -> None:
    """Near-identical texts are recognised, different requests are not."""
    assert near_duplicate(a, b) is expected
    assert near_duplicate(b, a) is expected


# --- properties ------------------------------------------------------------------------------

PROPERTY_SETTINGS = Settings(max_text_length=60)
texts = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=80),
    st.text(
        alphabet=st.sampled_from(list("想学公文 消防\n\t\u200b\u3000！？1380@qq.com我叫张三电话-（）Xx")), max_size=80
    ),
)


@hyp_settings(max_examples=300, deadline=None)
@given(texts)
def test_clean_feedback_property(text: str) -> None:
    """Any string is either refused with ValidationFailed or becomes clean, bounded, idempotent text."""
    try:
        draft = clean_feedback(text, source="api", settings=PROPERTY_SETTINGS, now=NOW)
    except ValidationFailed as exc:
        assert exc.field == "text"
        return
    assert draft.text
    assert len(draft.text) <= PROPERTY_SETTINGS.max_text_length
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in draft.text)
    assert draft.text == draft.text.strip()
    assert "  " not in draft.text
    again = clean_feedback(draft.text, source="api", settings=PROPERTY_SETTINGS, now=NOW)
    assert again.text == draft.text


WEB_DEBRIS = [
    ("excel-carriage-return", "第一行_x000D_ 第二行_x000A_第三行", "第一行 第二行 第三行"),
    ("named-entities", "&quot;反诈&quot;课程&amp;讲座&nbsp;好", '"反诈"课程&讲座 好'),
    ("entity-case-of-an-export", "什么是&quoT;坐椅综合症&quoT;", '什么是"坐椅综合症"'),
    ("numeric-entities", "领秀&#8226;慧谷 &#39;好&#x27;", "领秀•慧谷 '好'"),
    ("escaped-twice", "&amp;quot;消防&amp;quot; &amp;lt;br&amp;gt;讲座", '"消防" 讲座'),
    ("line-tags-become-spaces", "想学消防<br>想学反诈<br/>想学<BR />公文<p>好</p>", "想学消防 想学反诈 想学 公文 好"),
    ("inline-tags-go", '请看<a href="http://x.cn/a?b=1&amp;c=2" target=_blank>这里</a>的<span style="color:red">课</span>',
     "请看这里的课"),
    ("lone-brackets-stay", "温度<10度时 a>b 且 3 < 5 > 2", "温度<10度时 a>b 且 3 < 5 > 2"),
    ("bracketed-text-stays", "<A市新图>出版 <b这样> <a 市>", "<A市新图>出版 <b这样> <a 市>"),
    ("unknown-tags-stay", "<script>x</script><img src=x> <foo>", "<script>x</script><img src=x> <foo>"),
    ("incomplete-references-stay", "AT&T 公司 &copy 与 &notit; & 其他 &;", "AT&T 公司 &copy 与 &notit; & 其他 &;"),
    ("other-underscore-escapes-stay", "变量_x0041_名", "变量_x0041_名"),
    ("decoded-less-than-is-text", "温度&lt;10度", "温度<10度"),
]


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in WEB_DEBRIS], ids=[c[0] for c in WEB_DEBRIS])
def test_spreadsheet_and_web_debris_is_cleaned(raw: str, expected: str) -> None:
    """Excel's 「_x000D_」, HTML references and simple tags go from the stored text; a lone 「<」,
    a bracketed text, a tag that is not text markup and an incomplete reference stay."""
    assert clean_text(raw) == expected
    assert clean(raw, settings=Settings(max_text_length=500)).text == expected
    assert clean_text(expected) == expected


def test_text_of_only_tags_is_empty() -> None:
    with pytest.raises(ValidationFailed) as info:
        clean("<br><p></p>&nbsp;")
    assert info.value.code == "empty"


def test_form_and_api_store_the_same_clean_text(client, service) -> None:
    """The public form and POST /api/feedback go through the same cleaning (one function)."""
    raw = "&quot;反诈&quot;课程<br/>想多讲讲_x000D_案例"
    assert client.post("/api/feedback", json={"text": raw}).status_code == 201
    assert client.post("/feedback", data={"text": raw + "吧", "segment": "居民"}, follow_redirects=False).status_code == 303
    assert sorted(r.text for r in service.store.iter_feedback()) == ['"反诈"课程 想多讲讲 案例', '"反诈"课程 想多讲讲 案例吧']


@hyp_settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_clean_text_is_idempotent(text: str) -> None:
    """Cleaning cleaned text changes nothing."""
    once = clean_text(text)
    assert clean_text(once) == once

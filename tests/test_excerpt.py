"""Quotes of long lines are cut readably around the words a topic is named by."""

from __future__ import annotations

from recommender.text.excerpt import ELLIPSIS, QUOTE_CHARS, excerpt

# A long message (about 300 characters) that says its subject (加装电梯) only in the middle.
OPENING = "尊敬的领导您好！我们是幸福里社区的居民，小区建成已经二十多年，住户大多是退休职工。"
FILLER = "这几年社区做了很多工作，道路修了，路灯也换了，大家都看在眼里，心里也很感激。"
MIDDLE = "现在最大的困难是老人上下楼，六楼的王奶奶腿脚不好，一个月都下不了一次楼，我们想申请加装电梯，"
REST = "但是低层住户有不同意见，费用怎么分摊也没有说法，不知道该找哪个部门协调，有没有补贴政策可以参考。"
LONG = OPENING + FILLER * 3 + MIDDLE + REST * 2


def test_a_short_line_is_quoted_whole():
    line = "想学加装电梯的申请流程"
    assert excerpt(line, ["加装电梯"]) == line
    assert excerpt("  " + line + " ", ["加装电梯"]) == line


def test_a_long_line_is_cut_around_its_label():
    quote = excerpt(LONG, ["加装电梯", "电梯"])
    assert len(LONG) > 250
    assert "加装电梯" in quote
    assert len(quote) <= QUOTE_CHARS + 2 * len(ELLIPSIS)
    assert quote.startswith(ELLIPSIS) and quote.endswith(ELLIPSIS)
    # It starts where a clause starts, not inside a word: right after a comma or a full stop.
    body = quote[len(ELLIPSIS) : -len(ELLIPSIS)]
    assert LONG[LONG.index(body) - 1] in "，。！"
    # The label is near the start, where a reader looks first.
    assert body.index("加装电梯") <= 0.4 * QUOTE_CHARS + len("加装电梯")


def test_the_label_comes_before_the_keywords_and_a_line_without_either_keeps_its_start():
    quote = excerpt(LONG, ["补贴政策", "加装电梯"])
    assert "补贴政策" in quote
    start = excerpt(LONG, ["停车位"])
    assert start.startswith(OPENING[:10]) and start.endswith(ELLIPSIS)
    assert len(start) <= QUOTE_CHARS + len(ELLIPSIS)


def test_latin_words_are_found_whatever_their_case():
    line = "，".join(["我们单位的报表很多"] * 6) + "，想系统学一下Excel的数据透视表和函数，" + "，".join(["每周都要做"] * 6)
    assert "Excel" in excerpt(line, ["excel"])

"""Tests of recommender.text.complaints: a complaint about the class naming one more thing."""

from __future__ import annotations

import pytest

from recommender.text.tokenize import tokenize


@pytest.mark.parametrize(
    "text",
    ["外面装修的声音太吵了", "讲义上的字太小，老人看不清", "教室里蚊子太多", "电动车没地方停", "白板上的字擦不干净"],
)
def test_a_complaint_naming_one_more_thing_is_class_feedback(text):
    """装修, 老人, 蚊子 are subjects too, but beside a class word in a complaint's shape (太 +
    what it was, a verb with 不 and its result, something missing) the line asks for nothing."""
    assert tokenize(text) == []


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ("手机字太小怎么调大", "手机"),  # how to: a request, whatever its shape
        ("老人听不清电话怎么办", "电话"),
        ("学会用电脑连投影仪", "电脑"),  # learning
        ("来一首有点舍不得", "舍不得"),  # a degree word alone is not the class
        ("我叫了好几次物业都不来", "物业"),  # a count alone is not the class
        ("停车位不够业主天天抢车位", "业主"),  # 不够 before a noun is not how the class was
        ("投影仪老是连不上电脑，耽误时间", "电脑"),  # two words besides the class's: not taken
    ],
)
def test_a_request_or_a_line_about_something_else_keeps_its_words(text, subject):
    assert subject in tokenize(text)


def test_asking_words_are_found_among_the_pieces_but_not_in_the_classroom():
    from recommender.text.complaints import asks_something

    assert asks_something(["怎么", "用"]) and asks_something(["想学", "ppt"]) and asks_something(["讲讲"])
    assert asks_something(["安全", "知识"]) and asks_something(["是", "白内障", "吗"])
    assert not asks_something(["教室", "太", "热"]) and not asks_something(["老师", "讲", "得", "太快"])

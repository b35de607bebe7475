"""Tests of the one-theme rule of recommender.model.clustering (word shares, templates)."""

from __future__ import annotations

from recommender.model.clustering import ONE_THEME_SHARE, dominant_word_share, template_affixes

ISSUES = [["停车位", "占用"], ["车库", "停车位", "收费"], ["施工", "噪音", "扰民"], ["广场舞", "噪音"], ["电梯", "故障"], ["电梯", "维修", "没人管"]]


def test_one_shared_word_makes_one_theme():
    """A word in most lines (here the subject, last in each: 北京 天气) triggers the rule."""
    tokens = [[city, "天气"] for city in ["北京", "上海", "明天", "广州", "今天"]] * 3 + [["下雨"]]
    assert dominant_word_share(tokens) >= ONE_THEME_SHARE


def test_a_template_is_not_a_theme():
    """Two or more words opening or closing most lines are a template: not counted."""
    closing = [[*t, "来自", "微信", "小程序"] for t in ISSUES]
    opening = [["市民", "留言", *t] for t in ISSUES]
    assert template_affixes(closing) == ((), ("来自", "微信", "小程序"))
    assert template_affixes(opening) == (("市民", "留言"), ())
    assert dominant_word_share(closing) < ONE_THEME_SHARE
    assert dominant_word_share(opening) < ONE_THEME_SHARE
    # Without the template the same lines score as before.
    assert dominant_word_share(closing) == dominant_word_share(ISSUES)


def test_a_sequence_that_is_the_whole_line_is_its_content():
    """Lines that say nothing but the shared words are about them (one theme)."""
    tokens = [["智能手机", "用法"]] * 16 + [["智能手机", "微信", "用法"]] * 8 + [["智能手机", "相机", "用法"]] * 4
    assert template_affixes(tokens) == ((), ())
    assert dominant_word_share(tokens) == 1.0


def test_a_template_around_one_theme_leaves_one_theme():
    """Cutting a template does not hide the theme the lines share."""
    tokens = [["消防", w, "来自", "微信", "小程序"] for w in ["通道", "器材", "演练", "隐患", "报警"]] * 2
    assert dominant_word_share(tokens) == 1.0

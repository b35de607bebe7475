"""What an organizer reads beside a topic's label (model/describe.py): quotes that show the
label in use, keywords that are words."""

import numpy as np

from recommender.model.describe import quote_tiers, representative_examples, whole_keywords
from recommender.text.tokenize import is_known_word


def _quotes(texts, scores, label, keywords, n=3):
    vectors = np.eye(len(texts))  # no two lines alike
    return [
        texts[i]
        for i in representative_examples(
            texts, vectors, np.arange(len(texts)), np.asarray(scores, dtype=float), n,
            quote_tiers(texts, label, keywords),
        )
    ]


def test_quotes_show_the_label_before_more_central_lines_that_do_not_say_it():
    # The two most central lines by the assignment score joined by closeness and say
    # nothing of noise: an organizer reading them could not tell what 「扰民」 is about.
    texts = [
        "投诉某路超市占道经营",
        "关于某村储备地非法填土的情况反映",
        "反映地铁施工噪音扰民和工期问题",
        "投诉货运站货车占道卸货扰民",
        "某工厂噪音黑烟臭味",
    ]
    quotes = _quotes(texts, [0.9, 0.8, 0.7, 0.6, 0.5], "扰民", ["扰民", "噪音", "夜宵"])
    assert quotes == ["反映地铁施工噪音扰民和工期问题", "投诉货运站货车占道卸货扰民", "某工厂噪音黑烟臭味"]


def test_quotes_keep_the_central_order_when_every_line_says_the_label():
    texts = ["灭火器怎么用", "灭火器的使用方法", "家里要不要备灭火器"]
    assert _quotes(texts, [0.5, 0.9, 0.7], "灭火器", ["灭火器"]) == [
        "灭火器的使用方法", "家里要不要备灭火器", "灭火器怎么用",
    ]
    # Without tiers (a caller that has none) the order is by centrality alone.
    vectors = np.eye(3)
    assert representative_examples(texts, vectors, np.arange(3), np.array([0.5, 0.9, 0.7]), 3) == [1, 2, 0]


def test_a_word_jieba_guessed_across_a_name_is_no_keyword():
    # 「拆除五一桥来建商业廊桥」: jieba reads 五一 + 桥来 + 建; 桥来 is its guess, always inside
    # the same string, no word anybody wrote.
    assert not is_known_word("桥来")
    lines = [
        "反对拆除五一桥来建商业廊桥",
        "人民反对拆除五一桥来建商业廊桥",
        "请求不要拆除五一桥来建廊桥",
        "商铺廊桥建设的问题",
    ]
    scored = [("廊桥", 1.0), ("桥来", 0.9), ("商铺", 0.8), ("拆除", 0.7)]
    assert [w for w, _ in whole_keywords(scored, lines, 3)] == ["廊桥", "商铺", "拆除"]


def test_a_dictionary_word_mostly_inside_a_longer_one_stays_a_keyword():
    # 有偿 is nearly always 有偿补课 here, yet it is a word, and a class on paid tutoring
    # is what the lines ask about.
    assert is_known_word("有偿")
    lines = ["投诉二中有偿补课", "某中学有偿补课", "举报老师有偿补课", "暑假补课收费"]
    scored = [("补课", 1.0), ("有偿", 0.8), ("收费", 0.5)]
    assert [w for w, _ in whole_keywords(scored, lines, 3)] == ["补课", "有偿", "收费"]

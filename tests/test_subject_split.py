"""A specific subject inside a broad topic is a topic of its own (discovery.split_subjects):
six complaints about one mixing plant's noise among some fifty noise complaints of every
other kind, on a corpus written here."""

from __future__ import annotations

import numpy as np

from recommender.model import TopicModel
from recommender.model.discovery import Topic, split_subjects
from recommender.text.lexicon import is_thing

# Noise complaints about forty-five different sources: one broad topic (噪音扰民), no
# source named in more than one line.
NOISE = [
    "小区广场舞音响太吵，晚上十点还在跳，噪音扰民", "楼上装修电钻声从早响到晚，噪音扰民严重", "夜宵摊半夜喧哗，噪音扰民睡不好",
    "麻将馆通宵营业，噪音扰民", "洒水车音乐声太大，清晨扰民", "渣土车夜间通行轰鸣，噪音扰民",
    "商铺门口高音喇叭循环播放广告扰民", "健身房夜里放音乐噪音太大", "烧烤店油烟和噪音扰民",
    "工地夜间违规施工，噪音扰民", "卡拉OK包厢声音传到居民楼，扰民", "菜市场凌晨卸货噪音扰民",
    "快递站分拣到半夜，噪音很大", "篮球场晚上打球到十二点，吵得睡不着", "汽修店白天敲打噪音扰民",
    "邻居家的狗整夜叫，噪音扰民", "空调外机噪音太大影响休息", "早餐店凌晨四点开始磨豆浆，噪音扰民",
    "超市冷柜压缩机噪声扰民", "货运站叉车夜间作业扰民", "酒吧深夜音乐震天响扰民",
    "KTV噪音扰民，多次投诉无果", "火车夜里鸣笛扰民", "学校广播太早太响扰民",
    "小区门口餐馆排风扇噪音扰民", "地铁施工夜间噪音扰民", "高架桥车流噪音大，希望装隔音屏",
    "楼下商铺音响外放扰民", "公园里唱歌的人音响开太大，噪音扰民", "物流仓库夜间装卸噪音扰民",
    "小区水泵房噪音扰民", "电梯机房噪声扰民，住顶楼的睡不着", "变电站嗡嗡声扰民",
    "道路施工晚上打桩，噪音扰民", "宠物店狗叫声扰民", "小区游乐场孩子尖叫吵闹扰民",
    "工厂机器昼夜运转噪音扰民", "舞厅散场喧哗扰民", "摩托车炸街噪音扰民",
    "广告宣传车喇叭扰民", "教堂钟声太早扰民", "夜市摊贩叫卖声扰民",
    "网吧门口半夜喧哗扰民", "足球场夜间比赛噪音扰民", "垃圾清运车凌晨作业噪音扰民",
]
# One specific request: six people about a mixing plant, in the broad topic's own words.
MIXING_PLANT = [
    "西湖街道旁边的搅拌站半夜施工，噪音扰民", "投诉金星路搅拌站夜间噪音扰民", "搅拌站噪音扰民，请相关部门管一管",
    "小区对面的搅拌站凌晨还在作业，噪音扰民", "高塘岭搅拌站噪音和粉尘严重影响居民", "家门口的搅拌站太吵，孩子没法写作业",
]
OTHER = [
    "公积金贷款额度怎么算", "公积金提取需要什么材料", "异地公积金怎么转移", "公积金贷款利率下调",
    "公积金缴存比例调整", "公积金账户余额查询", "公积金贷款审批多久", "公积金提取到账时间",
    "灭火器怎么正确使用", "灭火器放置位置要求", "灭火器过期怎么处理", "灭火器的种类有哪些",
    "灭火器压力表怎么看", "家用灭火器怎么选", "灭火器使用演练", "灭火器年检规定",
]
TEXTS = NOISE + MIXING_PLANT + OTHER
PLANT_ROWS = slice(len(NOISE), len(NOISE) + len(MIXING_PLANT))


def test_a_specific_subject_inside_a_broad_topic_is_a_topic_of_its_own():
    """Without the split, four of the six lines sat in 「噪音扰民」 and two in no topic: the
    latent space blurs six lines about a rare subject into the broad topic whose frame
    (噪音、扰民) they share."""
    model = TopicModel(random_state=0).fit(TEXTS)
    plant = model.labels_[PLANT_ROWS]
    assert (plant >= 0).all() and len(set(plant.tolist())) == 1
    topic = model.topics_[int(plant[0])]
    assert "搅拌站" in topic["label"]
    assert topic["size"] <= len(MIXING_PLANT) + 1
    broad = [t for t in model.topics_ if "扰民" in t["label"] or "噪音" in t["label"]]
    assert broad and broad[0]["size"] >= 20  # the broad topic is still there


def test_the_split_topic_survives_a_retrain_with_nothing_new():
    first = TopicModel(random_state=0).fit(TEXTS)
    again = TopicModel(random_state=0).fit(TEXTS, prior_labels=first.labels_)
    assert np.array_equal(first.labels_, again.labels_)
    assert [t["label"] for t in first.topics_] == [t["label"] for t in again.topics_]


def _host_with(word_lines: list[list[str]], others: int, free: list[list[str]] = ()) -> tuple:
    tokens = [["噪音", "扰民", f"来源{i}"] for i in range(others)] + word_lines + list(free)
    labels = np.array([0] * (others + len(word_lines)) + [-1] * len(free))
    topics = [Topic(members=np.arange(others), terms=["噪音", "扰民"])]
    return tokens, labels, topics


def _split(tokens, labels, topics, prior=None):
    counts: dict = {}
    for toks in tokens:
        for w in set(toks):
            counts[w] = counts.get(w, 0) + 1
    from collections import Counter

    return split_subjects(topics, labels, tokens, Counter(counts), len(tokens), set(), prior, 5)


def test_a_thing_the_rest_of_the_topic_does_not_use_splits_off_with_the_free_lines_that_share_it():
    tokens, labels, topics = _host_with([["搅拌站", "噪音", "扰民"]] * 4, 40, free=[["搅拌站", "夜间"]] * 2)
    out = _split(tokens, labels, topics)
    assert len(out) == 2
    assert sorted(out[1].members.tolist()) == list(range(40, 46))
    assert "搅拌站" in out[1].terms


def test_no_split_for_a_word_that_is_not_a_thing_or_that_the_topic_already_uses():
    assert is_thing("搅拌站") and is_thing("酒吧") and not is_thing("协调") and not is_thing("有偿")
    tokens, labels, topics = _host_with([["协调", "噪音", "扰民"]] * 6, 40)
    assert len(_split(tokens, labels, topics)) == 1  # a verb is an aspect, not a subject
    tokens, labels, topics = _host_with([["搅拌站", "噪音", "扰民"]] * 12, 40)
    assert len(_split(tokens, labels, topics)) == 1  # 12 of 52 lines: the topic uses it too


def test_a_new_split_in_a_retrain_needs_new_lines():
    """Old lines regrouped are no new request (as for a new core, ``NEW_TOPIC_NEW_LINES``)."""
    tokens, labels, topics = _host_with([["搅拌站", "噪音", "扰民"]] * 6, 40)
    topics[0].prior = 3
    old = np.full(len(tokens), 3)
    assert len(_split(tokens, labels, topics, prior=old)) == 1
    new = old.copy()
    new[-2:] = -2  # two lines the previous model never saw
    assert len(_split(tokens, labels, topics, prior=new)) == 2


def test_a_place_inside_a_topic_is_no_subject_of_its_own():
    """Six complaints about after-school classes at one county's first school (「K7县一中」):
    jieba cuts the code alone and reads 县一中 as a noun, but it names where the classes are
    (县 + 一中, a place word), as 县松雅湖 (县 glued to a name jieba does not know) does."""
    from recommender.text.lexicon import names_a_place

    assert names_a_place("县一中") and names_a_place("县松雅湖") and not names_a_place("搅拌站")
    assert is_thing("县一中")  # what jieba's tag alone would split
    for place in ("县一中", "县松雅湖"):
        tokens, labels, topics = _host_with([[place, "噪音", "扰民"]] * 4, 40, free=[[place, "夜间"]] * 2)
        assert len(_split(tokens, labels, topics)) == 1

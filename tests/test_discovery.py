"""Tests of the corpus-learned boilerplate that keeps catch-alls out of the topics
(recommender.model.boilerplate, discovery), on small corpora written here."""

from __future__ import annotations

import numpy as np

from recommender.model import TopicModel

# Twenty news subjects of three headlines each (too few for a topic of their own), two of
# each three tagged 组图 as a photo gallery: the tag is on lines of every subject.
SMALL_SUBJECTS = [
    ["刘德华出席电影首映礼", "刘德华新片票房破亿", "刘德华演唱会门票开售"],
    ["广州恒大主场击败对手", "恒大外援伤愈复出", "恒大主教练赛后发布会"],
    ["沪指午后拉升收涨", "沪指早盘低开震荡", "沪指成交量明显萎缩"],
    ["北京楼盘开盘均价上涨", "北京二手房成交回落", "北京限购政策再升级"],
    ["魔兽世界新版本公测", "魔兽世界玩家副本攻略", "魔兽世界资料片上线"],
    ["台风登陆沿海地区", "台风过境多地停课", "台风造成农田受灾"],
    ["高考成绩今日公布", "高考志愿填报指南", "高考录取分数线出炉"],
    ["新款手机发布售价公开", "手机续航测试结果", "手机摄像头评测对比"],
    ["油价下调每升降两毛", "油价调整窗口开启", "国际油价持续走低"],
    ["大熊猫幼崽首次亮相", "熊猫基地迎来双胞胎", "熊猫宝宝满月庆祝"],
    ["地铁新线开通试运营", "地铁票价调整方案", "地铁早高峰客流创新高"],
    ["马拉松赛事鸣枪开跑", "马拉松选手冲线瞬间", "马拉松报名人数创纪录"],
    ["车展新车集中亮相", "车展概念车吸引观众", "车展首日人气火爆"],
    ["古镇夜景灯光秀", "古镇游客接待量创新高", "古镇修缮工程完工"],
    ["航母编队远海训练", "航母舰载机起降演练", "航母返回母港休整"],
    ["时装周模特走秀", "时装周设计师新品发布", "时装周街拍潮人"],
    ["冬奥会场馆建设进展", "冬奥会志愿者招募", "冬奥会火炬传递路线"],
    ["春运火车票开抢", "春运返乡客流高峰", "春运机场增开航班"],
    ["考古发现千年古墓", "考古队出土青铜器", "考古遗址公园开放"],
    ["暴雨导致城市内涝", "暴雨预警升级橙色", "暴雨过后道路积水"],
]
# Two subjects asked about often enough to be topics.
REAL_SUBJECTS = {
    "公积金": ["公积金贷款额度怎么算", "公积金提取需要什么材料", "异地公积金怎么转移", "公积金贷款利率下调",
            "公积金缴存比例调整", "公积金账户余额查询", "公积金贷款审批多久", "公积金提取到账时间"],
    "灭火器": ["灭火器怎么正确使用", "灭火器放置位置要求", "灭火器过期怎么处理", "灭火器的种类有哪些",
            "灭火器压力表怎么看", "家用灭火器怎么选", "灭火器使用演练", "灭火器年检规定"],
}


def tagged_headlines() -> list[str]:
    texts = []
    for s, lines in enumerate(SMALL_SUBJECTS):
        for j, line in enumerate(lines):
            tagged = j != s % 3
            texts.append((f"组图：{line}" if s % 2 else f"{line}(组图)") if tagged else line)
    for lines in REAL_SUBJECTS.values():
        texts += lines
    return texts


def test_a_tag_on_lines_of_every_subject_makes_no_topic():
    """组图 on headlines of twenty subjects is learned as this corpus's boilerplate: no topic
    is labelled with it or holds its lines by it; the real subjects stay topics."""
    texts = tagged_headlines()
    model = TopicModel().fit(texts)
    assert "组图" in model.generic_words_
    for topic in model.topics_:
        assert "组图" not in topic["label"], topic
        assert "组图" not in topic["terms"], topic
    for subject in REAL_SUBJECTS:
        about = np.array([subject in t for t in texts])
        values, counts = np.unique(model.labels_[about], return_counts=True)
        main = int(values[np.argmax(counts)])
        assert main >= 0 and subject in model.topics_[main]["label"], (subject, model.topics_[main])


def test_a_word_mostly_about_other_things_is_no_distinctive_term():
    """购买 is in half of a pension core's lines ("购买养老保险"), but most lines that say 购买
    buy other things: a line with a topic's distinctive word may join it, so 购买 is not one;
    the subject itself (养老保险) always is, however many lines outside the core use it."""
    from collections import Counter

    from recommender.model.discovery import TERM_MIN_PRECISION, distinctive_terms

    core = [["养老保险", "购买"], ["养老保险", "补缴"], ["养老保险", "购买"], ["养老保险", "补缴"], ["养老保险", "转移"]]
    elsewhere = [["购买", thing] for thing in ("二手房", "新车", "轮椅", "车位", "门票", "家具", "化肥", "药品")]
    elsewhere += [["养老保险"]] * 20 + [["公积金", "提取"]] * 30
    tokens = core + elsewhere
    counts = Counter(w for toks in tokens for w in set(toks))
    rows = np.arange(len(core))
    terms = distinctive_terms(tokens, rows, counts, len(tokens), generic=set())
    assert terms[0] == "养老保险" and "补缴" in terms
    assert 2 < TERM_MIN_PRECISION * counts["购买"] and "购买" not in terms
    # With the other buying lines gone, 购买 is the pension lines' own word again.
    terms = distinctive_terms(core + elsewhere[8:], rows, counts - Counter({"购买": 8}), len(tokens) - 8, generic=set())
    assert "购买" in terms

"""Tests of the corpus-learned boilerplate that keeps catch-alls out of the topics, and of
what makes a core a topic (recommender.model.boilerplate, discovery), on small corpora
written here."""

from __future__ import annotations

from collections import Counter

import numpy as np

from recommender.model import TopicModel
from recommender.model.boilerplate import HEAD_MIN_LINES, judged_lines
from recommender.model.discovery import distinctive_terms, is_specific, specific_terms, word_shares
from recommender.text.tokenize import tokenize

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


# Lines that share a word with one other line only: 「女孩」 twice, 「经济」 twice; the
# characters of 经纪人, 经理人 and 经济 bring them together, no subject does.
PAIRS = ["十六岁女孩抢劫出租车司机", "女孩离家出走被找回", "经纪人否认绯闻", "经理人直斥传闻离谱",
         "英国经济连续下滑", "基金经理看好经济复苏"]
# A request family of six lines: the smallest a store should still see as a topic.
MIXING_PLANT = ["搅拌站噪音扰民严重", "搅拌站粉尘污染", "搅拌站夜间施工太吵", "投诉搅拌站噪音",
                "搅拌站运输车撒漏", "搅拌站影响居民休息"]


def _core(lines: list[list[str]], background: int = 200) -> tuple[list[list[str]], np.ndarray, Counter]:
    """Tokens of a core's ``lines`` after ``background`` unrelated lines, its rows and the
    corpus's word counts."""
    tokens = [[f"词{i}", f"项{i}"] for i in range(background)] + lines
    counts, _ = word_shares(tokens)
    return tokens, np.arange(background, len(tokens)), counts


# Lines from which a store of 2,000 lines judges a word any text uses (the head-word test's).
LARGE = judged_lines(2000, 5)


def test_words_only_two_lines_share_make_no_topic():
    """A core whose distinctive words are each in two of its lines is a set of pairs."""
    tokens, rows, counts = _core([tokenize(t) for t in PAIRS])
    assert {"女孩", "经济"} <= set(distinctive_terms(tokens, rows, counts, len(tokens), set()))
    assert specific_terms(tokens, rows, ["女孩", "经济"], counts, HEAD_MIN_LINES) == []
    assert not is_specific(tokens, rows, ["女孩", "经济"], counts, HEAD_MIN_LINES)


def test_a_small_request_family_is_specific():
    tokens, rows, counts = _core([tokenize(t) for t in MIXING_PLANT])
    terms = distinctive_terms(tokens, rows, counts, len(tokens), set())
    assert "搅拌站" in specific_terms(tokens, rows, terms, counts, HEAD_MIN_LINES)
    assert is_specific(tokens, rows, terms, counts, HEAD_MIN_LINES)


def test_a_word_any_text_uses_makes_a_topic_only_when_the_corpus_has_enough_of_it():
    """政府 (common in general Chinese) on four of six lines about different things, in a
    store of 2,000 lines: too few lines for the corpus to judge the word, so general Chinese
    does, and the lines are no topic; a rare word on as few lines is (灭火器), and so is 政府
    once the corpus has ``HEAD_MIN_LINES`` lines of it (then the head-word test judges it)."""
    government = [["政府", "油价", "补贴"], ["政府", "地铁", "票价"], ["政府", "台风", "通知"],
                  ["政府", "古镇", "修缮"], ["暴雨", "防汛"], ["春运", "保障"]]
    tokens, rows, counts = _core(government)
    assert not is_specific(tokens, rows, ["政府"], counts, LARGE)
    extinguisher = [["灭火器" if w == "政府" else w for w in line] for line in government]
    tokens, rows, counts = _core(extinguisher)
    assert is_specific(tokens, rows, ["灭火器"], counts, LARGE)
    tokens, rows, counts = _core(government)
    counts["政府"] = HEAD_MIN_LINES
    assert is_specific(tokens, rows, ["政府"], counts, LARGE)


def test_a_small_store_judges_the_things_its_lines_name():
    """A thing any text names (医院) on five lines is a small store's subject, not a large store's nor a verb's."""
    # In a store of a few hundred lines the remainder test has read every word of three
    # lines and made it generic (then it is no term) when its lines share nothing else; a
    # topic needs five lines (``judged_lines``); 解决 names no thing; among 2,000 lines five
    # are too few to judge a word.
    hospital = [["医院", "挂号", "网上"], ["医院", "报告", "看懂"], ["医院", "自助机", "老人"],
                ["医院", "急诊", "晚上"], ["医院", "缴费", "窗口"], ["复查", "准备"], ["看病", "流程"]]
    tokens, rows, counts = _core(hospital)
    small = judged_lines(len(tokens), 5)
    assert small == 5
    assert is_specific(tokens, rows, ["医院"], counts, small)
    assert not is_specific(tokens, rows, ["医院"], counts, LARGE)
    tokens, rows, counts = _core(hospital[1:])
    assert not is_specific(tokens, rows, ["医院"], counts, small)  # four lines: fewer than a topic
    solve = [["解决" if w == "医院" else w for w in line] for line in hospital]
    tokens, rows, counts = _core(solve)
    assert not is_specific(tokens, rows, ["解决"], counts, small)


def test_a_six_line_request_family_is_a_topic_and_pairs_are_not():
    texts = [line for lines in SMALL_SUBJECTS for line in lines] + PAIRS + MIXING_PLANT
    for lines in REAL_SUBJECTS.values():
        texts += lines
    model = TopicModel().fit(texts)
    plant = model.labels_[[texts.index(t) for t in MIXING_PLANT]]
    values, counts = np.unique(plant, return_counts=True)
    main = int(values[np.argmax(counts)])
    assert main >= 0 and counts.max() >= 5 and "搅拌站" in model.topics_[main]["label"], model.topics_
    for topic in model.topics_:
        assert not {"女孩", "经济"} & set(topic["terms"]), topic


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



def test_leaves_about_one_subject_are_one_topic_and_a_specific_source_is_not_merged():
    """HDBSCAN can cut one request family into leaves by an aspect (操作, 使用): each leaf's
    subject is the word nearly all its lines use that is most specific in general Chinese
    (灭火器, not 操作), so the leaves are one topic. A mixing plant's noise stays apart from
    the general noise complaints although all its lines say 扰民 too: its subject is 搅拌站."""
    from recommender.model.discovery import merge_twins, subject_head

    rng = np.random.default_rng(0)

    def around(axis: int, n: int, spread: float = 0.3) -> np.ndarray:
        base = np.zeros(8)
        base[axis] = 1.0
        base[axis + 1] = 0.8  # the two leaves of a family lean the same way
        rows = base + spread * rng.random((n, 8))
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    operate = [["灭火器", "操作", "方法"]] * 3 + [["灭火器", "操作", "演示"]] * 3
    drill = [["灭火器", "使用", "压力表"]] * 3 + [["灭火器", "使用", "演练"]] * 3
    plant = [["搅拌站", "噪音", "扰民"]] * 6
    noise = [["扰民", "噪音", "广场舞"]] * 3 + [["扰民", "装修", "噪音"]] * 3
    tokens = operate + drill + plant + noise
    Z = np.vstack([around(0, 6), around(0, 6), around(4, 6), around(4, 6)])
    counts = Counter(w for toks in tokens for w in toks)
    assert subject_head({"灭火器", "操作"}, Counter(dict.fromkeys(["灭火器", "操作"], 6)), counts) == "灭火器"
    assert subject_head({"搅拌站", "噪音", "扰民"}, Counter(dict.fromkeys(["搅拌站", "噪音", "扰民"], 6)), counts) == "搅拌站"
    cores = [(np.arange(0, 6), 1.0), (np.arange(6, 12), 1.0), (np.arange(12, 18), 1.0), (np.arange(18, 24), 1.0)]
    merged = merge_twins(cores, Z, tokens, generic=set())
    assert sorted(r.tolist() for r, _ in merged) == [list(range(0, 12)), list(range(12, 18)), list(range(18, 24))]

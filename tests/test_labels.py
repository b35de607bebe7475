"""Phrase labels (model/labels.py): candidates from the lines, distinct choices."""

import random

import numpy as np

from recommender.model.describe import group_themes
from recommender.model.labels import (
    EXTEND_ANCHOR_SHARE, EXTEND_SHARE, candidate_labels, choose_labels, is_fragment, phrases, theme_label,
)


def _labelled(cuts, keywords, generic=frozenset()):
    """Candidates of lines given as jieba pieces, with and without the pieces' boundaries."""
    content = {w for cut in cuts for w in cut if len(w) >= 2}
    line_phrases = [phrases(cut, content) for cut in cuts]
    return (candidate_labels(line_phrases, keywords, set(generic)),
            candidate_labels(line_phrases, keywords, set(generic), cuts))


def test_a_phrase_gives_way_to_the_longer_one_most_of_its_lines_use():
    """充电 alone scores best, but most lines that say 充电 say 充电桩: the label is 充电桩."""
    lines = [{"充电", "充电桩"}] * 6 + [{"充电"}] * 3 + [{"电动车"}]
    assert candidate_labels(lines, ["充电", "充电桩"], generic=set())[0] == "充电桩"


def test_a_longer_phrase_few_lines_use_does_not_replace_the_common_one():
    """公众号 in every line, 公众号排版 in a third: the label stays 公众号."""
    lines = [{"公众号", "公众号排版"}] * 3 + [{"公众号"}] * 6
    assert 3 <= EXTEND_SHARE * 9
    assert candidate_labels(lines, ["公众号", "排版"], generic=set())[0] == "公众号"


def test_generic_phrases_are_no_candidates():
    lines = [{"问题", "停车问题"}] * 4
    assert "问题" not in candidate_labels(lines, ["问题", "停车"], generic={"问题"})


def test_a_dictionary_word_is_a_label_although_part_of_it_is_boilerplate():
    # On a city's message board "收费" and "公交" are learned as boilerplate; the words that
    # hold them still name what the lines are about.
    lines = [{"乱收费", "收费"}, {"乱收费"}, {"乱收费", "停车"}, {"停车"}]
    assert candidate_labels(lines, ["乱收费", "停车"], generic={"收费"})[0] == "乱收费"
    lines = [{"公交车", "公交"}, {"公交车"}, {"公交车"}]
    assert candidate_labels(lines, ["公交车"], generic={"公交"})[0] == "公交车"
    # A phrase that is no word is still refused when it starts or ends with boilerplate.
    assert "收费停车" not in candidate_labels([{"收费停车"}, {"收费停车"}], ["停车"], generic={"收费"})


def test_no_two_topics_share_a_label():
    labels = choose_labels([["停车"], ["停车", "车位"]], sizes=[10, 5], fallback=[["停车"], ["车位"]])
    assert labels == ["停车", "车位"]


def test_a_theme_is_named_by_a_word_most_of_its_topics_share():
    labels = ["冒充公检法", "刷单诈骗", "防范电信诈骗"]
    keywords = [["冒充", "诈骗"], ["刷单", "诈骗"], ["电信", "诈骗"]]
    usage = [{"诈骗": 5}, {"诈骗": 6}, {"诈骗": 4}]
    assert theme_label(labels, keywords, usage, [5, 6, 4], generic=set()) == "诈骗"


def test_a_word_few_of_a_themes_topics_share_does_not_name_it():
    """车位 is a keyword of two of six topics about fees and schooling: the theme is named
    after its largest topic instead."""
    labels = ["补课", "开发商", "收取", "乱收费", "交房", "职业"]
    keywords = [["补课", "强制"], ["开发商", "车位"], ["收取", "车位"], ["乱收费"], ["交房", "延期"], ["职业", "学院"]]
    usage = [{w: 3 for w in kw} for kw in keywords]
    assert theme_label(labels, keywords, usage, [47, 28, 27, 27, 13, 13], generic=set()) == "补课"


def test_a_word_no_topic_is_named_by_does_not_name_their_theme():
    """小孩 is a keyword of three school topics (入学, 户口迁移, 读书) and 格式 of three
    writing topics, yet no topic is named by it: it is an aspect of their lines, and the
    theme takes its largest topic's label. 诈骗, inside its topics' labels, still names its."""
    school = ["入学", "户口迁移", "读书"]
    keywords = [["入学", "小孩", "录取"], ["户口", "迁移", "小孩"], ["读书", "小孩", "孩子"]]
    usage = [{"入学": 27, "小孩": 8}, {"户口": 20, "小孩": 4}, {"读书": 17, "小孩": 8}]
    assert theme_label(school, keywords, usage, [28, 27, 17], generic=set()) == "入学"
    writing = ["公文写作", "通知的写法", "标题"]
    keywords = [["公文写作", "公文", "格式"], ["写法", "通知", "格式"], ["标题", "范文", "格式"]]
    usage = [{"公文写作": 9, "格式": 3}, {"写法": 6, "格式": 3}, {"标题": 5, "格式": 4}]
    assert theme_label(writing, keywords, usage, [12, 8, 6], generic=set()) == "公文写作"
    fraud = ["冒充客服诈骗", "刷单诈骗", "冒充公检法"]
    keywords = [["客服", "诈骗"], ["刷单", "诈骗"], ["公检法", "诈骗"]]
    usage = [{"诈骗": 5}, {"诈骗": 6}, {"诈骗": 4}]
    assert theme_label(fraud, keywords, usage, [5, 6, 4], generic=set()) == "诈骗"


def test_a_word_jieba_cut_from_a_longer_one_does_not_name_a_theme():
    """公众 is a keyword of both topics because jieba cut 公众号 in two; in the lines it is
    always followed by 号, so the theme takes its largest topic's label. 诈骗, followed by
    different characters, still names its theme."""
    labels = ["公众号排版", "海报制作"]
    keywords = [["排版", "公众", "构图"], ["海报", "公众", "制作"]]
    usage = [{"排版": 6, "公众": 6}, {"海报": 5, "公众": 3}]
    lines = ["公众号排版怎么做好看", "想学公众号排版", "社区公众号的排版技巧", "海报和公众号供稿怎么做"]
    assert theme_label(labels, keywords, usage, [7, 5], generic=set()) == "公众"
    assert theme_label(labels, keywords, usage, [7, 5], generic=set(), lines=lines) == "公众号排版"
    assert is_fragment("有失", ["家里有失能老人怎么照护", "有失能老人的家庭", "照顾有失能的老人"])
    fraud = ["冒充公检法诈骗怎么防", "刷单诈骗的套路", "防范电信诈骗", "诈骗电话怎么识别"]
    assert not is_fragment("诈骗", fraud)
    assert theme_label(["冒充公检法", "刷单诈骗"], [["冒充", "诈骗"], ["刷单", "诈骗"]], [{"诈骗": 5}, {"诈骗": 6}],
                       [5, 6], generic=set(), lines=fraud) == "诈骗"


def test_a_phrase_joining_two_of_the_topics_words_takes_over_from_a_single_one():
    """购房 in 10 lines, 购房补贴 (购房 and 补贴 are both among the topic's words) in 5 of them:
    fewer than half, yet the label names both words; 购房券 in as many lines adds no topic
    word and does not take over."""
    joined = [{"购房", "补贴", "购房补贴"}] * 5 + [{"购房"}] * 5 + [{"补贴"}] * 3
    assert 5 <= EXTEND_SHARE * 10 and 5 > EXTEND_ANCHOR_SHARE * 10
    assert candidate_labels(joined, ["购房", "补贴", "人才"], generic=set())[0] == "购房补贴"
    other = [{"购房", "购房券"}] * 5 + [{"购房"}] * 5 + [{"补贴"}] * 3
    assert candidate_labels(other, ["购房", "补贴", "人才"], generic=set())[0] == "购房"


def test_a_phrase_is_scored_as_the_longer_one_nearly_all_its_lines_use():
    """A topic of 33 lines (seed 5 of the planted-demand measure): 充电 in 25, 充电桩 in 18 of
    them, 电动车 in 21. 电动车's third character put it ahead of 充电 and the topic was
    labelled 「电动车」; read as 充电桩 where its lines say so, 充电 wins and names the request."""
    lines = ([{"充电", "充电桩", "电动车", "电动车充电"}] * 8 + [{"充电", "充电桩", "电动车"}] * 6
             + [{"充电", "充电桩"}] * 4 + [{"充电"}] * 7 + [{"电动车"}] * 7 + [{"残疾人"}] * 1)
    assert candidate_labels(lines, ["充电", "电动车", "残疾人"], generic=set())[0] == "充电桩"
    # A step few of the lines take earns nothing: 方根 in 3 lines, 平方根的立方 in 2 of them,
    # does not beat 平方 in 5.
    lines = [{"平方"}] * 3 + [{"平方", "方根", "平方根的立方"}] * 2 + [{"方根"}] + [{"立方"}] * 3
    assert candidate_labels(lines, ["平方", "立方", "方根"], generic=set())[0] == "平方"


def test_a_subsidy_topic_is_labelled_with_the_subsidy_its_lines_ask_about():
    """Graduates ask about 人才购房补贴 / 购房补贴 in 9 of 12 sentences, 3 about 补贴 alone;
    毕业生 is in 11. The label is the phrase of the request (read from the lines' own
    jieba pieces, so it appears verbatim and starts and ends on word boundaries), not the
    word for who asks; a subsidy topic whose lines name many subsidies stays 「补贴」."""
    from recommender.text.tokenize import pieces, tokenize

    texts = ["应届毕业生申请人才购房补贴要什么材料", "毕业生问人才购房补贴被退回了怎么办",
             "我是研究生毕业生，人才购房补贴怎么申请", "毕业生想问人才购房补贴申请系统为什么打不开",
             "毕业生问人才购房补贴什么时候发放", "毕业生问购房补贴到账太慢",
             "毕业生在星沙买房，购房补贴的标准是多少", "毕业生买房能领购房补贴吗",
             "毕业生购房补贴审核要多久", "毕业生的补贴发了吗", "毕业生补贴什么时候到", "补贴的钱一直没到"]
    cuts = [pieces(t) for t in texts]
    line_phrases = [phrases(cut, set(tokenize(t))) for cut, t in zip(cuts, texts)]
    label = candidate_labels(line_phrases, ["补贴", "购房", "毕业生"], set(), cuts)[0]
    assert "购房补贴" in label and all(label in t for t in texts[:5])
    texts = ["人才购房补贴什么时候发放", "购房补贴申请系统打不开", "购房补贴被退回了",
             "私家车报废补贴的问题", "农村危房补贴怎么申请", "残疾人两项补贴没发", "代课教师补贴的规定",
             "精装修补贴发放问题", "养牛有没有补贴", "雪灾政府补贴的问题"]
    cuts = [pieces(t) for t in texts]
    line_phrases = [phrases(cut, set(tokenize(t))) for cut, t in zip(cuts, texts)]
    assert candidate_labels(line_phrases, ["补贴", "购房", "人才"], set(), cuts)[0] == "补贴"


def test_a_broad_topic_similar_to_many_does_not_chain_them_into_one_theme():
    """Two families of three topics (similar 0.4 within, 0.08 across) and a broad topic 0.3
    similar to all six: plain average linkage at 0.1 makes one theme of all seven; judged
    against each topic's own nearest similarities the families stay apart, and a topic
    related to nothing is its own theme."""
    k = 8
    sim = np.full((k, k), 0.08)
    for family in ([0, 1, 2], [3, 4, 5]):
        for a in family:
            for b in family:
                sim[a, b] = 0.4
    sim[6, :6] = sim[:6, 6] = 0.3
    sim[7, :] = sim[:, 7] = 0.02
    np.fill_diagonal(sim, 1.0)
    themes = group_themes(sim, 0.1)
    assert len({themes[0], themes[1], themes[2]}) == 1 and len({themes[3], themes[4], themes[5]}) == 1
    assert themes[0] != themes[3]
    assert themes[7] not in set(themes[:7])


def test_topics_related_only_through_a_hub_are_not_one_theme():
    """A broad topic (0) 0.5 similar to four topics, which are two pairs (0.45 within) and
    0.28 similar across: on average the five are related enough (average linkage made one
    theme of them, as it made 「小孩」 over 报销, 养老保险 and 计划生育 of the message board),
    but the pairs across are not related to each other, and every two topics of a theme
    must be."""
    sim = np.array([
        [1.0, 0.5, 0.5, 0.5, 0.5],
        [0.5, 1.0, 0.45, 0.28, 0.28],
        [0.5, 0.45, 1.0, 0.28, 0.28],
        [0.5, 0.28, 0.28, 1.0, 0.45],
        [0.5, 0.28, 0.28, 0.45, 1.0],
    ])
    themes = group_themes(sim, 0.1)
    assert themes[1] == themes[2] and themes[3] == themes[4]
    assert themes[1] != themes[3]


def test_a_phrase_that_starts_or_ends_inside_a_word_jieba_cut_is_no_label():
    """jieba cuts 「拆除五一桥来建商铺」 into 五一 + 桥来 + 建 (the bridge is 五一桥): 桥来 is only
    its guess and always has 建 after it, and 五一 and 桥来 always come together, so the
    phrases ending in 五一 or 桥来 are cut inside a word; 商铺, with varied neighbours, is the
    label. Without the lines' pieces the cut phrase wins."""
    cuts = ([["反对", "拆除", "五一", "桥来", "建", "商铺"]] * 2
            + [["市民", "反对", "拆除", "五一", "桥来", "建", "商铺"]] * 2
            + [["商铺", "租金", "太", "高"], ["临街", "商铺", "没人", "租"]])
    blind, seen = _labelled(cuts, ["五一", "桥来", "商铺"])
    assert blind[0] in {"反对拆除五一", "拆除五一桥来"}
    assert seen[0] == "商铺"
    # When every phrase of a topic is cut so, its best one is still its label.
    blind, seen = _labelled(cuts[:4], ["五一", "桥来"])
    assert seen and seen[0] == blind[0]


def test_a_boundary_between_free_words_is_kept_although_the_same_word_follows():
    """Most message titles end in 问题 and a place's 县 precedes what follows it: neither
    makes 供水 or 农民工尘肺病群体 a fragment (供水 and 问题 are dictionary words; 县 is
    followed by varied characters)."""
    cuts = [["反映", "小区", "供水", "问题"], ["请求", "解决", "村民", "供水", "问题"], ["乡镇", "供水", "问题"],
            ["小区", "停水", "三天"], ["经常", "停水"]]
    assert _labelled(cuts, ["供水", "停水"], generic={"问题"})[1][0] == "供水"
    cuts = ([["b6", "县", "农民工", "尘肺病", "群体", "免费", "医疗"]] * 3
            + [["a7", "县", "公交", "线路"], ["a7", "县", "道路", "硬化"]])
    assert _labelled(cuts, ["农民工", "尘肺病", "群体"])[1][0] == "农民工尘肺病群体"


def test_a_new_lines_group_is_not_labelled_across_a_wrong_cut():
    """新出现的需求 groups are labelled like topics: jieba cuts 五一桥 as 五一 + 桥来 in
    「拆除五一桥来建商铺」, so 「桥来建商铺」 starts inside a word; the group is 「商铺」."""
    from recommender.model.emerging import group_new_lines
    from recommender.text.tokenize import tokenize

    texts = ["反对拆除五一桥来建商铺", "市民反对拆除五一桥来建商铺", "坚决反对拆除五一桥来建商铺",
             "反对拆除五一桥来建商铺，请回复", "临街商铺租金太高", "商铺没人租"]
    [group] = group_new_lines(texts, [tokenize(t) for t in texts])
    assert group.label == "商铺" and group.rows == tuple(range(6))


def test_a_phrase_that_ends_in_a_guess_before_de_ends_inside_a_noun_phrase():
    """「网格里新来的租户不知道去哪办」 repeated word for word (the demo store): jieba guesses
    新来, and 的 always follows it, so 「网格里新来」 ends inside 「新来的租户」: the label is
    租户. A dictionary word (居住证办理) or a Latin one (app) before 的 ends a phrase."""
    sentence = ["网格", "里", "新来", "的", "租户", "不", "知道", "去", "哪办"]
    cuts = [sentence + ["，", "想", "知道", "居住证", "办理", "流程"],
            ["能不能", "讲讲", "居住证", "续签", "？"] + sentence,
            sentence + ["，", "居住证", "需要", "什么", "材料"],
            ["居住证", "办理", "的", "流程", "能", "不能", "讲讲", "，"] + sentence,
            ["说句", "心里话", "，"] + sentence]
    blind, seen = _labelled(cuts, ["新来", "租户", "网格"])
    assert blind[0] in {"网格里新来", "新来的租户"}
    assert seen[0] == "租户"
    cuts = [["居住证", "办理", "的", "流程", "怎么", "走"], ["居住证", "办理", "的", "流程", "复杂"],
            ["讲讲", "居住证", "办理", "的", "材料"], ["居住证", "办理", "的", "地点", "在", "哪"]]
    assert _labelled(cuts, ["居住证", "办理"])[1][0] == "居住证办理"
    cuts = [["国家", "反诈", "中心", "app", "的", "使用"], ["反诈", "中心", "app", "的", "下载"],
            ["反诈", "中心", "app", "的", "注册"], ["装", "反诈", "中心", "app"]]
    assert _labelled(cuts, ["反诈", "app"])[1][0] == "反诈中心app"


def test_a_division_jieba_glued_to_a_name_is_neither_keyword_nor_label():
    """Anonymised places are a code and a division (「A7县松雅湖」): jieba reads the code
    alone and guesses 县松雅湖 (县 + 松雅湖) and 县榔 (县 + 榔梨镇). Such a piece is cut
    across a name: no phrase holds it and it is no keyword; a dictionary word is kept."""
    from recommender.model.describe import keywords_from_counts
    from recommender.text.lexicon import glued_division

    assert glued_division("县松雅湖") and glued_division("县榔")
    assert not glued_division("县城") and not glued_division("市场") and not glued_division("区域")
    cuts = [["a7", "县松雅湖", "周边", "出行", "不便"], ["a7", "县松雅湖", "周边", "出行", "难"],
            ["a7", "县松雅湖", "出行", "问题"], ["希望", "方便", "居民", "出行"]]
    assert all("县" not in p for ps in _labelled(cuts, ["县松雅湖", "出行"]) for p in ps)
    vocab = np.array(["县松雅湖", "出行", "周边", "县城"], dtype=object)
    [keywords] = keywords_from_counts(vocab, np.array([[3, 4, 2, 2]]), 8)
    assert [w for w, _ in keywords] == ["出行", "周边", "县城"]


# Openings of long citizen messages: who writes, where, since when; none says a subject.
_OPENINGS = ["尊敬的领导您好", "我是退休多年的老职工", "家住城东已经十几年了", "本人平时在外地打工",
             "今年春节前后回到老家", "邻居们都很关心", "我们几户人家商量了很久", "之前也打过几次热线",
             "家里老人身体一直不太好", "孩子在附近上学读书", "工作日白天基本不在家", "周末才有空写信",
             "希望能得到各位的重视", "这个情况持续了大半年", "我们都是普通老百姓", "昨天晚上又去问了一次",
             "朋友建议我在网上留言", "说起来话长", "先简单介绍一下情况", "我在这里住了二十年",
             "平时很少麻烦政府", "实在没有别的办法了", "街坊们议论纷纷", "我妻子也是本地人",
             "去年搬进来的时候还好好的", "单位领导也知道这事", "写这封信心情很复杂", "看到别人也留言了",
             "我文化程度不高", "请原谅我说得啰嗦"]
# What each topic's messages ask, after the opening: the request and a detail of it.
_REQUESTS = {
    "电梯维修": ["小区电梯维修拖了三个月没人管", "电梯维修基金怎么申请使用", "电梯维修的费用谁来承担",
              "物业说电梯维修要等开发商", "电梯维修完又坏了好几次", "电梯维修期间老人上下楼很难",
              "电梯维修公司资质是否合格", "电梯维修一直只是口头答应", "催问电梯维修进度没有回复",
              "电梯维修后还是经常停运"],
    "公交线路": ["希望增开一条公交线路到新区", "公交线路调整后上班很不方便", "公交线路绕路太远耽误时间",
              "新修的路上没有公交线路", "公交线路末班车太早了", "公交线路站点离小区太远",
              "公交线路能否延伸到产业园", "公交线路取消后只能打车", "请规划部门优化公交线路",
              "公交线路停靠站没有站牌"],
}
_DETAILS = {
    "电梯维修": ["物业一直推脱责任", "住在高层的老人出不了门", "业主多次找物业都没用", "上个月还困过人",
              "物业费一分没少交", "楼里住着好几位残疾人", "开发商说过了保修期", "电梯坏了只能爬楼梯",
              "物业经理不接电话", "业委会也催过物业"],
    "公交线路": ["坐公交车要换乘两次", "每天等车要半个小时", "最近的站点要走两公里", "早高峰公交车挤不上去",
              "晚上加班回来没有车", "学生坐公交车上学不方便", "公交公司说要研究研究", "附近几个村都没通车",
              "老人坐公交车去医院很难", "公交车班次太少"],
}


def _long_messages() -> dict[str, list[str]]:
    """Messages of 110-140 characters whose request comes after an opening of more than
    ``LABEL_CHARS`` characters, a greeting and seven clauses drawn for each message."""
    messages = {}
    for s, (subject, requests) in enumerate(_REQUESTS.items()):
        lines = []
        for j, request in enumerate(requests):
            i = s * len(requests) + j
            opening = "，".join(random.Random(i).sample(_OPENINGS, 7))
            lines.append(f"市长您好！我想反映一件事情：{opening}。{request}，{_DETAILS[subject][j]}，麻烦尽快处理，谢谢！")
        messages[subject] = lines
    return messages


def test_a_long_line_is_read_beyond_its_start_in_the_clauses_that_say_the_topic():
    """Beyond its first ``LABEL_CHARS`` characters a long line is read in the clauses that
    say an anchor word, and only those; a short line is read whole as before."""
    from recommender.model.labels import LABEL_CHARS, label_parts

    line = _long_messages()["电梯维修"][0]
    assert line.index("电梯维修") > LABEL_CHARS
    parts = label_parts(line, ["电梯", "维修"])
    assert parts[0] == line[:LABEL_CHARS] and parts[1:] == ["小区电梯维修拖了三个月没人管"]
    assert label_parts(line, ["充电桩"]) == [line[:LABEL_CHARS]]
    assert label_parts("电梯维修拖了三个月", ["电梯"]) == ["电梯维修拖了三个月"]


def test_long_messages_are_labelled_with_the_request_they_all_say_after_their_opening():
    """Long messages (100-130 characters) that all say their request after an opening of
    more than 80 characters: each topic's label is the phrase every one of its lines says,
    verbatim (read at the lines' start only, the label was 「市长」 of the greeting)."""
    from recommender.model import TopicModel

    messages = _long_messages()
    texts = [t for lines in messages.values() for t in lines]
    model = TopicModel(n_topics=2, random_state=0).fit(texts)
    labels = {t["topic"]: t["label"] for t in model.topics_}
    assert len(set(labels.values())) == 2
    for subject, lines in messages.items():
        topic = int(np.bincount(model.labels_[[texts.index(t) for t in lines]] + 1).argmax()) - 1
        assert topic >= 0, subject
        label = labels[topic]
        assert subject in label and all(label in t for t in lines), (subject, label)

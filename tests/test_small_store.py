"""A new night school's first hundred-odd lines: every subject several people ask about
is a topic, even when its word is one any Chinese text uses (医院, 银行, 法律), on too few
lines for the corpus-wide head-word test (recommender.model.discovery.specific_terms)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from recommender.model import TopicModel

# Six subjects of nine requests each; each request names its subject with a word common in
# general Chinese (general IDF below ``boilerplate.RARE_IDF``) and says little else alike.
SUBJECTS = {
    "医院": "想学怎么在医院网上挂号、去医院看病的流程能讲讲吗、医院的自助机老人不会用、带父母去医院复查要准备什么、医院检查报告怎么看懂、医院缴费用手机怎么操作、晚上急诊去哪家医院、医院里的医保报销窗口在哪、孩子发烧先去社区医院还是大医院".split("、"),
    "银行": "银行卡丢了怎么挂失、手机银行转账限额怎么改、银行柜台排队太久有没有别的办法、银行理财产品靠谱吗、去银行开户要带哪些证件、银行短信提醒怎么开通、老人在银行被推销保险怎么办、银行贷款利息怎么算、网上银行登录密码忘了".split("、"),
    "法律": "遇到邻里纠纷懂点法律知识、租房合同里的法律陷阱、想听听劳动法律方面的讲座、消费维权的法律途径有哪些、老年人遗嘱的法律效力、网购被骗能用法律追回吗、婚姻家庭相关法律咨询、法律援助中心怎么申请、交通事故赔偿的法律规定".split("、"),
    "汽车": "新手买二手汽车要注意什么、汽车保养多久做一次、冬天汽车电瓶没电怎么办、汽车年检需要哪些材料、新能源汽车充电方便吗、汽车轮胎多久换一次、开汽车长途前要检查什么、汽车保险怎么选划算、汽车违章怎么在线处理".split("、"),
    "学校": "孩子转学去新学校要办什么手续、学校午餐的营养搭配、怎么和学校老师沟通孩子的情况、学校附近的交通安全、学校开放日家长能参加吗、小升初怎么选学校、学校的课后托管怎么报名、学校组织的研学活动安全吗、学校布置的作业家长怎么辅导".split("、"),
    "基金": "基金定投适合新手吗、买基金亏了要不要卖、指数基金和股票哪个好、基金的手续费怎么算、养老基金怎么领取、货币基金收益怎么样、基金经理换人了怎么办、怎么看懂基金的净值、基金分红选哪种方式".split("、"),
}
# Sixty requests of twenty subjects, three each: fewer than a topic needs.
ONE_OFFS = "、".join([
    "想学太极拳入门、太极拳的呼吸方法、太极拳适合老人练吗", "插花课什么时候开、插花需要准备哪些材料、学插花的费用", "书法班有周末的吗、毛笔书法怎么握笔、硬笔书法练字帖推荐", "广场舞的新曲子、广场舞队怎么报名、广场舞音响太吵",
    "烘焙蛋糕的温度、家里烘焙面包发不起来、烘焙课能带孩子吗", "摄影构图的技巧、夜景摄影怎么拍、摄影器材怎么选", "英语口语角在哪、零基础学英语、英语四级怎么备考", "垃圾分类的标准、厨余垃圾怎么处理、垃圾分类的积分兑换",
    "防诈骗讲座、冒充客服的诈骗套路、刷单诈骗怎么识别", "急救知识培训、心肺复苏怎么做、急救包里放什么", "智能手机拍照入门、微信视频通话怎么用、手机字体调大", "家常菜红烧肉做法、清蒸鱼的火候、饺子馅怎么调",
    "育儿经验交流、婴儿辅食添加、幼儿睡眠问题", "园艺种菜阳台、多肉植物浇水、月季花怎么修剪", "围棋入门课程、象棋残局讲解、五子棋比赛报名", "合唱团招新、声乐发声练习、民歌演唱技巧",
    "心理健康讲座、缓解焦虑的方法、失眠怎么调理", "电脑打字入门、表格软件基础、文档排版技巧", "消防演练通知、灭火器的使用、家里电线老化隐患", "社区志愿服务、养老驿站活动、邻里节的安排",
]).split("、")


def test_six_subjects_of_a_small_store_fill_the_top_five():
    """Asked for five, a store of 114 lines with six subjects of nine gives five topics of five subjects."""
    texts = [line for lines in SUBJECTS.values() for line in lines] + ONE_OFFS
    subject_of = [s for s, lines in SUBJECTS.items() for _ in lines] + [None] * len(ONE_OFFS)
    model = TopicModel().fit(texts)
    top = sorted(model.topics_, key=lambda t: -t["size"])[:5]
    assert len(top) == 5, [t["label"] for t in model.topics_]
    found = set()
    for topic in top:
        members = [subject_of[i] for i in np.flatnonzero(model.labels_ == topic["topic"])]
        subject, n = Counter(members).most_common(1)[0]
        assert subject is not None and n >= 0.8 * len(members), (topic["label"], Counter(members))
        found.add(subject)
    assert len(found) == 5, [t["label"] for t in top]

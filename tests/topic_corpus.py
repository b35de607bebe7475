"""Tiny hand-written feedback corpora with known themes, shared by the model tests."""

from __future__ import annotations

TEMPLATES = ["希望多讲讲{}", "建议开设{}课程", "能不能讲一下{}", "{}怎么办", "想学习{}", "下次讲讲{}吧，谢谢老师"]

# Each theme's lines share an anchor word, as real requests about one subject do.
THEMES = {
    "fire": ["灭火器和消防安全", "消防安全常识", "火灾逃生和消防", "消防通道堵塞", "消防器材放在哪里", "电动车充电消防隐患", "家庭消防安全", "消防报警电话"],
    "phone": ["智能手机拍照", "手机微信视频", "智能手机挂号", "手机支付安全", "智能手机字体调大", "手机清理内存", "手机微信发语音", "手机下载软件"],
    "writing": ["公文写作格式", "公文通知的写法", "公文写作规范", "公文会议纪要写法", "公文工作总结写法", "公文请示报告格式", "公文标题写法", "通知公文格式"],
    "fraud": ["防诈骗知识", "电信诈骗手段", "识别诈骗电话", "网络诈骗防范", "老人防诈骗", "冒充客服诈骗", "刷单诈骗", "诈骗短信识别"],
}


def themed_corpus(themes: list[str] | None = None, repeats: int = 1) -> tuple[list[str], list[int]]:
    """Lines of the given themes (all by default) and the index of each line's theme."""
    names = themes or list(THEMES)
    texts, truth = [], []
    for r in range(repeats):
        for t, name in enumerate(names):
            for i, phrase in enumerate(THEMES[name]):
                texts.append(TEMPLATES[(i + r + t) % len(TEMPLATES)].format(phrase))
                truth.append(t)
    return texts, truth

"""A small, hand-written feedback corpus with obvious themes, for pipeline tests.

Deterministic: ``feedback_rows(seed)`` returns the same rows for the same seed. Each
theme has its own vocabulary, so the right grouping is known.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

THEMES: dict[str, list[str]] = {
    "公文写作": [
        "希望多讲讲公文写作的格式",
        "通知和请示怎么写才规范",
        "公文写作里的标题和落款容易出错",
        "想学写会议纪要和工作总结",
        "公文格式老是被退回修改",
        "请示报告的写法不太会",
    ],
    "消防安全": [
        "灭火器怎么正确使用",
        "楼道堆放杂物的消防隐患怎么劝",
        "电动车进楼充电起火怎么办",
        "想学消防安全检查要看哪些地方",
        "火灾逃生演练怎么组织",
        "高层住宅消防通道被占怎么处理",
    ],
    "反诈宣传": [
        "老人接到诈骗电话怎么提醒",
        "电信诈骗的新套路有哪些",
        "怎么给居民讲反诈知识",
        "冒充客服退款诈骗怎么识别",
        "反诈APP怎么教老人安装",
        "刷单返利骗局怎么宣传",
    ],
    "矛盾调解": [
        "邻里纠纷怎么调解比较好",
        "楼上漏水楼下吵架怎么协调",
        "调解矛盾时双方情绪激动怎么办",
        "物业和业主的矛盾怎么化解",
        "停车位纠纷调解的技巧",
        "噪音扰民的邻里矛盾怎么处理",
    ],
    "智能手机": [
        "教老人用智能手机挂号",
        "手机上怎么用健康码和医保码",
        "微信视频通话怎么操作",
        "手机支付怎么绑定银行卡",
        "老年人学用智能手机拍照",
        "手机字体调大怎么设置",
    ],
}
SEGMENTS = ["社区干部", "网格员", "楼栋长", "党员", "居民", "志愿者"]
PREFIXES = ["", "", "希望", "建议", "能不能讲讲", "想了解"]
SUFFIXES = ["", "", "。", "，谢谢", "！", "？"]


def feedback_rows(seed: int = 0, per_theme: int = 16, *, end: datetime | None = None, days: int = 120) -> list[dict]:
    """Rows {text, segment, submitter, submitted_at, theme}: per_theme lines per theme."""
    rng = random.Random(seed)
    end = end or datetime(2026, 10, 31, 20, 0, tzinfo=timezone.utc)
    rows = []
    for theme, lines in THEMES.items():
        for i in range(per_theme):
            base = lines[i % len(lines)]
            text = f"{rng.choice(PREFIXES)}{base}{rng.choice(SUFFIXES)}"
            rows.append(
                {
                    "text": text,
                    "segment": rng.choice(SEGMENTS),
                    "submitter": f"{theme}-person-{i}",
                    "submitted_at": end - timedelta(days=rng.uniform(0, days)),
                    "theme": theme,
                }
            )
    rng.shuffle(rows)
    return rows


def load_into(service, rows: list[dict], source: str = "api") -> list[int]:
    """Store rows through the service's intake (validation, masking, repeats)."""
    ids = []
    for row in rows:
        draft = service.draft(
            row["text"],
            segment=row["segment"],
            submitter=row["submitter"],
            submitted_at=row["submitted_at"],
            source=source,
        )
        ids.append(service.submit(draft).id)
    return ids

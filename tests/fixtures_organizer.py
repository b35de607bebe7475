"""Fixtures of the organizer tests: a service with ~60 feedback lines over four obvious themes, trained.

A test module imports the fixtures it uses by name (``from tests.fixtures_organizer import
trained_client, trained_service``) so pytest registers them there; conftest.py stays shared.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

# Four themes, fifteen lines each; every line carries its theme's anchor words.
THEMES: dict[str, list[str]] = {
    "消防": [
        "灭火器怎么正确使用，想学消防安全",
        "楼道堆放杂物的消防隐患怎么劝说",
        "电动车进楼充电起火的消防安全问题",
        "消防安全检查要看哪些地方",
        "火灾逃生演练和消防安全怎么组织",
        "高层住宅消防通道被占怎么处理",
        "家庭消防安全常识讲一讲",
        "消防器材放在哪里，灭火器过期怎么办",
        "希望讲讲消防安全和灭火器使用",
        "老旧小区消防安全隐患排查",
        "消防安全宣传怎么做给居民听",
        "厨房起火怎么用灭火器扑救，消防知识",
        "消防栓和灭火器的检查方法",
        "冬季用电消防安全注意什么",
        "消防安全培训想多学一些实操",
    ],
    "反诈": [
        "老人接到诈骗电话怎么提醒防诈骗",
        "电信诈骗的新套路有哪些",
        "怎么给居民讲反诈骗知识",
        "冒充客服退款诈骗怎么识别",
        "反诈骗APP怎么教老人安装",
        "刷单返利诈骗骗局怎么宣传",
        "网络诈骗防范技巧想学",
        "诈骗短信识别方法讲一讲",
        "防诈骗宣传活动怎么组织",
        "冒充公检法诈骗电话怎么应对",
        "养老诈骗和保健品诈骗怎么防",
        "希望多讲防诈骗案例",
        "投资理财诈骗怎么识别",
        "游戏充值诈骗怎么提醒孩子",
        "防范电信网络诈骗的宣传材料",
    ],
    "公文": [
        "希望多讲讲公文写作的格式",
        "通知公文怎么写才规范",
        "公文写作里的标题和落款容易出错",
        "想学写会议纪要等公文写作",
        "公文格式老是被退回修改",
        "请示报告公文写作的写法不太会",
        "公文写作规范和常见错误",
        "工作总结公文写作怎么写",
        "公文写作的语言怎么更简洁",
        "公文写作中的数字和日期格式",
        "公文写作函和通知的区别",
        "想系统学习公文写作",
        "公文写作标题层级怎么排",
        "公文写作里的附件怎么标注",
        "公文写作案例讲评",
    ],
    "手机": [
        "教老人用智能手机挂号",
        "智能手机上怎么用医保码",
        "智能手机微信视频通话怎么操作",
        "智能手机支付怎么绑定银行卡",
        "老年人学用智能手机拍照",
        "智能手机字体调大怎么设置",
        "智能手机清理内存的方法",
        "智能手机下载软件安全吗",
        "智能手机发语音和文字",
        "智能手机打车软件怎么用",
        "智能手机网上缴费怎么操作",
        "智能手机视频剪辑入门",
        "智能手机导航怎么用",
        "教居民用智能手机办事",
        "智能手机防骚扰设置",
    ],
}
SEGMENTS = ("社区干部", "网格员", "楼栋长", "居民", "志愿者")
INJECTION = "=cmd|' /C calc'!A0 灭火器怎么正确使用，想学消防安全"


def theme_lines() -> list[tuple[str, str]]:
    """(theme, text) for every hand-written line, the formula-injection line included."""
    lines = [(theme, text) for theme, texts in THEMES.items() for text in texts]
    lines.append(("消防", INJECTION))
    return lines


def load_feedback(service, *, now: datetime | None = None) -> None:
    """Store every line through the service's intake, spread over the last ~80 days (in one
    transaction: live intake screens each line as if the ones before it were stored)."""
    now = now or datetime.now(timezone.utc)
    drafts = [
        service.draft(
            text,
            segment=SEGMENTS[i % len(SEGMENTS)],
            submitter=f"person-{i}",
            submitted_at=now - timedelta(days=(i * 7) % 80, hours=1),
            source="api",
        )
        for i, (_theme, text) in enumerate(theme_lines())
    ]
    service.intake.store_live([service.intake.live_item(draft) for draft in drafts])


#: Fitted first models of this test session, by what they were fitted on (see _memo_model).
_FITTED: dict[tuple, dict] = {}


def _memo_model():
    """A TopicModel (the pipeline's own default, ``random_state=0``) whose first fit on a
    given corpus is done once per test session: the fit is deterministic, so a later fit
    on the same texts and tokens, without a prior, takes a copy of the first one's learned
    state. Everything around it (identity, assignments, publishing, loading) runs for real.
    The instance keeps no trace of this (the saved artifact is an ordinary TopicModel)."""
    from recommender.model.topic_model import TopicModel

    model = TopicModel(random_state=0)
    real_fit = model.fit

    def fit(texts, y=None, tokens=None, prior_labels=None, pinned=(), progress=None):
        del model.fit  # back to the class's fit before anything is saved
        if prior_labels is not None or pinned or tokens is None:
            return real_fit(texts, y, tokens=tokens, prior_labels=prior_labels, pinned=pinned, progress=progress)
        key = (tuple(texts), tuple(map(tuple, tokens)), repr(sorted(model.get_params().items())))
        if key not in _FITTED:
            real_fit(texts, y, tokens=tokens, progress=progress)
            _FITTED[key] = copy.deepcopy(vars(model))  # parameters (the same: in the key) and learned state
        else:
            vars(model).update(copy.deepcopy(_FITTED[key]))
        return model

    model.fit = fit
    return model


@pytest.fixture
def trained_service(service, settings):
    """The test service with the four-theme feedback stored and a model trained and served
    (the model's fit itself is shared by the session's tests: see _memo_model)."""
    from recommender.retrain.pipeline import train_from_store

    load_feedback(service)
    train_from_store(service.store, settings, progress=False, model_factory=_memo_model)
    service.refresh_model()
    assert service.served() is not None
    return service


@pytest.fixture
def trained_client(trained_service, settings):
    """A TestClient of the whole app over ``trained_service``."""
    from fastapi.testclient import TestClient

    from recommender.web.app import create_app

    with TestClient(create_app(settings, trained_service)) as test_client:
        yield test_client

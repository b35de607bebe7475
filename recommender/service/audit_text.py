"""The audit log in words: each stored entry's ``detail`` (JSON, English keys, kept as it is
for the API and for scripts) read out in Chinese for the people who read the log.

``rows=430；topics=15；noise=6；kept_ids=0；engine=local`` becomes
「训练完成：430 条，15 个主题，不属于任何主题 6 条，沿用编号 0 个，引擎 本机」.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from recommender.door.screening import HIDE_REASONS_ZH

__all__ = ["describe_audit"]

ENGINE_ZH = {"local": "本机", "dask": "Dask 集群"}
STATUS_ZH = {
    "visible": "正常显示",
    "hidden": "已隐藏",
    "flagged": "待审核",
    "withdrawn": "已撤回",
    "deleted": "已删除",
    "planned": "计划中",
    "held": "已开课",
    "cancelled": "已取消",
}
#: A retrain started from the dashboard: where its progress and result show.
RETRAIN_STARTED = "已在后台开始训练，进度和结果会显示在看板顶部"
# A key's Chinese name, for details no rule below knows.
KEY_ZH = {
    "rows": "反馈", "topics": "主题", "noise": "不属于任何主题", "kept_ids": "沿用编号", "engine": "引擎",
    "reason": "原因", "note": "说明", "label": "名称", "title": "课程", "date": "日期", "status": "状态",
    "session_id": "课程编号", "previous_status": "原状态", "cutoff": "截止", "lines": "条数",
    "folded": "计入统计", "aggregates": "汇总组", "model_version": "模型", "pid": "进程",
    "name": "姓名", "department": "部门", "added": "新增", "updated": "更新",
}


def _retrain(d: Mapping) -> str:
    if "rows" in d and d.get("unchanged"):
        return f"没有新的反馈，模型保持不变：{d.get('rows')} 条，{d.get('topics')} 个主题"
    if "rows" in d:
        return (
            f"训练完成：{d.get('rows')} 条，{d.get('topics')} 个主题，不属于任何主题 {d.get('noise')} 条，"
            f"沿用编号 {d.get('kept_ids')} 个，引擎 {ENGINE_ZH.get(d.get('engine'), d.get('engine'))}"
        )
    if d.get("status") == "started":
        # Who and when are the row's own columns; the process id stays in the detail (the API)
        # and the server's log, for an operator: it means nothing to an organizer.
        return RETRAIN_STARTED
    return _generic(d)


def _hide(d: Mapping) -> str:
    reason = HIDE_REASONS_ZH.get(d.get("reason"), d.get("reason") or "")
    return f"原因：{reason}" + (f"；说明：{d['note']}" if d.get("note") else "")


def _restore(d: Mapping) -> str:
    before = d.get("previous_status")
    return f"原状态：{STATUS_ZH.get(before, before)}" if before else "已恢复"


def _rename(d: Mapping) -> str:
    return f"改名为“{d['label']}”" if d.get("label") else "恢复模型生成的名称"


def _plan(d: Mapping) -> str:
    return f"“{d.get('title')}”，{d.get('date')}，{STATUS_ZH.get(d.get('status'), d.get('status'))}"


def _purge(d: Mapping) -> str:
    return (
        f"删除 {str(d.get('cutoff', ''))[:10]} 之前的 {d.get('lines')} 条反馈文字，"
        f"{d.get('folded')} 条计入按月统计"
    )


def _expert(d: Mapping) -> str:
    return f"{d.get('name')}（{d.get('department')}）"


RULES: dict[str, Callable[[Mapping], str]] = {
    "retrain": _retrain,
    "hide": _hide,
    "restore": _restore,
    "rename": _rename,
    "plan_class": _plan,
    "purge": _purge,
    "withdraw": _restore,
    "expert_add": _expert,
    "expert_edit": _expert,
    "expert_delete": _expert,
    "expert_import": lambda d: f"新增 {d.get('added', 0)} 位，更新 {d.get('updated', 0)} 位",
}


def _value(v: object) -> str:
    if isinstance(v, (list, tuple)):
        return "、".join(_value(x) for x in v)
    return STATUS_ZH.get(v, str(v)) if isinstance(v, str) else str(v)


def _generic(d: Mapping) -> str:
    return "；".join(f"{KEY_ZH.get(k, k)}：{_value(v)}" for k, v in d.items() if v is not None)


def describe_audit(action: str, detail: object) -> str:
    """One audit entry's detail in Chinese (empty when there is none)."""
    if not isinstance(detail, Mapping) or not detail:
        return "" if not detail else str(detail)
    rule = RULES.get(action, _generic)
    try:
        return rule(detail)
    except (KeyError, TypeError, ValueError, AttributeError):  # an older entry with other keys
        return _generic(detail)

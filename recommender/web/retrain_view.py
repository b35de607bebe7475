"""The retrain started from the dashboard or the API, in a person's words: the dashboard's
notice and the ``summary`` of ``GET /api/admin/retrain``.

A retrain that found nothing new says so (「上次训练以后没有新的反馈，模型保持不变」) instead of
a bare "finished"; one that published a new model says what changed: the topics before and
after, the new topics by name, how many earlier topics are no longer listed. A failed one
gives the retrain's own message (too little feedback, another retrain running) when it
printed one. One that stopped with the worker that started it (``interrupted``) says that
nothing was published and the current model stays: no error notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo

from recommender.retrain.registry import version_time
from recommender.web.timefmt import to_local

__all__ = ["NEW_TOPICS_NAMED", "retrain_view", "retrain_summary"]

#: New topics named (and linked) in the notice; more are counted.
NEW_TOPICS_NAMED = 8


def _time(value: object, tz: tzinfo) -> str:
    local = to_local(value, tz)
    return "" if local is None else local.strftime("%Y-%m-%d %H:%M")


def _trained(version: object, tz: tzinfo) -> str:
    trained = version_time(version)
    return f"{_time(trained, tz)} 训练的模型" if trained is not None else f"模型 {version}"


def retrain_view(status: Mapping, labels: Mapping[str, str], tz: tzinfo) -> dict | None:
    """``{"kind": running|unchanged|changed|finished|failed|interrupted, "text", "new_topics":
    [{topic_id, label}], "more_new": n, "after"}`` for the runner's ``status`` (None when idle): the
    new topics are named between ``text`` and ``after``; ``labels`` maps the served model's
    topic ids to their labels."""
    state = status.get("status")
    view: dict = {"kind": state, "text": "", "new_topics": [], "more_new": 0, "after": ""}
    if state == "running":
        view["text"] = (
            f"正在重新训练模型（{_time(status.get('started_at'), tz)} 开始），期间看板继续使用当前模型；"
            "完成后刷新页面即可看到结果。"
        )
    elif state == "failed":
        started = _time(status.get("started_at"), tz)
        message = status.get("message") or ""
        for said in ("没有重新训练：", "重新训练失败："):  # the child's own opening, said once here
            message = message.removeprefix(said)
        view["text"] = (
            f"上一次重新训练（{started} 开始）没有完成：{message}" if message else
            f"上一次重新训练（{started} 开始）失败（退出码 {status.get('exit_code')}），当前模型保持不变，看板照常使用它。"
            "失败原因记在服务器数据目录的 retrain.log 中，请交给管理服务器的同事查看。"
        )
    elif state == "interrupted":
        view["text"] = (
            f"上一次重新训练（{_time(status.get('started_at'), tz)} 开始）中断了："
            f"{status.get('message') or ''}看板照常使用当前模型，需要时可以再次重新训练。"
        )
    elif state == "finished":
        view.update(_finished(status, labels, tz))
    else:
        return None
    return view


def _finished(status: Mapping, labels: Mapping[str, str], tz: tzinfo) -> dict:
    done = f"重新训练已完成（{_time(status.get('finished_at'), tz)}）"
    result = status.get("result")
    if not result:
        return {"kind": "finished", "text": f"{done}。"}
    topics = result.get("n_topics")
    if not result.get("changed"):
        return {
            "kind": "unchanged",
            "text": f"{done}：上次训练以后没有新的反馈（也没有撤回、隐藏的反馈或新的主题更正），"
                    f"模型保持不变，仍是 {_trained(result.get('version'), tz)}（{topics} 个主题），主题和建议都和原来一样。",
        }
    if result.get("previous_version") is None:
        return {"kind": "changed", "text": f"{done}：第一个模型已启用，{result.get('n_rows')} 条反馈分成 {topics} 个主题。"}
    before = result.get("previous_n_topics")
    count = f"主题从 {before} 个变为 {topics} 个" if before is not None and before != topics else f"仍是 {topics} 个主题"
    text = f"{done}：新模型已启用（{result.get('n_rows')} 条反馈，{count}）。"
    new_ids = list(result.get("new_topic_ids") or [])
    gone = len(result.get("gone_topic_ids") or [])
    if not new_ids:
        text += "没有新主题。"
    return {
        "kind": "changed",
        "text": text,
        "new_topics": [{"topic_id": t, "label": labels.get(t, t)} for t in new_ids[:NEW_TOPICS_NAMED]],
        "more_new": max(0, len(new_ids) - NEW_TOPICS_NAMED),
        "after": f"原有的 {gone} 个主题不再单独列出（并入了其他主题，或它们的反馈不再成组）。" if gone else "",
    }


def retrain_summary(view: Mapping | None) -> str | None:
    """The notice as one line of text (the API's ``summary``), new topics named."""
    if view is None:
        return None
    text = view["text"]
    if view["new_topics"]:
        names = "".join(f"「{t['label']}」" for t in view["new_topics"])
        text += f"新主题：{names}" + (f"等 {len(view['new_topics']) + view['more_new']} 个" if view["more_new"] else "") + "。"
    return text + view["after"]

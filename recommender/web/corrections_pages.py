"""The dashboard's corrections (zh-CN, POST forms with a CSRF token, no JavaScript needed).

On a topic page: tick lines, then 「移到…」 another topic (or 未归类) or 「拆分为新主题」 (on the
未归类 page: tick lines and move them to a topic); merge
another topic into this one; pin or unpin the topic. ``/organizer/corrections`` lists every
correction with an 「撤销」 button. A correction that works answers 303 back with a flash
message (Post/Redirect/Get); one that fails answers 303 too, back to the page it came from (the
topic page or the 未归类 page) with the error, the lines still ticked and the label still typed
(carried in the signed one-time message), so reloading or bookmarking that page never lands on a
POST-only URL.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from recommender.errors import Conflict, NotFound, ValidationFailed
from recommender.service import RecommenderService
from recommender.service.corrections import topic_name
from recommender.service.filters import bounded_page
from recommender.web.dashboard import (
    CORRECTIONS_FORM,
    HOME,
    csrf_for,
    form_field,
    redirect_with_flash,
    render_page,
    safe_next,
    take_flash,
    with_flash_cleared,
)
from recommender.web.deps import Auth, DashboardActor, DashboardForm, DashboardOrganizer, Service

router = APIRouter(prefix="/organizer", tags=["dashboard"], include_in_schema=False)

PER_PAGE = 50
#: The 「移到…」 choice that means 未归类.
NO_TOPIC = "none"
NO_TOPIC_PAGE = f"{HOME}/no-topic"
#: What a refused form carries back to its page (a page ticks at most PER_PAGE lines; a label
#: is at most 30 characters): the signed message stays far below a cookie's size.
CARRIED_PICKS = PER_PAGE
CARRIED_CHARS = 60


def _topic_url(topic_id: str) -> str:
    return f"{HOME}/topics/{quote(topic_id, safe='')}"


def _picked(form: FormData) -> list[int]:
    """The ticked lines (stored ids); anything that is no id is no line."""
    ids = []
    for value in form.getlist("feedback_id"):
        if isinstance(value, str) and value.isascii() and value.isdigit() and 1 <= int(value) < 2**63:
            ids.append(int(value))
    return ids


def _chosen(value: str, field: str) -> str:
    """A topic chosen in a form's select (none chosen: a message saying so)."""
    if not value:
        message = "请选择要并入的主题" if field == "other_topic_id" else "请选择要移到哪个主题"
        raise ValidationFailed(message, field=field, code="no_target")
    return value


def _topic_name(topic_id: str, service: RecommenderService) -> str:
    """A topic as the corrections list names it: by its name, 「消防安全」."""
    return topic_name(topic_id, _topic_names(service).get(topic_id))


def _moved(done: dict, topic_id: str | None, service: RecommenderService) -> str:
    """The flash after a move, naming the topic the lines went to."""
    where = "未归类" if topic_id is None else _topic_name(topic_id, service)
    return f"已把 {len(done['feedback_ids'])} 条反馈移到{where}；重新训练后也会保留，可在“主题更正”中撤销。"


def _refused(request: Request, back: str, exc: Exception, picked: list[int], **typed: str) -> Response:
    """303 back to the form's page with why it was refused and what it had (the ticked lines,
    the label typed, the topic chosen), shown in it again there (Post/Redirect/Get)."""
    carried = {k: v[:CARRIED_CHARS] for k, v in typed.items()}
    carried.update(form=CORRECTIONS_FORM, picked=",".join(str(i) for i in picked[:CARRIED_PICKS]))
    return redirect_with_flash(request, back, ("error", str(exc)), carried)


@router.post("/topics/{topic_id}/lines")
async def correct_lines(
    request: Request, topic_id: str, form: DashboardForm, service: Service, actor: DashboardActor
) -> Response:
    """The ticked lines of a topic: moved to another topic or 未归类 (``action=move``), or
    split off into a new topic (``action=split``, optional ``label``)."""
    picked = _picked(form)
    label = form_field(form, "label")
    target = form_field(form, "target")
    action = form_field(form, "action")
    try:
        if action == "split":
            done = await run_in_threadpool(lambda: service.split_topic(topic_id, picked, label or None, actor=actor))
            message = f"已把 {len(done['feedback_ids'])} 条反馈拆分为新主题{topic_name(done['topic_id'], done['label'])}。"
            return redirect_with_flash(request, _topic_url(done["topic_id"]), ("success", message))
        if action != "move":
            raise ValidationFailed("请选择“移到…”或“拆分为新主题”", field="action", code="invalid_choice")
        destination = None if _chosen(target, "target") == NO_TOPIC else target
        done = await run_in_threadpool(lambda: service.move_lines(picked, destination, actor=actor))
    except (ValidationFailed, Conflict, NotFound) as exc:
        return _refused(request, _topic_url(topic_id), exc, picked, label=label, target=target)
    message = await run_in_threadpool(_moved, done, destination, service)
    return redirect_with_flash(request, _topic_url(topic_id), ("success", message))


@router.post("/lines")
async def move_lines(request: Request, form: DashboardForm, service: Service, actor: DashboardActor) -> Response:
    """Ticked lines of the 未归类 page moved to a topic; back with a message, or (refused) back
    to that page with the error, the lines still ticked and the topic still chosen."""
    back = safe_next(form_field(form, "return_to"))
    picked = _picked(form)
    target = form_field(form, "target")
    try:
        done = await run_in_threadpool(lambda: service.move_lines(picked, _chosen(target, "target"), actor=actor))
    except (ValidationFailed, Conflict, NotFound) as exc:
        page = back if urlsplit(back).path == NO_TOPIC_PAGE else NO_TOPIC_PAGE
        return _refused(request, page, exc, picked, target=target)
    message = await run_in_threadpool(_moved, done, target, service)
    return redirect_with_flash(request, back, ("success", message))


@router.post("/topics/{topic_id}/merge")
async def merge_topic(
    request: Request, topic_id: str, form: DashboardForm, service: Service, actor: DashboardActor
) -> Response:
    """Merge the chosen topic into this one."""
    other = form_field(form, "other_topic_id")
    try:
        # Named before the merge: a topic merged away leaves the lists.
        merged_name = await run_in_threadpool(_topic_name, _chosen(other, "other_topic_id"), service)
        done = await run_in_threadpool(lambda: service.merge_topics(topic_id, other, actor=actor))
    except (ValidationFailed, Conflict, NotFound) as exc:
        return _refused(request, _topic_url(topic_id), exc, [], other=other)
    message = f"已把{merged_name}并入本主题（{len(done['feedback_ids'])} 条反馈）；重新训练后也会保留。"
    return redirect_with_flash(request, _topic_url(topic_id), ("success", message))


@router.post("/topics/{topic_id}/pin")
async def pin_topic(request: Request, topic_id: str, form: DashboardForm, service: Service, actor: DashboardActor) -> Response:
    """Pin (``pinned=1``) or unpin (``pinned=0``) a topic."""
    pinned = form_field(form, "pinned") == "1"
    await run_in_threadpool(lambda: service.pin_topic(topic_id, pinned, actor=actor))
    message = "已固定本主题：重新训练不会解散它。" if pinned else "已取消固定本主题。"
    return redirect_with_flash(request, _topic_url(topic_id), ("success", message))


@router.get("/topics/{topic_id}/lines")
@router.get("/topics/{topic_id}/merge")
@router.get("/topics/{topic_id}/pin")
def form_url_opened(topic_id: str, _who: DashboardOrganizer) -> Response:
    """A correction form's URL opened as a page (a bookmark, an old history entry): the topic
    page the form is on, not 405 (401 with the login form first, as every organizer page)."""
    return RedirectResponse(_topic_url(topic_id), status_code=303)


@router.get("/lines")
def no_topic_form_url_opened(_who: DashboardOrganizer) -> Response:
    """The 未归类 page's move form's URL opened as a page: that page."""
    return RedirectResponse(NO_TOPIC_PAGE, status_code=303)


@router.get("/corrections", response_class=HTMLResponse)
def corrections_page(request: Request, who: DashboardOrganizer, service: Service, auth: Auth) -> Response:
    """Every correction, newest first, each with what it did and an undo button."""
    try:
        page = bounded_page(int(request.query_params.get("page", "1")), PER_PAGE)[0]
    except ValueError:
        page = 1
    listed = service.list_corrections(limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    names = _topic_names(service)
    context = {
        "who": who,
        "csrf_token": csrf_for(auth, who),
        "flash": take_flash(request, auth),
        "items": [{**c, "summary": describe(c, names)} for c in listed["items"]],
        "total": listed["total"],
        "pinned": [(t, names.get(t, "")) for t in listed["pinned"]],
        "page": page,
        "pages": max(1, -(-listed["total"] // PER_PAGE)),
    }
    return with_flash_cleared(request, render_page(request, "organizer_corrections.html", context))


@router.post("/corrections/{correction_id}/undo")
async def undo_correction(
    request: Request, correction_id: str, _form: DashboardForm, service: Service, actor: DashboardActor
) -> Response:
    """Undo a correction; back to the list with what was restored."""
    back = f"{HOME}/corrections"
    if not correction_id.isascii() or not correction_id.isdigit() or not 1 <= int(correction_id) < 2**63:
        return redirect_with_flash(request, back, ("error", "没有这条更正。"))
    try:
        done = await run_in_threadpool(lambda: service.undo_correction(int(correction_id), actor=actor))
    except (Conflict, NotFound) as exc:
        return redirect_with_flash(request, back, ("error", str(exc)))
    return redirect_with_flash(request, back, ("success", f"已撤销第 {correction_id} 号更正（{done['kind_zh']}），{done['restored']} 条反馈回到原处。"))


def _topic_names(service: RecommenderService) -> dict[str, str]:
    try:
        return {t["topic_id"]: t["label"] for t in service.topics()["topics"]}
    except Exception:  # noqa: BLE001 - no model yet: the list still shows ids
        return {}


def describe(c: dict, names: dict[str, str]) -> str:
    """What a correction did, in a sentence (the corrections page). Each topic is named with
    the label the organizer saw when making it (a rename since does not rewrite the list);
    rows made before labels were kept name it with its current label."""
    seen = {c["topic_id"]: c.get("topic_label"), c["other_topic_id"]: c.get("other_topic_label")}

    def name(topic_id: str | None) -> str:
        return topic_name(topic_id, (seen.get(topic_id) or names.get(topic_id)) if topic_id else None)

    n = len(c["feedback_ids"])
    if c["kind"] == "move":
        return f"{n} 条反馈移到{name(c['topic_id'])}"
    if c["kind"] == "merge":
        return f"{name(c['other_topic_id'])}并入{name(c['topic_id'])}（{n} 条反馈）"
    if c["kind"] == "split":
        return f"从{name(c['other_topic_id'])}拆出 {n} 条反馈，成为新主题{topic_name(c['topic_id'], c['label'])}"
    return f"{c['kind_zh']}{name(c['topic_id'])}"

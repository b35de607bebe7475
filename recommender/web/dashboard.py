"""The organizer dashboard (zh-CN, server-rendered, works without JavaScript).

Pages: ``/organizer/login`` (public), ``/organizer`` (ranked suggestions, demand chart,
filters, "plan a class" forms, the review list of flagged lines, hidden lines and the audit
log), ``/organizer/topics/{topic_id}`` (rename, sessions, lineage, feedback with "hide"
buttons, exports). State changes are POST forms with a CSRF token, answered with a 303
redirect and a flash message (Post/Redirect/Get); each is written to the audit log.

Without credentials every page and form answers **401 with the login form** (not a redirect):
the browser shows where to log in, and "organizer routes answer 401" holds for every client.
After logging in the organizer is sent back to the page they asked for.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from recommender.door.screening import FLAG_REASONS_ZH, HIDE_REASONS, HIDE_REASONS_ZH
from recommender.errors import Conflict, NoModelError, NotFound, RetrainInProgress, ValidationFailed
from recommender.service import RecommenderService
from recommender.service.filters import bounded_page
from recommender.text.dates import date_zh
from recommender.web.class_pages import with_links
from recommender.web.auth import SESSION_COOKIE, SESSION_MAX_AGE, Organizer, OrganizerAuth, same_origin
from recommender.web.deps import (
    Auth,
    count_failure,
    refuse_if_locked_out,
    DashboardActor,
    DashboardForm,
    DashboardOrganizer,
    Runner,
    Service,
    SettingsDep,
)
from recommender.web.dashboard_cards import CHART_TOPICS, audit_rows, browse_view, card_view, demand_chart
from recommender.web.errors import HttpError
from recommender.web.forms import read_form
from recommender.web.queries import parse_suggestion_query
from recommender.web.retrain_view import retrain_view

log = logging.getLogger(__name__)

router = APIRouter(prefix="/organizer", tags=["dashboard"], include_in_schema=False)

FLASH_COOKIE = "organizer_flash"
FLASH_PURPOSE = "flash"
HOME = "/organizer"
PER_PAGE = 30
MODERATION_SHOWN = 20
AUDIT_SHOWN = 20
RECENT_CLASSES = 5
STATUS_ZH = {"planned": "计划中", "held": "已开课", "cancelled": "已取消"}
EVENT_ZH = {"new": "新出现", "split": "拆分", "merge": "合并", "retired": "停用", "kept": "保留"}


# --------------------------------------------------------------------------- helpers


# Organizer pages show feedback: keep them out of shared caches. (Frames, CSP and nosniff:
# recommender.web.security adds them to every response.)
PAGE_HEADERS = {"Cache-Control": "no-store"}


def _render(request: Request, name: str, context: dict, status_code: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=PAGE_HEADERS
    )


def _safe_next(target: str | None) -> str:
    """Only our own dashboard pages are valid places to return to (no open redirect)."""
    if not target:
        return HOME
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or ".." in parts.path or not (parts.path == HOME or parts.path.startswith(HOME + "/")):
        return HOME
    if parts.path.startswith(HOME + "/login"):
        return HOME
    return target


def _login_page(request: Request, *, next_url: str = HOME, error: str | None = None, notice: str | None = None,
                hint: str | None = None, status_code: int = 200) -> HTMLResponse:
    """The login form; ``error`` (red) only for a token refused, ``hint`` (neutral) says why
    the form is shown to someone who has not tried yet."""
    return _render(
        request,
        "organizer_login.html",
        {"next": _safe_next(next_url), "error": error, "notice": notice, "hint": hint},
        status_code=status_code,
    )


async def login_required(request: Request, _exc: Exception) -> HTMLResponse:
    """401 with the login form (the answer to :class:`recommender.web.deps.LoginRequired`);
    after logging in the organizer comes back here (GET) or home."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    # The first visit of every organizer: not an error of theirs, so no red alert. A form sent
    # after the session ended is lost: say so, rather than the first visit's words.
    if request.method != "GET":
        hint = "登录已过期，刚才提交的内容没有保存。请重新登录后再做一次。"
    elif request.cookies.get(SESSION_COOKIE):
        hint = f"登录已过期（每次登录有效 {SESSION_MAX_AGE // 3600} 小时），请重新登录。"
    else:
        hint = "看板只对组织者开放，请先用组织者令牌登录。"
    return _login_page(
        request, next_url=target if request.method == "GET" else HOME, hint=hint, status_code=401
    )


def _csrf_for(auth: OrganizerAuth, who: Organizer) -> str:
    return auth.csrf_token(who.session) if who.session else ""


def _field(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _redirect(
    request: Request, target: str, flash: tuple[str, str] | None = None, typed: dict[str, str] | None = None
) -> RedirectResponse:
    """303 to ``target`` with a one-time message; ``typed``: what a refused form held, shown
    in it again on the next page (signed, like the message, and gone after one view)."""
    response = RedirectResponse(target, status_code=303)
    if flash is not None:
        kind, message = flash
        data = {"kind": kind, "message": message, **({"typed": typed} if typed else {})}
        value = request.app.state.organizer_auth.sign(FLASH_PURPOSE, json.dumps(data, ensure_ascii=False))
        response.set_cookie(
            FLASH_COOKIE, value, max_age=60, path=HOME, httponly=True, samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


def _take_flash(request: Request, auth: OrganizerAuth) -> dict | None:
    raw = auth.unsign(FLASH_PURPOSE, request.cookies.get(FLASH_COOKIE))
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("kind") not in ("success", "error"):
        return None
    typed = data.get("typed")
    typed = {str(k): str(v) for k, v in typed.items()} if isinstance(typed, dict) else None
    return {"kind": data["kind"], "message": str(data.get("message", "")), "typed": typed}


def _with_flash_cleared(request: Request, response: Response) -> Response:
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path=HOME, httponly=True, samesite="strict",
                               secure=request.url.scheme == "https")
    return response


#: The suggestion filters as the dashboard labels them: the service's messages name the API's
#: parameters (``top 应为…``), which the organizer never saw on the page.
FILTER_LABELS = {"top": "显示条数", "as_of": "截至日期"}


def filter_message(exc: ValidationFailed) -> str:
    """A refused filter's message naming the field as labelled on the page."""
    label = FILTER_LABELS.get(exc.field or "")
    if label and exc.message.startswith(f"{exc.field} "):
        return label + exc.message[len(exc.field) + 1:]
    return exc.message


# Characters of a refused plan form's field carried back to it (the longest field's limit).
PLAN_FIELD_CHARS = 200


def _plan_defaults(service: RecommenderService) -> dict:
    """The plan form's default date: the organizers' today, the day the suggestions are
    counted to when no 截至 date is given, so a class recorded with it holds its topic back at
    once (both count days in RECOMMENDER_TIMEZONE, whatever the server's own zone)."""
    return {"today": service.settings.today().isoformat()}


# --------------------------------------------------------------------------- login


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, auth: Auth, next: str = HOME) -> Response:
    """The login page: one field for the organizer token. An organizer still logged in (a
    bookmarked login page) goes on to ``next``, not to a form asking for the token again."""
    if auth.session_valid(request.cookies.get(SESSION_COOKIE)):
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next_url=next, notice="已退出登录。" if request.query_params.get("out") else None)


@router.post("/login")
async def login(request: Request, auth: Auth) -> Response:
    """Check the token; on success set the session cookie (never the token) and go on."""
    if not same_origin(request):
        raise HttpError(403, "forbidden", "登录请求来自其他网站，已拒绝。")
    refuse_if_locked_out(request)
    form = await read_form(request)
    token = form.get("token")
    next_url = _safe_next(_field(form, "next"))
    if not isinstance(token, str) or not auth.token_valid(token.strip()):
        log.info("organizer login failed")  # never log what was typed
        count_failure(request)
        return _login_page(request, next_url=next_url, error="令牌不正确，请检查后重试。", status_code=401)
    response = RedirectResponse(next_url, status_code=303)
    auth.set_session_cookie(request, response, auth.new_session(token.strip()))
    log.info("organizer logged in")
    return response


@router.post("/logout")
async def logout(request: Request, auth: Auth, _form: DashboardForm) -> Response:
    """End the dashboard session (CSRF-protected) and show the login page."""
    response = RedirectResponse(f"{HOME}/login?out=1", status_code=303)
    auth.clear_session_cookie(request, response)
    return response


# --------------------------------------------------------------------------- dashboard


@router.get("", response_class=HTMLResponse)
def dashboard(
    request: Request, who: DashboardOrganizer, service: Service, settings: SettingsDep, auth: Auth, runner: Runner
) -> Response:
    """Ranked suggestions as cards, the demand chart, filters and the plan-a-class forms."""
    params = request.query_params
    filters = {
        "segment": params.get("segment", "").strip(),
        "as_of": params.get("as_of", "").strip(),
        "top": params.get("top", "").strip(),
    }
    status_code = 200
    error = None
    try:
        query = parse_suggestion_query(settings, filters["top"], filters["as_of"], filters["segment"])
    except ValidationFailed as exc:
        error = filter_message(exc)
        status_code = 422
        query = parse_suggestion_query(settings, None, None, None)
    as_of = query.as_of or service.settings.today()
    context = {
        "who": who,
        "csrf_token": _csrf_for(auth, who),
        "flash": _take_flash(request, auth),
        "filter_error": error,
        "filters": filters,
        "segments": settings.segments,
        "segment_min_people": settings.segment_min_people,
        "min_train_rows": settings.min_train_rows,  # said on the no-model notice
        "suggestions_top": settings.suggestions_top,  # the 显示条数 field's default, said beside it
        "return_to": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "retrain": runner.status(),
        "no_model": None,
        "cards": [],
        "chart_svg": None,
        "advice_share": None,
        "new_demand": None,
        "themes": None,
        "held_back": [],
        "half_life_days": f"{settings.half_life_days:g}",
        "trend_window_days": settings.trend_window_days,
        **_moderation_context(service),
        **_plan_defaults(service),
        "recent_classes": [with_links(request, s) for s in service.sessions(latest=RECENT_CLASSES)],
        "status_zh": STATUS_ZH,
    }
    try:
        result = service.suggestions(as_of=as_of, top=query.top, segment=query.segment)
        standings = service.standings(as_of=as_of, segment=query.segment)["suggestions"]
        held_back = service.held_back(as_of=as_of, top=query.top, segment=query.segment)
        new_demand = service.new_demand()
        themes = service.themes()
    except NoModelError as exc:
        context["no_model"] = str(exc)
    else:
        context["result"] = result
        context["cards"] = [card_view(s, result["as_of"]) for s in result["suggestions"]]
        context["held_back"] = [card_view(s, result["as_of"]) for s in held_back]
        context["chart_svg"] = demand_chart(standings, as_of=result["as_of"], segment=query.segment)
        context["chart_topics"], context["chart_total"] = min(CHART_TOPICS, len(standings)), len(standings)
        # The suggestions as shown (a refused filter falls back to the defaults); no empty fields (422).
        shown = {"as_of": result["as_of"], "segment": query.segment, "top": query.top}
        context["export_query"] = {
            fmt: urlencode({"format": fmt, **{k: v for k, v in shown.items() if v}}) for fmt in ("csv", "xlsx")
        }
        context["share"] = new_demand["unassigned_share"]
        context["new_demand"] = new_demand
        context["themes"] = themes
        if new_demand["retrain_advised"]:
            context["advice_share"] = new_demand["unassigned_share"]
    labels = {t["topic_id"]: t["label"] for th in (context["themes"] or {}).get("themes", []) for t in th["topics"]}
    context["retrain_view"] = retrain_view(context["retrain"], labels, settings.tz)
    context["audit_rows"] = audit_rows(context["audit"]["items"], labels)
    return _with_flash_cleared(request, _render(request, "organizer_dashboard.html", context, status_code))


def _moderation_context(service: RecommenderService) -> dict:
    flagged = service.moderation_list("flagged", limit=MODERATION_SHOWN)
    hidden = service.moderation_list("hidden", limit=MODERATION_SHOWN)
    audit = service.audit_log(limit=AUDIT_SHOWN)
    return {
        "flagged": flagged,
        "hidden": hidden,
        "audit": audit,
        "hide_reasons": [(r, HIDE_REASONS_ZH[r]) for r in HIDE_REASONS],
        "hide_reasons_zh": HIDE_REASONS_ZH,
        "flag_reasons_zh": FLAG_REASONS_ZH,
    }


@router.post("/sessions")
async def plan_session(request: Request, form: DashboardForm, service: Service, actor: DashboardActor) -> Response:
    """Record a planned or held class on a topic from a dashboard form; back with a message."""
    back = _safe_next(_field(form, "return_to"))
    status = _field(form, "status") or "planned"
    title = _field(form, "title")
    # What was typed goes back into the form when it is refused (at most a field's length).
    typed = {k: _field(form, k)[:PLAN_FIELD_CHARS] for k in ("topic_id", "title", "date", "status", "instructor")}
    try:
        held_on = date.fromisoformat(_field(form, "date"))
    except ValueError:
        return _redirect(request, back, ("error", "请填写有效的开课日期（YYYY-MM-DD）。"), typed)
    try:
        await run_in_threadpool(
            service.record_session,
            actor=actor,
            topic_id=_field(form, "topic_id"),
            title=title,
            held_on=held_on,
            status=status,
            instructor=_field(form, "instructor") or None,
            department=_field(form, "department") or None,
        )
    except ValidationFailed as exc:
        return _redirect(request, back, ("error", exc.message), typed)
    except (NotFound, Conflict) as exc:
        return _redirect(request, back, ("error", str(exc)), typed)
    return _redirect(
        request, back, ("success", f"已记录课程“{title}”：{date_zh(held_on)}，{STATUS_ZH.get(status, status)}。"
                        "课后反馈二维码海报见看板的“最近记录的课”。")
    )


@router.post("/retrain")
async def start_retrain(
    request: Request, form: DashboardForm, runner: Runner, actor: DashboardActor, who: DashboardOrganizer, auth: Auth
) -> Response:
    """Start a retrain in the background from the dashboard (the same runner as the API), in two
    steps: a retrain button shows what will happen; only that page's ``confirm=yes`` starts it."""
    if _field(form, "confirm") != "yes":
        context = {"csrf_token": _csrf_for(auth, who), "retrain": runner.status()}
        return _render(request, "organizer_retrain_confirm.html", context)
    try:
        await run_in_threadpool(runner.start, actor)
    except RetrainInProgress as exc:
        return _redirect(request, HOME, ("error", str(exc)))
    return _redirect(request, HOME, ("success", "已开始重新训练。"))  # the notice below says the rest


@router.get("/retrain")
def retrain_url_opened(_who: DashboardOrganizer) -> Response:
    """The retrain confirmation's URL opened as a page (reloaded later, bookmarked): the
    dashboard's 模型 section, where a retrain starts; not 405."""
    return RedirectResponse(f"{HOME}#model", status_code=303)


# --------------------------------------------------------------------------- all topics


@router.get("/topics", response_class=HTMLResponse)
def topics_page(
    request: Request, who: DashboardOrganizer, service: Service, settings: SettingsDep, auth: Auth
) -> Response:
    """全部主题: every topic grouped by theme, searchable (``?q=``), with size, trend and rank
    among the suggestions; ``segment`` and ``as_of`` filter as on the dashboard."""
    params = request.query_params
    filters = {name: params.get(name, "").strip() for name in ("q", "segment", "as_of")}
    context = {
        "who": who, "csrf_token": _csrf_for(auth, who), "flash": _take_flash(request, auth), "filters": filters,
        "segments": settings.segments, "filter_error": None, "no_model": None, "browse": None,
    }
    status_code = 200
    try:
        try:
            query = parse_suggestion_query(settings, None, filters["as_of"], filters["segment"])
            context["browse"] = browse_view(
                service.browse_topics(query=filters["q"], as_of=query.as_of, segment=query.segment)
            )
        except ValidationFailed as exc:  # show every topic, keep what was typed, say what is wrong
            context["filter_error"], status_code = filter_message(exc), 422
            context["browse"] = browse_view(service.browse_topics())
        context["themes"] = service.themes()
    except NoModelError as exc:
        context["no_model"] = str(exc)
    return _with_flash_cleared(request, _render(request, "organizer_topics.html", context, status_code))


# --------------------------------------------------------------------------- topic page


@router.get("/topics/{topic_id}", response_class=HTMLResponse)
def topic_page(request: Request, topic_id: str, who: DashboardOrganizer, service: Service, auth: Auth) -> Response:
    """One topic: label and rename form, keywords, sessions, lineage, feedback, exports."""
    return render_topic_page(request, topic_id, who, service, auth)


def render_topic_page(
    request: Request, topic_id: str, who: Organizer, service: RecommenderService, auth: OrganizerAuth
) -> Response:
    """The topic page; a refused correction form comes back to it with what it had (ticked
    lines, typed label, chosen topic) and its error (web/corrections_pages.py)."""
    try:
        page = bounded_page(int(request.query_params.get("page", "1")), PER_PAGE)[0]
    except ValueError:
        page = 1
    topic = service.topic(topic_id, page=page, per_page=PER_PAGE)
    topic["sessions"] = [
        {**with_links(request, s), "answers": service.class_answers(s["id"], limit=20) if s["responses"] else []}
        for s in topic["sessions"]
    ]
    members = topic["members"]
    pages = max(1, -(-members["total"] // PER_PAGE))
    flash = _take_flash(request, auth)
    context = {
        "who": who,
        "csrf_token": _csrf_for(auth, who),
        "flash": flash,
        "topic": topic,
        "page": page,
        "pages": pages,
        "status_zh": STATUS_ZH,
        "event_zh": EVENT_ZH,
        "return_to": request.url.path,
        "export_query": {fmt: urlencode({"format": fmt}) for fmt in ("csv", "xlsx")},
        "hide_reasons": [(r, HIDE_REASONS_ZH[r]) for r in HIDE_REASONS],
        "other_topics": [t for t in service.topics()["topics"] if t["topic_id"] != topic_id],
        "corrections": _corrections_typed(flash),
        **_plan_defaults(service),
        **_standing_context(service, topic_id),
    }
    return _with_flash_cleared(request, _render(request, "organizer_topic.html", context))


#: ``typed["form"]`` of a refused correction form (web/corrections_pages.py), so the plan
#: form's typed values are never read as ticked lines.
CORRECTIONS_FORM = "corrections"


def _corrections_typed(flash: dict | None) -> dict:
    """What a refused correction form had (ticked lines, typed label, chosen topics), to show in
    it again; nothing ticked or typed when the page was not reached from a refused correction."""
    typed = (flash or {}).get("typed") or {}
    if typed.get("form") != CORRECTIONS_FORM:
        typed = {}
    picked = {int(i) for i in typed.get("picked", "").split(",") if i.isascii() and i.isdigit()}
    return {"picked": picked, **{k: typed.get(k, "") for k in ("label", "target", "other")}}


def _standing_context(service: RecommenderService, topic_id: str) -> dict:
    """The topic page's header: score, rank among the suggestions, why, cool-down (as of today)."""
    standing = service.topic_standing(topic_id)
    return {"standing": standing and card_view(standing, standing["as_of"])}


@router.get("/no-topic", response_class=HTMLResponse)
def no_topic_page(request: Request, who: DashboardOrganizer, service: Service, auth: Auth) -> Response:
    """Lines in no topic: 未归类 (ask for something no topic covers) or, with
    ``?kind=no_request``, 课堂反馈 (thanks, praise: never demand)."""
    return render_no_topic_page(request, request.url.path, request.url.query, who, service, auth)


def render_no_topic_page(
    request: Request, path: str, query: str, who: Organizer, service: RecommenderService, auth: OrganizerAuth
) -> Response:
    """The 未归类 / 课堂反馈 page at ``path?query``; a refused move comes back to it with what
    it had (ticked lines, chosen topic) and its error (web/corrections_pages.py)."""
    params = dict(parse_qsl(query))
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    no_request = params.get("kind") == "no_request"
    result = service.no_topic(no_request=no_request, page=page, per_page=PER_PAGE)
    members = result["members"]
    flash = _take_flash(request, auth)
    context = {
        "who": who,
        "csrf_token": _csrf_for(auth, who),
        "flash": flash,
        "no_request": no_request,
        "members": members,
        "page": page,
        "pages": max(1, -(-members["total"] // PER_PAGE)),
        "kind_query": "kind=no_request&" if no_request else "",
        "return_to": path + (f"?{query}" if query else ""),
        "hide_reasons": [(r, HIDE_REASONS_ZH[r]) for r in HIDE_REASONS],
        # Moving lines into a topic (web/corrections_pages.py).
        "other_topics": [] if no_request else service.topics()["topics"],
        "corrections": _corrections_typed(flash),
    }
    return _with_flash_cleared(request, _render(request, "organizer_no_topic.html", context))


@router.post("/topics/{topic_id}/label")
async def rename_topic(
    request: Request, topic_id: str, form: DashboardForm, service: Service, actor: DashboardActor
) -> Response:
    """Rename a topic (the organizer's label survives retrains); an empty label restores the model's."""
    label = None if form.get("reset") else _field(form, "label")
    back = f"{HOME}/topics/{quote(topic_id, safe='')}"
    try:
        result = await run_in_threadpool(lambda: service.rename_topic(topic_id, label, actor=actor))
    except (ValidationFailed, Conflict) as exc:
        return _redirect(request, back, ("error", exc.message))
    message = f"主题已改名为“{result['label']}”。" if result["label"] else "已恢复模型生成的主题名称。"
    return _redirect(request, back, ("success", message))


# --------------------------------------------------------------------------- moderation


def _feedback_id(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) < 2**63:
        raise NotFound("没有这条反馈")
    return int(raw)


@router.post("/feedback/{feedback_id}/hide")
async def hide_feedback(
    request: Request, feedback_id: str, form: DashboardForm, service: Service, actor: DashboardActor
) -> Response:
    """Hide a line (reason required): it leaves suggestions, quotes and exports at once."""
    back = _safe_next(_field(form, "return_to"))
    fid = _feedback_id(feedback_id)
    reason = _field(form, "reason") or "other"
    try:
        await run_in_threadpool(
            lambda: service.hide(fid, reason, actor=actor, note=_field(form, "note"))
        )
    except NotFound:
        return _redirect(request, back, ("error", f"第 {fid} 条反馈不存在或已经隐藏。"))
    except ValidationFailed as exc:
        return _redirect(request, back, ("error", exc.message))
    return _redirect(request, back, ("success", f"已隐藏第 {fid} 条反馈（{HIDE_REASONS_ZH.get(reason, reason)}），可在看板的“已隐藏的反馈”中恢复。"))


@router.post("/feedback/{feedback_id}/restore")
async def restore_feedback(
    request: Request, feedback_id: str, form: DashboardForm, service: Service, actor: DashboardActor
) -> Response:
    """Count a hidden or flagged line again."""
    back = _safe_next(_field(form, "return_to"))
    fid = _feedback_id(feedback_id)
    try:
        await run_in_threadpool(lambda: service.restore(fid, actor=actor))
    except NotFound:
        return _redirect(request, back, ("error", f"第 {fid} 条反馈不存在或不需要恢复。"))
    return _redirect(request, back, ("success", f"已恢复第 {fid} 条反馈，它重新计入主题建议。"))


# The page helpers other dashboard routers use (web/corrections_pages.py).
render_page = _render
csrf_for = _csrf_for
form_field = _field
redirect_with_flash = _redirect
safe_next = _safe_next
take_flash = _take_flash
with_flash_cleared = _with_flash_cleared

__all__ = [
    "CORRECTIONS_FORM",
    "FLASH_COOKIE",
    "SESSION_COOKIE",
    "csrf_for",
    "form_field",
    "redirect_with_flash",
    "render_page",
    "render_topic_page",
    "router",
    "safe_next",
    "take_flash",
    "with_flash_cleared",
]

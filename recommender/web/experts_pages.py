"""The dashboard's expert directory (zh-CN, no JavaScript): ``/organizer/experts`` lists the
experts (contacts masked) with an add form; ``/organizer/experts/{id}/edit`` is the one view
that shows a contact as typed. Forms carry the CSRF token and answer with 303 and a flash
message; a refused form answers 303 too, back to the page it is on (the list's add form, or the
edit page) where it shows again with what was typed and why (Post/Redirect/Get: what was typed
travels in the signed one-time message), so a reload or a bookmark never lands on a POST-only
URL."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from recommender.door.experts import MAX_CONTACT, MAX_DEPARTMENT, MAX_EXPERT_NAME
from recommender.errors import NotFound, ValidationFailed
from recommender.web.dashboard import _csrf_for, _field, _redirect, _render, _take_flash, _with_flash_cleared
from recommender.web.deps import Auth, DashboardActor, DashboardForm, DashboardOrganizer, Service

router = APIRouter(prefix="/organizer/experts", tags=["dashboard"], include_in_schema=False)

LIST = "/organizer/experts"
#: The list's add form (at the page's foot): where a refused add goes back to.
ADD_FORM = f"{LIST}#add-expert"
FIELDS = ("name", "department", "subjects", "contact")
LIMITS = {"name": MAX_EXPERT_NAME, "department": MAX_DEPARTMENT, "contact": MAX_CONTACT}
#: ``typed["form"]`` of a refused expert form, so another form's typed values are never shown here.
EXPERT_FORM = "expert"
#: The most a refused form carries back, as UTF-8 JSON: the one-time message is a cookie, at most
#: 4 KB once signed and base64-encoded (4/3 of this, plus the signature).
CARRIED_BYTES = 2800


def _typed(form: FormData) -> dict[str, str]:
    return {name: _field(form, name) for name in FIELDS}


def _refused(request: Request, back: str, message: str, typed: dict[str, str], expert_id: int | None = None) -> Response:
    """303 back to the form's page with why it was refused and what it held, shown in the form
    again there. Name, department and contact are cut at the form's maxlength (a browser sends no
    more); a subjects line too long to carry is left out and the message says so."""
    carried = {k: v[: LIMITS[k]] if k in LIMITS else v for k, v in typed.items()}
    carried.update(form=EXPERT_FORM, expert_id="" if expert_id is None else str(expert_id))
    if len(json.dumps({"message": message, "typed": carried}, ensure_ascii=False).encode()) > CARRIED_BYTES:
        carried["subjects"] = ""
        message += "（可授课程一栏太长，没能保留，请重新填写。）"
    return _redirect(request, back, ("error", message), carried)


def _typed_back(flash: dict | None, expert_id: int | None = None) -> dict[str, str] | None:
    """What the refused form of this page held (the add form, or this expert's edit form)."""
    typed = (flash or {}).get("typed") or {}
    wanted = "" if expert_id is None else str(expert_id)
    if typed.get("form") != EXPERT_FORM or typed.get("expert_id") != wanted:
        return None
    return {name: typed.get(name, "") for name in FIELDS}


def _list_page(request: Request, service, auth, who) -> Response:
    flash = _take_flash(request, auth)
    typed = _typed_back(flash)
    context = {
        "csrf_token": _csrf_for(auth, who),
        # A refused add shows its message in the form, beside what was typed, not twice.
        "flash": None if typed else flash,
        "experts": service.experts.experts(),
        "form": typed or dict.fromkeys(FIELDS, ""),
        "error": flash["message"] if typed else None,
        "action": LIST,
        "submit_label": "添加专家",
        "limits": LIMITS,
    }
    return _with_flash_cleared(request, _render(request, "organizer_experts.html", context))


def _edit_page(request: Request, auth, who, expert_id: int, form: dict) -> Response:
    flash = _take_flash(request, auth)
    typed = _typed_back(flash, expert_id)
    context = {
        "csrf_token": _csrf_for(auth, who),
        "form": typed or form,
        "error": flash["message"] if typed else None,
        "action": f"{LIST}/{expert_id}",
        "submit_label": "保存",
        "limits": LIMITS,
    }
    return _with_flash_cleared(request, _render(request, "organizer_expert_edit.html", context))


def _expert_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 15:
        raise NotFound(f"没有编号为 {raw[:20]} 的专家")
    return int(raw)


@router.get("", response_class=HTMLResponse)
def experts_page(request: Request, who: DashboardOrganizer, service: Service, auth: Auth) -> Response:
    """The directory and the add form."""
    return _list_page(request, service, auth, who)


@router.post("")
async def add_expert(request: Request, form: DashboardForm, service: Service, actor: DashboardActor) -> Response:
    """Add an expert; a refused form goes back to the list's add form with what was typed."""
    typed = _typed(form)
    try:
        added = await run_in_threadpool(lambda: service.experts.add(actor=actor, **typed))
    except ValidationFailed as exc:
        return _refused(request, ADD_FORM, exc.message, typed)
    return _redirect(request, LIST, ("success", f"已添加专家“{added['name']}”（{added['department']}）。"))


@router.get("/{expert_id}/edit", response_class=HTMLResponse)
def edit_page(request: Request, expert_id: str, who: DashboardOrganizer, service: Service, auth: Auth) -> Response:
    """The edit form: the only view that shows the contact as typed."""
    expert = service.experts.expert(_expert_id(expert_id), reveal_contact=True)
    form = {**expert, "subjects": "、".join(expert["subjects"]), "contact": expert["contact"] or ""}
    return _edit_page(request, auth, who, expert["id"], form)


@router.post("/{expert_id}")
async def update_expert(
    request: Request, expert_id: str, form: DashboardForm, service: Service, actor: DashboardActor
) -> Response:
    """Save an expert; a refused form goes back to the edit page with what was typed."""
    number = _expert_id(expert_id)
    typed = _typed(form)
    try:
        saved = await run_in_threadpool(lambda: service.experts.update(number, actor=actor, **typed))
    except ValidationFailed as exc:
        return _refused(request, f"{LIST}/{number}/edit", exc.message, typed, number)
    return _redirect(request, LIST, ("success", f"已保存专家“{saved['name']}”。"))


@router.get("/{expert_id}")
@router.get("/{expert_id}/delete")
def expert_form_url_opened(expert_id: str, _who: DashboardOrganizer) -> Response:
    """A URL the edit or delete form posts to (the delete confirmation is drawn there), opened
    as a page (a bookmark, an old history entry): the expert's edit page, not 405."""
    return RedirectResponse(f"{LIST}/{_expert_id(expert_id)}/edit", status_code=303)


@router.post("/{expert_id}/delete")
async def delete_expert(
    request: Request, expert_id: str, form: DashboardForm, service: Service, actor: DashboardActor,
    who: DashboardOrganizer, auth: Auth,
) -> Response:
    """Remove an expert from the directory, in two steps (a removal cannot be undone, and the
    list's 删除 sits beside 编辑): the list's button shows whom it removes; only that page's
    ``confirm=yes`` removes."""
    number = _expert_id(expert_id)
    if _field(form, "confirm") != "yes":
        expert = await run_in_threadpool(service.experts.expert, number)
        context = {"csrf_token": _csrf_for(auth, who), "expert": expert}
        return _render(request, "organizer_expert_delete.html", context)
    removed = await run_in_threadpool(lambda: service.experts.delete(number, actor=actor))
    return _redirect(request, LIST, ("success", f"已从专家库删除“{removed['name']}”。"))

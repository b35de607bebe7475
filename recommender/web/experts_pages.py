"""The dashboard's expert directory (zh-CN, no JavaScript): ``/organizer/experts`` lists the
experts (contacts masked) with an add form; ``/organizer/experts/{id}/edit`` is the one view
that shows a contact as typed. Forms carry the CSRF token, answer with 303 and a flash
message, and a refused form is shown again (422) with what was typed and why."""

from __future__ import annotations

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
FIELDS = ("name", "department", "subjects", "contact")
LIMITS = {"name": MAX_EXPERT_NAME, "department": MAX_DEPARTMENT, "contact": MAX_CONTACT}


def _typed(form: FormData) -> dict[str, str]:
    return {name: _field(form, name) for name in FIELDS}


def _list_page(request: Request, service, auth, who, *, form=None, error=None, status_code=200) -> Response:
    context = {
        "csrf_token": _csrf_for(auth, who),
        "flash": _take_flash(request, auth),
        "experts": service.experts.experts(),
        "form": form or dict.fromkeys(FIELDS, ""),
        "error": error,
        "action": LIST,
        "submit_label": "添加专家",
        "limits": LIMITS,
    }
    return _with_flash_cleared(request, _render(request, "organizer_experts.html", context, status_code))


def _edit_page(request: Request, auth, who, expert_id: int, form: dict, *, error=None, status_code=200) -> Response:
    context = {
        "csrf_token": _csrf_for(auth, who),
        "form": form,
        "error": error,
        "action": f"{LIST}/{expert_id}",
        "submit_label": "保存",
        "limits": LIMITS,
    }
    return _render(request, "organizer_expert_edit.html", context, status_code)


def _expert_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 15:
        raise NotFound(f"没有编号为 {raw[:20]} 的专家")
    return int(raw)


@router.get("", response_class=HTMLResponse)
def experts_page(request: Request, who: DashboardOrganizer, service: Service, auth: Auth) -> Response:
    """The directory and the add form."""
    return _list_page(request, service, auth, who)


@router.post("")
async def add_expert(
    request: Request, form: DashboardForm, who: DashboardOrganizer, service: Service, auth: Auth, actor: DashboardActor
) -> Response:
    """Add an expert; a refused form comes back with what was typed."""
    typed = _typed(form)
    try:
        added = await run_in_threadpool(lambda: service.experts.add(actor=actor, **typed))
    except ValidationFailed as exc:
        return _list_page(request, service, auth, who, form=typed, error=exc.message, status_code=422)
    return _redirect(request, LIST, ("success", f"已添加专家“{added['name']}”（{added['department']}）。"))


@router.get("/{expert_id}/edit", response_class=HTMLResponse)
def edit_page(request: Request, expert_id: str, who: DashboardOrganizer, service: Service, auth: Auth) -> Response:
    """The edit form: the only view that shows the contact as typed."""
    expert = service.experts.expert(_expert_id(expert_id), reveal_contact=True)
    form = {**expert, "subjects": "、".join(expert["subjects"]), "contact": expert["contact"] or ""}
    return _edit_page(request, auth, who, expert["id"], form)


@router.post("/{expert_id}")
async def update_expert(
    request: Request,
    expert_id: str,
    form: DashboardForm,
    who: DashboardOrganizer,
    service: Service,
    auth: Auth,
    actor: DashboardActor,
) -> Response:
    """Save an expert; a refused form comes back with what was typed."""
    number = _expert_id(expert_id)
    typed = _typed(form)
    try:
        saved = await run_in_threadpool(lambda: service.experts.update(number, actor=actor, **typed))
    except ValidationFailed as exc:
        return _edit_page(request, auth, who, number, typed, error=exc.message, status_code=422)
    return _redirect(request, LIST, ("success", f"已保存专家“{saved['name']}”。"))


@router.get("/{expert_id}")
@router.get("/{expert_id}/delete")
def expert_form_url_opened(expert_id: str, _who: DashboardOrganizer) -> Response:
    """A URL the edit or delete form posts to (where a refused edit or the delete confirmation
    was shown), opened as a page: the expert's edit page, not 405."""
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

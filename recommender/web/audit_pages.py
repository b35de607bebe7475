"""操作记录, the whole audit log for an organizer (zh-CN, no JavaScript): ``/organizer/audit``
pages through every entry, newest first, in the dashboard's words (who, when, what, on what,
the detail in Chinese). The dashboard shows the latest entries and links here; scripts read the
same log as JSON from ``GET /api/audit``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from recommender.errors import NoModelError
from recommender.service.filters import bounded_page
from recommender.web.dashboard import csrf_for, render_page, take_flash, with_flash_cleared
from recommender.web.dashboard_cards import audit_rows
from recommender.web.deps import Auth, DashboardOrganizer, Service

router = APIRouter(prefix="/organizer", tags=["dashboard"], include_in_schema=False)

#: Entries on a page of 操作记录.
PER_PAGE = 50


def _page_number(raw: str | None) -> int:
    """``?page=``; anything that is no page number is the first page."""
    try:
        return bounded_page(int(raw or "1"), PER_PAGE)[0]
    except ValueError:
        return 1


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, who: DashboardOrganizer, service: Service, auth: Auth) -> Response:
    """Every audit entry, newest first, PER_PAGE to a page; a topic named by its label (linked)."""
    page = _page_number(request.query_params.get("page"))
    audit = service.audit_log(limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    try:
        labels = {t["topic_id"]: t["label"] for t in service.topics()["topics"]}
    except NoModelError:  # no model yet: topics show as 「主题 T0003」
        labels = {}
    context = {
        "who": who,
        "csrf_token": csrf_for(auth, who),
        "flash": take_flash(request, auth),
        "audit": audit,
        "audit_rows": audit_rows(audit["items"], labels),
        "page": page,
        "pages": max(1, -(-audit["total"] // PER_PAGE)),
        "per_page": PER_PAGE,
    }
    return with_flash_cleared(request, render_page(request, "organizer_audit.html", context))

"""Organizer JSON API of the expert directory: ``/api/experts`` (list, add) and
``/api/experts/{id}`` (read, replace, delete). Contacts are masked in every answer; each
change is audited with its organizer. Validation is the door's (Chinese messages, 422)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from recommender.door.experts import MAX_CONTACT, MAX_DEPARTMENT, MAX_EXPERT_NAME, MAX_SUBJECT, MAX_SUBJECTS
from recommender.text.contact import CONTACT_PATTERN
from recommender.web.deps import Actor, Service, require_organizer
from recommender.web.schemas import ErrorBody, ExpertOut, ExpertsOut

router = APIRouter(
    prefix="/api/experts",
    tags=["experts"],
    dependencies=[Depends(require_organizer)],
    responses={
        401: {"model": ErrorBody, "description": "No valid organizer token or session"},
        403: {"model": ErrorBody, "description": "A cookie-authenticated write without its CSRF token"},
    },
)
NOT_FOUND = {404: {"model": ErrorBody, "description": "No such expert"}}
ExpertId = Annotated[int, PathParam(ge=1, le=2**53, description="The expert's id")]
HAS_CONTENT = {"pattern": r"[^\W_]"}


class ExpertIn(BaseModel):
    """An expert: name, department, the subjects they teach (phrases), contact (phone or e-mail)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=MAX_EXPERT_NAME, json_schema_extra=HAS_CONTENT, examples=["王医生"])
    department: str = Field(
        ..., min_length=1, max_length=MAX_DEPARTMENT, json_schema_extra=HAS_CONTENT, examples=["社区卫生服务中心"]
    )
    subjects: list[Annotated[str, Field(min_length=1, max_length=MAX_SUBJECT, json_schema_extra=HAS_CONTENT)]] = Field(
        ..., min_length=1, max_length=MAX_SUBJECTS, examples=[["心肺复苏", "急救"]]
    )
    contact: str | None = Field(
        None, max_length=MAX_CONTACT, json_schema_extra={"pattern": CONTACT_PATTERN}, examples=["13812345678"]
    )


@router.get("", response_model=ExpertsOut)
def list_experts(service: Service) -> dict:
    """The directory of experts, by department, contacts masked."""
    return {"experts": service.experts.experts()}


@router.post("", status_code=201, response_model=ExpertOut)
def add_expert(body: ExpertIn, service: Service, actor: Actor) -> dict:
    """Add an expert (audited)."""
    return service.experts.add(actor=actor, **body.model_dump())


@router.get("/{expert_id}", response_model=ExpertOut, responses=NOT_FOUND)
def get_expert(expert_id: ExpertId, service: Service) -> dict:
    """One expert, contact masked."""
    return service.experts.expert(expert_id)


@router.put("/{expert_id}", response_model=ExpertOut, responses=NOT_FOUND)
def replace_expert(expert_id: ExpertId, body: ExpertIn, service: Service, actor: Actor) -> dict:
    """Replace an expert's name, department, subjects and contact (audited)."""
    return service.experts.update(expert_id, actor=actor, **body.model_dump())


@router.delete("/{expert_id}", response_model=ExpertOut, responses=NOT_FOUND)
def delete_expert(expert_id: ExpertId, service: Service, actor: Actor) -> dict:
    """Remove an expert from the directory (audited); answers the removed entry."""
    return service.experts.delete(expert_id, actor=actor)

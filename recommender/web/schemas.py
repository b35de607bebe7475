"""The error shape, and the response models of the organizer API: what ``/openapi.json`` says each route returns.

Field order is the order of the keys the service writes, so the JSON is the same whether a
route returns the service's dict through its model or (``GET /api/suggestions``, the hot
path) the service's own encoding of it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(examples=["empty"])
    message: str = Field(examples=["反馈内容不能为空，请写下您想学的内容或建议。"])
    details: list[dict] | None = None


class ErrorBody(BaseModel):
    """The JSON error shape of every ``/api/*`` route."""

    error: ErrorDetail


class MonthCount(BaseModel):
    month: str = Field(examples=["2026-10"])
    count: int


class ExpertRef(BaseModel):
    name: str = Field(examples=["王医生"])
    department: str = Field(examples=["社区卫生服务中心"])


class ReadablePart(BaseModel):
    """One part of the score in people's units (people, likes, growth in %, the last class)."""

    key: str = Field(examples=["people"], description="The matching key of score_breakdown.")
    label: str = Field(examples=["提出人数"])
    text: str = Field(examples=["35 人（近 30 天 12 人）"])


class SuggestionOut(BaseModel):
    """One ranked topic. ``score`` is in people-equivalents; ``score_breakdown`` adds up to it."""

    topic_id: str = Field(examples=["T0007"])
    rank: int
    label: str = Field(examples=["公文写作"])
    keywords: list[str]
    score: float
    score_breakdown: dict[str, float] = Field(description="people, votes, growth, cooldown")
    feedback_count: int
    distinct_submitters: int
    trend: str = Field(description="new, growing, steady or fading")
    examples: list[str]
    feedback_ids: list[str] = Field(description="The external id where imported with one, else the stored id.")
    theme_id: str | None = Field(examples=["G0007"], description="The theme the topic belongs to (for browsing).")
    theme_label: str | None = Field(examples=["公文写作"])
    why: str = Field(examples=["35 人提出，近 30 天 12 人，上升（比前 30 天多 4 人）；点赞 40；近期未开课"], description="Why it ranks here, in words.")
    votes: int
    recently_covered: bool
    last_class_on: str | None
    cooldown_until: str | None = Field(description="While recently_covered: the day the cool-down ends.")
    class_planned_on: str | None
    demand_rising_after_class: bool
    monthly_counts: list[MonthCount]
    similar_to: list[str]
    experts: list[ExpertRef] = Field(
        default_factory=list, description="Experts in the directory who can teach it; empty: 需要邀请讲师."
    )
    recent_people: int = Field(description="People in the last trend window (30 days by default).")
    previous_people: int = Field(description="People in the window before it.")
    breakdown_readable: list[ReadablePart] = Field(description="score_breakdown in people's units.")


class SuggestionsOut(BaseModel):
    as_of: str = Field(examples=["2026-11-30"])
    model_version: str = Field(examples=["20261128T120501Z-ab12"])
    suggestions: list[SuggestionOut]


class TopicOut(BaseModel):
    topic_id: str
    label: str = Field(description="The organizer's label where set, else the model's.")
    model_label: str
    keywords: list[str]
    examples: list[str]
    size: int = Field(description="Visible feedback lines in the topic now.")
    trained_size: int = Field(description="Lines in the topic when the model was trained.")
    theme_id: str | None
    theme_label: str | None
    pinned: bool = Field(False, description="Pinned by an organizer: no retrain dissolves it.")


class TopicsOut(BaseModel):
    model_version: str
    topics: list[TopicOut]


class ThemeTopicOut(BaseModel):
    topic_id: str = Field(examples=["T0007"])
    label: str = Field(examples=["会议纪要写作"])
    size: int = Field(description="Visible feedback lines in the topic now.")


class ThemeOut(BaseModel):
    """A theme groups related topics (for browsing; suggestions rank topics)."""

    theme_id: str = Field(examples=["G0007"])
    label: str = Field(examples=["公文写作"])
    size: int = Field(description="Visible feedback lines in its topics now.")
    topics: list[ThemeTopicOut]


class ThemesOut(BaseModel):
    model_version: str
    themes: list[ThemeOut]
    no_topic: int = Field(description="Lines that ask for something no topic covers (未归类).")
    no_request: int = Field(description="Lines that ask for nothing: thanks, praise (课堂反馈).")


class NewDemandGroup(BaseModel):
    label: str = Field(examples=["太极拳"], description="A phrase the group's lines share.")
    people: int = Field(description="Distinct people (a submitter counts once; each anonymous line is one).")
    lines: int
    examples: list[str]
    feedback_ids: list[str]
    first_at: str
    last_at: str


class NewDemandOut(BaseModel):
    """New lines that fit no topic since the model was trained, grouped as they arrive."""

    model_version: str
    since: str | None = Field(description="When the served model's training data ends.")
    new_lines: int = Field(description="Lines received since then that ask for something.")
    no_topic: int = Field(description="Of those, lines in no topic.")
    unassigned_share: float
    retrain_advised: bool
    groups: list[NewDemandGroup]


class SessionOut(BaseModel):
    id: int
    topic_id: str
    title: str
    date: str = Field(examples=["2026-12-05"])
    status: str = Field(description="planned, held or cancelled")
    instructor: str | None
    department: str | None
    feedback_url: str | None = Field(
        description="The class's post-class form (anyone with the link: rating 1–5 and 下次想学什么); "
        "its QR code is on the poster.",
        examples=["http://127.0.0.1:8000/class/pV0q3hWkz1bqkq0sXo2pZg"],
    )
    poster_svg: str = Field(description="The printable A4 poster (organizer).", examples=["/organizer/sessions/1/poster.svg"])
    poster_png: str = Field(description="The QR code as a PNG (organizer).", examples=["/organizer/sessions/1/poster.png"])
    rating: float | None = Field(description="Average rating 1–5 of the answers; null without answers.")
    responses: int = Field(description="Answers to the post-class form.")
    demand_before: int | None = Field(
        description="Distinct people asking on the topic in the 30 days before the class (null: no model yet)."
    )
    demand_after: int | None = Field(description="Distinct people asking on the topic since the class (null: no model yet).")


class ClassAnswerOut(BaseModel):
    """One answer to a class's post-class form."""

    rating: int = Field(ge=1, le=5)
    kind: str = Field(description="rating (a rating alone), praise (kept with the class, never demand) or "
                      "request (下次想学什么, stored as a feedback line)")
    text: str = Field(description="Masked; empty for a rating alone or once the line was withdrawn, hidden or purged.")
    created_at: str


class ClassAnswersOut(BaseModel):
    session_id: int
    answers: list[ClassAnswerOut] = Field(description="Newest first (at most 50).")


class SessionsOut(BaseModel):
    sessions: list[SessionOut]


class TopicEventOut(BaseModel):
    kind: str = Field(description="new, split, merge, retired")
    model_version: str
    other_topic_ids: list[str]


class MemberOut(BaseModel):
    id: str = Field(description="The public id: the external id where imported with one, else the stored id.")
    feedback_id: int = Field(description="The stored id (for hide and restore).")
    text: str
    submitted_at: str
    segment: str
    session_id: str | None
    votes: int
    is_repeat: bool
    source: str


class MembersPage(BaseModel):
    page: int
    per_page: int
    total: int
    items: list[MemberOut]


class NoTopicOut(BaseModel):
    """One page of the lines in no topic: 未归类 (``kind=no_topic``) or 课堂反馈 (``kind=no_request``)."""

    model_version: str
    kind: str = Field(examples=["no_topic"])
    members: MembersPage


class TopicDetailOut(BaseModel):
    model_version: str
    topic_id: str
    label: str
    model_label: str
    keywords: list[str]
    examples: list[str]
    size: int
    pinned: bool = Field(False, description="Pinned by an organizer: no retrain dissolves it.")
    sessions: list[SessionOut]
    events: list[TopicEventOut]
    members: MembersPage


class RenameOut(BaseModel):
    topic_id: str
    label: str | None = Field(description="The organizer's label; null: the model's label is used.")


class RetrainResultOut(BaseModel):
    """What a finished retrain did."""

    changed: bool = Field(description="false: nothing new since the current model, which stays as it is.")
    version: str = Field(description="The current model version after the retrain.")
    previous_version: str | None = Field(description="The version current when the retrain started.")
    n_rows: int | None
    n_topics: int | None
    n_noise: int | None = Field(description="Lines in no topic (未归类 and 课堂反馈 together).")
    previous_n_topics: int | None = None
    new_topic_ids: list[str] | None = Field(None, description="Topics the new version has and the previous one had not.")
    gone_topic_ids: list[str] | None = Field(None, description="Topics of the previous version no longer listed.")


class RetrainStatusOut(BaseModel):
    """The retrain this service (any of its workers) started last."""

    status: str = Field(description="idle, running, finished or failed (started, in the answer to a start)")
    pid: int | None
    exit_code: int | None
    started_at: str | None
    finished_at: str | None
    log_tail: list[str] | None = Field(None, description="The last lines of the retrain's log (failed only).")
    message: str | None = Field(
        None, description="Failed only: the retrain's own message (e.g. too little feedback), when it printed one."
    )
    result: RetrainResultOut | None = Field(None, description="Finished only: what the retrain changed.")
    summary: str | None = Field(
        None, description="The state in words, as the dashboard says it: 「…没有新的反馈，模型保持不变…」 or the new model's topics.",
    )


class RetrainStartedOut(RetrainStatusOut):
    status_url: str = Field(examples=["/api/admin/retrain"])


class HiddenOut(BaseModel):
    id: int
    status: str
    moderation_reason: str | None


class RestoredOut(BaseModel):
    id: int
    status: str


class ModerationItemOut(BaseModel):
    id: int
    public_id: str
    text: str
    submitted_at: str
    segment: str
    source: str
    status: str
    moderation_reason: str | None
    flag_reason: str | None
    status_changed_at: str | None


class ModerationListOut(BaseModel):
    status: str
    total: int
    items: list[ModerationItemOut]
    page: int


class AuditEntryOut(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    target: str | None
    detail: Any
    summary: str = Field("", description="The detail in words (Chinese), as the dashboard shows it.")


class AuditOut(BaseModel):
    total: int
    items: list[AuditEntryOut]
    page: int


class ExpertOut(BaseModel):
    """An expert of the directory; ``contact`` is masked (``138****5678``)."""

    id: int
    name: str = Field(examples=["王医生"])
    department: str = Field(examples=["社区卫生服务中心"])
    subjects: list[str] = Field(examples=[["心肺复苏", "急救"]])
    contact: str | None = Field(examples=["138****5678"])
    updated_at: str


class ExpertsOut(BaseModel):
    experts: list[ExpertOut]

"""Settings: every knob of the service, read from ``RECOMMENDER_*`` environment variables.

Use :func:`get_settings` (cached) in the service and the CLI; tests build ``Settings(...)``
directly or clear the cache. Each field carries its default and a description; README's
configuration table is checked against this class by ``tests/test_docs.py``.
"""

from __future__ import annotations

import ipaddress
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(value: str | None) -> list[Network]:
    """``"127.0.0.1, 10.0.0.0/8"`` → networks; ``ValueError`` naming a bad entry."""
    networks = []
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"RECOMMENDER_TRUSTED_PROXIES 中的“{part}”不是 IP 地址或网段（例如 127.0.0.1 或 10.0.0.0/8）") from None
    return networks


def parse_organizer_tokens(value: str | None) -> dict[str, str | None]:
    """token -> organizer name (entries ``name:token``; a plain token has no name)."""
    out: dict[str, str | None] = {}
    for entry in (value or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        name, sep, token = entry.partition(":")
        if sep and name.strip() and token.strip():
            out[token.strip()] = name.strip()
        else:
            out[entry] = None
    return out


#: Organizer tokens shorter than this are refused at start-up (a short token can be guessed).
MIN_TOKEN_LENGTH = 16


def short_token_problems(tokens: list[str]) -> list[str]:
    """Why each too-short token is refused (by position, never the token itself)."""
    return [
        f"第 {i} 个只有 {len(token)} 个字符"
        for i, token in enumerate(tokens, 1)
        if len(token) < MIN_TOKEN_LENGTH
    ]


def short_token_message(tokens: list[str]) -> str | None:
    """The one message (Chinese) refusing too-short organizer tokens, or None when all are long enough:
    「组织者令牌太短（至少 16 个字符）：第 1 个只有 12 个字符。…」; the tokens themselves never appear."""
    problems = short_token_problems(tokens)
    if not problems:
        return None
    return (
        f"组织者令牌太短（至少 {MIN_TOKEN_LENGTH} 个字符）：{'；'.join(problems)}。"
        "请换用更长的令牌（设置 RECOMMENDER_ORGANIZER_TOKENS，或数据目录中的 organizer_token 文件），可用以下命令生成："
        "python -c 'import secrets; print(secrets.token_urlsafe(24))'"
    )


#: How pydantic's error types read in a setting's message (Chinese); others: 「值无效」.
_SETTING_ERRORS = {
    "int_parsing": "应为整数", "float_parsing": "应为数字", "bool_parsing": "应为 true 或 false",
    "greater_than_equal": "应不小于 {ge}", "greater_than": "应大于 {gt}",
    "less_than_equal": "应不大于 {le}", "less_than": "应小于 {lt}",
    "literal_error": "应为 {expected} 之一", "enum": "应为 {expected} 之一",
}


def settings_error_text(errors: list[dict]) -> str:
    """A pydantic ``ValidationError.errors()`` of :class:`Settings` as one Chinese line per
    setting: 「设置 RECOMMENDER_TIMEZONE 有误：“Foo”不是 IANA 时区名（例如 Asia/Shanghai）」."""
    lines = []
    for error in errors:
        field = ".".join(str(part) for part in error.get("loc") or ())
        ctx = error.get("ctx") or {}
        if error.get("type") == "value_error" and "error" in ctx:
            why = str(ctx["error"])
        else:
            template = _SETTING_ERRORS.get(error.get("type", ""), "值无效")
            try:
                why = template.format(**ctx)
            except (KeyError, IndexError):
                why = "值无效"
            shown = error.get("input")
            secret = any(word in field for word in ("token", "secret", "salt", "url", "password"))
            if isinstance(shown, (str, int, float)) and not isinstance(shown, bool) and not secret:
                why = f"“{shown}”{why}"
        lines.append(f"设置 RECOMMENDER_{field.upper()} 有误：{why}" if field else f"设置有误：{why}")
    return "\n".join(lines) or "设置有误"


#: The SQLAlchemy dialects the store runs on (the part of the URL's scheme before ``+driver``).
DATABASE_DIALECTS = frozenset({"sqlite", "postgresql"})

DEFAULT_SEGMENTS = ("社区干部", "网格员", "楼栋长", "党员", "居民", "志愿者", "其他")


class Settings(BaseSettings):
    """Configuration of the recommender (environment prefix ``RECOMMENDER_``)."""

    model_config = SettingsConfigDict(env_prefix="RECOMMENDER_", extra="ignore")

    # --- storage -------------------------------------------------------------------
    database_url: str = Field(
        "sqlite:///feedback_data/feedback.db",
        description="SQLAlchemy URL of the feedback store; postgresql+psycopg://… for PostgreSQL.",
    )
    data_dir: Path = Field(
        Path("feedback_data"),
        description="Folder for the embedded database, the generated organizer token and the submitter salt.",
    )
    models_dir: Path = Field(
        Path("models"), description="Where versioned model artifacts and the `current` pointer live."
    )
    keep_versions: int = Field(5, ge=1, description="How many model versions retrain keeps on disk.")

    # --- service -------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `serve` listens on.")
    workers: int = Field(1, ge=1, description="Number of uvicorn worker processes for `serve`.")
    keep_alive: int = Field(
        5, ge=1, le=3600,
        description=(
            "Seconds `serve` keeps an idle HTTP connection open (uvicorn's keep-alive, 5 by default). Behind a "
            "load balancer or reverse proxy that reuses connections, set it above the proxy's idle timeout, "
            "or the proxy can send on a connection the service is closing (sporadic 502s)."
        ),
    )
    poster_font: str | None = Field(
        None,
        description=(
            "A font file with Chinese glyphs (TTF/TTC/OTF) the PNG class posters are drawn in. Unset: "
            "WenQuanYi Micro Hei/Zen Hei or Noto Sans CJK where installed; with none, the PNG is the QR code alone."
        ),
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description=(
            "The address learners open the service at (e.g. `https://yexiao.example.cn`): class feedback "
            "links and the QR codes of class posters point there. Unset: the address the organizer's "
            "request came to."
        ),
    )
    organizer_tokens: str | None = Field(
        None,
        description=(
            "Comma-separated bearer tokens for organizer endpoints; when unset, `serve` generates one, "
            "prints it once and stores it under the data folder."
        ),
    )
    model_poll_seconds: float = Field(
        5.0, gt=0, description="How often each service worker checks the `current` model pointer for a new model."
    )
    log_level: str = Field(
        "INFO", description="Log level of `serve` (the operator's log); other commands show INFO lines with `-v`."
    )
    timezone: str = Field(
        "Asia/Shanghai",
        description=(
            "IANA time zone of the organizers: every time shown to a person (dashboard, audit log, exports, "
            "CLI tables) is in it, a time written without a zone (a form, a spreadsheet) is read in it, and "
            "days are counted in it (the suggestions' as_of and its default today, class days)."
        ),
    )

    # --- abuse limits --------------------------------------------------------------
    rate_limit: str = Field(
        "20/minute",
        description=(
            "Per-client limit on public feedback submissions (POST /feedback and POST /api/feedback), "
            "in the `limits` notation (\"20/minute\", \"5/second;100/hour\"); \"\" or \"off\" disables it."
        ),
    )
    rate_limit_storage: str = Field(
        "memory://",
        description=(
            "Where the rate limiter keeps its counters, a `limits` storage URI; memory:// counts per worker "
            "process, redis://host:6379 shares the counts between workers."
        ),
    )
    withdraw_rate_limit: str = Field(
        "20/minute",
        description=(
            "Per-client limit on withdrawal (POST /withdraw, /withdraw/lookup and their /api twins), counted "
            "apart from submissions; same notation as rate_limit, \"off\" disables it."
        ),
    )
    auth_failure_limit: str = Field(
        "10/minute",
        description=(
            "Failed organizer logins and wrong bearer tokens allowed per client; above it every organizer "
            "request from that client answers 429 until the window frees (same notation; \"off\" disables it)."
        ),
    )
    trusted_proxies: str = Field(
        "",
        description=(
            "Comma-separated addresses or networks (127.0.0.1, 10.0.0.0/8) of reverse proxies whose "
            "X-Forwarded-For is believed; empty: the client address is the direct peer."
        ),
    )

    # --- intake --------------------------------------------------------------------
    segments: Annotated[tuple[str, ...], NoDecode] = Field(
        DEFAULT_SEGMENTS, description="Comma-separated list of who-wrote-it segments offered by the form."
    )
    max_text_length: int = Field(2000, ge=10, description="Longest feedback text accepted, in characters.")
    max_body_bytes: int = Field(65536, ge=1024, description="Largest request body accepted by the service (413 above).")
    repeat_window_days: int = Field(
        30, ge=0, description="Near-identical text from the same submitter within this many days is marked a repeat."
    )
    submitter_salt: str | None = Field(
        None,
        description="Secret salt for hashing submitter identifiers; generated and stored under the data folder when unset.",
    )
    intake_batch_max: int = Field(
        256,
        ge=1,
        le=5000,
        description=(
            "Most feedback lines each service worker stores in one transaction (group commit: a writer per "
            "worker stores every submission waiting, answering each after the commit); 1 = one transaction per line."
        ),
    )

    # --- model and retrain ---------------------------------------------------------
    min_train_rows: int = Field(30, ge=2, description="Retrain refuses (exit code 2) with fewer feedback lines than this.")
    train_threads: int = Field(
        1, ge=0, description="BLAS threads a retrain may use (0 = library default); 1 keeps a retrain beside the service from starving it."
    )
    train_engine: Literal["local", "dask"] = Field(
        "local", description="Where a retrain fits the model: `local` (this process) or `dask` (a Dask cluster; see Scaling out)."
    )
    dask_scheduler: str | None = Field(
        None,
        description="Address of the Dask scheduler for `train_engine=dask` (e.g. tcp://10.0.0.5:8786); unset: a local cluster of 2 worker processes.",
    )
    dask_partition_rows: int = Field(
        50_000, ge=1, description="Feedback lines per partition a Dask worker reads and processes at once."
    )
    dask_connect_timeout: float = Field(10.0, gt=0, description="Seconds to wait for the Dask scheduler before the retrain fails.")
    user_dict: Path | None = Field(
        None, description="Operator-supplied jieba user dictionary (one term per line) added to the project's own."
    )
    retrain_advice_share: float = Field(
        0.3, ge=0, le=1, description=(
            "Dashboard advises a retrain when this share of feedback since the last one fits no topic "
            "(and those lines are at least the smallest topic's size)."
        ),
    )

    # --- ranking -------------------------------------------------------------------
    half_life_days: float = Field(45.0, gt=0, description="Half-life of a feedback line's weight in the heat score.")
    trend_window_days: int = Field(30, ge=1, description="Window compared with the one before it for the trend.")
    cooldown_days: int = Field(90, ge=0, description="A topic with a class held within this many days is held back.")
    segment_min_people: int = Field(
        3, ge=1, description="Privacy floor: per-segment suggestions need at least this many distinct people."
    )
    suggestions_top: int = Field(5, ge=1, le=100, description="Default number of suggestions.")

    # --- moderation and retention --------------------------------------------------
    retention_months: int = Field(
        24, ge=0, description="`recommender purge` deletes feedback text older than this many months, keeping monthly counts per topic (0 = keep forever)."
    )
    flag_burst_lines: int = Field(
        10, ge=0, description="A client (address + browser, hashed) sending more lines than this within flag_window_minutes is flagged for review (0 = off)."
    )
    flag_duplicate_submitters: int = Field(
        5, ge=0, description="The same normalised text from this many different people within flag_window_minutes is flagged for review (0 = off)."
    )
    flag_window_minutes: int = Field(10, ge=1, description="Window of the burst and identical-text checks, in minutes.")
    flag_address_lines: int = Field(
        12, ge=0, description="More lines than this from one address (whatever the browser) within flag_address_window_seconds are flagged for review (0 = off)."
    )
    flag_address_window_seconds: int = Field(
        60, ge=1, le=86400, description="Window of the per-address burst check, in seconds."
    )
    flag_min_fill_seconds: int = Field(
        10, ge=0, description="Questionnaire rows filled in fewer seconds are flagged (only where the import carries the fill time; 0 = off)."
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        """SQLite or PostgreSQL, the stores this project runs on: another scheme (a typo,
        ``postgres://``, ``mysql://``) is a bad setting, not an internal error at the first query.
        The URL is never echoed (it may hold a password)."""
        scheme, sep, _rest = value.strip().partition("://")
        if not sep or scheme.split("+", 1)[0] not in DATABASE_DIALECTS:
            raise ValueError(
                "应为 SQLite 或 PostgreSQL 的 SQLAlchemy 地址，"
                "例如 sqlite:///feedback_data/feedback.db 或 postgresql+psycopg://用户@主机/数据库"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"“{value}”不是 IANA 时区名（例如 Asia/Shanghai）") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        """``timezone`` as a tzinfo."""
        return ZoneInfo(self.timezone)

    def today(self) -> date:
        """Today where the organizers are: the default 截至 date of the suggestions and of the
        plan-a-class form. (The UTC date is yesterday's from 00:00 to 08:00 in Beijing.)"""
        return now_utc().astimezone(self.tz).date()

    @field_validator("segments", mode="before")
    @classmethod
    def _split_segments(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    # The comma-separated lists, parsed once (at validation; model_copy parses again).
    _token_names: dict[str, str | None] = PrivateAttr(default_factory=dict)
    _proxy_networks: tuple[Network, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _parse_lists(self) -> Settings:
        self._token_names = parse_organizer_tokens(self.organizer_tokens)
        self._proxy_networks = tuple(parse_trusted_proxies(self.trusted_proxies))
        return self

    def model_copy(self, *, update=None, deep: bool = False) -> Settings:
        """pydantic's copy (``update`` is not validated), with the lists parsed again."""
        return super().model_copy(update=update, deep=deep)._parse_lists()

    @property
    def organizer_token_list(self) -> list[str]:
        """The tokens, without the optional ``name:`` prefix of an entry."""
        return list(self._token_names)

    @property
    def organizer_token_names(self) -> dict[str, str | None]:
        """token -> organizer name (entries ``name:token``; a plain token has no name)."""
        return self._token_names

    @property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        """``trusted_proxies`` as networks."""
        return self._proxy_networks

    def as_environment(self) -> dict[str, str]:
        """Every setting as the ``RECOMMENDER_*`` variable that sets it (unset ones omitted):
        what a child process (a retrain started from the web) needs to see these settings."""
        env: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, (tuple, list)):
                value = ",".join(str(v) for v in value)
            env[f"RECOMMENDER_{name.upper()}"] = str(value)
        return env


def now_utc() -> datetime:
    """The current time, the one clock :meth:`Settings.today` reads (tests pin it here)."""
    return datetime.now(timezone.utc)


def local_zone() -> ZoneInfo:
    """The organizers' time zone of this process (``RECOMMENDER_TIMEZONE``), for code that is
    handed no settings: a time written without a zone is read in it."""
    return get_settings().tz


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()

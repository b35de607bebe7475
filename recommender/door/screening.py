"""Screening at the door, receipts, the moderation vocabulary and audit actors: plain Python,
no database, no web. (The status changes themselves: ``recommender.service.moderation`` and,
in the store, ``recommender.store.moderation``.)

- **Receipt codes** (withdrawal): ``new_receipt_code()`` gives ten characters from an
  alphabet without look-alikes (no 0/O, 1/I/L), shown as ``XXXXX-XXXXX`` (50 bits: guessing
  one online is hopeless). Only ``receipt_hash(secret, code)`` — an HMAC with the server's
  ``receipt_secret`` — is stored; the code itself is shown once and never logged.
- **Automated-looking intake** (``screen``): a line is *flagged* (kept, not counted until an
  organizer restores it) when one client sent more than ``burst_max_lines`` lines within the
  window, when one *address* sent more than ``address_max_lines`` within
  ``address_window_seconds`` whatever User-Agent each line claimed (a script rotating its
  User-Agent is still one address), when the same normalised text came from
  ``duplicate_min_submitters`` different people within the window, or when a questionnaire row was filled in fewer than
  ``min_fill_seconds`` (:meth:`ScreeningRules.too_fast`, also applied to imported 问卷星 /
  腾讯问卷 rows at import, ``recommender.service.intake``). The earlier lines of a burst or a
  duplicate wave are flagged with it.
- **Double submits** (``screen`` too): an anonymous line whose client sent the same
  normalised text within ``DOUBLE_SUBMIT`` (a double click, a reload that posts the form
  again) is stored as a repeat of the first (``Screening.repeat_of``): kept, counted once.
- **Actors** for the audit log: ``console_actor()`` for the command line.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import os
import re
import sys
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from recommender.crypto import random_bytes

RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0 O 1 I L
RECEIPT_LENGTH = 10
#: An anonymous line repeating its client's same text within this long is a double submit.
DOUBLE_SUBMIT = timedelta(minutes=2)
HIDE_REASONS = ("spam", "abuse", "off_topic", "personal_attack", "other")
HIDE_REASONS_ZH = {
    "spam": "垃圾信息",
    "abuse": "辱骂或不当内容",
    "off_topic": "与学习需求无关",
    "personal_attack": "人身攻击",
    "other": "其他",
}
FLAG_REASONS_ZH = {
    "burst": "同一客户端短时间内提交多条",
    "address_burst": "同一网络地址短时间内提交多条",
    "duplicate": "多人在几分钟内提交了相同的文字",
    "too_fast": "问卷填写时间过短",
}
STATUS_ZH = {"visible": "计入", "hidden": "已隐藏", "flagged": "待审核", "withdrawn": "已撤回", "purged": "已过期删除"}
ACTION_ZH = {
    "hide": "隐藏反馈",
    "restore": "恢复反馈",
    "rename": "主题改名",
    "plan_class": "安排课程",
    "retrain": "重新训练",
    "rollback": "回滚模型",
    "purge": "过期数据删除",
    "withdraw": "提交人撤回",
    "expert_add": "添加专家",
    "expert_edit": "编辑专家",
    "expert_delete": "删除专家",
    "expert_import": "导入专家",
    "move": "移动反馈",
    "merge": "合并主题",
    "split": "拆分主题",
    "pin": "固定主题",
    "unpin": "取消固定",
    "undo": "撤销更正",
}
_RECEIPT_SEPARATORS = re.compile(r"[\s\-_—–‐]+")


# --------------------------------------------------------------------------- receipts


def new_receipt_code() -> str:
    """A fresh receipt code, ``XXXXX-XXXXX``: uniform over :data:`RECEIPT_ALPHABET`, from the
    OS random source (through :func:`recommender.crypto.random_bytes`, one read per few hundred
    codes rather than one per character)."""
    size = len(RECEIPT_ALPHABET)
    limit = 256 - 256 % size  # reject bytes >= limit: every character equally likely
    chars: list[str] = []
    while len(chars) < RECEIPT_LENGTH:
        chars.extend(RECEIPT_ALPHABET[b % size] for b in random_bytes(2 * RECEIPT_LENGTH) if b < limit)
    raw = "".join(chars[:RECEIPT_LENGTH])
    return f"{raw[:5]}-{raw[5:]}"


def normalise_receipt(value: object) -> str | None:
    """The 10 code characters of what someone typed (case, spaces, dashes and full-width
    forms forgiven), or None when it cannot be a receipt code."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = _RECEIPT_SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()
    if len(text) != RECEIPT_LENGTH or any(ch not in RECEIPT_ALPHABET for ch in text):
        return None
    return text


def receipt_hash(secret: str, code: str) -> str:
    """What the store keeps of a (normalised) receipt code."""
    return hmac.new(secret.encode(), ("receipt|" + code).encode(), hashlib.sha256).hexdigest()


def client_key(salt: str, address: str | None, user_agent: str | None = None) -> str | None:
    """Keyed hash of the client address and browser (never the raw IP): enough to tell a burst
    from one client, nothing that says who or where. The user agent is part of it so a class
    behind one school router is not one "client"."""
    if not address:
        return None
    message = f"client|{address}|{(user_agent or '')[:200]}"
    return hmac.new(salt.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]


class ClientKeys(NamedTuple):
    """Who sent a live line, as the screening knows it: the client (address + browser) and the
    address alone, both keyed hashes."""

    client: str | None
    address: str | None = None


def address_key(salt: str, address: str | None) -> str | None:
    """Keyed hash of the client address alone (never the raw IP): the per-address burst check."""
    if not address:
        return None
    return hmac.new(salt.encode(), f"address|{address}".encode(), hashlib.sha256).hexdigest()[:32]


# --------------------------------------------------------------------------- screening


def normalise_text(text: str) -> str:
    """Text compared for "identical from many people": width, case, spaces and punctuation ignored."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def text_key(text: str) -> str | None:
    """A short hash of :func:`normalise_text`, stored with each line so that "the same text
    from many people" is found through an index instead of by reading every recent line."""
    norm = normalise_text(text)
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=8).hexdigest() if norm else None


@dataclass(frozen=True)
class ScreeningRules:
    """Thresholds of :func:`screen` (0 turns a rule off)."""

    burst_max_lines: int = 10
    duplicate_min_submitters: int = 5
    window_minutes: int = 10
    min_fill_seconds: int = 0
    address_max_lines: int = 0
    address_window_seconds: int = 60

    @classmethod
    def from_settings(cls, settings) -> ScreeningRules:
        return cls(
            burst_max_lines=settings.flag_burst_lines,
            duplicate_min_submitters=settings.flag_duplicate_submitters,
            window_minutes=settings.flag_window_minutes,
            min_fill_seconds=settings.flag_min_fill_seconds,
            address_max_lines=settings.flag_address_lines,
            address_window_seconds=settings.flag_address_window_seconds,
        )

    @property
    def read_window(self) -> timedelta:
        """How far back the recent lines are read: the longer of the two windows."""
        return max(timedelta(minutes=self.window_minutes), timedelta(seconds=self.address_window_seconds), DOUBLE_SUBMIT)

    def too_fast(self, fill_seconds: int | None) -> bool:
        """True for a questionnaire row filled in fewer than ``min_fill_seconds`` (the one
        place this rule lives: live intake and imports both ask it); unknown time: False."""
        return self.min_fill_seconds > 0 and fill_seconds is not None and fill_seconds < self.min_fill_seconds


@dataclass(frozen=True)
class RecentLine:
    """A line received within the screening window (as the store returns it)."""

    id: int
    text: str
    client_key: str | None
    submitter_hash: str | None
    status: str
    received_at: datetime
    address_key: str | None = None


@dataclass(frozen=True)
class Screening:
    """The verdict on a new line: flag it (with the reason) and which earlier lines to flag too."""

    flag_reason: str | None = None
    also_flag: tuple[int, ...] = ()
    #: The earlier line this one repeats (a double submit), None when it is no repeat.
    repeat_of: int | None = None


def screen(
    *,
    text: str,
    client_key: str | None,
    submitter_hash: str | None,
    fill_seconds: int | None,
    recent: list[RecentLine],
    rules: ScreeningRules,
    address_key: str | None = None,
    now: datetime | None = None,
) -> Screening:
    """Decide whether a new line looks automated (see the module docs). ``now`` (the new line's
    arrival) limits each rule to its own window; without it every recent line counts."""
    live = [r for r in recent if r.status in ("visible", "flagged", "hidden")]
    repeat_of = _double_submit(text, client_key, submitter_hash, live, now)
    verdict = _flag(text=text, client_key=client_key, submitter_hash=submitter_hash, fill_seconds=fill_seconds,
                    live=live, rules=rules, address_key=address_key, now=now)
    return Screening(verdict.flag_reason, verdict.also_flag, repeat_of)


def _double_submit(
    text: str, client_key: str | None, submitter_hash: str | None, live: list[RecentLine], now: datetime | None
) -> int | None:
    """The first line of an anonymous double submit this line repeats (same client, same
    normalised text, within ``DOUBLE_SUBMIT``), else None. A named submitter's repeats are
    found by the submitter (``recommender.service.intake``)."""
    key = normalise_text(text)
    if submitter_hash or client_key is None or now is None or not key:
        return None
    twins = [
        r for r in live
        if r.client_key == client_key and r.status != "hidden" and r.received_at >= now - DOUBLE_SUBMIT
        and not r.submitter_hash and normalise_text(r.text) == key
    ]
    return min(twins, key=lambda r: (r.received_at, abs(r.id))).id if twins else None


def _flag(
    *,
    text: str,
    client_key: str | None,
    submitter_hash: str | None,
    fill_seconds: int | None,
    live: list[RecentLine],
    rules: ScreeningRules,
    address_key: str | None,
    now: datetime | None,
) -> Screening:
    if rules.too_fast(fill_seconds):
        return Screening("too_fast")
    in_window = live
    if now is not None:
        in_window = [r for r in live if r.received_at >= now - timedelta(minutes=rules.window_minutes)]
    if rules.burst_max_lines > 0 and client_key is not None:
        same_client = [r for r in in_window if r.client_key == client_key]
        if len(same_client) + 1 > rules.burst_max_lines:
            return Screening("burst", tuple(r.id for r in same_client if r.status == "visible"))
    if rules.address_max_lines > 0 and address_key is not None:
        since = None if now is None else now - timedelta(seconds=rules.address_window_seconds)
        same_address = [r for r in live if r.address_key == address_key and (since is None or r.received_at >= since)]
        if len(same_address) + 1 > rules.address_max_lines:
            return Screening("address_burst", tuple(r.id for r in same_address if r.status == "visible"))
    if rules.duplicate_min_submitters > 0:
        key = normalise_text(text)
        if key:
            twins = [r for r in in_window if normalise_text(r.text) == key]
            people = {_person(r.submitter_hash, r.client_key, r.id) for r in twins}
            people.add(_person(submitter_hash, client_key, 0))
            if len(people) >= rules.duplicate_min_submitters:
                return Screening("duplicate", tuple(r.id for r in twins if r.status == "visible"))
    return Screening()


def _person(submitter_hash: str | None, client: str | None, fid: int) -> str:
    # Who sent it: the submitter when given, else the client, else the line itself.
    if submitter_hash:
        return "s:" + submitter_hash
    if client:
        return "c:" + client
    return f"l:{fid}"


# --------------------------------------------------------------------------- actors


def console_actor() -> str:
    """``console:<user>`` at a terminal; ``console`` for cron and systemd (no terminal).
    A retrain started from the dashboard passes its organizer in ``RECOMMENDER_AUDIT_ACTOR``."""
    given = os.environ.get("RECOMMENDER_AUDIT_ACTOR", "").strip()
    if given:
        return given[:100]
    if not sys.stdin or not sys.stdin.isatty():
        return "console"
    try:
        return f"console:{getpass.getuser()}"[:100]
    except Exception:  # no user name (containers without passwd entries)
        return "console"


#: The actor of an organizer token without a name (``recommender.web.auth``).
_UNNAMED_ORGANIZER = re.compile(r"organizer-[0-9a-f]{4}")


def actor_zh(actor: str | None) -> str:
    """An audit actor as an organizer reads it: ``console`` (a command run on the server) is
    「命令行」, ``console:li`` 「命令行（li）」, ``attendee`` (a withdrawal) 「反馈提交人」, an
    unnamed organizer's token ``organizer-9d25`` 「组织者 9d25」; an organizer's name as is."""
    actor = actor or ""
    if actor == "attendee":
        return "反馈提交人"
    if actor == "console":
        return "命令行"
    if actor.startswith("console:"):
        return f"命令行（{actor.removeprefix('console:')}）"
    if _UNNAMED_ORGANIZER.fullmatch(actor):
        return f"组织者 {actor.removeprefix('organizer-')}"
    return actor

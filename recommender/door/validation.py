"""The validation rules every door (form, API, import) applies before feedback is stored.

``clean_feedback`` is the one place: it cleans the text, checks every field, masks personal
data and returns a :class:`FeedbackDraft`, or raises :class:`~recommender.errors.ValidationFailed`
whose Chinese message names the field and says what to do.

Text cleaning, in order:

0. spreadsheet and web debris (:mod:`recommender.text.markup`): Excel's 「_x000D_」, HTML
   character references (「&quot;」, 「&nbsp;」) and tags (「<br>」, 「<a href=…>」) —
   conservatively, a lone 「<」 (「温度<10度」) stays;
1. every whitespace character (newlines, tabs, the full-width space …) becomes a space —
   feedback is short and is shown on one line, so line breaks are not kept;
2. other control and format characters (``Cc``, ``Cf``: zero-width spaces, BOM, soft hyphen,
   bidi overrides) and lone surrogates are removed;
3. Unicode NFC;
4. runs of spaces collapse to one, the ends are trimmed.

The steps repeat until nothing changes (at most :data:`MAX_CLEAN_PASSES` times): a text
escaped twice (「&amp;quot;」) comes out clean, and cleaning stays idempotent.

The length limit is checked on the cleaned text, before masking (a masked text is checked
again, so a stored text is never longer than the limit). Cleaning is idempotent:
``clean_feedback(draft.text, …).text == draft.text``.

Every other field a person types into goes through :func:`clean_field`, the same cleaning
and masking with the field's own limit: the class attended (``session_id``) here, and the
organizer's topic labels, class titles, instructors, departments and hiding notes in the
service. A field that must be a code is refused when it holds personal data instead
(:func:`protected_external_id` keeps an import's id column only as a keyed hash then).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from datetime import tzinfo

from recommender.config import Settings, local_zone
from recommender.errors import ValidationFailed
from recommender.text.markup import may_hold_markup, strip_markup
from recommender.text.masking import mask_personal_data

__all__ = [
    "FeedbackDraft",
    "clean_debris",
    "clean_feedback",
    "clean_field",
    "clean_spacing",
    "clean_text",
    "has_content",
    "protected_external_id",
    "near_duplicate",
    "parse_timestamp",
    "parse_votes",
]


DEFAULT_SEGMENT = "其他"
MAX_SESSION_ID = 100
MAX_SUBMITTER = 200
MAX_EXTERNAL_ID = 200
#: A submission time more than this far ahead of now is refused (clock skew is allowed).
FUTURE_TOLERANCE = timedelta(days=1)
#: Jaccard similarity of character bigrams above which two texts count as near-duplicates.
NEAR_DUPLICATE_JACCARD = 0.8
#: Passes of :func:`clean_text` at most: each pass decodes one level of escaping.
MAX_CLEAN_PASSES = 4

_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.0+)?")  # 1,234
_WAN = re.compile(r"(\d{1,6}(?:\.\d{1,4})?)\s*万")  # 1.2万
_EXCEL_EPOCH = datetime(1899, 12, 30)  # serial 1 = 1900-01-01 (with Excel's 1900 leap bug)
_SPACES = re.compile(r" {2,}")
# A date as typed or as Excel/WPS shows it in a CSV: 「2024年5月1号」, 「2024年5月1日星期三」 (the
# long date format), 「2024/5/1 7:30 PM」 (an English-language Excel).
_DATE_TEXT = re.compile(
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*[日号]?"
    r"(?:\s*[(（]?\s*(?:星期|周|礼拜)[一二三四五六日天]\s*[)）]?)?"
    r"(?:\s*[T ]?\s*(?P<ampm>上午|下午|晚上|凌晨|中午)?\s*(?P<H>\d{1,2})\s*[:时点]\s*(?P<M>\d{1,2})?\s*分?"
    r"(?:\s*:\s*(?P<S>\d{1,2})(?:\.\d+)?)?\s*秒?(?:\s*(?P<ap>[AaPp])\.?[Mm]\.?)?)?$"
)


@dataclass
class FeedbackDraft:
    """Validated, masked feedback ready to store (see docs/ARCHITECTURE.md)."""

    text: str
    segment: str
    session_id: str | None
    submitter: str | None
    submitted_at: datetime
    votes: int = 0
    external_id: str | None = None
    source: str = "form"
    #: An imported row's content key before debris was cleaned, where that changed it
    #: (:mod:`recommender.door.content_keys`): a row stored under it is the same row.
    former_external_id: str | None = None


def clean_text(text: str) -> str:
    """Clean a text as described in the module docstring (no validation, no masking)."""
    return clean_debris(clean_spacing(text))


def clean_debris(spaced: str) -> str:
    """Step 0 on a text :func:`clean_spacing` cleaned, repeated with steps 1–4 until nothing
    changes: ``clean_debris(clean_spacing(t)) == clean_text(t)``."""
    cleaned = spaced
    for _ in range(MAX_CLEAN_PASSES - 1):
        if not may_hold_markup(cleaned):
            break
        again = clean_spacing(strip_markup(cleaned))
        if again == cleaned:
            break
        cleaned = again
    return cleaned


def clean_spacing(text: str) -> str:
    """Steps 1–4 alone: the cleaning every door applied before step 0 was added (migration
    0010 cleans what was stored then; import keys of that time hash this cleaning)."""
    chars = []
    for ch in text:
        if ch.isspace():
            chars.append(" ")
        elif unicodedata.category(ch) not in ("Cc", "Cf", "Cs"):
            chars.append(ch)
    cleaned = unicodedata.normalize("NFC", "".join(chars))
    return _SPACES.sub(" ", cleaned).strip()


def has_content(text: str) -> bool:
    """True when the text has at least one letter or digit (not only punctuation, symbols, emoji).
    (The OpenAPI schema says the same with the pattern ``[^\\W_]``.)"""
    return any(unicodedata.category(ch)[0] in ("L", "N") for ch in text)



def _check_length(text: str, limit: int) -> None:
    if len(text) > limit:
        raise ValidationFailed(
            f"反馈内容过长：最多 {limit} 个字，当前 {len(text)} 个字，请删减后再提交。",
            field="text",
            code="too_long",
        )


def _validate_text(text: object, limit: int) -> str:
    if not isinstance(text, str):
        raise ValidationFailed("反馈内容必须是文字，请填写反馈内容。", field="text", code="type")
    cleaned = clean_text(text)
    if not cleaned:
        raise ValidationFailed("反馈内容不能为空，请写下您想学的内容或建议。", field="text", code="empty")
    if not has_content(cleaned):
        raise ValidationFailed("反馈内容只有标点或符号，请写几句具体内容。", field="text", code="no_content")
    _check_length(cleaned, limit)
    masked = mask_personal_data(cleaned)
    # A placeholder can be longer than what it replaced ("张三" -> "[姓名]").
    _check_length(masked, limit)
    return masked


def clean_field(
    value: object, *, field: str, label: str, limit: int, required: bool = False, numbers: bool = True
) -> str | None:
    """A short free-text field a person typed (a class, a label, a note …): cleaned like feedback
    text, checked against ``limit`` characters, then masked like feedback text. A placeholder
    longer than what it replaced never pushes the field over ``limit`` (the stored value is cut
    there): the limit is what the database column holds.

    Blank: None, or ValidationFailed (code ``required``) when ``required``, which also asks for
    at least one letter or digit. ``numbers`` accepts an int (a spreadsheet cell)."""
    if value is None:
        cleaned = ""
    elif isinstance(value, bool) or not isinstance(value, (str, int) if numbers else str):
        raise ValidationFailed(f"{label}必须是文字，请检查后重新填写。", field=field, code="type")
    else:
        cleaned = clean_text(str(value))
    if not cleaned or (required and not has_content(cleaned)):
        if required:
            raise ValidationFailed(f"请填写{label}（至少包含一个文字或数字）。", field=field, code="required")
        return None
    _refuse_over(cleaned, field=field, label=label, limit=limit)
    return mask_personal_data(cleaned)[:limit]


def _optional_str(value: object, *, field: str, label: str, limit: int) -> str | None:
    """A code-like field (an import's id): cleaned and length-checked, not masked."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValidationFailed(f"{label}必须是文字，请检查后重新填写。", field=field, code="type")
    cleaned = clean_text(str(value))
    if not cleaned:
        return None
    _refuse_over(cleaned, field=field, label=label, limit=limit)
    return cleaned


def _refuse_over(cleaned: str, *, field: str, label: str, limit: int) -> None:
    if len(cleaned) > limit:
        raise ValidationFailed(
            f"{label}过长：最多 {limit} 个字符，当前 {len(cleaned)} 个，请缩短后再提交。",
            field=field,
            code="too_long",
        )


def protected_external_id(salt: str, external_id: str | None) -> str | None:
    """An import's row id as stored: as given, unless it holds personal data (a phone or ID
    number used as the id column), then ``pii-`` + a keyed hash of it, so re-importing the
    same file still finds it and the number itself is never stored."""
    if external_id is None or mask_personal_data(external_id) == external_id:
        return external_id
    digest = hmac.new(salt.encode(), ("external|" + external_id).encode(), hashlib.sha256).hexdigest()
    return "pii-" + digest[:28]


def _validate_segment(segment: object, settings: Settings) -> str:
    allowed = tuple(settings.segments)
    default = DEFAULT_SEGMENT if DEFAULT_SEGMENT in allowed or not allowed else allowed[-1]
    if segment is None:
        return default
    if not isinstance(segment, str):
        raise ValidationFailed("身份类别必须是文字，请从选项中选择。", field="segment", code="type")
    cleaned = clean_text(unicodedata.normalize("NFKC", segment))
    if not cleaned:
        return default
    if cleaned not in allowed:
        raise ValidationFailed(
            f"身份类别“{cleaned[:20]}”无效，请从以下选项中选择：{'、'.join(allowed)}。",
            field="segment",
            code="unknown_segment",
        )
    return cleaned


def parse_votes(value: object) -> int:
    """A vote count: an int ≥ 0 (an integral float or a digit string is accepted, not a bool).
    A string may group thousands (「1,234」, as Excel writes a formatted number into a CSV) or
    count in 万 (「1.2万」, as message boards show likes)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValidationFailed("点赞数必须是整数，不能是是/否值。", field="votes", code="type")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValidationFailed(f"点赞数必须是整数，收到的是 {value}。", field="votes", code="type")
        value = int(value)
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        if not text:
            return 0
        if _GROUPED.fullmatch(text):
            text = text.replace(",", "")
        if (wan := _WAN.fullmatch(text)) is not None:
            return round(float(wan.group(1)) * 10_000)
        if not re.fullmatch(r"[+-]?\d+(?:\.0+)?", text):
            raise ValidationFailed(f"点赞数必须是整数，收到的是“{text[:20]}”。", field="votes", code="type")
        value = int(text.split(".")[0])
    if not isinstance(value, int):
        raise ValidationFailed("点赞数必须是整数。", field="votes", code="type")
    if value < 0:
        raise ValidationFailed(f"点赞数不能为负数（收到 {value}），请填写 0 或正整数。", field="votes", code="negative")
    return value


def _to_utc(value: datetime, tz: tzinfo) -> datetime:
    """A naive time (a form, a spreadsheet) is the organizers' local time (``RECOMMENDER_TIMEZONE``)."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(timezone.utc)


def _bad_time(value: object) -> ValidationFailed:
    shown = str(value)[:40]
    return ValidationFailed(
        f"提交时间“{shown}”无法识别，请使用如 2024-05-01 19:30、2024/5/1 或 2024年5月1日 的格式。",
        field="submitted_at",
        code="bad_time",
    )


def _from_number(number: float, tz: tzinfo) -> datetime:
    # Excel serial days (up to year 2173), else Unix seconds or milliseconds.
    if 0 < number < 100_000:
        # Rounded to the second: the float of "19:30:05" is not exact.
        return _to_utc(_EXCEL_EPOCH + timedelta(seconds=round(number * 86400)), tz)
    if 1e9 <= number < 1e10:
        return datetime.fromtimestamp(number, tz=timezone.utc)
    if 1e12 <= number < 1e13:
        return datetime.fromtimestamp(number / 1000, tz=timezone.utc)
    raise _bad_time(number)


def _from_text(raw: str, tz: tzinfo) -> datetime:
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise _bad_time(raw)
    if re.fullmatch(r"(?:18|19|20)\d{6}", text):  # 20240501
        try:
            return _to_utc(datetime.strptime(text, "%Y%m%d"), tz)
        except ValueError:
            pass
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return _from_number(float(text), tz)
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        return _to_utc(datetime.fromisoformat(iso), tz)
    except ValueError:
        pass
    m = _DATE_TEXT.match(text)
    if not m:
        raise _bad_time(raw)
    hour = int(m["H"] or 0)
    if (m["ampm"] in ("下午", "晚上") and hour < 12) or (m["ampm"] == "中午" and hour < 11):
        hour += 12
    if m["ap"] is not None and hour <= 12:
        hour = hour % 12 + (12 if m["ap"] in "Pp" else 0)
    try:
        parsed = datetime(int(m["y"]), int(m["m"]), int(m["d"]), hour, int(m["M"] or 0), int(m["S"] or 0))
    except ValueError:
        raise _bad_time(raw) from None
    return _to_utc(parsed, tz)


def parse_timestamp(value: object, tz: tzinfo | None = None) -> datetime:
    """Read a submission time into a tz-aware UTC datetime; naive values are in ``tz`` (default
    the process's ``RECOMMENDER_TIMEZONE``, Asia/Shanghai).

    Accepts datetimes and dates, ISO 8601 strings ("2024-05-01T19:30:00+08:00", "…Z"),
    "2024-05-01 19:30", "2024/5/1 19:30:05", "2024年5月1日 19时30分", "2024.5.1", "2024年5月1号",
    "2024年5月1日星期三" (Excel's long date in a CSV), "2024/5/1 7:30 PM",
    Excel serial numbers (45413.8125) and Unix timestamps (seconds or milliseconds).
    Raises ValidationFailed (field ``submitted_at``) otherwise.
    """
    tz = tz or local_zone()
    try:
        if isinstance(value, datetime):
            return _to_utc(value, tz)
        if isinstance(value, date):
            return _to_utc(datetime.combine(value, time()), tz)
        if isinstance(value, bool):
            raise _bad_time(value)
        if isinstance(value, (int, float)):
            if not math.isfinite(value):
                raise _bad_time(value)
            return _from_number(float(value), tz)
        if isinstance(value, str):
            return _from_text(value, tz)
    except (OverflowError, OSError, ValueError):  # out-of-range dates
        raise _bad_time(value) from None
    raise _bad_time(value)


def _validate_time(value: object, now: datetime, tz: tzinfo) -> datetime:
    if value is None:
        return now
    submitted = parse_timestamp(value, tz)
    if submitted > now + FUTURE_TOLERANCE:
        local = submitted.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        raise ValidationFailed(
            f"提交时间 {local} 晚于当前时间一天以上，请检查日期是否填写正确。",
            field="submitted_at",
            code="future",
        )
    return submitted


def clean_feedback(
    text: object,
    *,
    segment: object = None,
    session_id: object = None,
    submitter: object = None,
    submitted_at: object = None,
    votes: object = 0,
    external_id: object = None,
    source: str,
    settings: Settings,
    now: datetime | None = None,
) -> FeedbackDraft:
    """Validate and mask one feedback line for ``source`` ("form", "api", "import:<file>").

    ``now`` (tz-aware, default the current time) is the reference for the default
    submission time and the future-time check. Raises ValidationFailed on bad input.
    """
    if not isinstance(source, str) or not source.strip():
        raise ValueError(f"source must be a non-empty string such as 'form', got {source!r}")
    current = now.astimezone(timezone.utc) if now is not None else datetime.now(timezone.utc)
    return FeedbackDraft(
        text=_validate_text(text, settings.max_text_length),
        segment=_validate_segment(segment, settings),
        session_id=clean_field(session_id, field="session_id", label="参加的课程", limit=MAX_SESSION_ID),
        submitter=_optional_str(submitter, field="submitter", label="提交人标识", limit=MAX_SUBMITTER),
        submitted_at=_validate_time(submitted_at, current, settings.tz),
        votes=parse_votes(votes),
        external_id=_optional_str(external_id, field="external_id", label="外部编号", limit=MAX_EXTERNAL_ID),
        source=source,
    )


def _comparable(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in ("L", "N"))


def _bigrams(text: str) -> set[str]:
    if len(text) < 2:
        return {text}
    return {text[i : i + 2] for i in range(len(text) - 1)}


def near_duplicate(a: str, b: str) -> bool:
    """True when two texts say the same thing: equal once normalised (case, width, punctuation
    and spaces ignored) or character-bigram Jaccard similarity ≥ 0.8."""
    na, nb = _comparable(a), _comparable(b)
    if na == nb:
        return True
    if not na or not nb:
        return False
    ga, gb = _bigrams(na), _bigrams(nb)
    return len(ga & gb) / len(ga | gb) >= NEAR_DUPLICATE_JACCARD

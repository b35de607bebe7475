"""An expert's contact (a phone number or an e-mail address), shown masked.

The directory keeps the contact as the organizer typed it: it is how they reach the expert.
Every view but the edit form shows :func:`mask_contact`: enough to tell two contacts apart
(the last four digits, the first letter and the domain of an address), never enough to call.
"""

from __future__ import annotations

import re

__all__ = ["CONTACT_PATTERN", "is_contact", "mask_contact"]

_EMAIL_PART = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# Seven digits or more, with the separators a phone number is written with (+86, (010),
# 转 812, ext 5).
_PHONE_PART = r"(?=(?:[^0-9]*[0-9]){7})[+(]?[0-9][0-9 ()+-]{5,28}(?:(?:转|分机|ext|x) ?[0-9]{1,6})?"
#: What the contact field accepts, as a regular expression both Python and JSON Schema (the
#: API's published schema) read the same way: empty, one e-mail address or one phone number.
CONTACT_PATTERN = rf"^(?:|{_EMAIL_PART}|{_PHONE_PART})$"
_EMAIL = re.compile(_EMAIL_PART)
_CONTACT = re.compile(CONTACT_PATTERN)


def is_contact(value: str) -> bool:
    """Whether ``value`` is one e-mail address or one phone number (7 digits or more)."""
    return bool(value) and _CONTACT.fullmatch(value) is not None


def mask_contact(value: str | None) -> str | None:
    """``13812345678`` → ``138****5678``; ``zhang.wei@example.org`` → ``z***@example.org``;
    anything else keeps only its last two characters."""
    if not value:
        return value
    value = value.strip()
    if _EMAIL.fullmatch(value):
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    digits = [c for c in value if c.isdigit()]
    if len(digits) >= 7:
        head = "".join(digits[:3]) if len(digits) >= 11 else ""
        return f"{head}****{''.join(digits[-4:])}"
    return "***" + value[-2:] if len(value) > 4 else "***"

"""The external id of an imported row without an id column: a hash of its content, so that
importing the same file again (under any name) adds nothing.

``h`` + 20 hex digits of SHA-1 over the cleaned text, the time, submitter, segment and session
as written (and the question of a questionnaire answer), ``-2``, ``-3`` … for the second and
later identical rows of a file.

Keys made before the one cleaning handled spreadsheet and web debris (「_x000D_」, 「&quot;」,
「<br>」; 2026-12-07) hash the text cleaned without it (:func:`~recommender.door.validation.clean_spacing`),
and an XLSX cell as openpyxl returned it, its 「_xHHHH_」 escapes unread. Migration 0010 cleans
the texts stored then but cannot make their keys again (the submitter and the cells as
written are not stored), so a row whose key changed with the cleaning also carries its
former key (:attr:`ContentKey.former`): the store counts a row stored under either as
already imported, and re-importing a file imported before the upgrade adds nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from recommender.door.validation import clean_debris, clean_spacing
from recommender.text.markup import escape_cell

__all__ = ["ContentKey", "ContentKeys"]


@dataclass(frozen=True)
class ContentKey:
    """A row's key and, when the debris cleaning changed it, the key it had before (else None)."""

    key: str
    former: str | None = None


class ContentKeys:
    """The content keys of one file's rows, read in order (repeats are numbered)."""

    def __init__(self, *, cell_escapes: bool = False) -> None:
        #: XLSX: the rows' cells had their OOXML escapes read (the former key hashes them unread).
        self.cell_escapes = cell_escapes
        self._seen: Counter[str] = Counter()

    def __call__(
        self,
        text: str,
        submitted_at: datetime | None,
        submitter: str | None,
        segment: str | None,
        session_id: str | None,
        question: str | None = None,
    ) -> ContentKey:
        rest = [submitted_at.isoformat() if submitted_at else "", submitter or "", segment or "", session_id or ""]
        if question is not None:
            rest.append(question)
        spaced = clean_spacing(text)
        key = self._numbered("", clean_debris(spaced), rest)
        former_text = clean_spacing(escape_cell(text)) if self.cell_escapes else spaced
        former = self._numbered("former:", former_text, rest)
        return ContentKey(key, former if former != key else None)

    def _numbered(self, scope: str, text: str, rest: list[str]) -> str:
        joined = "\x1f".join([text, *rest])
        digest = "h" + hashlib.sha1(joined.encode("utf-8", "surrogatepass")).hexdigest()[:20]
        self._seen[scope + digest] += 1
        count = self._seen[scope + digest]
        return digest if count == 1 else f"{digest}-{count}"

"""Spreadsheet and web debris in a text, decoded or removed before the text is stored.

Real exports carry it into feedback: Excel writes a line break inside a cell as the OOXML
escape ``_x000D_`` (openpyxl returns it literally, and a CSV made from such a file keeps it);
a text copied from a web page or exported from a web tool holds character references
(``&quot;``, ``&amp;``, ``&nbsp;``, ``&#8226;``) and left-over tags (``<br>``, ``<p>``,
``<a href=…>``). Left in, they are shown to organizers, exported, and become words of a
topic (「quot」, 「nbsp」, 「x000d」).

Conservative on purpose, so a person's own text is never changed:

* only a complete reference is decoded: ``&name;`` where ``name`` is an HTML entity (exactly,
  or lower-cased: 「&quoT;」 as some exports write it), and ``&#123;`` / ``&#x1F600;`` — not
  「AT&T」, 「&copy」 without its ``;`` or 「&notit;」;
* only a tag of HTML's usual text markup is removed (a line or block tag such as ``<br>``,
  ``<p>``, ``</div>`` becomes a space, an inline one such as ``<a href="…">``, ``</span>``
  goes): a lone 「<」 or 「>」 (「温度<10度」, 「a>b」) and a bracketed text (「<A市新图>」)
  stay as they are;
* in any text only Excel's escapes of a line break or tab (``_x000D_``, ``_x000A_``,
  ``_x0009_``) are read; every ``_xHHHH_`` escape is read only in a spreadsheet's cell
  (:func:`unescape_cell`), where the format defines it.

:func:`strip_markup` is one pass; :func:`recommender.door.validation.clean_text` repeats it
until nothing changes, so a text escaped twice (「&amp;quot;」) is clean as well.
"""

from __future__ import annotations

import html
import re
from html.entities import html5

__all__ = ["escape_cell", "may_hold_markup", "strip_markup", "unescape_cell"]

# OOXML's escape of a character in a cell string (ECMA-376 ST_Xstring): ``_x000D_`` is a
# carriage return, ``_x005F_`` the underscore itself (「_x005F_x000D_」 is the text 「_x000D_」).
_CELL_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
# The escapes of a line break or tab, the ones an export leaves in a text outside a workbook.
_BREAK_ESCAPE = re.compile(r"_x000[9ADad]_")
_REFERENCE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_BLOCK_TAGS = (
    "br|p|div|li|ul|ol|dl|dt|dd|tr|td|th|table|thead|tbody|tfoot|caption|h[1-6]|hr|"
    "blockquote|pre|section|article|header|footer|center|address"
)
_INLINE_TAGS = "a|span|b|i|u|s|em|strong|font|small|big|sub|sup|code|mark|abbr|cite|del|ins|q|wbr|nobr|o:p"
# Attributes: an ASCII name, optionally ``= value`` (quoted, or a bare word).
_ATTRIBUTES = r"""(?:\s+[A-Za-z_:][-\w:.]*(?:\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|[^\s"'<>=`]+))?)*\s*/?"""
_TAG = re.compile(rf"</?(?:(?P<block>{_BLOCK_TAGS})|{_INLINE_TAGS})(?![\w:-]){_ATTRIBUTES}>", re.IGNORECASE)
_HINTS = ("&", "<", "_x")


def unescape_cell(value: str) -> str:
    """A spreadsheet cell's string with OOXML's ``_xHHHH_`` escapes read (openpyxl leaves them)."""
    if "_x" not in value:
        return value
    return _CELL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


# What a workbook must write as an escape: C0 control characters other than tab and line
# feed (a carriage return is 「_x000D_」), and a literal 「_xHHHH_」 (its underscore as _x005F_).
_NEEDS_ESCAPE = re.compile(r"[\x00-\x08\x0b-\x1f]|_(?=x[0-9A-Fa-f]{4}_)")


def escape_cell(value: str) -> str:
    """The cell string as a workbook holds it (the inverse of :func:`unescape_cell` for what
    Excel escapes): what openpyxl returned for a cell before escapes were read."""
    return _NEEDS_ESCAPE.sub(lambda m: f"_x{ord(m.group(0)):04X}_", value)


def may_hold_markup(text: str) -> bool:
    """Cheap test: False when :func:`strip_markup` certainly changes nothing."""
    return any(hint in text for hint in _HINTS)


def _reference(match: re.Match[str]) -> str:
    name = match.group(1)
    if name.startswith("#"):
        return html.unescape(match.group(0))  # HTML's rules for 0, surrogates, out of range
    for key in (name + ";", name.lower() + ";"):
        if key in html5:
            return html5[key]
    return match.group(0)


def _tag(match: re.Match[str]) -> str:
    return " " if match.group("block") else ""


def strip_markup(text: str) -> str:
    """``text`` with one pass of debris handled: line-break escapes and block tags become a
    space, inline tags go, character references are decoded (see the module docstring)."""
    if not may_hold_markup(text):
        return text
    text = _BREAK_ESCAPE.sub(" ", text)
    text = _TAG.sub(_tag, text)
    return _REFERENCE.sub(_reference, text)

"""Server-side SVG charts for the organizer pages: plain strings, no JavaScript, no CDN.

Every chart is an accessible image (``role="img"``, an ``aria-label`` and a ``<title>``), and
every piece of text in it is XML-escaped, with characters XML 1.0 cannot carry removed, so a
label such as ``<script>`` is shown as text and the result always parses as XML.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from xml.sax.saxutils import escape

__all__ = ["bar_chart_svg", "sparkline_svg"]

SVG_NS = "http://www.w3.org/2000/svg"
FONT_FAMILY = "'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif"
EMPTY_TEXT = "暂无数据"

# Characters outside XML 1.0's Char production (control characters, lone surrogates, U+FFFE/F).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: object) -> str:
    return _NOT_XML.sub("", str(text))


def _text(text: object) -> str:
    # A character reference keeps "\r" from being normalised away by XML parsers.
    return escape(_clean(text), {"\r": "&#13;"})


def _attr(text: object) -> str:
    # Attribute values turn raw whitespace into spaces; references keep it as written.
    return escape(_clean(text), {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _num(value: float) -> str:
    """Coordinates with at most two decimals and no trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _check_size(**sizes: float) -> None:
    for name, value in sizes.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name}={value!r} should be a positive number")


def _open_svg(width: float, height: float, title: str, css_class: str) -> list[str]:
    return [
        f'<svg xmlns="{SVG_NS}" class="{css_class}" width="{_num(width)}" height="{_num(height)}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" role="img" aria-label="{_attr(title)}">',
        f"<title>{_text(title)}</title>",
    ]


def sparkline_svg(counts: Sequence[float], width: float = 120, height: float = 28, *, title: str) -> str:
    """A small line of ``counts`` (oldest first), its last point marked; the values go in ``<desc>``."""
    _check_size(width=width, height=height)
    values = [float(c) for c in counts]
    for value in values:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"counts should be finite and >= 0, got {value!r}")
    parts = _open_svg(width, height, title, "sparkline")
    if not values:
        parts.append(f"<desc>{EMPTY_TEXT}</desc>")
        y = _num(height - 1)
        parts.append(f'<line x1="0" y1="{y}" x2="{_num(width)}" y2="{y}" stroke="currentColor" stroke-opacity="0.3"/>')
        parts.append("</svg>")
        return "".join(parts)

    parts.append(f"<desc>{_text(', '.join(_num(v) for v in values))}</desc>")
    pad = 2.0
    top = max(values)
    step = (width - 2 * pad) / (len(values) - 1) if len(values) > 1 else 0.0
    points = []
    for index, value in enumerate(values):
        x = pad + index * step if len(values) > 1 else width / 2
        # An all-zero series is a flat line along the bottom.
        y = height - pad - (value / top) * (height - 2 * pad) if top > 0 else height - pad
        points.append((x, y))
    joined = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
    parts.append(
        f'<polyline points="{joined}" fill="none" stroke="currentColor" stroke-width="1.5" '
        'stroke-linejoin="round" stroke-linecap="round"/>'
    )
    last_x, last_y = points[-1]
    parts.append(f'<circle cx="{_num(last_x)}" cy="{_num(last_y)}" r="2" fill="currentColor"/>')
    parts.append("</svg>")
    return "".join(parts)


def _text_width(text: str, font_size: float) -> float:
    """Rough rendered width: CJK (wide) characters one em, others about 0.6 em."""
    return sum(font_size if unicodedata.east_asian_width(ch) in "WF" else 0.6 * font_size for ch in text)


def _fit(text: str, max_width: float, font_size: float) -> str:
    if _text_width(text, font_size) <= max_width:
        return text
    ellipsis = "…"
    budget = max_width - _text_width(ellipsis, font_size)
    kept = ""
    for ch in text:
        if _text_width(kept + ch, font_size) > budget:
            break
        kept += ch
    return kept + ellipsis


def _format_value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def bar_chart_svg(items: Sequence[tuple[str, float]], width: float = 640, *, title: str) -> str:
    """Horizontal bars, one row per ``(label, value)`` in the given order, labels on the left.

    Long labels are shortened with "…" on screen; each row's ``<title>`` keeps the full label
    and value (a tooltip, and what screen readers announce).
    """
    _check_size(width=width)
    rows = [(_clean(label), float(value)) for label, value in items]
    for label, value in rows:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"value {value!r} of {label!r} should be finite and >= 0")

    font_size, bar_height, gap, pad, value_room = 13.0, 20.0, 8.0, 8.0, 56.0
    if not rows:
        height = 2 * pad + bar_height
        parts = _open_svg(width, height, title, "bar-chart")
        parts.append(
            f'<text x="{_num(pad)}" y="{_num(pad + bar_height * 0.7)}" font-size="{_num(font_size)}" '
            f'font-family="{_attr(FONT_FAMILY)}">{EMPTY_TEXT}</text></svg>'
        )
        return "".join(parts)

    label_room = min(0.4 * width, max(_text_width(label, font_size) for label, _ in rows)) + pad
    bar_room = max(1.0, width - label_room - value_room - pad)
    biggest = max(value for _, value in rows)
    height = 2 * pad + len(rows) * (bar_height + gap) - gap

    parts = _open_svg(width, height, title, "bar-chart")
    parts.append(f'<g font-size="{_num(font_size)}" font-family="{_attr(FONT_FAMILY)}">')
    for index, (label, value) in enumerate(rows):
        y = pad + index * (bar_height + gap)
        text_y = y + bar_height * 0.7
        bar_width = bar_room * value / biggest if biggest > 0 else 0.0
        shown = _fit(label, label_room - pad, font_size)
        parts.append(
            "<g>"
            f"<title>{_text(label)}：{_format_value(value)}</title>"
            f'<text x="{_num(label_room - pad)}" y="{_num(text_y)}" text-anchor="end">{_text(shown)}</text>'
            f'<rect x="{_num(label_room)}" y="{_num(y)}" width="{_num(bar_width)}" height="{_num(bar_height)}" '
            'rx="2" fill="currentColor" fill-opacity="0.75"/>'
            f'<text x="{_num(label_room + bar_width + 4)}" y="{_num(text_y)}">{_format_value(value)}</text>'
            "</g>"
        )
    parts.append("</g></svg>")
    return "".join(parts)

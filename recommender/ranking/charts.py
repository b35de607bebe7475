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

__all__ = ["bar_chart_svg", "sparkline_svg", "wrap_text"]

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


def _open_svg(width: float | None, height: float, title: str, css_class: str) -> list[str]:
    """The opening tags; ``width=None`` is a fluid SVG: as wide as its container, unscaled (no viewBox)."""
    size = (
        f'width="100%" height="{_num(height)}"' if width is None
        else f'width="{_num(width)}" height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}"'
    )
    return [
        f'<svg xmlns="{SVG_NS}" class="{css_class}" {size} role="img" aria-label="{_attr(title)}">',
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
    """Rendered width, rounded up: CJK (wide) and ambiguous characters (「·」, 「…」: full width in
    CJK fonts) one em, others 0.6 em (wider than most Latin glyphs, so a wrapped line fits)."""
    return sum(font_size if unicodedata.east_asian_width(ch) in "WFA" else 0.6 * font_size for ch in text)


_WORD = re.compile(r"[0-9A-Za-z]+|\s+|.", re.DOTALL)


def wrap_text(text: str, max_width: float, font_size: float) -> list[str]:
    """``text`` in lines no wider than ``max_width`` (measured as :func:`_text_width`): breaks
    between CJK characters anywhere, between Latin words at spaces, inside a word only when
    the word alone is wider than a line. Nothing is dropped: the lines joined give ``text``."""
    lines: list[str] = []
    line = ""
    for piece in _WORD.findall(text):
        if _text_width(line + piece, font_size) <= max_width or not line.strip():
            line += piece
        else:
            lines.append(line)
            line = piece
        while _text_width(line, font_size) > max_width and len(line) > 1:
            cut = len(line) - 1
            while cut > 1 and _text_width(line[:cut], font_size) > max_width:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line or not lines:
        lines.append(line)
    return lines


def _format_value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


#: Text size in CSS pixels: the chart is drawn without a viewBox, so it is never scaled down.
BAR_FONT_SIZE = 14.0


def bar_chart_svg(items: Sequence[tuple], width: float = 320, *, title: str) -> str:
    """Horizontal bars, one row per ``(label, value)`` or ``(label, value, href)`` in the given
    order: the label on top (wrapped, never cut), the value right-aligned on its first line,
    the bar below it. With an ``href`` the label and bar are one link.

    The SVG is as wide as its container (``width="100%"``, bar lengths in per cent) and has no
    viewBox, so its text keeps its size on a phone instead of shrinking with the picture;
    labels are wrapped to fit ``width`` pixels, the narrowest the page lays it out at (CSS
    ``min-width``). Each row's ``<title>`` holds the full label and value (a tooltip, and
    what screen readers announce).
    """
    _check_size(width=width)
    rows = []
    for item in items:
        label, value, href = (*item, None)[:3]
        rows.append((_clean(label), float(value), None if href is None else _clean(href)))
    for label, value, _ in rows:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"value {value!r} of {label!r} should be finite and >= 0")

    font_size, line_height, bar_height, gap = BAR_FONT_SIZE, 18.0, 12.0, 12.0
    if not rows:
        height = line_height + gap
        parts = _open_svg(None, height, title, "bar-chart")
        parts.append(
            f'<text x="0" y="{_num(font_size)}" font-size="{_num(font_size)}" '
            f'font-family="{_attr(FONT_FAMILY)}">{EMPTY_TEXT}</text></svg>'
        )
        return "".join(parts)

    values = [_format_value(value) for _, value, _ in rows]
    value_room = max(_text_width(v, font_size) for v in values) + font_size
    biggest = max(value for _, value, _ in rows)
    laid_out = []
    y = 0.0
    for (label, value, href), shown in zip(rows, values):
        lines = wrap_text(label, width - value_room, font_size)
        laid_out.append((label, value, href, shown, lines, y))
        y += len(lines) * line_height + 4 + bar_height + gap
    height = y - gap + 2

    parts = _open_svg(None, height, title, "bar-chart")
    parts.append(f'<g font-size="{_num(font_size)}" font-family="{_attr(FONT_FAMILY)}">')
    for label, value, href, shown, lines, top in laid_out:
        label_svg = "".join(
            f'<text x="1" y="{_num(top + font_size + i * line_height)}">{_text(line)}</text>'
            for i, line in enumerate(lines)
        )
        bar_y = top + len(lines) * line_height + 4
        share = 100 * value / biggest if biggest > 0 else 0.0
        bar_svg = (
            f'<rect x="0" y="{_num(bar_y)}" width="{_num(share)}%" height="{_num(bar_height)}" '
            'rx="2" fill="currentColor" fill-opacity="0.75"/>'
        )
        body = label_svg + bar_svg
        if href is not None:
            # A transparent row-sized target: the whole row (gaps included) is one tap target.
            target = (
                f'<rect class="bar-target" x="0" y="{_num(top)}" width="100%" '
                f'height="{_num(bar_y + bar_height - top)}" fill="transparent"/>'
            )
            body = f'<a href="{_attr(href)}">{target}{body}</a>'
        parts.append(
            '<g class="bar-row">'
            f"<title>{_text(label)}：{shown}</title>"
            f"{body}"
            f'<text x="100%" y="{_num(top + font_size)}" text-anchor="end" font-weight="700">{shown}</text>'
            "</g>"
        )
    parts.append("</g></svg>")
    return "".join(parts)

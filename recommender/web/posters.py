"""Class posters: the QR code of a class's post-class feedback link, made with segno.

- ``svg``: a printable A4 poster (vector, prints sharp at any size) with the class title,
  date and instructor, the QR code, what to do and the link written out for those who cannot
  scan. Text is SVG text in the reader's Chinese fonts (browsers and printers have them).
- ``png``: the QR code alone as a bitmap (for a slide, a WeChat group or a print shop), large
  enough to print at 5 cm; the class date and title are in its file name.

The QR codes use error correction level M (15 % damage still reads), the usual choice for
printed codes; segno picks the smallest version that holds the link.
"""

from __future__ import annotations

import io
from datetime import date
from xml.sax.saxutils import escape

import segno

#: Pixels per QR module of the PNG (a 22-character token link is a 33×33 code: ~400 px).
PNG_SCALE = 12
#: Characters of a title line on the A4 poster (CJK characters are about square).
TITLE_LINE_CHARS = 13
FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif"


def qr_code(url: str) -> segno.QRCode:
    return segno.make_qr(url, error="m")


def poster_png(url: str) -> bytes:
    """The QR code of ``url`` as a PNG (4-module quiet zone)."""
    out = io.BytesIO()
    qr_code(url).save(out, kind="png", scale=PNG_SCALE, border=4)
    return out.getvalue()


def _qr_path(url: str) -> tuple[str, int]:
    """The dark modules of ``url``'s QR code as one SVG path (one unit per module), and its size."""
    matrix = [list(row) for row in qr_code(url).matrix_iter(border=0)]
    parts = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                parts.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return "".join(parts), len(matrix)


def _title_lines(title: str) -> list[str]:
    lines = [title[i:i + TITLE_LINE_CHARS] for i in range(0, len(title), TITLE_LINE_CHARS)] or [""]
    if len(lines) > 3:
        lines = lines[:3]
        lines[-1] = lines[-1][:-1] + "…"
    return lines


def date_zh(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def poster_svg(url: str, *, title: str, held_on: date, instructor: str | None = None) -> str:
    """A printable A4 poster (210 × 297 mm) for a class: title, date, QR code and link."""
    path, modules = _qr_path(url)
    size = 120  # mm of the code; the quiet zone is the white page around it
    title_lines = _title_lines(title)
    meta_y = 52 + 15 * len(title_lines) + 2
    hint_y = meta_y + 16
    qr_x, qr_y = (210 - size) / 2, hint_y + 9
    title_svg = "".join(
        f'<tspan x="105" dy="{0 if i == 0 else 15}">{escape(line)}</tspan>' for i, line in enumerate(title_lines)
    )
    meta = date_zh(held_on) + (f" · 授课：{instructor}" if instructor else "")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" viewBox="0 0 210 297" '
        f'role="img" aria-labelledby="poster-title"><title id="poster-title">课后反馈：{escape(title)}</title>'
        '<rect width="210" height="297" fill="#fff"/>'
        '<rect x="0" y="0" width="210" height="30" fill="#1d5c4d"/>'
        f'<text x="105" y="20" text-anchor="middle" font-family="{FONT}" font-size="11" fill="#fff" '
        'font-weight="bold">社区夜校 · 课后反馈</text>'
        f'<text x="105" y="52" text-anchor="middle" font-family="{FONT}" font-size="12" fill="#111" '
        f'font-weight="bold" class="poster-class-title">{title_svg}</text>'
        f'<text x="105" y="{meta_y}" text-anchor="middle" font-family="{FONT}" font-size="8" '
        f'fill="#333" class="poster-date">{escape(meta)}</text>'
        f'<text x="105" y="{hint_y}" text-anchor="middle" font-family="{FONT}" font-size="7.5" fill="#111">'
        '用手机扫一扫：给这节课打分，告诉我们下次想学什么</text>'
        f'<g transform="translate({qr_x} {qr_y}) scale({size / modules})">'
        f'<path d="{path}" fill="#000" shape-rendering="crispEdges"/></g>'
        f'<text x="105" y="{qr_y + size + 14}" text-anchor="middle" font-family="{FONT}" font-size="5.5" fill="#333">'
        '扫不了码？在浏览器输入：</text>'
        f'<text x="105" y="{qr_y + size + 22}" text-anchor="middle" font-family="monospace" font-size="4.6" '
        f'fill="#111" class="poster-url">{escape(url)}</text>'
        f'<text x="105" y="286" text-anchor="middle" font-family="{FONT}" font-size="4.5" fill="#555">'
        '匿名填写，约 1 分钟。请不要写姓名、手机号等个人信息。</text>'
        "</svg>\n"
    )


def poster_filename(held_on: date, title: str, session_id: int, ext: str) -> tuple[str, str]:
    """(a Chinese file name, an ASCII fallback) for a poster download."""
    safe = "".join(ch for ch in title if ch.isalnum())[:20] or "课程"
    return f"课后反馈_{held_on.isoformat()}_{safe}.{ext}", f"class_{session_id}_{held_on.isoformat()}.{ext}"

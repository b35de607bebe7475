"""Class posters: the QR code of a class's post-class feedback link, made with segno.

- ``svg``: a printable A4 poster (vector, prints sharp at any size) with the class title,
  date and instructor, the QR code, what to do and the link written out for those who cannot
  scan. Text is SVG text in the reader's Chinese fonts (browsers and printers have them).
- ``png``: the same A4 poster as a bitmap at 150 dpi (for a WeChat group or a print shop),
  drawn with Pillow in a Chinese font found on the server (``RECOMMENDER_POSTER_FONT``, else
  WenQuanYi or Noto CJK where installed). A server without any Chinese font gives the QR code
  alone (a bitmap cannot borrow the reader's fonts); its file name still carries date and title.

The QR codes use error correction level M (15 % damage still reads), the usual choice for
printed codes; segno picks the smallest version that holds the link.
"""

from __future__ import annotations

import io
import logging
from datetime import date
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

import segno

from recommender.text.dates import date_zh

log = logging.getLogger(__name__)

#: Chinese fonts looked for when ``RECOMMENDER_POSTER_FONT`` is unset (Debian and Ubuntu paths).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)
#: Pixels per millimetre of the PNG poster (150 dpi: A4 is 1240 × 1754 px).
PNG_PX_PER_MM = 150 / 25.4

#: Pixels per QR module of the PNG (a 22-character token link is a 33×33 code: ~400 px).
PNG_SCALE = 12
#: Characters of a title line on the A4 poster (CJK characters are about square).
TITLE_LINE_CHARS = 13
FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif"


def qr_code(url: str) -> segno.QRCode:
    return segno.make_qr(url, error="m")


def qr_png(url: str) -> bytes:
    """The QR code of ``url`` alone as a PNG (4-module quiet zone)."""
    out = io.BytesIO()
    qr_code(url).save(out, kind="png", scale=PNG_SCALE, border=4)
    return out.getvalue()


@lru_cache(maxsize=4)
def find_font(configured: str | None = None) -> str | None:
    """The Chinese font file the PNG poster is drawn in (None: none on this server)."""
    for candidate in ((configured,) if configured else FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return candidate
    log.warning("no Chinese font for PNG posters%s: they show the QR code alone", " at RECOMMENDER_POSTER_FONT" if configured else "")
    return None


def poster_png(
    url: str, *, title: str, held_on: date, instructor: str | None = None, font: str | None = None
) -> bytes:
    """The A4 poster of :func:`poster_svg` as a 150 dpi PNG, in ``font`` (a font file with
    Chinese); without one, the QR code alone (:func:`qr_png`)."""
    font_path = find_font(font)
    if font_path is None:
        return qr_png(url)
    from PIL import Image, ImageDraw, ImageFont

    k = PNG_PX_PER_MM
    layout = poster_layout(url, title=title, held_on=held_on, instructor=instructor)
    image = Image.new("L", (round(210 * k), round(297 * k)), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width, round(30 * k)), fill=70)
    fonts: dict[float, object] = {}
    for text in layout["texts"]:
        size = text["size"]
        if size not in fonts:
            fonts[size] = ImageFont.truetype(font_path, round(size * k))
        draw.text((105 * k, text["y"] * k), text["text"], font=fonts[size], anchor="ms",
                  fill=255 if text.get("inverse") else 0)
    x0, y0, unit = layout["qr_x"] * k, layout["qr_y"] * k, layout["qr_size"] * k / layout["modules"]
    for y, row in enumerate(layout["matrix"]):
        for x, dark in enumerate(row):
            if dark:
                draw.rectangle((round(x0 + x * unit), round(y0 + y * unit),
                                round(x0 + (x + 1) * unit) - 1, round(y0 + (y + 1) * unit) - 1), fill=0)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True, dpi=(150, 150))
    return out.getvalue()


def _qr_path(matrix: list[list[int]]) -> str:
    """The dark modules of a QR matrix as one SVG path (one unit per module, one run per subpath)."""
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
    return "".join(parts)


def _title_lines(title: str) -> list[str]:
    lines = [title[i:i + TITLE_LINE_CHARS] for i in range(0, len(title), TITLE_LINE_CHARS)] or [""]
    if len(lines) > 3:
        lines = lines[:3]
        lines[-1] = lines[-1][:-1] + "…"
    return lines


#: Poster texts in page order: (key, font size in mm, colour, CSS class).
HEADER = "社区夜校 · 课后反馈"
HINT = "用手机扫一扫：给这节课打分，告诉我们下次想学什么"
NO_SCAN = "扫不了码？在浏览器输入："
FOOTER = "匿名填写，约 1 分钟。请不要写姓名、手机号等个人信息。"


def poster_layout(url: str, *, title: str, held_on: date, instructor: str | None = None) -> dict:
    """Where everything goes on the A4 poster, in millimetres (both formats draw this):
    ``texts`` (centred on x = 105 at baseline ``y``), the QR code's matrix, corner and size."""
    matrix = [list(row) for row in qr_code(url).matrix_iter(border=0)]
    size = 120  # mm of the code; the quiet zone is the white page around it
    title_lines = _title_lines(title)
    meta_y = 52 + 15 * len(title_lines) + 2
    hint_y = meta_y + 16
    qr_y = hint_y + 9
    meta = date_zh(held_on) + (f" · 授课：{instructor}" if instructor else "")
    texts = [
        {"text": HEADER, "y": 20, "size": 11, "inverse": True, "bold": True},
        *({"text": line, "y": 52 + 15 * i, "size": 12, "bold": True, "class": "poster-class-title"}
          for i, line in enumerate(title_lines)),
        {"text": meta, "y": meta_y, "size": 8, "class": "poster-date"},
        {"text": HINT, "y": hint_y, "size": 7.5},
        {"text": NO_SCAN, "y": qr_y + size + 14, "size": 5.5},
        {"text": url, "y": qr_y + size + 22, "size": 4.6, "mono": True, "class": "poster-url"},
        {"text": FOOTER, "y": 286, "size": 4.5},
    ]
    return {"texts": texts, "matrix": matrix, "modules": len(matrix), "qr_x": (210 - size) / 2, "qr_y": qr_y,
            "qr_size": size}


def poster_svg(url: str, *, title: str, held_on: date, instructor: str | None = None) -> str:
    """A printable A4 poster (210 × 297 mm) for a class: title, date, QR code and link."""
    layout = poster_layout(url, title=title, held_on=held_on, instructor=instructor)
    path, modules = _qr_path(layout["matrix"]), layout["modules"]
    texts = []
    for t in layout["texts"]:
        attrs = [
            f'x="105" y="{t["y"]}" text-anchor="middle" font-size="{t["size"]}"',
            'font-family="monospace"' if t.get("mono") else f'font-family="{FONT}"',
            f'fill="{"#fff" if t.get("inverse") else "#111"}"',
        ]
        if t.get("bold"):
            attrs.append('font-weight="bold"')
        if t.get("class"):
            attrs.append(f'class="{t["class"]}"')
        texts.append(f'<text {" ".join(attrs)}>{escape(t["text"])}</text>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" viewBox="0 0 210 297" '
        f'role="img" aria-labelledby="poster-title"><title id="poster-title">课后反馈：{escape(title)}</title>'
        '<rect width="210" height="297" fill="#fff"/>'
        '<rect x="0" y="0" width="210" height="30" fill="#1d5c4d"/>'
        + "".join(texts)
        + f'<g transform="translate({layout["qr_x"]} {layout["qr_y"]}) scale({layout["qr_size"] / modules})">'
        f'<path d="{path}" fill="#000" shape-rendering="crispEdges"/></g>'
        "</svg>\n"
    )


def poster_filename(held_on: date, title: str, session_id: int, ext: str) -> tuple[str, str]:
    """(a Chinese file name, an ASCII fallback) for a poster download."""
    safe = "".join(ch for ch in title if ch.isalnum())[:20] or "课程"
    return f"课后反馈_{held_on.isoformat()}_{safe}.{ext}", f"class_{session_id}_{held_on.isoformat()}.{ext}"

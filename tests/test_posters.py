"""Class posters: the QR code encodes the link, the SVG names the class and escapes what was typed."""

from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ET
from datetime import date

import pytest
import segno

from recommender.web.posters import (
    PNG_PX_PER_MM,
    _qr_path,
    find_font,
    poster_filename,
    poster_layout,
    poster_png,
    poster_svg,
)

URL = "https://yexiao.example.cn/class/pV0q3hWkz1bqkq0sXo2pZg"
SVG = "{http://www.w3.org/2000/svg}"


def test_the_svg_path_draws_exactly_the_dark_modules():
    """Each dark module of segno's matrix is covered by the path, and nothing else."""
    matrix = [list(r) for r in segno.make_qr(URL, error="m").matrix_iter(border=0)]
    path = _qr_path(matrix)
    drawn = set()
    for run in path.split("z")[:-1]:
        x, rest = run[1:].split(" ")
        y, width = rest.split("h")[0], rest.split("h")[1].split("v")[0]
        drawn.update((int(x) + i, int(y)) for i in range(int(width)))
    dark = {(x, y) for y, row in enumerate(matrix) for x, v in enumerate(row) if v}
    assert drawn == dark


def test_the_poster_is_valid_svg_with_title_date_and_link():
    """Parsable SVG; the title (escaped, wrapped, at most three lines), the date in Chinese and the link."""
    title = "<消防> & 安全：" + "灭火器实操与火场逃生" * 5
    svg = poster_svg(URL, title=title, held_on=date(2026, 12, 6), instructor="李教官")
    root = ET.fromstring(svg.encode("utf-8"))
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    lines = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "poster-class-title"]
    assert len(lines) == 3 and lines[0].startswith("<消防> & 安全") and lines[-1].endswith("…")
    assert "2026年12月6日 · 授课：李教官" in texts and URL in texts


def test_poster_file_names_keep_date_and_title():
    """The Chinese name keeps the date and the title's letters; the fallback is ASCII."""
    assert poster_filename(date(2026, 12, 6), "消防/安全 课", 7, "png") == (
        "课后反馈_2026-12-06_消防安全课.png", "class_7_2026-12-06.png"
    )


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_png_poster_draws_title_and_code_in_a_chinese_font():
    """With a Chinese font: an A4 page at 150 dpi whose QR code decodes to the same modules."""
    font = find_font()
    if font is None:
        pytest.skip("no Chinese font on this machine (apt-get install fonts-wqy-microhei)")
    from PIL import Image

    data = poster_png(URL, title="消防安全第一课", held_on=date(2026, 12, 6), font=font)
    assert _png_size(data) == (1240, 1754)
    image = Image.open(io.BytesIO(data)).convert("L")
    layout = poster_layout(URL, title="消防安全第一课", held_on=date(2026, 12, 6))
    k, unit = PNG_PX_PER_MM, layout["qr_size"] * PNG_PX_PER_MM / layout["modules"]
    for y, row in enumerate(layout["matrix"]):
        for x, dark in enumerate(row):
            pixel = image.getpixel((int(layout["qr_x"] * k + (x + 0.5) * unit), int(layout["qr_y"] * k + (y + 0.5) * unit)))
            assert (pixel < 128) == bool(dark), (x, y)
    title_band = image.crop((0, int(40 * k), image.width, int(55 * k)))
    assert title_band.getextrema()[0] < 64  # the title is drawn (dark pixels)


def test_without_a_font_the_png_is_the_code_alone(tmp_path):
    """A configured font that is not there: the QR code alone, square."""
    data = poster_png(URL, title="消防", held_on=date(2026, 12, 6), font=str(tmp_path / "missing.ttf"))
    width, height = _png_size(data)
    assert width == height >= 300

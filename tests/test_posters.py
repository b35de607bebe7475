"""Class posters: the QR code encodes the link, the SVG names the class and escapes what was typed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import segno

from recommender.web.posters import _qr_path, poster_filename, poster_svg

URL = "https://yexiao.example.cn/class/pV0q3hWkz1bqkq0sXo2pZg"
SVG = "{http://www.w3.org/2000/svg}"


def test_the_svg_path_draws_exactly_the_dark_modules():
    """Each dark module of segno's matrix is covered by the path, and nothing else."""
    path, size = _qr_path(URL)
    matrix = [list(r) for r in segno.make_qr(URL, error="m").matrix_iter(border=0)]
    assert size == len(matrix)
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
    title_text = next(t for t in root.iter(f"{SVG}text") if t.get("class") == "poster-class-title")
    lines = [ts.text for ts in title_text.iter(f"{SVG}tspan")]
    assert len(lines) == 3 and lines[0].startswith("<消防> & 安全") and lines[-1].endswith("…")
    assert "2026年12月6日 · 授课：李教官" in texts and URL in texts


def test_poster_file_names_keep_date_and_title():
    assert poster_filename(date(2026, 12, 6), "消防/安全 课", 7, "png") == (
        "课后反馈_2026-12-06_消防安全课.png", "class_7_2026-12-06.png"
    )

"""Tests of recommender.ranking.charts: the SVG parses, is accessible, and escapes every text value."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.ranking.charts import _text_width, bar_chart_svg, sparkline_svg, wrap_text

NS = "{http://www.w3.org/2000/svg}"
ALLOWED_TAGS = {f"{NS}{t}" for t in ("svg", "title", "desc", "polyline", "circle", "line", "g", "text", "rect", "a")}
EVIL = '<script>alert("x")</script> & \'q\''


def parse(svg):
    """Parse an SVG string and check its accessible root."""
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img"
    assert root[0].tag == f"{NS}title"
    return root


def texts(root):
    """Every <text> element's content, in document order."""
    return [el.text for el in root.iter(f"{NS}text")]


def test_sparkline_structure():
    """A sparkline has a title, aria-label, one polyline point per count and a last-point marker."""
    root = parse(sparkline_svg([1, 3, 0, 2, 5, 4], title="公文写作 近6个月"))
    assert root.get("aria-label") == "公文写作 近6个月"
    assert root[0].text == "公文写作 近6个月"
    assert root.find(f"{NS}desc").text == "1, 3, 0, 2, 5, 4"
    points = root.find(f"{NS}polyline").get("points").split()
    assert len(points) == 6
    ys = [float(p.split(",")[1]) for p in points]
    assert min(ys) == ys[4]  # the largest count is drawn highest
    assert root.find(f"{NS}circle") is not None
    assert (root.get("width"), root.get("height")) == ("120", "28")


def test_sparkline_all_zero_is_flat_and_empty_has_no_line():
    """All-zero counts draw a flat line; no counts draw no polyline and say so."""
    flat = parse(sparkline_svg([0, 0, 0], title="t"))
    ys = {p.split(",")[1] for p in flat.find(f"{NS}polyline").get("points").split()}
    assert len(ys) == 1
    empty = parse(sparkline_svg([], title="t"))
    assert empty.find(f"{NS}polyline") is None
    assert empty.find(f"{NS}desc").text == "暂无数据"


def test_sparkline_single_point():
    """A single count is drawn (centered) without dividing by zero."""
    root = parse(sparkline_svg([4], title="t", width=100))
    assert root.find(f"{NS}polyline").get("points").startswith("50,")


def test_sparkline_escapes_title():
    """A hostile title stays text: no script element, exact title and aria-label."""
    svg = sparkline_svg([1, 2], title=EVIL)
    assert "<script>" not in svg
    root = parse(svg)
    assert root[0].text == EVIL
    assert root.get("aria-label") == EVIL
    assert {el.tag for el in root.iter()} <= ALLOWED_TAGS


@pytest.mark.parametrize("counts", [[-1], [float("nan")], [float("inf")]], ids=["negative", "nan", "inf"])
def test_sparkline_rejects_bad_counts(counts):
    """Negative or non-finite counts raise ValueError."""
    with pytest.raises(ValueError, match="counts"):
        sparkline_svg(counts, title="t")


def bar_rows(root):
    """The row groups of a bar chart."""
    return root.findall(f"{NS}g/{NS}g")


def test_bar_chart_structure_and_proportions():
    """One group per item in order, bar widths proportional to the values (in %), values printed."""
    items = [("公文写作", 4.0), ("反诈宣传", 2.0), ("垃圾分类", 0.0)]
    root = parse(bar_chart_svg(items, title="热度"))
    assert root.get("aria-label") == "热度"
    rows = bar_rows(root)
    assert len(rows) == 3
    widths = [g.find(f".//{NS}rect").get("width") for g in rows]
    assert widths == ["100%", "50%", "0%"]
    assert [g.find(f"{NS}title").text for g in rows] == ["公文写作：4", "反诈宣传：2", "垃圾分类：0"]
    assert texts(root) == ["公文写作", "4", "反诈宣传", "2", "垃圾分类", "0"]


def test_bar_chart_is_fluid_and_never_scaled():
    """width="100%" and no viewBox: the text keeps its pixel size on a phone (at least 12 px)."""
    root = parse(bar_chart_svg([("公文写作", 4.0)], width=300, title="t"))
    assert root.get("width") == "100%"
    assert root.get("viewBox") is None
    assert float(root.find(f"{NS}g").get("font-size")) >= 12


def test_bar_chart_links_each_bar_to_its_href():
    """(label, value, href): the label and the bar are one link; rows without href have none."""
    root = parse(bar_chart_svg([("垃圾处理", 43, "/organizer/topics/T0003"), ("消防", 7)], title="t"))
    first, second = bar_rows(root)
    link = first.find(f"{NS}a")
    assert link.get("href") == "/organizer/topics/T0003"
    assert link.find(f"{NS}rect") is not None and link.find(f"{NS}text").text == "垃圾处理"
    assert second.find(f"{NS}a") is None


@pytest.mark.parametrize("label", ["垃圾处理", "应急·心肺复苏", "社区" * 40, "Smartphone apps für Senioren und Familien"],
                         ids=["short", "middle-dot", "very-long", "latin"])
@pytest.mark.parametrize("width", [280, 320, 640], ids=str)
def test_long_labels_wrap_and_are_never_cut(label, width):
    """Every character of a label is drawn, in lines that fit beside the value and start inside the chart."""
    root = parse(bar_chart_svg([(label, 12345.0), ("短", 1.0)], width=width, title="t"))
    row = bar_rows(root)[0]
    lines = [t for t in row.iter(f"{NS}text") if t.get("text-anchor") != "end"]
    assert "".join(t.text for t in lines) == label
    value_room = _text_width("12345", 14) + 14
    for line in lines:
        assert float(line.get("x")) >= 0
        assert _text_width(line.text, 14) <= width - value_room
    ys = [float(t.get("y")) for t in lines]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)
    assert float(row.find(f".//{NS}rect").get("y")) > ys[-1]


def test_wrap_text_measures_cjk_as_one_em():
    """Ten CJK characters at 14 px are 140 px: two lines of 7 and 3 in 100 px."""
    assert wrap_text("垃圾处理与分类回收站", 100, 14) == ["垃圾处理与分类", "回收站"]
    assert wrap_text("hello world", 60, 14) == ["hello ", "world"]
    assert wrap_text("", 60, 14) == [""]


def test_bar_chart_escapes_labels_and_title():
    """Labels and titles with markup are escaped and come back as the same text."""
    svg = bar_chart_svg([(EVIL, 1.0), ("a&b", 2.0)], title=EVIL)
    assert "<script>" not in svg
    root = parse(svg)
    assert root.get("aria-label") == EVIL
    assert "".join(texts(root)[:-3]) == EVIL
    assert root.find(f"{NS}g/{NS}g/{NS}title").text == f"{EVIL}：1"
    assert {el.tag for el in root.iter()} <= ALLOWED_TAGS


def test_bar_chart_empty_says_no_data():
    """No items gives a parseable chart that says there is no data."""
    root = parse(bar_chart_svg([], title="t"))
    assert texts(root) == ["暂无数据"]


def test_control_characters_are_dropped():
    """Characters XML cannot carry are removed instead of breaking the document."""
    root = parse(bar_chart_svg([("a\x00b\x1f", 1.0)], title="x\x0by"))
    assert root.get("aria-label") == "xy"
    assert root.find(f"{NS}g/{NS}g/{NS}title").text == "ab：1"


@pytest.mark.parametrize("value", [-1.0, float("nan")], ids=["negative", "nan"])
def test_bar_chart_rejects_bad_values(value):
    """Negative or NaN values raise ValueError."""
    with pytest.raises(ValueError, match="should be finite"):
        bar_chart_svg([("x", value)], title="t")


xml_text = st.text(st.characters(exclude_categories=("Cs", "Cc", "Cn")) | st.sampled_from("\t\n\r<>&\"'"), max_size=40)


@settings(max_examples=60, deadline=None)
@given(title=xml_text, items=st.lists(st.tuples(xml_text, st.floats(0, 1e6)), max_size=6))
def test_any_text_round_trips(title, items):
    """Any title and labels parse back exactly; the SVG only holds drawing elements."""
    for svg in (bar_chart_svg(items, title=title), sparkline_svg([v for _, v in items], title=title)):
        root = parse(svg)
        assert root.get("aria-label") == title
        assert (root[0].text or "") == title
        assert {el.tag for el in root.iter()} <= ALLOWED_TAGS
    rows = parse(bar_chart_svg(items, title=title)).findall(f"{NS}g/{NS}g")
    assert [r.find(f"{NS}title").text.rsplit("：", 1)[0] for r in rows] == [label for label, _ in items]


@settings(max_examples=80, deadline=None)
@given(text=xml_text, width=st.floats(20, 400))
def test_wrap_text_keeps_every_character_and_fits(text, width):
    """Wrapped lines give back the text exactly; each fits the width unless it is one character."""
    lines = wrap_text(text, width, 14)
    assert "".join(lines) == text
    for line in lines:
        assert len(line) <= 1 or _text_width(line, 14) <= width

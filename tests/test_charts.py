"""Tests of recommender.ranking.charts: the SVG parses, is accessible, and escapes every text value."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.ranking.charts import bar_chart_svg, sparkline_svg

NS = "{http://www.w3.org/2000/svg}"
ALLOWED_TAGS = {f"{NS}{t}" for t in ("svg", "title", "desc", "polyline", "circle", "line", "g", "text", "rect")}
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


def test_bar_chart_structure_and_proportions():
    """One group per item in order, bar widths proportional to the values, values printed."""
    items = [("公文写作", 4.0), ("反诈宣传", 2.0), ("垃圾分类", 0.0)]
    root = parse(bar_chart_svg(items, title="热度"))
    assert root.get("aria-label") == "热度"
    rows = root.findall(f"{NS}g/{NS}g")
    assert len(rows) == 3
    widths = [float(g.find(f"{NS}rect").get("width")) for g in rows]
    assert widths[1] == pytest.approx(widths[0] / 2, abs=0.01)
    assert widths[2] == 0
    assert [g.find(f"{NS}title").text for g in rows] == ["公文写作：4", "反诈宣传：2", "垃圾分类：0"]
    assert texts(root) == ["公文写作", "4", "反诈宣传", "2", "垃圾分类", "0"]
    assert float(root.get("width")) == 640


def test_bar_chart_shortens_long_labels_but_keeps_them_in_title():
    """A long label is cut with … on screen; the row's <title> keeps it whole."""
    label = "社区" * 200
    root = parse(bar_chart_svg([(label, 1.5)], width=300, title="t"))
    row = root.find(f"{NS}g/{NS}g")
    shown = row.find(f"{NS}text").text
    assert shown.endswith("…") and len(shown) < len(label)
    assert row.find(f"{NS}title").text == f"{label}：1.50"


def test_bar_chart_escapes_labels_and_title():
    """Labels and titles with markup are escaped and come back as the same text."""
    svg = bar_chart_svg([(EVIL, 1.0), ("a&b", 2.0)], title=EVIL)
    assert "<script>" not in svg
    root = parse(svg)
    assert root.get("aria-label") == EVIL
    assert texts(root)[0] == EVIL or texts(root)[0].endswith("…")
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

"""The SVG bar chart: one bar per value, scaled, labels escaped, valid XML."""

from __future__ import annotations

from xml.etree import ElementTree

from defusedxml.ElementTree import fromstring

from services.dashboard.svg import BAR_W, bar_chart

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ElementTree.Element:
    element: ElementTree.Element = fromstring(svg)
    return element


def test_one_bar_per_value_scaled_to_the_largest() -> None:
    root = parse(bar_chart([("hot", 10), ("warm", 5), ("nurture", 0)], title="Tiers"))
    widths = [float(r.get("width", "")) for r in root.iter(f"{NS}rect")]
    assert widths == [BAR_W, BAR_W / 2, 0]
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert texts == ["hot", "10", "warm", "5", "nurture", "0"]
    assert root.find(f"{NS}title") is not None and root.find(f"{NS}title").text == "Tiers"  # type: ignore[union-attr]


def test_a_fixed_maximum_caps_the_scale() -> None:
    root = parse(bar_chart([("a", 50), ("b", 150)], title="Rates", unit="%", maximum=100))
    widths = [float(r.get("width", "")) for r in root.iter(f"{NS}rect")]
    assert widths == [BAR_W / 2, BAR_W]
    assert "50%" in [t.text for t in root.iter(f"{NS}text")]


def test_labels_are_escaped() -> None:
    svg = bar_chart([("<script>alert(1)</script>", 1)], title="x & <y>")
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    parse(svg)  # still well-formed


def test_empty_chart_says_so() -> None:
    root = parse(bar_chart([], title="Nothing"))
    assert [t.text for t in root.iter(f"{NS}text")] == ["no data yet"]
    assert list(root.iter(f"{NS}rect")) == []

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.report.html import build_context, render_html, write_html
from dlqa.report.model import Report

XSS_LABEL = "<script>alert(1)</script>"  # the label the conftest report gives dark samples


class _LinkCollector(HTMLParser):
    """Every src/href attribute value and every tag name of a document."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "data"):
                self.links.append((tag, name, value or ""))


@pytest.fixture
def html_text(full_report: Report, tmp_path: Path) -> str:
    path = write_html(full_report, tmp_path / "out" / "report.html")
    assert path.is_file()
    return path.read_text(encoding="utf-8")


def test_html_is_self_contained(html_text: str) -> None:
    assert "http://" not in html_text
    assert "https://" not in html_text
    assert "<script src" not in html_text
    assert "@import" not in html_text
    # url() appears only in SVG clip paths, pointing at an element of the same page.
    assert re.findall(r"url\((?!#)", html_text) == []
    collector = _LinkCollector()
    collector.feed(html_text)
    assert collector.links, "expected thumbnails and anchors"
    for tag, name, value in collector.links:
        # Only embedded images and links inside the page.
        assert value.startswith(("data:image/", "#")), (tag, name, value[:60])


def test_header_shows_run_context_and_verdict(html_text: str) -> None:
    assert "<title>Dataset QA: demo</title>" in html_text
    for expected in ("2024-05-01T12:00:00Z", "/data/train", "1234", "f00dfeed"):
        assert expected in html_text
    assert "3 gates failed: data.dark, data.label_conflicts, data.sharpness" in html_text


def test_thumbnails_are_embedded_and_capped_per_result(full_report: Report) -> None:
    context = build_context(full_report, charts=False)
    dark = next(s for s in context["sections"] if s["check_id"] == "data.dark")
    tiles = dark["evidence"][0]["entries"]
    assert len(tiles) == 12
    assert dark["evidence"][0]["heading"] == "samples (darkest first), showing 12 of 340"
    states = [tile["thumb"].state for tile in tiles]
    assert states == ["unreadable"] + ["ok"] * 11
    assert all(t["thumb"].data_uri.startswith("data:image/jpeg;base64,") for t in tiles[1:])

    conflicts = next(s for s in context["sections"] if s["check_id"] == "data.label_conflicts")
    group_tiles = [t for g in conflicts["evidence"][0]["entries"] for t in g["tiles"]]
    # 6 members of the first group shown + 2 of the second; all fit in the budget of 12.
    assert len(group_tiles) == 8
    assert conflicts["evidence"][0]["entries"][0]["more"] == 4


def test_thumbnail_budget_leaves_later_tiles_without_image(tmp_path: Path) -> None:
    items = [{"ids": [f"a{i}", f"b{i}"], "labels": ["x", "y"], "distance": i} for i in range(9)]
    report = Report(
        "t",
        "check",
        "2024-01-01T00:00:00Z",
        [
            CheckResult(
                "data.near_duplicates", Status.FAIL, "many", evidence=[Evidence("pairs", items, 9)]
            )
        ],
        1,
    )
    pairs = build_context(report, charts=False)["sections"][0]["evidence"][0]["entries"]
    assert len(pairs) == 6  # 6 pairs = 12 thumbnails
    assert all(tile["thumb"] is not None for pair in pairs for tile in pair["tiles"])
    assert all(tile["thumb"].state == "no_file" for pair in pairs for tile in pair["tiles"])


def test_html_contains_data_uri_images_and_the_unreadable_placeholder(html_text: str) -> None:
    images = re.findall(
        r'<img class="thumb" src="data:image/jpeg;base64,[A-Za-z0-9+/=]+"', html_text
    )
    assert len(images) >= 11
    assert "unreadable" in html_text
    assert "corrupt.jpg" in html_text
    assert "FileNotFoundError" in html_text  # gone.jpg: a path that does not exist
    assert "showing 12 of 340" in html_text


def test_user_strings_are_escaped(full_report: Report, tmp_path: Path) -> None:
    nasty = CheckResult(
        "data.<b>bold</b>",
        Status.FAIL,
        'summary with <img src=x onerror="alert(2)"> & friends',
        evidence=[Evidence("table", [{"<th>": "<td>x</td>"}], 1)],
    )
    full_report.results.append(nasty)
    full_report.class_counts["train"][XSS_LABEL] = 1
    full_report.properties["<svg onload=alert(3)>"] = [1.0, 2.0]
    text = render_html(full_report)
    assert XSS_LABEL not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<b>bold</b>" not in text
    assert "<img src=x" not in text
    assert "<svg onload" not in text
    assert "<td>x</td>" not in text
    collector = _LinkCollector()
    collector.feed(text)
    assert "script" in collector.tags  # the one inline script of the page ...
    assert collector.tags.count("script") == 1  # ... and no injected one


def test_pairs_groups_table_and_unknown_evidence_are_rendered(html_text: str) -> None:
    assert "distance 2" in html_text
    assert "labels differ" in html_text  # cat vs dog
    assert "same label" in html_text  # cat vs cat
    assert "+4 more" in html_text  # a group of 10 shows 6
    assert "<th>share</th>" in html_text
    assert "&#34;odd&#34;" in html_text or "&quot;odd&quot;" in html_text  # JSON text, escaped
    assert "File &#34;probe.py&#34;, line 7" in html_text  # traceback shown


def test_passing_and_skipped_results_get_no_section(full_report: Report) -> None:
    context = build_context(full_report, charts=False)
    assert [s["check_id"] for s in context["sections"]] == [
        "data.dark",
        "data.near_duplicates",
        "data.label_conflicts",
        "data.sharpness",
    ]
    assert len(context["rows"]) == 6


def test_charts_are_inline_svg(html_text: str) -> None:
    svgs = re.findall(r"<svg\b", html_text)
    # class balance + brightness + width; "empty" has no values and no chart
    assert len(svgs) == 3
    assert "<?xml" not in html_text and "<!DOCTYPE svg" not in html_text
    ids = re.findall(r'\sid="([^"]+)"', html_text)
    assert len(ids) == len(set(ids)), "element ids must be unique in the page"


def test_each_file_is_decoded_once(full_report: Report, monkeypatch: pytest.MonkeyPatch) -> None:
    from dlqa.report import thumbnails

    opened: list[str] = []
    real = thumbnails.make_thumbnail_data_uri

    def counting(path: str, size: int = thumbnails.THUMBNAIL_SIZE) -> str:
        opened.append(path)
        return real(path, size)

    monkeypatch.setattr(thumbnails, "make_thumbnail_data_uri", counting)
    build_context(full_report, charts=False)
    # dark_00..dark_09 are named by the dark samples, the pairs and the groups alike.
    assert len(opened) == len(set(opened))
    assert any(p.endswith("dark_00.jpg") for p in opened)


def test_empty_report_renders(tmp_path: Path) -> None:
    report = Report("nothing", "check", "2024-01-01T00:00:00Z", [], 0)
    text = write_html(report, tmp_path / "r.html").read_text()
    assert "no checks ran" in text
    assert "<svg" not in text


def test_parameter_evidence_is_a_table():
    from dlqa.core.results import CheckResult, Evidence, Status
    from dlqa.report.html import render_html
    from dlqa.report.model import Report

    items = [{"name": "head.weight", "value": 0.0, "problem": "no gradient"}]
    result = CheckResult(
        "train.gradients", Status.FAIL, "s", evidence=[Evidence("parameters", items, 1)]
    )
    html = render_html(Report("t", "train.check", "2026-01-01", [result], 1), charts=False)
    assert "<th>name</th>" in html and "<td>head.weight</td>" in html

from __future__ import annotations

import dataclasses
import io
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from dlqa.core.results import CheckResult, Evidence, Interval, Status
from dlqa.report.html import MAX_THUMBNAILS_PER_RESULT, build_context, render_html, write_html
from dlqa.report.intervals import interval_bar_svg
from dlqa.report.model import Report

XSS_LABEL = "<script>alert(1)</script>"  # the label the conftest report gives dark samples
XSS_NAME = "<img src=x onerror=alert(1)>.png"


def _jpeg(colour: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def _row(context: dict, key: str) -> dict:
    return next(row for row in context["rows"] if row["key"] == key)


def _section(context: dict, key: str) -> dict:
    return next(s for s in context["sections"] if s["key"] == key)


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
    assert (
        "4 gates failed: data.dark, data.label_conflicts, data.sharpness, eval.accuracy[val]"
    ) in html_text
    assert '<p class="verdict failed">' in html_text


def test_thumbnails_are_embedded_and_capped_per_result(full_report: Report) -> None:
    context = build_context(full_report, charts=False)
    dark = _section(context, "data.dark")
    tiles = dark["evidence"][0]["entries"]
    assert len(tiles) == 12
    assert dark["evidence"][0]["heading"] == "samples (darkest first), showing 12 of 340"
    # corrupt.jpg did not decode, so the store holds no thumbnail for it: a text tile.
    assert tiles[0]["id"] == "corrupt.jpg" and tiles[0]["thumb"] is None
    assert all(t["thumb"].startswith("data:image/jpeg;base64,") for t in tiles[1:])

    conflicts = _section(context, "data.label_conflicts")
    group_tiles = [t for g in conflicts["evidence"][0]["entries"] for t in g["tiles"]]
    # 6 members of the first group shown + 2 of the second; all fit in the budget of 12.
    assert len(group_tiles) == 8
    assert all(t["thumb"] for t in group_tiles)
    assert conflicts["evidence"][0]["entries"][0]["more"] == 4


def test_thumbnail_budget_is_per_result_and_counts_images_only() -> None:
    ids = [f"s{i:02d}" for i in range(30)]
    thumbnails = {sample_id: _jpeg() for sample_id in ids[1:]}  # s00 has none
    result = CheckResult(
        "data.dark",
        Status.FAIL,
        "dark",
        evidence=[Evidence("samples", ids[:12], 30), Evidence("samples", ids[12:24], 30)],
    )
    report = Report("t", "check", "2024-01-01T00:00:00Z", [result], 1, thumbnails=thumbnails)
    first, second = build_context(report, charts=False)["sections"][0]["evidence"]
    assert [t["thumb"] is None for t in first["entries"]] == [True] + [False] * 11
    # 11 images so far; the budget of 12 leaves one for the second evidence list.
    shown = [t["thumb"] is not None for t in second["entries"]]
    assert shown == [True] + [False] * 11
    assert MAX_THUMBNAILS_PER_RESULT == 12


def test_html_contains_data_uri_images_and_text_tiles(html_text: str) -> None:
    images = re.findall(
        r'<img class="thumb" src="data:image/jpeg;base64,[A-Za-z0-9+/=]+"', html_text
    )
    assert len(images) >= 11
    assert "no preview" in html_text  # corrupt.jpg and gone.jpg
    assert "corrupt.jpg" in html_text and "gone.jpg" in html_text
    assert "showing 12 of 340" in html_text


def test_stored_bytes_that_are_not_an_image_are_not_embedded() -> None:
    result = CheckResult("data.x", Status.FAIL, "x", evidence=[Evidence("samples", ["a", "b"], 2)])
    thumbnails = {"a": b"<html>not an image</html>", "b": _jpeg()}
    report = Report("t", "check", "2024-01-01T00:00:00Z", [result], 1, thumbnails=thumbnails)
    tiles = build_context(report, charts=False)["sections"][0]["evidence"][0]["entries"]
    assert tiles[0]["thumb"] is None
    assert tiles[1]["thumb"].startswith("data:image/jpeg;base64,")


def test_user_strings_are_escaped(full_report: Report, tmp_path: Path) -> None:
    nasty = CheckResult(
        "data.<b>bold</b>",
        Status.FAIL,
        'summary with <img src=x onerror="alert(2)"> & friends',
        evidence=[Evidence("table", [{"<th>": "<td>x</td>"}], 1)],
    )
    full_report.results.append(nasty)
    full_report.class_counts["train"][XSS_LABEL] = 1
    full_report.histograms["<svg onload=alert(3)>"] = {
        "edges": [1.0, 2.0],
        "counts": [2],
        "median": 1.5,
        "n": 2,
    }
    full_report.results.append(
        CheckResult(
            "eval.<i>acc</i>",
            Status.INCONCLUSIVE,
            "undecided",
            0.5,
            0.5,
            subject=XSS_NAME,
            n=10,
            interval=Interval(0.4, 0.6),
            evidence=[Evidence("samples", [{"id": XSS_NAME, "label": XSS_NAME}], 1)],
        )
    )
    full_report.thumbnails[XSS_NAME] = _jpeg()
    text = render_html(full_report)
    assert XSS_LABEL not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<b>bold</b>" not in text
    assert "<img src=x" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in text
    assert "<i>acc</i>" not in text
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
    # A parameters list that is not all rows: one described line per item, escaped.
    assert "<code>odd=[1, 2, {&#34;x&#34;: null}]</code>" in html_text
    assert "<code>plain</code>" in html_text
    assert "File &#34;probe.py&#34;, line 7" in html_text  # traceback shown


def test_passing_and_skipped_results_get_no_section(full_report: Report) -> None:
    context = build_context(full_report, charts=False)
    assert [s["key"] for s in context["sections"]] == [
        "data.dark",
        "data.near_duplicates",
        "data.label_conflicts",
        "data.sharpness",
        "eval.accuracy[val]",  # inconclusive results are findings, never passes
        "eval.calibration[ood]",
    ]
    assert len(context["rows"]) == 9


def test_charts_are_inline_svg(html_text: str) -> None:
    charts = re.findall(r"<svg\b(?! class=\"interval-bar\")", html_text)
    # class balance + brightness + width; "empty" has no values and no chart
    assert len(charts) == 3
    # 3 rows with an interval and a threshold, and the 2 inconclusive findings
    assert len(re.findall(r'<svg class="interval-bar"', html_text)) == 5
    assert "<?xml" not in html_text and "<!DOCTYPE svg" not in html_text
    ids = re.findall(r'\sid="([^"]+)"', html_text)
    assert len(ids) == len(set(ids)), "element ids must be unique in the page"


def test_each_thumbnail_is_encoded_once(
    full_report: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dlqa.report import html_evidence

    encoded: list[bytes] = []
    real = html_evidence.image_data_uri

    def counting(data: bytes) -> str | None:
        encoded.append(data)
        return real(data)

    monkeypatch.setattr(html_evidence, "image_data_uri", counting)
    build_context(full_report, charts=False)
    # dark_00..dark_09 are named by the dark samples, the pairs and the groups alike.
    assert len(encoded) == len(set(encoded))
    assert full_report.thumbnails["dark_00.jpg"] in encoded


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


def test_rows_show_subject_interval_and_n(full_report: Report) -> None:
    context = build_context(full_report, charts=False)
    row = _row(context, "eval.accuracy[val]")
    assert (row["value"], row["interval"], row["n"], row["threshold"]) == (
        "0.912",
        "[0.87, 0.94] 95% CI",
        "400",
        "0.9",
    )
    assert _row(context, "eval.calibration[ood]")["interval"] == "[0.03, 0.12] 90% CI"
    assert _row(context, "data.class_balance")["interval"] == ""
    html = render_html(full_report, charts=False)
    assert "<code>eval.accuracy[val]</code>" in html
    assert '<td class="num">400</td>' in html


def test_inconclusive_has_its_own_style_and_says_whether_it_blocks(full_report: Report) -> None:
    context = build_context(full_report, charts=False)
    assert _row(context, "eval.accuracy[val]")["not_blocking"] is None
    assert _row(context, "eval.calibration[ood]")["not_blocking"] == (
        'the gate says on_inconclusive = "warn"'
    )
    blocking = _section(context, "eval.accuracy[val]")
    assert blocking["note"].startswith("inconclusive: the [0.87, 0.94] 95% CI of 0.912")
    assert blocking["note"].endswith("fails the gate")

    html = render_html(full_report, charts=False)
    css = re.search(r"\.badge\.inconclusive \{([^}]*)\}", html).group(1)
    assert "var(--inconclusive)" in css and "var(--pass)" not in css
    assert "--inconclusive: #bc4c00" in html  # amber, not the green of --pass
    assert '<span class="badge inconclusive">inconclusive</span>' in html
    calibration = re.search(
        r'<tr class="inconclusive">(?:(?!</tr>).)*ood(?:(?!</tr>).)*</tr>', html, re.S
    )
    assert calibration and ">not blocking</span>" in calibration.group(0)
    accuracy = re.search(
        r'<tr class="inconclusive">(?:(?!</tr>).)*\[val\](?:(?!</tr>).)*</tr>', html, re.S
    )
    assert accuracy and "not blocking" not in accuracy.group(0)


def test_allow_inconclusive_marks_every_inconclusive_not_blocking(full_report: Report) -> None:
    full_report.allow_inconclusive = True
    context = build_context(full_report, charts=False)
    assert _row(context, "eval.accuracy[val]")["not_blocking"] == "run with --allow-inconclusive"
    assert "eval.accuracy[val]" not in context["verdict"]
    assert "allowed (--allow-inconclusive)" in render_html(full_report, charts=False)


def _bar_geometry(svg: str) -> dict[str, float]:
    root = ET.fromstring(svg)  # well-formed XML, not just HTML-ish text
    rect = root.find("rect")
    positions = {line.get("class"): float(line.get("x1")) for line in root.iter("line")}
    return {
        "low": float(rect.get("x")),
        "high": float(rect.get("x")) + float(rect.get("width")),
        "value": positions["value"],
        "threshold": positions["threshold"],
        "width": float(root.get("width")),
    }


def test_interval_bar_draws_interval_value_and_threshold_on_one_scale() -> None:
    straddling = CheckResult(
        "eval.acc", Status.INCONCLUSIVE, "s", 0.912, 0.9, interval=Interval(0.87, 0.94)
    )
    bar = _bar_geometry(interval_bar_svg(straddling))
    assert 0 < bar["low"] < bar["threshold"] < bar["value"] < bar["high"] < bar["width"]
    # Positions are linear in the values: 0.9 lies 3/7 of the way from 0.87 to 0.94.
    fraction = (bar["threshold"] - bar["low"]) / (bar["high"] - bar["low"])
    assert fraction == pytest.approx(3 / 7, abs=0.01)

    clearing = dataclasses.replace(straddling, status=Status.PASS, interval=Interval(0.93, 0.97))
    bar = _bar_geometry(interval_bar_svg(clearing))
    assert bar["threshold"] < bar["low"]  # the whole interval is above the threshold

    beyond = dataclasses.replace(
        straddling, status=Status.FAIL, value=0.5, interval=Interval(0.4, 0.6)
    )
    bar = _bar_geometry(interval_bar_svg(beyond))
    assert bar["high"] < bar["threshold"] < bar["width"]


def test_interval_bar_only_with_an_interval_and_a_threshold() -> None:
    base = CheckResult("eval.acc", Status.PASS, "s", 0.9, 0.8, interval=Interval(0.85, 0.95))
    assert interval_bar_svg(base) is not None
    assert interval_bar_svg(dataclasses.replace(base, threshold=None)) is None
    assert interval_bar_svg(dataclasses.replace(base, interval=None)) is None
    assert interval_bar_svg(dataclasses.replace(base, threshold=float("nan"))) is None
    # No value: the interval and threshold still make a bar, without a value tick.
    no_value = interval_bar_svg(dataclasses.replace(base, value=None))
    assert no_value is not None and 'class="value"' not in no_value


def test_interval_bar_is_in_the_page_only_where_it_applies(full_report: Report) -> None:
    context = build_context(full_report, charts=False)
    assert '<svg class="interval-bar"' in _row(context, "eval.accuracy[test]")["interval_svg"]
    assert _row(context, "data.class_balance")["interval_svg"] is None  # threshold, no interval
    html = render_html(full_report, charts=False)
    assert "<title>[0.87, 0.94] 95% CI, value 0.912, threshold 0.9</title>" in html


def test_incomplete_run_gets_a_banner(full_report: Report) -> None:
    assert 'class="banner incomplete"' not in render_html(full_report, charts=False)
    partial = dataclasses.replace(
        full_report, status="interrupted", results=full_report.results[4:5]
    )
    html = render_html(partial, charts=False)
    banner = re.search(r'<div class="banner incomplete" role="alert">([^<]*)</div>', html)
    assert banner.group(1) == "incomplete: the run was interrupted; 1 result stored before that"
    assert html.index("banner incomplete") < html.index("<h1>")  # first thing on the page
    assert '<p class="verdict failed">' in html  # a partial pass is not shown green
    assert "all gates passed" not in html


def test_a_passing_result_shows_its_table_or_picture_but_not_a_list_of_samples() -> None:
    table = CheckResult(
        "labels.agreement",
        Status.PASS,
        "annotators agree",
        value=0.9,
        threshold=0.667,
        n=150,
        interval=Interval(0.85, 0.95),
        evidence=[Evidence("table", [{"annotator": "ana", "agreement": 0.97}], 1)],
    )
    listed = CheckResult(
        "data.label_errors", Status.PASS, "2 suspects", evidence=[Evidence("samples", ["a"], 1)]
    )
    report = Report("t", "check", "2024-01-01T00:00:00Z", [table, listed], 0)
    context = build_context(report, charts=False)
    assert context["sections"] == []
    assert [s["key"] for s in context["passed_sections"]] == ["labels.agreement"]
    html = render_html(report, charts=False)
    assert "Passed, with evidence to look at" in html and "Findings" not in html
    assert "&lt;svg" not in html  # its interval bar is drawn, not printed as text


def test_a_tiles_plain_extra_fields_read_as_lines_and_nested_ones_as_json() -> None:
    suspect = {"id": "a.png", "label": "seven", "suggested": "six", "p_suggested": 0.9976}
    nested = {"id": "b.png", "label": "one", "pair": {"other": "c.png"}}
    result = CheckResult(
        "data.label_errors", Status.WARN, "2", evidence=[Evidence("samples", [suspect, nested], 2)]
    )
    report = Report("t", "check", "2024-01-01T00:00:00Z", [result], 0)
    first, second = build_context(report, charts=False)["sections"][0]["evidence"][0]["entries"]
    assert first["extra"] == "p_suggested 0.9976\nsuggested six"
    assert second["extra"].startswith("{") and '"other": "c.png"' in second["extra"]

"""The "histograms" and "image" evidence layouts: overlaid reference/current histograms as
inline SVG, and a check's own picture as an embedded PNG or JPEG, never a remote URL."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.report.evidence import EVIDENCE_KINDS, describe_item, evidence_lines
from dlqa.report.histogram_svg import histogram_parts, overlaid_histogram_svg
from dlqa.report.html import build_context, render_html
from dlqa.report.html_evidence import safe_image_uri
from dlqa.report.junit import write_junit
from dlqa.report.model import Report

HOSTILE = "<script>alert(1)</script>"
BRIGHTNESS = {
    "property": "brightness",
    "edges": [0.0, 50.0, 100.0, 150.0, 200.0, 255.0],
    "reference": [10, 40, 30, 15, 5],
    "current": [2, 20, 40, 28, 10],
    "wasserstein": 0.4123,
    "psi": 0.31,
}


def _data_uri(image_format: str, media_type: str) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(buffer, format=image_format)
    return f"data:{media_type};base64," + base64.b64encode(buffer.getvalue()).decode()


PNG_URI = _data_uri("PNG", "image/png")
JPEG_URI = _data_uri("JPEG", "image/jpeg")
GIF_CALLED_PNG = _data_uri("GIF", "image/png")
SVG_URI = "data:image/svg+xml;base64," + base64.b64encode(b"<svg onload='alert(1)'/>").decode()
REMOTE = "https://example.com/preview.png"


def _report(*evidence: Evidence) -> Report:
    result = CheckResult(
        "data.property_drift", Status.FAIL, "1 of 9 properties drifted", evidence=list(evidence)
    )
    return Report("drift", "check", "2024-01-01T00:00:00Z", [result], 1)


def test_both_kinds_are_in_the_table_of_kinds() -> None:
    assert EVIDENCE_KINDS["histograms"].layout == "histograms"
    assert EVIDENCE_KINDS["image"].layout == "image"


def test_histogram_items_describe_as_one_line() -> None:
    assert describe_item("histograms", BRIGHTNESS) == (
        "brightness: reference vs current (W 0.4123, PSI 0.31)"
    )
    constant = {**BRIGHTNESS, "property": "sample_rate", "wasserstein": None}
    constant["changed_fraction"] = 0.3
    assert describe_item("histograms", constant) == (
        "sample_rate: reference vs current (PSI 0.31, changed 0.3)"
    )
    assert describe_item("histograms", "odd") == "odd"


def test_image_items_describe_as_their_caption_not_their_bytes() -> None:
    # (A stage may register its own describer for "image": the caption is in either.)
    line = describe_item("image", {"caption": "first batch", "data_uri": PNG_URI})
    assert "first batch" in line and "base64" not in line
    result = CheckResult(
        "data.batches",
        Status.WARN,
        "s",
        evidence=[Evidence("image", [{"caption": "grid", "data_uri": PNG_URI}], 1)],
    )
    assert "base64" not in "\n".join(evidence_lines(result, 5))


def test_the_svg_overlays_two_normalised_histograms() -> None:
    svg = overlaid_histogram_svg(BRIGHTNESS)
    assert svg.startswith('<svg class="histogram"') and svg.endswith("</svg>")
    assert 'class="reference"' in svg and 'class="current"' in svg
    assert ">reference</text>" in svg and ">current</text>" in svg  # the legend
    assert "W 0.4123 sigma, PSI 0.31" in svg
    assert "<script" not in svg and "http" not in svg and " id=" not in svg
    edges, reference, current = histogram_parts(BRIGHTNESS)
    assert sum(reference) == pytest.approx(1.0) and sum(current) == pytest.approx(1.0)
    assert reference[1] == pytest.approx(0.4)  # fractions, not counts


@pytest.mark.parametrize(
    "item",
    [
        {**BRIGHTNESS, "edges": [0.0, 1.0]},  # counts of another length
        {**BRIGHTNESS, "edges": [0.0, 50.0, 50.0, 150.0, 200.0, 255.0]},  # not increasing
        {**BRIGHTNESS, "reference": [0, 0, 0, 0, 0]},
        {**BRIGHTNESS, "current": [1, 2, "3", 4, 5]},
        {**BRIGHTNESS, "edges": [0.0, 50.0, float("nan"), 150.0, 200.0, 255.0]},
        "not a dict",
    ],
)
def test_items_that_cannot_be_drawn_are_shown_as_data(item) -> None:
    assert overlaid_histogram_svg(item) is None
    view = build_context(_report(Evidence("histograms", [item], 1)), charts=False)
    entry = view["sections"][0]["evidence"][0]["entries"][0]
    assert "raw" in entry and "svg" not in entry


def test_the_html_shows_the_histograms_and_escapes_names() -> None:
    hostile = {**BRIGHTNESS, "property": HOSTILE}
    html = render_html(
        _report(Evidence("histograms", [BRIGHTNESS, hostile], 2, "reference and current")),
        charts=False,
    )
    assert html.count('<svg class="histogram"') == 2
    assert "brightness" in html
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "histograms (reference and current), 2 in all" in html


def test_the_image_layout_embeds_png_and_jpeg_data_uris() -> None:
    items = [
        {"caption": "first batch", "data_uri": PNG_URI},
        {"caption": "jpeg", "data_uri": JPEG_URI},
    ]
    html = render_html(_report(Evidence("image", items, 2)), charts=False)
    assert f'<img src="{PNG_URI}" alt="first batch">' in html
    assert f'src="{JPEG_URI}"' in html
    assert "<figcaption>first batch</figcaption>" in html


@pytest.mark.parametrize(
    "uri",
    [
        REMOTE,
        "//example.com/x.png",
        "javascript:alert(1)",
        SVG_URI,
        GIF_CALLED_PNG,
        "data:image/png;base64,not base64!",
        'data:image/png;base64,iVBORw0KGgo=" onerror="alert(1)',
        None,
    ],
)
def test_the_image_layout_refuses_anything_but_png_or_jpeg_data(uri) -> None:
    assert safe_image_uri(uri) is None
    html = render_html(
        _report(Evidence("image", [{"caption": HOSTILE, "data_uri": uri}], 1)), charts=False
    )
    if uri:
        assert uri not in html
    assert "example.com" not in html and "onerror=" not in html
    assert not re.search(r"<img[^>]*src=\"(?!data:image/(png|jpeg);base64,)", html)
    assert "not shown: only PNG or JPEG data URIs" in html
    assert HOSTILE not in html


def test_valid_uris_are_accepted() -> None:
    assert safe_image_uri(PNG_URI) == PNG_URI
    assert safe_image_uri(JPEG_URI) == JPEG_URI


def test_images_count_against_the_media_budget() -> None:
    items = [{"caption": f"grid {k}", "data_uri": PNG_URI} for k in range(4)]
    report = _report(Evidence("image", items, 4))
    entries = build_context(report, charts=False)["sections"][0]["evidence"][0]["entries"]
    assert all(entry.get("src") == PNG_URI for entry in entries)


def test_junit_describes_the_new_kinds(tmp_path: Path) -> None:
    report = _report(
        Evidence("histograms", [BRIGHTNESS], 1),
        Evidence("image", [{"caption": "first batch", "data_uri": PNG_URI}], 1),
    )
    junit = write_junit(report, tmp_path / "junit.xml").read_text(encoding="utf-8")
    assert "brightness: reference vs current" in junit
    assert "first batch" in junit and "base64" not in junit

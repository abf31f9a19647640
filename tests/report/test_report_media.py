"""Thumbnails and charts, the two pieces of the HTML view that touch files and matplotlib."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlqa.report.plots import (
    class_balance_svg,
    histogram_bins,
    histogram_svg,
    property_histograms_svg,
)
from dlqa.report.thumbnails import image_data_uri, make_thumbnail


def _decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_thumbnails_fit_in_128_px_and_keep_aspect(tmp_path: Path) -> None:
    wide = tmp_path / "wide.jpg"
    Image.new("RGB", (1000, 250), (200, 10, 10)).save(wide)
    image = _decode(make_thumbnail(wide))
    assert image.format == "JPEG"
    assert image.size == (128, 32)


def test_thumbnails_of_unusual_modes(tmp_path: Path) -> None:
    sixteen_bit = tmp_path / "depth.png"
    Image.fromarray(np.arange(0, 65536, 16, dtype=np.uint16).reshape(64, 64)).save(sixteen_bit)
    transparent = tmp_path / "alpha.png"
    Image.new("RGBA", (40, 40), (0, 0, 0, 0)).save(transparent)
    palette = tmp_path / "palette.gif"
    Image.new("P", (30, 30)).save(palette)
    for path in (sixteen_bit, transparent, palette):
        assert _decode(make_thumbnail(path)).mode == "RGB"
    # A transparent image is flattened onto white, not black.
    assert _decode(make_thumbnail(transparent)).getpixel((20, 20))[0] > 240


def test_thumbnail_size_is_a_parameter(tmp_path: Path) -> None:
    path = tmp_path / "square.png"
    Image.new("RGB", (500, 500)).save(path)
    assert _decode(make_thumbnail(path, size=48)).size == (48, 48)


def test_unreadable_files_raise_for_the_caller_to_handle(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (200, 200), (1, 2, 3)).save(buffer, format="JPEG")
    truncated.write_bytes(buffer.getvalue()[:100])
    with pytest.raises(OSError):
        make_thumbnail(truncated)
    with pytest.raises(OSError):
        make_thumbnail(tmp_path / "missing.jpg")


def test_data_uris_only_for_image_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.new("RGB", (10, 10)).save(path)
    jpeg = make_thumbnail(path)
    uri = image_data_uri(jpeg)
    assert uri.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == jpeg
    assert image_data_uri(path.read_bytes()).startswith("data:image/png;base64,")
    assert image_data_uri(b"<svg onload=alert(1)>") is None
    assert image_data_uri(b"") is None


def test_class_balance_svg_is_inline_ready() -> None:
    svg = class_balance_svg({"train": {"cat": 500, "dog": 2}, "val": {"cat": 40}})
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert "http" not in svg  # no namespace URLs, no metadata
    assert ">cat<" in svg and ">dog<" in svg  # text kept as text (svg.fonttype none)
    assert class_balance_svg({}) is None
    assert class_balance_svg({"all": {}}) is None


def test_class_balance_svg_escapes_labels_and_survives_dollar_signs() -> None:
    svg = class_balance_svg({"all": {"<b>x</b>": 3, "cost $5 and $6": 4}})
    assert "<b>x</b>" not in svg
    assert "&lt;b&gt;x&lt;/b&gt;" in svg
    assert "cost $5 and $6" in svg  # literal, not mathtext


def test_class_balance_svg_keeps_cjk_class_names_as_readable_text() -> None:
    import re
    import warnings

    xss = "<img src=x onerror=alert(1)>"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Glyph ... missing from font" noise either
        svg = class_balance_svg({"train": {"猫": 30, "犬": 12, xss: 2}, "検証": {"고양이": 5}})
    found = re.findall(r'<text style="([^"]*)"[^>]*>([^<]*)</text>', svg)
    by_text = {text: style for style, text in found}
    for name in ("猫", "犬", "고양이", "検証"):
        # Text, not glyph paths (no tofu boxes): the browser's fonts draw it, and the
        # font-family names CJK families before the generic fallback.
        assert name in by_text, name
        family = by_text[name].split("font-family:")[1]
        assert "'Noto Sans CJK JP'" in family and family.index("Noto") < family.index("sans-serif")
    assert "&lt;img src=x onerror=alert(1)&gt;" in svg
    assert "<img" not in svg and "onerror=alert(1)>" not in svg
    # Charts of Latin names stay as small as before: no CJK families written.
    assert "CJK" not in class_balance_svg({"all": {"cat": 3, "dog": 4}})


def test_class_balance_with_many_classes_says_what_is_hidden() -> None:
    counts = {f"class{i:03d}": 1000 - i for i in range(100)}
    svg = class_balance_svg({"all": counts})
    assert "60 classes in the middle of the ranking not shown" in svg
    assert ">class000<" in svg and ">class099<" in svg
    assert ">class050<" not in svg


def test_histogram_bins_keep_what_the_chart_needs() -> None:
    bins = histogram_bins([1.0, 2.0, 3.0, float("nan"), float("inf")])
    assert bins["n"] == 3 and bins["median"] == 2.0
    assert sum(bins["counts"]) == 3
    assert bins["edges"][0] == 1.0 and bins["edges"][-1] == 3.0
    assert histogram_bins([]) is None and histogram_bins([float("nan")]) is None
    constant = histogram_bins([64.0] * 10)
    assert constant["counts"] == [10] and len(constant["edges"]) == 2


def test_histograms_are_drawn_from_stored_bins() -> None:
    charts = property_histograms_svg(
        {
            "brightness": histogram_bins([1.0, 2.0, float("nan")]),
            "no_samples": {"edges": [0.0, 1.0], "counts": [0], "median": None, "n": 0},
            "mismatched": {"edges": [0.0, 1.0], "counts": [1, 2], "median": 1.0, "n": 3},
            "junk": {"edges": "abc"},
        }
    )
    assert list(charts) == ["brightness"]
    assert "n=2" in charts["brightness"] and "median 1.5" in charts["brightness"]
    constant = histogram_svg("width", histogram_bins([64.0] * 10))
    assert constant is not None and "median 64" in constant
    # The counts drawn are the stored ones, not a recomputation from anything else.
    left = {"edges": [0.0, 1.0, 2.0], "counts": [7, 1], "median": 0.5, "n": 8}
    right = {"edges": [0.0, 1.0, 2.0], "counts": [1, 7], "median": 0.5, "n": 8}
    assert histogram_svg("x", left) != histogram_svg("x", right)


def test_importing_the_report_package_does_not_import_matplotlib() -> None:
    code = (
        "import sys, dlqa.report.html, dlqa.report.console, dlqa.report.junit, "
        "dlqa.report.json_report, dlqa.report.intervals; print('matplotlib' in sys.modules)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "False"

"""Thumbnails and charts, the two pieces of the HTML view that touch files and matplotlib."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from dlqa.report.plots import class_balance_svg, histogram_svg, property_histograms_svg
from dlqa.report.thumbnails import ThumbnailCache, make_thumbnail_data_uri


def _decode(uri: str) -> Image.Image:
    prefix = "data:image/jpeg;base64,"
    assert uri.startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :])))


def test_thumbnails_fit_in_128_px_and_keep_aspect(tmp_path: Path) -> None:
    wide = tmp_path / "wide.jpg"
    Image.new("RGB", (1000, 250), (200, 10, 10)).save(wide)
    image = _decode(make_thumbnail_data_uri(str(wide)))
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
        assert _decode(make_thumbnail_data_uri(str(path))).mode == "RGB"
    # A transparent image is flattened onto white, not black.
    assert _decode(make_thumbnail_data_uri(str(transparent))).getpixel((20, 20))[0] > 240


def test_cache_reports_unreadable_and_unknown_samples_without_raising(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    Image.new("RGB", (10, 10)).save(good)
    truncated = tmp_path / "truncated.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (200, 200), (1, 2, 3)).save(buffer, format="JPEG")
    truncated.write_bytes(buffer.getvalue()[:100])
    cache = ThumbnailCache({"good": str(good), "cut": str(truncated), "dir": str(tmp_path)})
    assert cache.get("good").ok
    assert cache.get("cut").state == "unreadable"
    assert cache.get("cut").reason
    assert cache.get("dir").state == "unreadable"
    assert cache.get("not-in-report").state == "no_file"
    assert cache.get("good") is cache.get("good")
    assert cache.decoded == 3


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


def test_class_balance_with_many_classes_says_what_is_hidden() -> None:
    counts = {f"class{i:03d}": 1000 - i for i in range(100)}
    svg = class_balance_svg({"all": counts})
    assert "60 classes in the middle of the ranking not shown" in svg
    assert ">class000<" in svg and ">class099<" in svg
    assert ">class050<" not in svg


def test_histograms_skip_empty_and_non_finite_properties() -> None:
    charts = property_histograms_svg(
        {"brightness": [1.0, 2.0, float("nan")], "empty": [], "nan_only": [float("nan")]}
    )
    assert list(charts) == ["brightness"]
    assert "n=2" in charts["brightness"]
    constant = histogram_svg("width", [64.0] * 10)
    assert constant is not None and "median 64" in constant


def test_importing_the_report_package_does_not_import_matplotlib() -> None:
    code = (
        "import sys, dlqa.report.html, dlqa.report.console, dlqa.report.junit, "
        "dlqa.report.json_report; print('matplotlib' in sys.modules)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "False"

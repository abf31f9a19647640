"""The release history page: every cell escaped, a plot per metric or the reason there is none."""

from __future__ import annotations

from dlqa.report.release_page import render_release_page


def test_cells_are_escaped_and_a_missing_plot_is_explained() -> None:
    rows = [
        {
            "version": "<script>alert(1)</script>", "metric": "a<b", "value": 0.9,
            "low": 0.85, "high": 0.95, "n": 100, "change": None,
            "note": "not enough data: one release",
        }
    ]  # fmt: skip
    page = render_release_page(rows, {"a<b": None})
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<h2>a&lt;b</h2>" in page and "nothing to plot" in page
    assert "[0.85, 0.95]" in page


def test_a_plot_is_embedded_as_given() -> None:
    page = render_release_page([], {"accuracy": "<svg class='x'></svg>"})
    assert "<svg class='x'></svg>" in page

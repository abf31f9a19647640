"""The "ablation_cells" evidence: the cells of an ablation as an interaction plot (two
changes), two joined points (one change) or a dot plot of every cell (more, or a cell
missing), drawn in the HTML report; one line per cell in the terminal."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.report.ablation_svg import ablation_parts, ablation_svg
from dlqa.report.evidence import describe_item, evidence_kind
from dlqa.report.html import build_context, render_html
from dlqa.report.model import Report

SCRIPT = "<script>alert(1)</script>"


def _cell(changes: list[str], values: list[float], ci=None, **extra) -> dict:
    """An item as the ablation check stores it."""
    name = "+".join(changes) or "base"
    return {
        "cell": name, "changes": changes, "group": f"exp@{name}", "n": len(values),
        "mean": sum(values) / len(values), "ci": ci, "values": values, "in_design": True,
        "metric": "accuracy", "higher_is_better": True, **extra,
    }  # fmt: skip


# A masked regression: A hurts alone (-0.01), B helps (+0.015), A+B looks best.
BASE = _cell([], [0.90, 0.905, 0.902], [0.897, 0.908])
A = _cell(["A"], [0.893, 0.889, 0.891], [0.886, 0.896])
B = _cell(["B"], [0.915, 0.918, 0.92])  # no interval: the whisker is the seeds' range
AB = _cell(["A", "B"], [0.93, 0.925, 0.928], [0.921, 0.934])


def _svg(items) -> ET.Element:
    svg = ablation_svg(items)
    assert svg is not None
    return ET.fromstring(svg)  # well-formed XML: every text escaped, no duplicate attribute


def _text(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode")


def test_two_changes_draw_an_interaction_plot_with_both_lines() -> None:
    root = _svg([BASE, A, B, AB])
    assert root.get("class") == "ablation interaction"
    assert len(root.findall(".//circle[@class='cell']")) == 4
    assert len(root.findall(".//circle[@class='seed']")) == 12  # every seed, faint
    assert len(root.findall(".//path[@class='whisker']")) == 4  # B's from its seeds' range
    lines = root.findall(".//line[@class='series']")
    assert len(lines) == 2
    assert lines[0].get("stroke-dasharray") is None and lines[1].get("stroke-dasharray")
    text = _text(root)
    for words in ("B off", "B on", "A off", "A on", "a seed", "accuracy (higher is better)"):
        assert words in text
    # The caption names the interaction: A+B - A - B + base.
    term = AB["mean"] - A["mean"] - B["mean"] + BASE["mean"]
    assert "not parallel are the interaction" in text
    assert f"+{term:.4g}" in text


def test_the_lines_join_the_right_cells() -> None:
    root = _svg([BASE, A, B, AB])
    off, on = root.findall(".//line[@class='series']")
    # B off runs from base to A, B on from B to A+B: higher on screen is a smaller y.
    assert float(off.get("y1")) < float(off.get("y2"))  # A hurts without B
    assert float(on.get("y1")) > float(on.get("y2"))  # and helps with it
    assert float(on.get("y2")) < float(off.get("y1"))  # A+B above base


def test_one_change_draws_its_two_cells_joined() -> None:
    root = _svg([BASE, A])
    assert len(root.findall(".//circle[@class='cell']")) == 2
    assert len(root.findall(".//line[@class='series']")) == 1
    assert "effect of A: \u22120.01133" in _text(root)


def test_more_changes_or_a_missing_cell_draw_a_dot_plot_of_every_cell() -> None:
    c = _cell(["C"], [0.91, 0.9, 0.92])
    extra = _cell(["A", "B", "C"], [0.93, 0.94, 0.935], in_design=False)
    root = _svg([BASE, A, B, AB, c, extra])
    assert root.get("class") == "ablation cells"
    assert len(root.findall(".//circle[@class='cell']")) == 6  # a row per cell, as given
    text = _text(root)
    assert "not in the design" in text and "the base cell\u2019s mean" in text
    assert "range 0.93\u20130.94" in text  # no interval: the seeds' range, said so
    assert _svg([BASE, A, AB]).get("class") == "ablation cells"  # B missing


def test_a_hostile_name_is_escaped() -> None:
    items = [
        _cell([], [0.9, 0.91]),
        {**_cell([SCRIPT], [0.92, 0.93]), "cell": SCRIPT, "metric": SCRIPT},
    ]
    svg = ablation_svg(items)
    assert svg is not None and SCRIPT not in svg
    assert "&lt;script&gt;" in svg
    ET.fromstring(svg)
    assert SCRIPT not in ablation_svg([*items, _cell(["x"], [0.5])])  # the dot plot too


@pytest.mark.parametrize(
    "items",
    [
        None,
        "cells",
        [],
        [{"cell": "base", "changes": [], "mean": None}],
        [{"cell": "base", "changes": [], "mean": math.nan, "values": [0.9]}],
        [{"cell": "base", "changes": [], "mean": True}],
        [{"changes": "A", "mean": 0.9}],
        [{"cell": "base", "changes": [], "mean": 1e308}, {"cell": "A", "mean": -1e308}],
    ],
)
def test_unusable_items_are_not_drawn(items) -> None:
    assert ablation_svg(items) is None


def test_infinite_and_missing_numbers_are_left_out_not_drawn() -> None:
    items = [
        {"cell": "base", "changes": [], "mean": 0.9, "values": [0.9, math.inf, None]},
        {"cell": "A", "changes": ["A"], "mean": 0.92, "ci": [math.nan, 0.95], "values": "x"},
        {"cell": "B", "changes": ["B"], "mean": math.inf, "values": [0.1]},
    ]
    root = _svg(items)
    assert len(root.findall(".//circle[@class='cell']")) == 2  # B has no mean
    assert len(root.findall(".//circle[@class='seed']")) == 1
    assert "nan" not in _text(root) and "inf" not in _text(root)
    parts = ablation_parts(items)
    assert parts is not None and parts.changes == ["A", "B"]


def test_the_terminal_line_of_a_cell() -> None:
    assert evidence_kind("ablation_cells").layout == "interaction"
    item = {**_cell(["A", "B"], [0.91, 0.92, 0.905]), "group": "name@A+B", "mean": 0.912}
    item["ci"] = [0.90, 0.92]
    assert describe_item("ablation_cells", item) == "A+B (name@A+B): mean 0.912 [0.9, 0.92], n=3"
    assert describe_item("ablation_cells", {**BASE, "ci": None, "in_design": False}) == (
        "base (exp@base): mean 0.9023, n=3; not in the design"
    )
    assert describe_item("ablation_cells", {"x": 1}) == "x=1"  # not a cell: as a row


def test_an_ablation_is_drawn_in_the_html_report() -> None:
    result = CheckResult(
        "exp.ablation",
        Status.FAIL,
        "A regresses on its own, masked by B",
        evidence=[Evidence("ablation_cells", [BASE, A, B, AB], 4, "the cells")],
    )
    report = Report("t", "exp.ablation", "2024-01-01T00:00:00Z", [result], 1)
    (view,) = build_context(report, charts=False)["sections"][0]["evidence"]
    assert view["layout"] == "interaction" and len(view["entries"]) == 1
    page = render_html(report, charts=False)
    assert page.count('<svg class="ablation interaction"') == 1
    assert page.count('<circle class="cell"') == 4

"""The "mode_matrix" evidence: a baseline/candidate comparison in every combination of modes
as a grid of cells coloured by status, drawn in the HTML report; one line per combination
in the terminal. And one report with every experiment chart at once."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.report.evidence import describe_item, evidence_kind
from dlqa.report.html import build_context, render_html
from dlqa.report.intervals import BAR_COLOURS
from dlqa.report.mode_matrix_svg import mode_matrix_parts, mode_matrix_svg
from dlqa.report.model import Report

SCRIPT = "<script>alert(1)</script>"


def _mode(backbone: str, precision: str, difference: float, ci, verdict: str, status: str,
          metric: str = "accuracy", p_holm: float = 0.04) -> dict:  # fmt: skip
    """An item as the mode comparison stores it."""
    return {
        "mode": {"backbone": backbone, "precision": precision},
        "label": f"backbone={backbone},precision={precision}", "metric": metric,
        "baseline_mean": 0.91, "candidate_mean": 0.91 + difference, "difference": difference,
        "ci": ci, "p_value": p_holm / 4, "p_holm": p_holm, "verdict": verdict,
        "status": status, "n": [3, 3],
    }  # fmt: skip


# resnet/amp regresses; vit/amp was not run.
GRID = [
    _mode("resnet", "fp32", 0.001, [-0.002, 0.004], "no_difference", "pass", p_holm=0.6),
    _mode("resnet", "amp", -0.005, [-0.009, -0.001], "regressed", "fail"),
    _mode("vit", "fp32", 0.002, [-0.004, 0.008], "inconclusive", "inconclusive", p_holm=0.4),
]


def _svg(items) -> ET.Element:
    svg = mode_matrix_svg(items)
    assert svg is not None
    return ET.fromstring(svg)  # well-formed XML: every text escaped, no duplicate attribute


def _text(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode")


def _cells(root: ET.Element) -> list[ET.Element]:
    return root.findall(".//g[@class='mode-cell']")


def test_two_keys_make_a_grid_of_rows_and_columns_with_the_gaps_shown() -> None:
    root = _svg(GRID)
    assert len(_cells(root)) == 3
    assert len(root.findall(".//g[@class='not-run']")) == 1  # vit x amp
    text = _text(root)
    for words in ("fp32", "amp", "resnet", "vit", "backbone \u2193", "precision \u2192",
                  "\u22120.005", "[\u22120.009, \u22120.001]", "regressed", "Holm p 0.04",
                  "no difference", "not run", "pass", "fail", "inconclusive"):  # fmt: skip
        assert words in text
    # Filled by status, with the report's own colours: the regression in the fail colour.
    regressed = next(g for g in _cells(root) if "regressed" in "".join(g.itertext()))
    assert regressed.find("rect").get("stroke") == BAR_COLOURS[Status.FAIL]


def test_the_grid_is_laid_out_by_first_appearance() -> None:
    root = _svg(GRID)
    rects = [g.find("rect") for g in _cells(root)]
    (x0, y0), (x1, y1), (x2, y2) = ((float(r.get("x")), float(r.get("y"))) for r in rects)
    assert y0 == y1 < y2 and x0 == x2 < x1  # resnet first row, fp32 first column


def test_several_metrics_make_one_grid_each() -> None:
    items = [*GRID, _mode("resnet", "fp32", 0.1, [0.05, 0.15], "improved", "pass", "loss")]
    root = _svg(items)
    assert len(_cells(root)) == 4
    assert len(root.findall(".//g[@class='not-run']")) == 1 + 3  # the loss grid has one cell
    assert "loss" in _text(root) and "accuracy" in _text(root)


def test_one_key_is_one_row_and_three_keys_one_row_per_combination() -> None:
    one = [{"mode": {"precision": p}, "metric": "acc", "difference": 0.0, "status": "pass"}
           for p in ("fp32", "amp", "bf16")]  # fmt: skip
    rects = [g.find("rect") for g in _cells(_svg(one))]
    assert len(rects) == 3 and len({r.get("y") for r in rects}) == 1
    three = [{"mode": {"a": a, "b": b, "c": "x"}, "metric": "acc", "difference": 0.01,
              "verdict": "improved", "status": "pass"} for a in "12" for b in "34"]  # fmt: skip
    root = _svg(three)
    rects = [g.find("rect") for g in _cells(root)]
    assert len(rects) == 4 and len({r.get("x") for r in rects}) == 1
    assert "a=1,b=3,c=x" in _text(root)  # a row is named by its combination


def test_hostile_names_are_escaped_and_an_unknown_status_gets_no_attribute() -> None:
    items = [
        _mode(SCRIPT, "amp", 0.003, None, SCRIPT, '" onload="alert(1)', metric=SCRIPT),
        {**_mode("vit", SCRIPT, 0.0, None, "improved", "pass"), "label": SCRIPT},
    ]
    svg = mode_matrix_svg(items)
    assert svg is not None and SCRIPT not in svg and 'onload="' not in svg
    assert "&lt;script&gt;" in svg
    ET.fromstring(svg)


@pytest.mark.parametrize(
    "items",
    [None, "modes", [], [{"metric": "acc", "difference": 0.1}], [{"mode": {}, "label": ""}], [3]],
)
def test_unusable_items_are_not_drawn(items) -> None:
    assert mode_matrix_parts(items) is None
    assert mode_matrix_svg(items) is None


def test_missing_and_infinite_numbers_say_so() -> None:
    items = [{"mode": {"m": "x"}, "difference": math.inf, "ci": [math.nan, 1], "p_holm": None}]
    text = _text(_svg(items))
    assert "no estimate" in text and "no interval" in text and "no verdict" in text
    assert "inf" not in text and "nan" not in text


def test_the_terminal_line_of_a_mode() -> None:
    assert evidence_kind("mode_matrix").layout == "mode_matrix"
    item = _mode("resnet", "amp", -0.005, [-0.009, -0.001], "regressed", "fail")
    assert describe_item("mode_matrix", item) == (
        "backbone=resnet,precision=amp accuracy: -0.005 [-0.009, -0.001] regressed (Holm p 0.04)"
    )
    bare = {"mode": {"precision": "amp"}, "difference": 0.002, "p_value": 0.3}
    assert describe_item("mode_matrix", bare) == "precision=amp: +0.002 (p 0.3)"
    assert describe_item("mode_matrix", {"x": 1}) == "x=1"  # not a mode: as a row


def _ablation() -> list[dict]:
    cells = {"base": ([], 0.9), "A": (["A"], 0.89), "B": (["B"], 0.92), "A+B": (["A", "B"], 0.93)}
    return [
        {"cell": name, "changes": changes, "mean": mean, "values": [mean - 0.002, mean + 0.002],
         "ci": None, "n": 2, "metric": "accuracy", "higher_is_better": True}
        for name, (changes, mean) in cells.items()
    ]  # fmt: skip


def _looks() -> list[dict]:
    return [
        {"look": k, "seeds": k + 1, "difference": 0.01, "se": 0.01 / k, "efficacy_t": 9 / k,
         "equivalence_t": 3.0, "decision": "continue", "min_effect": 0.01, "planned_max": 10}
        for k in (1, 2, 3)
    ]  # fmt: skip


def test_a_report_draws_every_experiment_chart() -> None:
    result = CheckResult(
        "exp.modes",
        Status.FAIL,
        "resnet/amp regresses",
        evidence=[
            Evidence("ablation_cells", _ablation(), 4, "the cells"),
            Evidence("sequential_path", _looks(), 3, "each look"),
            Evidence("mode_matrix", [*GRID, {**GRID[0], "label": SCRIPT}], 4, "every mode"),
        ],
    )
    report = Report("t", "exp.compare", "2024-01-01T00:00:00Z", [result], 1)
    views = build_context(report, charts=False)["sections"][0]["evidence"]
    assert [view["layout"] for view in views] == ["interaction", "sequential_path", "mode_matrix"]
    assert all("svg" in view["entries"][0] for view in views)
    page = render_html(report, charts=False)
    for tag in ('<svg class="ablation interaction"', '<svg class="sequential"',
                '<svg class="mode-matrix"'):  # fmt: skip
        assert page.count(tag) == 1
    assert SCRIPT not in page

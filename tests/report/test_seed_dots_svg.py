"""The "seed_groups" evidence of ``exp.compare``: the seeds of both groups as dots on one
scale with their means and the interval of the difference (``seed_dots_svg``), drawn in the
HTML report even when the comparison passes, and one line per group in the terminal."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from dlqa.core.results import CheckResult, Evidence, Interval, Status
from dlqa.report.evidence import describe_item, evidence_kind
from dlqa.report.html import build_context, render_html
from dlqa.report.model import Report
from dlqa.report.seed_dots_svg import seed_dots_svg, seed_groups_parts

SCRIPT = "<script>x</script>"
BASE = [0.9094, 0.8974, 0.9122, 0.9078, 0.9040]
CAND = [0.9329, 0.9237, 0.9215, 0.9253, 0.9112]


def _groups(base=BASE, cand=CAND, *, base_name="base", ci=(0.00907, 0.02424)) -> list[dict]:
    """The items ``exp.compare`` stores (the candidate's with the difference and its ci)."""
    difference = sum(cand) / len(cand) - sum(base) / len(base) if base and cand else 0.0
    return [
        {"group": base_name, "role": "baseline", "values": list(base), "run_id": 1,
         "reproducible": True},
        {"group": "cand", "role": "candidate", "values": list(cand), "run_id": 2,
         "reproducible": True, "difference": difference,
         "ci": None if ci is None else list(ci), "ci_level": 0.95, "higher_is_better": True},
    ]  # fmt: skip


def _svg(items) -> ET.Element:
    svg = seed_dots_svg(items)
    assert svg is not None
    return ET.fromstring(svg)  # well-formed XML: every text escaped, no duplicate attribute


def _dots(root: ET.Element) -> list[list[ET.Element]]:
    """The seed dots of each group row, in row order."""
    rows = [g for g in root.iter("g") if g.find("circle[@class='seed']") is not None]
    return [g.findall("circle[@class='seed']") for g in rows]


def test_each_group_is_a_row_of_one_dot_per_seed_with_its_mean() -> None:
    root = _svg(_groups())
    assert [len(row) for row in _dots(root)] == [5, 5]
    assert len(root.findall(".//line[@class='mean']")) == 2
    text = ET.tostring(root, encoding="unicode")
    assert "mean 0.9062" in text and "mean 0.9229" in text
    # The difference: a diamond at the candidate's mean, its interval as a bar, a zero line.
    assert len(root.findall(".//path[@class='difference']")) == 1
    assert len(root.findall(".//rect[@class='ci']")) == 1
    assert "[0.00907, 0.02424] 95% CI" in text
    assert "better \u2192" in text
    # One shared scale: the diamond sits under the candidate's mean tick.
    diamond = root.find(".//path[@class='difference']").get("d")
    cand_mean = root.findall(".//line[@class='mean']")[1].get("x1")
    assert diamond.startswith(f"M{cand_mean} ")


def test_the_interval_bar_spans_the_difference_around_the_candidate_mean() -> None:
    root = _svg(_groups())
    bar = root.find(".//rect[@class='ci']")
    left, width = float(bar.get("x")), float(bar.get("width"))
    centre = float(root.findall(".//line[@class='mean']")[1].get("x1"))
    assert left < centre < left + width


def test_a_crafted_group_name_is_escaped_and_a_long_one_shortened() -> None:
    svg = seed_dots_svg(_groups(base_name=SCRIPT + "a" * 80))
    assert svg is not None
    assert SCRIPT not in svg
    assert "&lt;script&gt;x&lt;/script&gt;" in svg
    root = ET.fromstring(svg)
    label = next(t for t in root.iter("text") if t.find("title") is not None)
    assert label.find("title").text.startswith(SCRIPT)  # the full name in the tooltip
    shown = "".join(label.itertext())[len(label.find("title").text) :]
    assert shown.endswith("\u2026") and len(shown) <= 16


def test_one_seed_per_group_draws_without_an_interval() -> None:
    root = _svg(_groups([0.5], [0.7], ci=None))
    assert [len(row) for row in _dots(root)] == [1, 1]
    assert root.find(".//rect[@class='ci']") is None
    text = ET.tostring(root, encoding="unicode")
    assert "no interval" in text and "1 seed" in text and "+0.2" in text


def test_identical_values_have_a_scale_and_their_dots_stack() -> None:
    root = _svg(_groups([1.0] * 4, [1.0] * 4, ci=(0.0, 0.0)))
    rows = _dots(root)
    assert [len(row) for row in rows] == [4, 4]
    assert len({dot.get("cy") for dot in rows[0]}) == 4  # stacked, not hidden behind each other
    assert all(re.fullmatch(r"-?[\d.]+", dot.get("cx")) for row in rows for dot in row)
    assert "nan" not in ET.tostring(root, encoding="unicode")


def test_empty_groups_are_not_drawn_and_one_empty_group_says_so() -> None:
    assert seed_dots_svg(_groups([], [])) is None
    assert seed_dots_svg([]) is None
    root = _svg(_groups([], [0.1, 0.2]))
    assert [len(row) for row in _dots(root)] == [2]
    assert "no seeds" in ET.tostring(root, encoding="unicode")
    assert root.find(".//path[@class='difference']") is None  # no baseline to differ from


@pytest.mark.parametrize(
    "items",
    [
        None,
        "base",
        [{"group": "a", "values": "0.1"}],
        [{"group": "a", "values": [0.1, "x"]}],
        [{"group": "a", "values": [0.1, True]}],
        [{"group": f"g{k}", "values": [0.1]} for k in range(9)],
    ],
)
def test_items_that_are_not_seed_groups_are_not_drawn(items) -> None:
    assert seed_groups_parts(items) is None
    assert seed_dots_svg(items) is None


def test_stored_items_without_the_difference_still_draw_it_from_the_means() -> None:
    items = _groups()
    for key in ("difference", "ci", "ci_level", "higher_is_better"):
        del items[1][key]
    groups, diff = seed_groups_parts(items)
    assert diff is not None and diff.low is None
    assert diff.value == pytest.approx(sum(CAND) / 5 - sum(BASE) / 5)
    assert seed_dots_svg(items[0]) is not None  # one item alone: one row


def _compare(status: Status, items: list[dict]) -> CheckResult:
    return CheckResult(
        "exp.compare",
        status,
        "accuracy: improved: 5 seeds each",
        value=0.01675,
        interval=Interval(0.00907, 0.02424),
        n=10,
        subject="accuracy",
        evidence=[Evidence("seed_groups", items, 2, "the seeds of each group")],
        details={"verdict": "improved", "p_value": 0.0056},
    )


def test_a_passing_comparison_is_drawn_in_the_html_report() -> None:
    items = _groups(base_name=SCRIPT)
    report = Report("t", "exp.compare", "2024-01-01T00:00:00Z", [_compare(Status.PASS, items)], 0)
    context = build_context(report, charts=False)
    (section,) = context["passed_sections"]
    (view,) = section["evidence"]
    assert view["layout"] == "seed_dots" and len(view["entries"]) == 1  # both groups, one chart
    page = render_html(report, charts=False)
    assert page.count('<svg class="seed-dots"') == 1
    assert page.count('<circle class="seed"') == 10
    assert SCRIPT not in page
    assert "seed_groups (the seeds of each group), 2 in all" in page


def test_an_undrawable_seed_group_is_shown_as_data() -> None:
    items = [{"group": "a", "role": "baseline", "values": ["not a number"]}]
    report = Report("t", "exp.compare", "2024-01-01T00:00:00Z", [_compare(Status.FAIL, items)], 1)
    (view,) = build_context(report, charts=False)["sections"][0]["evidence"]
    assert view["entries"][0]["raw"].count("not a number") == 1
    assert '<svg class="seed-dots"' not in render_html(report, charts=False)


def test_the_terminal_line_of_a_group() -> None:
    assert evidence_kind("seed_groups").layout == "seed_dots"
    items = _groups()
    assert describe_item("seed_groups", items[0]) == (
        "base (baseline): 5 seeds, mean 0.9062, range 0.8974 .. 0.9122"
    )
    assert describe_item("seed_groups", items[1]) == (
        "cand (candidate): 5 seeds, mean 0.9229, range 0.9112 .. 0.9329; "
        "difference +0.01676 [0.00907, 0.02424]"
    )
    single = {"group": "solo", "role": "baseline", "values": [0.5], "reproducible": False}
    assert describe_item("seed_groups", single) == (
        "solo (baseline): 1 seed, mean 0.5; not reproducible"
    )
    assert describe_item("seed_groups", {"group": "x"}) == "group=x"  # not a group: as a row

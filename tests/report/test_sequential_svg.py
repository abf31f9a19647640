"""The "sequential_path" evidence: the looks of a group-sequential comparison as a path
between the stopping boundaries, drawn in the HTML report; one line per look in the
terminal."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.report.evidence import describe_item, evidence_kind
from dlqa.report.html import build_context, render_html
from dlqa.report.model import Report
from dlqa.report.sequential_svg import PLOT_H, TOP, sequential_parts, sequential_svg

SCRIPT = "<script>alert(1)</script>"


def _look(look: int, seeds: int, difference: float, se: float | None, efficacy_t, equivalence_t,
          decision: str = "continue", **extra) -> dict:  # fmt: skip
    """A look as the sequential comparison stores it."""
    return {
        "look": look, "seeds": seeds, "difference": difference, "se": se, "df": 2 * seeds - 2,
        "t": None if not se else difference / se, "p_value": 0.3, "efficacy_level": 1e-4,
        "efficacy_t": efficacy_t, "p_equivalence": 0.4, "equivalence_level": 0.01,
        "equivalence_t": equivalence_t, "decision": decision, "min_effect": 0.01,
        "higher_is_better": True, "planned_max": 20, **extra,
    }  # fmt: skip


# Stops for "improved" at the fourth look; no efficacy stop possible at the first (None).
IMPROVING = [
    _look(1, 2, 0.03, 0.012, None, None),
    _look(2, 3, 0.028, 0.008, 12.0, 8.0),
    _look(3, 4, 0.027, 0.006, 7.0, 4.5),
    _look(4, 5, 0.027, 0.005, 5.0, 3.5, "improved"),
]
# Settles inside the band: "no difference" at 8 seeds.
FLAT = [
    _look(k, k + 1, 0.006 - 0.0006 * k, 0.012 / (k + 1) ** 0.5, 12 / k, 6 / k, "continue")
    for k in range(1, 8)
]
FLAT[-1]["decision"] = "no_difference"


def _svg(items) -> ET.Element:
    svg = sequential_svg(items)
    assert svg is not None
    return ET.fromstring(svg)  # well-formed XML: every text escaped, no duplicate attribute


def _text(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode")


def _ys(points: str) -> list[float]:
    return [float(pair.split(",")[1]) for pair in points.split()]


def test_the_path_has_a_dot_per_look_between_the_two_boundaries() -> None:
    root = _svg(IMPROVING)
    assert len(root.findall(".//circle[@class='look']")) == 4
    upper, lower = root.findall(".//polyline[@class='boundary']")
    assert len(upper.get("points").split()) == 4  # one vertex per look with an se
    text = _text(root)
    for words in ("improved", "regressed", "stopped: improved", "seeds per arm",
                  "planned maximum", "+0.01 min effect", "\u22120.01 min effect",
                  "stopping boundary", "estimate at each look"):  # fmt: skip
        assert words in text
    assert "stopped: improved at 5 seeds each" in text
    decision = root.findall(".//circle[@class='look']")[-1]
    assert decision.get("fill") == "#1a7f37" and decision.get("r") == "5"


def test_huge_early_boundaries_are_clipped_to_the_plot() -> None:
    root = _svg(IMPROVING)
    for curve in root.findall(".//polyline[@class='boundary']"):
        ys = _ys(curve.get("points"))
        assert all(TOP <= y <= TOP + PLOT_H for y in ys)
        assert TOP in ys or TOP + PLOT_H in ys  # the first look's infinite one, at the edge
    # The last look's boundary is inside: the estimate crossed it.
    upper = _ys(root.findall(".//polyline[@class='boundary']")[0].get("points"))
    assert TOP < upper[-1] < TOP + PLOT_H


def test_the_no_difference_band_opens_where_it_is_positive() -> None:
    root = _svg(FLAT)
    bands = root.findall(".//polygon[@class='band']")
    assert len(bands) == 1
    # min_effect - equivalence_t * se > 0 from the looks where se is small enough.
    open_looks = [k for k in FLAT if k["min_effect"] - k["equivalence_t"] * k["se"] > 0]
    assert len(bands[0].get("points").split()) == 2 * len(open_looks)
    assert "no difference" in _text(root) and "stopped: no difference" in _text(root)


def test_lower_is_better_swaps_the_names_of_the_boundaries() -> None:
    items = [{**look, "higher_is_better": False} for look in IMPROVING]
    root = _svg(items)
    names = {t.text: float(t.get("y")) for t in root.iter("text") if t.get("font-weight")}
    assert names["regressed"] < names["improved"]  # the upper boundary is now "regressed"
    unknown = _svg([{**look, "higher_is_better": None} for look in IMPROVING])
    assert "candidate higher" in _text(unknown)


def test_one_look_and_looks_without_se_or_boundaries_still_draw() -> None:
    root = _svg([_look(1, 3, 0.004, 0.003, None, None)])
    assert len(root.findall(".//circle[@class='look']")) == 1
    bare = [{"seeds": 2, "difference": 0.01}, {"seeds": 4, "difference": -math.inf},
            {"seeds": 4, "difference": 0.005, "se": math.nan, "efficacy_t": math.inf}]  # fmt: skip
    root = _svg(bare)
    assert len(root.findall(".//circle[@class='look']")) == 2
    assert root.find(".//polyline[@class='boundary']") is None
    assert "nan" not in _text(root) and "inf" not in _text(root)


def test_a_hostile_decision_is_escaped() -> None:
    svg = sequential_svg([_look(1, 3, 0.004, 0.003, 9.0, 3.0, SCRIPT)])
    assert svg is not None and SCRIPT not in svg and "&lt;script&gt;" in svg


@pytest.mark.parametrize(
    "items",
    [
        None,
        "looks",
        [],
        [{"seeds": 3}],
        [{"seeds": 2, "difference": math.nan}],
        [{"seeds": -1, "difference": 0.1}],
        [{"seeds": True, "difference": 0.1}],
        [{"seeds": 2, "difference": 1e308}, {"seeds": 3, "difference": -1e308}],
    ],
)
def test_unusable_items_are_not_drawn(items) -> None:
    assert sequential_svg(items) is None


def test_looks_are_read_in_order_of_seeds() -> None:
    parts = sequential_parts(list(reversed(IMPROVING)))
    assert parts is not None and [look.seeds for look in parts.looks] == [2, 3, 4, 5]
    assert parts.min_effect == 0.01 and parts.planned_max == 20


def test_the_terminal_line_of_a_look() -> None:
    assert evidence_kind("sequential_path").layout == "sequential_path"
    look = _look(2, 4, 0.004, 0.003, 9.1, 3.1)
    assert describe_item("sequential_path", look) == (
        "look 2, 4 seeds each: difference +0.004 (se 0.003), continue"
    )
    assert describe_item("sequential_path", {"seeds": 1, "difference": -0.002}) == (
        "1 seed each: difference -0.002"
    )
    assert describe_item("sequential_path", {"look": 1}) == "look=1"  # not a look: as a row


def test_a_sequential_comparison_is_drawn_in_the_html_report() -> None:
    result = CheckResult(
        "exp.sequential",
        Status.INCONCLUSIVE,
        "undecided at 5 seeds each",
        evidence=[Evidence("sequential_path", IMPROVING, 4, "each look")],
    )
    report = Report("t", "exp.compare", "2024-01-01T00:00:00Z", [result], 1)
    (view,) = build_context(report, charts=False)["sections"][0]["evidence"]
    assert view["layout"] == "sequential_path" and len(view["entries"]) == 1
    page = render_html(report, charts=False)
    assert page.count('<svg class="sequential"') == 1
    assert page.count('<circle class="look"') == 4

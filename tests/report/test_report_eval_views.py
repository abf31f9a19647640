"""The evaluation's evidence kinds: "confusion" (a heat map), "reliability" (a reliability
diagram), "map" (a 2-D scatter plot) and "intervals" (a table of interval bars). Each draws
as our own SVG with every name escaped, describes itself in one line for the terminal and
JUnit, and falls back to its data as text when an item cannot be drawn."""

from __future__ import annotations

import math
import random
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dlqa.core.results import CheckResult, Evidence, Interval, Status
from dlqa.report.eval_svg import confusion_parts, confusion_svg, shown_classes
from dlqa.report.evidence import EVIDENCE_KINDS, describe_item, evidence_lines
from dlqa.report.html import build_context, render_html, write_html
from dlqa.report.intervals import interval_bar, interval_bar_svg
from dlqa.report.junit import write_junit
from dlqa.report.model import Report
from dlqa.report.reliability_svg import reliability_parts, reliability_svg
from dlqa.report.scatter_svg import MAX_POINTS, map_parts, map_svg

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
HOSTILE = (SCRIPT, IMG)


def _confusion(n: int, names: list[str] | None = None, seed: int = 0) -> dict:
    rng = random.Random(seed)
    matrix = [[0] * n for _ in range(n)]
    for t in range(n):
        for _ in range(50):
            p = t if rng.random() < 0.8 else rng.randrange(n)
            matrix[t][p] += 1
    return {"classes": names or [f"class_{k}" for k in range(n)], "matrix": matrix}


CONFUSION = {"classes": ["cat", "dog", SCRIPT], "matrix": [[50, 8, 2], [23, 40, 0], [1, 0, 30]]}
RELIABILITY = {
    "bins": [
        {"confidence": c, "accuracy": a, "count": 120, "low": c - 0.05, "high": c + 0.05}
        for c, a in ((0.55, 0.5), (0.65, 0.6), (0.75, 0.72), (0.85, 0.8), (0.95, 0.93))
    ],
    "ece": 0.04,
    "brier": 0.21,
}


def _map(n: int = 30, classes: list[str] | None = None, ids: list[str] | None = None) -> dict:
    classes = classes or ["cat", "dog", IMG]
    rng = random.Random(1)
    points = []
    for k in range(n):
        true = k % len(classes)
        predicted = true if k % 10 else (true + 1) % len(classes)
        points.append([rng.gauss(true, 0.5), rng.gauss(-true, 0.5), true, predicted])
    ids = ids or [f"id{k}" for k in range(n)]
    return {"method": "pca", "classes": classes, "points": points, "ids": ids}


INTERVALS = [
    {"name": "recall[cat]", "value": 0.91, "low": 0.88, "high": 0.94, "threshold": 0.9,
     "n": 300, "status": "inconclusive"},
    {"name": "recall[dog]", "value": 0.97, "low": 0.95, "high": 0.99, "threshold": 0.9,
     "n": 280, "status": "pass"},
    {"name": f"recall[{SCRIPT}]", "value": 0.7, "low": 0.6, "high": 0.8, "threshold": 0.9,
     "n": 50, "status": "fail"},
    {"name": "macro_f1", "value": 0.9, "low": 0.88, "high": 0.92, "threshold": None, "n": 630},
]  # fmt: skip


def _parse(svg: str) -> ET.Element:
    """Well-formed XML (not just HTML-ish text), with no script, link or handler anywhere."""
    root = ET.fromstring(svg)
    for element in root.iter():
        tag = element.tag.split("}")[-1]
        assert tag not in ("script", "foreignObject", "image", "a", "use"), tag
        for name in element.attrib:
            assert not name.lower().startswith("on"), name
            assert "href" not in name.lower(), name
    assert "http" not in svg and " id=" not in svg and "url(" not in svg
    return root


def _texts(root: ET.Element) -> str:
    return "\n".join("".join(element.itertext()) for element in root.iter())


def _report(*results: CheckResult) -> Report:
    return Report("Eval QA", "check", "2024-01-01T00:00:00Z", list(results), 1)


def _result(kind: str, items: list, status: Status = Status.FAIL) -> CheckResult:
    return CheckResult(f"eval.{kind}", status, f"{kind} evidence", evidence=[
        Evidence(kind, items, len(items))
    ])  # fmt: skip


def _entries(kind: str, items: list) -> list[dict]:
    context = build_context(_report(_result(kind, items)), charts=False)
    view = context["sections"][0]["evidence"][0]
    return view["entries"] if "entries" in view else view["rows"]


# -- the table of kinds and the one-line describers ---------------------------------------


def test_the_four_kinds_are_registered_with_their_layouts() -> None:
    for kind in ("confusion", "reliability", "map", "intervals"):
        assert EVIDENCE_KINDS[kind].layout == kind


def _ten_classes() -> dict:
    matrix = [[100 * (t == p) for p in range(10)] for t in range(10)]
    matrix[7][1], matrix[3][5] = 23, 4
    return {"classes": [str(k) for k in range(10)], "matrix": matrix}


_EQUAL_MASS = [{"confidence": 0.5 + k / 40, "accuracy": 0.5, "count": 120} for k in range(15)]
_UNEVEN = [{**b, "count": 10 * i + 5} for i, b in enumerate(RELIABILITY["bins"])]
_POINTS = [[float(k), float(k), k % 3, (k + (k % 7 == 0)) % 3] for k in range(5000)]
_ECE = {"name": "ece", "value": 0.06, "low": 0.04, "high": 0.08, "threshold": 0.05,
        "direction": "max", "n": 1800}  # fmt: skip


_MOST = "errors; most confused:"


@pytest.mark.parametrize(
    ("kind", "item", "line"),
    [
        ("confusion", _ten_classes(), f"confusion matrix 10x10, 27 {_MOST} 7\u21921 (23)"),
        ("confusion", CONFUSION, f"confusion matrix 3x3, 34 {_MOST} dog\u2192cat (23)"),
        ("confusion", {"classes": ["a", "b"], "matrix": [[3, 0], [0, 4]]},
         "confusion matrix 2x2, 0 errors"),
        ("reliability", {"bins": _EQUAL_MASS, "ece": 0.04, "brier": 0.21},
         "ECE 0.04 over 15 equal-mass bins, Brier 0.21"),
        ("reliability", {**RELIABILITY, "bins": _UNEVEN},
         "ECE 0.04 over 5 equal-width bins, Brier 0.21"),
        ("map", {"method": "pca", "classes": ["a", "b", "c"], "points": _POINTS},
         "2-D map (pca) of 5000 points, 715 misclassified"),
        ("intervals", INTERVALS[0], "recall[cat] 0.91 [0.88, 0.94] n=300 (min 0.9) inconclusive"),
        ("intervals", INTERVALS[1], "recall[dog] 0.97 [0.95, 0.99] n=280 (min 0.9)"),  # a pass
        ("intervals", INTERVALS[3], "macro_f1 0.9 [0.88, 0.92] n=630"),
        ("intervals", _ECE, "ece 0.06 [0.04, 0.08] n=1800 (max 0.05)"),
    ],
)  # fmt: skip
def test_the_describers_say_one_line_each(kind: str, item, line: str) -> None:
    assert describe_item(kind, item) == line


@pytest.mark.parametrize(
    ("kind", "item"),
    [
        ("confusion", {"classes": ["a"], "matrix": [[1, 2]]}),
        ("confusion", "junk"),
        ("reliability", {"bins": "none"}),
        ("map", {"classes": ["a"], "points": [[0, 0, 5, 0]]}),
        ("intervals", [1, 2, 3]),
    ],
)
def test_a_describer_never_fails_on_a_bad_item(kind: str, item) -> None:
    line = describe_item(kind, item)
    assert isinstance(line, str) and len(line) <= 120


def test_terminal_and_junit_lines_use_the_describers(tmp_path: Path) -> None:
    result = _result("confusion", [CONFUSION])
    assert evidence_lines(result, 5)[1] == (
        "  - confusion matrix 3x3, 34 errors; most confused: dog\u2192cat (23)"
    )
    report = _report(
        result,
        _result("reliability", [RELIABILITY]),
        _result("map", [_map()]),
        _result("intervals", INTERVALS),
    )
    junit = write_junit(report, tmp_path / "junit.xml").read_text(encoding="utf-8")
    assert "confusion matrix 3x3, 34 errors" in junit
    assert "ECE 0.04 over 5 equal-mass bins, Brier 0.21" in junit
    assert "2-D map (pca) of 30 points, 3 misclassified" in junit
    assert "recall[cat] 0.91 [0.88, 0.94] n=300 (min 0.9)" in junit
    assert SCRIPT not in junit


# -- the confusion matrix -----------------------------------------------------------------


def test_the_heat_map_has_a_cell_per_pair_counts_and_a_legend() -> None:
    svg = confusion_svg(CONFUSION)
    root = _parse(svg)
    assert svg.startswith('<svg class="confusion"')
    cells = [r for r in root.iter("rect") if r.get("width") == r.get("height")]
    assert len(cells) >= 9
    text = _texts(root)
    assert "rows: true class, columns: predicted" in text
    assert "recall 83.3% of 60 cat" in text  # the diagonal's tooltip: 50 of 60
    assert "true dog, predicted cat: 23 (36.5% of 63 dog)" in text
    # Counts are written in the cells, zeros off the diagonal left blank.
    counts = {el.text for el in root.iter("text") if el.get("pointer-events") == "none"}
    assert {"50", "8", "2", "23", "40", "1", "30"} <= counts and "0" not in counts


def test_the_diagonal_and_the_errors_are_coloured_by_their_share_of_the_row() -> None:
    root = _parse(confusion_svg(CONFUSION))
    fills = {}
    for rect in root.iter("rect"):
        title = rect.find("title")
        if title is not None:
            fills[title.text.split(":")[0]] = rect.get("fill")
    # 23/63 of dog predicted cat is a deeper red than 8/60 of cat predicted dog.
    deep, pale = fills["true dog, predicted cat"], fills["true cat, predicted dog"]
    assert int(deep[3:5], 16) < int(pale[3:5], 16)  # less green: redder
    # A recall of 30/31 is a deeper blue than one of 40/63.
    assert int(fills[f"true {SCRIPT}, predicted {SCRIPT}"][1:3], 16) < int(
        fills["true dog, predicted dog"][1:3], 16
    )


def test_a_hundred_classes_show_the_thirty_in_the_most_errors() -> None:
    item = _confusion(100)
    # Make classes 5 and 77 the most confused pair by far.
    item["matrix"][5][77] += 500
    parts = confusion_parts(item)
    shown = shown_classes(parts)
    assert len(shown) == 30 and 5 in shown and 77 in shown and shown == sorted(shown)
    svg = confusion_svg(item)
    root = _parse(svg)
    text = _texts(root)
    assert "30 of 100 classes shown, those in the most errors; 70 left out" in text
    assert "class_77" in text and len(svg) < 200_000
    # Too many classes to write counts: the cells' tooltips carry them.
    assert not [el for el in root.iter("text") if el.get("pointer-events") == "none"]
    assert describe_item("confusion", item).endswith("most confused: class_5\u2192class_77 (500)")


def test_class_names_are_escaped_and_shortened() -> None:
    item = {"classes": [SCRIPT, IMG, "x" * 200], "matrix": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]}
    svg = confusion_svg(item)
    _parse(svg)
    for hostile in HOSTILE:
        assert hostile not in svg
    assert "&lt;script&gt;" in svg and "&quot;&gt;&lt;img" in svg
    assert "x" * 15 + "\u2026<" in svg  # shortened where it is printed
    assert "x" * 100 in svg  # and whole (up to 120) in its tooltip


# -- the reliability diagram --------------------------------------------------------------


def test_the_reliability_diagram_draws_each_bin_and_its_gap() -> None:
    svg = reliability_svg(RELIABILITY)
    root = _parse(svg)
    assert svg.startswith('<svg class="reliability"')
    circles = [c for c in root.iter("circle") if c.get("fill") == "#0072b2"]
    assert len(circles) == 5 + 1  # the bins and the legend's dot
    text = _texts(root)
    assert "ECE 0.04, Brier 0.21, 5 bins, 600 samples" in text
    assert "perfect calibration" in text
    # Each bin's numbers are its tooltip; the gap runs from the diagonal to the dot.
    assert "confidence 0.55 (bin 0.5\u20130.6), accuracy 0.5, 120 samples" in text
    group = next(g for g in root.iter("g") if "confidence 0.55" in g.find("title").text)
    line, dot = group.find("line"), group.find("circle")
    assert line.get("x1") == line.get("x2") == dot.get("cx")
    assert float(line.get("y1")) < float(line.get("y2")) == float(dot.get("cy"))  # below it


def test_empty_bins_are_left_out_and_bad_bins_refuse_the_drawing() -> None:
    empty = {"confidence": None, "accuracy": None, "count": 0}
    parts = reliability_parts({**RELIABILITY, "bins": [empty, *RELIABILITY["bins"]]})
    assert parts is not None and len(parts.bins) == 5
    for bad in (
        {**RELIABILITY["bins"][0], "accuracy": float("nan")},
        {**RELIABILITY["bins"][0], "confidence": 1.7},
        {**RELIABILITY["bins"][0], "count": -3},
        "bin",
    ):
        assert reliability_svg({**RELIABILITY, "bins": [bad]}) is None


# -- the 2-D map --------------------------------------------------------------------------


def test_the_map_colours_by_class_and_crosses_out_the_mistakes() -> None:
    svg = map_svg(_map())
    root = _parse(svg)
    assert svg.startswith('<svg class="map"')
    crosses = next(g for g in root.iter("g") if g.get("class") == "crosses")
    assert len(crosses.findall("path")) == 3  # every tenth point
    assert crosses.find("path/title").text == "id0: cat, predicted dog"
    dot_groups = [g for g in root.iter("g") if g.get("class") == "dots"]
    assert len({g.get("stroke") for g in dot_groups}) == 3  # one colour per class
    assert sum(len(g.findall("path")) for g in dot_groups) == 30
    assert "id1: dog" in _texts(root)
    # Coordinates have one decimal at most.
    assert all(re.fullmatch(r"M-?\d+\.\d -?\d+\.\dh0", p.get("d")) for g in dot_groups
               for p in g.findall("path"))  # fmt: skip
    assert IMG not in svg and "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in svg


def test_the_legend_stops_at_twenty_classes() -> None:
    classes = [f"class {k}" for k in range(30)]
    root = _parse(map_svg(_map(300, classes=classes)))
    text = _texts(root)
    assert "class 19" in text and "class 20 " not in text
    assert "+10 more classes" in text and "colours repeat every 12" in text


def test_five_thousand_points_stay_small_and_keep_their_tooltips() -> None:
    ids = [f"val/images/img_{k:05d}.jpg" for k in range(5000)]
    item = _map(5000, classes=[f"c{k}" for k in range(12)], ids=ids)
    svg = map_svg(item)
    assert len(svg.encode()) < 400_000
    root = _parse(svg)
    assert len(root.findall(".//title")) == 5000 + 1  # every point, and the chart's own
    # A longer id is cut from the front (its file name stays), within the budget.
    long_ids = ["some/very/deep/folder/of/the/evaluation/set/" + i for i in ids]
    svg = map_svg({**item, "ids": long_ids})
    assert len(svg.encode()) < 400_000 and "img_00007.jpg: c7" in svg


def test_more_than_five_thousand_points_draw_every_mistake_first() -> None:
    item = _map(8000, classes=["a", "b", "c"])
    parts = map_parts(item)
    svg = map_svg(item)
    root = _parse(svg)
    crosses = next(g for g in root.iter("g") if g.get("class") == "crosses")
    assert len(crosses.findall("path")) == parts.misclassified == 800
    dots = sum(len(g.findall("path")) for g in root.iter("g") if g.get("class") == "dots")
    assert dots == MAX_POINTS
    assert "8000 points, 800 misclassified" in svg and "5000 drawn" in svg


def test_numpy_items_draw_like_their_json() -> None:
    np = pytest.importorskip("numpy")
    item = {**CONFUSION, "matrix": np.array(CONFUSION["matrix"], dtype=np.int64)}
    assert confusion_svg(item) == confusion_svg(CONFUSION)
    points = np.array(_map()["points"])
    assert map_svg({**_map(), "points": points}) == map_svg(_map())


# -- fallbacks ----------------------------------------------------------------------------

_AB = ["a", "b"]
_NAN = float("nan")
BAD_ITEMS = {
    "confusion": [
        {"classes": _AB, "matrix": [[1, 2]]}, {"classes": _AB, "matrix": [[1, 2], [3, _NAN]]},
        {"classes": _AB, "matrix": [[1, -2], [3, 4]]},
        {"classes": _AB, "matrix": [[1, "2"], [3, 4]]},
        {"classes": [SCRIPT], "matrix": None}, {"matrix": [[1]]}, [[1, 2], [3, 4]], None,
    ],
    "reliability": [
        {"bins": []}, {"bins": [{"confidence": 0.5, "count": 3}]},  # no accuracy
        {"bins": [{"confidence": float("inf"), "accuracy": 0.5, "count": 3}]}, {"ece": 0.1}, SCRIPT,
    ],
    "map": [
        {"classes": [IMG], "points": [[0.0, 0.0, 3, 0]]},  # a label out of range
        {"classes": ["a"], "points": [[_NAN, 0.0, 0, 0]]},
        {"classes": ["a"], "points": [[0.0, 0.0]]},
        {"classes": ["a"], "points": [[0.0, 0.0, 0, 0]], "ids": ["x", IMG]},  # 2 ids, 1 point
        {"classes": ["a"], "points": []}, {"classes": "a", "points": [[0.0, 0.0, 0, 0]]},
        {"points": [[0.0, 0.0, 0, 0]]}, IMG,
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "item"), [(kind, item) for kind, items in BAD_ITEMS.items() for item in items]
)
def test_an_item_that_cannot_be_drawn_is_shown_as_data(kind: str, item) -> None:
    entry = _entries(kind, [item])[0]
    assert "raw" in entry and "svg" not in entry
    html = render_html(_report(_result(kind, [item])), charts=False)
    for hostile in HOSTILE:
        assert hostile not in html
    assert f'<svg class="{kind}"' not in html


def test_a_huge_undrawable_item_is_cut_in_the_page() -> None:
    item = {"classes": ["a"], "points": [[k, k, 0, 0] for k in range(20_000)] + [[0, 0]]}
    entry = _entries("map", [item])[0]
    assert len(entry["raw"]) < 21_000 and entry["raw"].endswith("more characters)")


def test_bad_interval_rows_are_shown_as_text() -> None:
    rows = _entries("intervals", [*INTERVALS, "junk", {"name": "x", "low": "a", "high": None},
                                  {"name": "nan", "value": float("nan"), "low": 0.1,
                                   "high": float("nan"), "status": ["odd"]}])  # fmt: skip
    assert rows[4] == {"raw": '"junk"'}
    assert rows[5]["bar"] is None and rows[5]["name"] == "x"
    assert rows[6]["bar"] is None and rows[6]["status_class"] == ""


# -- the interval table and the shared bar ----------------------------------------------------


def test_interval_bar_draws_from_plain_numbers() -> None:
    bar = interval_bar(0.88, 0.94, 0.91, 0.9)
    root = _parse(bar)
    assert root.find("title").text == "[0.88, 0.94], value 0.91, threshold 0.9"
    assert 'class="threshold"' in bar and 'class="value"' in bar
    without = interval_bar(0.88, 0.94)
    assert 'class="threshold"' not in without and 'class="value"' not in without
    assert interval_bar(0.9, 0.8) is None and interval_bar(0.1, math.nan) is None
    assert interval_bar(0.1, 0.2, colour='red" onload="x') is not None
    assert "onload" not in interval_bar(0.1, 0.2, colour='red" onload="x')
    # The result's bar is the same drawing.
    result = CheckResult("e", Status.PASS, "s", 0.91, 0.9, interval=Interval(0.88, 0.94))
    assert interval_bar_svg(result).count("<rect") == bar.count("<rect")


def test_rows_of_one_metric_share_a_scale() -> None:
    rows = _entries("intervals", INTERVALS)
    thresholds = {
        ET.fromstring(str(row["bar"])).find("line[@class='threshold']").get("x1")
        for row in rows[:3]
    }
    assert len(thresholds) == 1  # recall[cat], recall[dog], recall[...] on one axis
    assert rows[0]["interval"] == "[0.88, 0.94]" and rows[0]["threshold"] == "min 0.9"
    assert rows[3]["threshold"] == "" and "threshold" not in str(rows[3]["bar"])
    assert [row["status_class"] for row in rows] == ["inconclusive", "pass", "fail", ""]


# -- the whole page ---------------------------------------------------------------------------


def eval_report() -> Report:
    return _report(
        _result("confusion", [_confusion(10, ["cat", "dog", *HOSTILE, *"abcdef"])]),
        _result("reliability", [RELIABILITY], Status.WARN),
        _result("map", [_map(500, classes=["cat", "dog", *HOSTILE])], Status.WARN),
        CheckResult("eval.recall", Status.INCONCLUSIVE, "per-class recall", value=0.91,
                    threshold=0.9, interval=Interval(0.88, 0.94),
                    evidence=[Evidence("intervals", INTERVALS, 4, "per class")]),
    )  # fmt: skip


def test_a_report_with_every_new_kind_renders_safely(tmp_path: Path) -> None:
    html = write_html(eval_report(), tmp_path / "report.html").read_text(encoding="utf-8")
    for kind in ("confusion", "reliability", "map"):
        assert html.count(f'<svg class="{kind}"') == 1
        assert f'<div class="charts {kind}">' in html
    assert '<table class="evidence-table intervals">' in html
    assert html.count('<svg class="interval-bar"') == 4 + 2  # the rows, the result's twice
    assert "intervals (per class), 4 in all" in html
    for hostile in HOSTILE:
        assert hostile not in html
    # The only script is the page's own toggle; nothing points outside the file.
    assert html.count("<script") == 1 and "<img" not in html
    assert "http://" not in html and "https://" not in html
    # Every SVG on the page is well-formed.
    for svg in re.findall(r"<svg .*?</svg>", html, flags=re.S):
        _parse(svg)

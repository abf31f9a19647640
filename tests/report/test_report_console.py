from __future__ import annotations

from io import StringIO

from rich.console import Console

from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.report.console import describe_item, print_summary
from dlqa.report.model import Report


def _render(report: Report, **kwargs) -> str:
    console = Console(file=StringIO(), width=120)
    print_summary(report, console, **kwargs)
    return console.file.getvalue()


def test_summary_names_failing_checks_and_their_evidence(full_report: Report) -> None:
    text = _render(full_report)
    for check_id in ("data.dark", "data.label_conflicts", "data.sharpness", "data.class_balance"):
        assert check_id in text
    assert "3 gates failed: data.dark, data.label_conflicts, data.sharpness" in text
    assert "6 checks: 1 pass, 1 warn, 2 fail, 1 error, 1 skip" in text
    # Top evidence of the failing check, worst first, and how many were left out.
    assert "corrupt.jpg" in text and "dark_00.jpg" in text and "dark_03.jpg" in text
    assert "dark_04.jpg" not in text  # max_items=5: corrupt.jpg + dark_00..03
    assert "showing 5 of 340" in text
    assert "dark_00.jpg <-> dark_01.jpg (distance 2)" in text
    assert 'raised at File "probe.py", line 7, in sharpness' in text


def test_summary_in_a_pipe_is_plain(full_report: Report) -> None:
    text = _render(full_report)
    assert "\x1b[" not in text  # no colour codes
    assert not set("─│┃━┏┗") & set(text)  # no box drawing
    assert "FAIL" in text and "PASS" in text


def test_summary_in_a_terminal_is_coloured(full_report: Report) -> None:
    console = Console(file=StringIO(), width=120, force_terminal=True, color_system="standard")
    print_summary(full_report, console)
    assert "\x1b[" in console.file.getvalue()


def test_max_items_limits_the_evidence_lines(full_report: Report) -> None:
    text = _render(full_report, max_items=1)
    assert "corrupt.jpg" in text
    assert "dark_00.jpg (" not in text
    assert "showing 1 of 340" in text


def test_all_passed_verdict_and_markup_is_not_interpreted() -> None:
    report = Report(
        "[bold]t[/bold]",
        "check",
        "2024-01-01T00:00:00Z",
        [CheckResult("data.ok", Status.PASS, "value [red]fine[/red]", 0.5, 1.0)],
        0,
    )
    text = _render(report)
    assert "all gates passed" in text
    assert "[red]fine[/red]" in text  # shown literally, not eaten as rich markup
    assert "1 check: 1 pass, 0 warn, 0 fail, 0 error, 0 skip" in text


def test_describe_item_handles_every_shape() -> None:
    assert describe_item("samples", {"id": "a.jpg", "label": "cat", "value": 0.123456}) == (
        "a.jpg (cat, 0.1235)"
    )
    assert describe_item("samples", "b.jpg") == "b.jpg"
    assert describe_item("pairs", ["a", "b"]) == "{a, b} (2 items)"
    group = describe_item("groups", {"ids": list("abcdef"), "labels": list("xxxxxx")})
    assert group == "{a, b, c, d, +2 more} (6 items)"
    assert describe_item("table", {"label": "cat", "share": 0.5}) == "label=cat, share=0.5"
    assert describe_item("parameters", {"name": "fc.weight"}) == '{"name": "fc.weight"}'
    assert len(describe_item("samples", {"id": "x" * 500})) == 120


def test_evidence_kind_unknown_to_the_views_is_still_listed() -> None:
    result = CheckResult(
        "train.dead_units",
        Status.WARN,
        "2 dead units",
        evidence=[Evidence("parameters", [{"name": "fc1.weight", "units": [3, 7]}], 1)],
    )
    text = _render(Report("t", "check", "2024-01-01T00:00:00Z", [result], 0))
    assert '{"name": "fc1.weight", "units": [3, 7]}' in text

from __future__ import annotations

import dataclasses
import re
from io import StringIO

from rich.console import Console

from dlqa.core.results import CheckResult, Evidence, Interval, Status
from dlqa.report.console import print_summary
from dlqa.report.model import Report


def _render(report: Report, **kwargs) -> str:
    console = Console(file=StringIO(), width=160)
    print_summary(report, console, **kwargs)
    return console.file.getvalue()


def _line_with(text: str, needle: str, following: int = 0) -> str:
    """The line that contains ``needle``, joined with the ``following`` lines after it."""
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if needle in line)
    return "\n".join(lines[index : index + following + 1])


def test_summary_names_failing_checks_and_their_evidence(full_report: Report) -> None:
    text = _render(full_report)
    for check_id in ("data.dark", "data.label_conflicts", "data.sharpness", "data.class_balance"):
        assert check_id in text
    assert (
        "4 gates failed: data.dark, data.label_conflicts, data.sharpness, eval.accuracy[val]"
    ) in text
    assert "9 results: 2 pass, 1 warn, 2 fail, 1 error, 1 skip, 2 inconclusive" in text
    # Top evidence of the failing check, worst first, and how many were left out.
    assert "corrupt.jpg" in text and "dark_00.jpg" in text and "dark_03.jpg" in text
    assert "dark_04.jpg" not in text  # max_items=5: corrupt.jpg + dark_00..03
    assert "showing 5 of 340" in text
    assert "dark_00.jpg <-> dark_01.jpg (distance 2)" in text
    assert 'raised at File "probe.py", line 7, in sharpness' in text


def test_rows_show_subject_value_interval_and_n(full_report: Report) -> None:
    text = _render(full_report)
    row = _line_with(text, "eval.accuracy[val]", following=1)
    assert "0.912 [0.87, 0.94] 95% CI, n=400" in row
    assert "INCONCLUSIVE" in row and "not blocking" not in row.lower()
    assert "0.95 [0.93, 0.97] 95% CI, n=1000" in _line_with(text, "eval.accuracy[test]")
    calibration = _line_with(text, "eval.calibration[ood]", following=1)
    assert "0.08 [0.03, 0.12] 90% CI, n=50" in calibration
    assert re.search(r"ood\]\s+INCONCLUSIVE .*\n\s+\(NOT BLOCKING\)", calibration)


def test_inconclusive_results_say_why_and_whether_they_block(full_report: Report) -> None:
    text = _render(full_report)
    assert (
        "inconclusive: the [0.87, 0.94] 95% CI of 0.912 straddles the threshold 0.9 (n=400); "
        "fails the gate"
    ) in text
    assert 'not blocking: the gate says on_inconclusive = "warn"' in text


def test_allow_inconclusive_makes_every_inconclusive_non_blocking(full_report: Report) -> None:
    full_report.allow_inconclusive = True
    text = _render(full_report)
    assert "(NOT BLOCKING)" in _line_with(text, "eval.accuracy[val]", following=1)
    assert "not blocking: run with --allow-inconclusive" in text
    assert "3 gates failed: data.dark, data.label_conflicts, data.sharpness" in text


def test_only_inconclusive_left_is_never_called_a_plain_pass() -> None:
    result = CheckResult(
        "eval.f1",
        Status.INCONCLUSIVE,
        "f1 undecided",
        0.7,
        0.7,
        interval=Interval(0.6, 0.8),
        details={"on_inconclusive": "warn"},
    )
    text = _render(Report("t", "check", "2024-01-01T00:00:00Z", [result], 0))
    assert "all gates passed; 1 inconclusive, not blocking" in text


def test_inconclusive_is_amber_not_green_in_a_terminal(full_report: Report) -> None:
    console = Console(file=StringIO(), width=160, force_terminal=True, color_system="truecolor")
    print_summary(full_report, console)
    text = console.file.getvalue()
    green = "\x1b[32m"
    amber = "38;5;208"  # rich's dark_orange (colour 208 of the 256)
    blocking = _line_with(text, "eval.accuracy[val]")
    assert amber in blocking and green not in blocking
    relaxed = _line_with(text, "eval.calibration[ood]")
    assert amber in relaxed and green not in relaxed
    assert green in _line_with(text, "data.class_balance")  # the pass next to it is green


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
        [CheckResult("data.ok", Status.PASS, "value [red]fine[/red]", 0.5, 1.0, subject="[b]x")],
        0,
    )
    text = _render(report)
    assert "all gates passed" in text
    assert "[red]fine[/red]" in text  # shown literally, not eaten as rich markup
    assert "data.ok[[b]x]" in text
    assert "1 result: 1 pass, 0 warn, 0 fail, 0 error, 0 skip, 0 inconclusive" in text


def test_incomplete_run_says_so_first_and_last(full_report: Report) -> None:
    report = dataclasses.replace(
        full_report, status="interrupted", results=full_report.results[4:5]
    )
    lines = [line for line in _render(report).splitlines() if line.strip()]
    expected = "incomplete: the run was interrupted; 1 result stored before that"
    assert lines[0] == expected and lines[-1] == expected
    # A partial run that passed so far must not read as a clean pass.
    assert "all gates passed" not in "\n".join(lines)
    assert "no gate failed in the results stored" in "\n".join(lines)


def test_failed_and_running_runs_are_incomplete_too(full_report: Report) -> None:
    failed = _render(dataclasses.replace(full_report, status="failed"))
    assert "incomplete: the run failed; 9 results stored before that" in failed
    running = _render(dataclasses.replace(full_report, status="running"))
    assert "incomplete: the run is still running; 9 results stored so far" in running
    assert "incomplete" not in _render(full_report)


def test_evidence_kind_unknown_to_the_views_is_still_listed() -> None:
    result = CheckResult(
        "train.dead_units",
        Status.WARN,
        "2 dead units",
        evidence=[Evidence("activations", [{"layer": "fc1", "units": [3, 7]}], 1)],
    )
    text = _render(Report("t", "check", "2024-01-01T00:00:00Z", [result], 0))
    assert re.search(r"activations, 1 in all:\s+- layer=fc1, units=\[3, 7\]", text)

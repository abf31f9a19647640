from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

from dlqa.core.results import CheckResult, Interval, Status
from dlqa.report.junit import write_junit
from dlqa.report.model import Report


def _parse(report: Report, tmp_path: Path) -> ET.Element:
    path = write_junit(report, tmp_path / "junit" / "dlqa.xml")
    assert path.read_text(encoding="utf-8").startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.parse(path).getroot()


def test_suite_counts_match_the_results(full_report: Report, tmp_path: Path) -> None:
    root = _parse(full_report, tmp_path)
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    assert suite.get("name") == "dlqa.data.profile"
    assert suite.get("tests") == "9"
    assert suite.get("failures") == "3"  # 2 fail + the inconclusive result that blocks
    assert suite.get("errors") == "1"
    assert suite.get("skipped") == "1"
    assert root.get("tests") == "9" and root.get("failures") == "3"


def test_one_testcase_per_result_with_the_right_child(full_report: Report, tmp_path: Path) -> None:
    cases = {case.get("name"): case for case in _parse(full_report, tmp_path).iter("testcase")}
    assert list(cases) == [r.key for r in full_report.results]
    assert {case.get("classname") for case in cases.values()} == {"data", "eval"}

    def children(check_id: str) -> list[str]:
        return [child.tag for child in cases[check_id]]

    assert children("data.dark") == ["failure"]
    assert children("data.label_conflicts") == ["failure"]
    assert children("data.sharpness") == ["error"]
    assert children("data.audio_rate") == ["skipped"]
    assert children("data.near_duplicates") == ["system-out"]  # a warning passes
    assert children("data.class_balance") == []
    assert children("eval.accuracy[val]") == ["failure"]  # inconclusive and blocking
    assert children("eval.accuracy[test]") == []
    assert children("eval.calibration[ood]") == ["system-out"]  # inconclusive, not blocking


def test_failure_and_error_carry_summary_evidence_and_traceback(
    full_report: Report, tmp_path: Path
) -> None:
    cases = {case.get("name"): case for case in _parse(full_report, tmp_path).iter("testcase")}
    failure = cases["data.dark"].find("failure")
    assert failure.get("message") == "340 images are too dark"
    assert "corrupt.jpg" in failure.text and "dark_00.jpg" in failure.text
    assert "showing 20 of 340" in failure.text
    error = cases["data.sharpness"].find("error")
    assert 'File "probe.py", line 7' in error.text
    assert "2 near-duplicate pairs" in cases["data.near_duplicates"].find("system-out").text


def test_control_characters_do_not_break_the_xml(tmp_path: Path) -> None:
    report = Report(
        title="t",
        kind="check",
        created_at="2024-01-01T00:00:00Z",
        results=[CheckResult("data.odd", Status.FAIL, "bad byte \x00\x07 in name")],
        exit_code=1,
    )
    failure = _parse(report, tmp_path).find("testsuite/testcase/failure")
    assert failure.get("message").startswith("bad byte")
    assert "\x00" not in failure.get("message")


def test_empty_report_is_a_valid_suite(tmp_path: Path) -> None:
    report = Report("t", "check", "2024-01-01T00:00:00Z", [], 0)
    suite = _parse(report, tmp_path).find("testsuite")
    assert suite.get("tests") == "0"
    assert suite.findall("testcase") == []


def _cases(report: Report, tmp_path: Path) -> dict[str, ET.Element]:
    return {case.get("name"): case for case in _parse(report, tmp_path).iter("testcase")}


def test_blocking_inconclusive_is_a_failure_that_says_why(
    full_report: Report, tmp_path: Path
) -> None:
    failure = _cases(full_report, tmp_path)["eval.accuracy[val]"].find("failure")
    assert failure.get("type") == "dlqa.inconclusive"
    assert failure.get("message") == (
        "inconclusive: the [0.87, 0.94] 95% CI of 0.912 straddles the threshold 0.9 (n=400); "
        "accuracy 0.912 on 400 samples; about 1200 would decide"
    )
    assert "value: 0.912 [0.87, 0.94] 95% CI, n=400  threshold: 0.9" in failure.text


def test_non_blocking_inconclusive_passes_and_says_so(full_report: Report, tmp_path: Path) -> None:
    case = _cases(full_report, tmp_path)["eval.calibration[ood]"]
    out = case.find("system-out").text
    assert out.startswith("INCONCLUSIVE (not blocking): ECE 0.08 on 50 samples")
    assert 'not blocking: the gate says on_inconclusive = "warn"' in out
    assert "0.08 [0.03, 0.12] 90% CI, n=50" in out


def test_allow_inconclusive_turns_the_blocking_failure_into_a_pass(
    full_report: Report, tmp_path: Path
) -> None:
    full_report.allow_inconclusive = True
    root = _parse(full_report, tmp_path)
    suite = root.find("testsuite")
    assert suite.get("failures") == "2"
    case = next(c for c in suite.iter("testcase") if c.get("name") == "eval.accuracy[val]")
    assert [child.tag for child in case] == ["system-out"]
    assert "not blocking: run with --allow-inconclusive" in case.find("system-out").text
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["dlqa.allow_inconclusive"] == "true"


def test_interval_and_n_are_in_the_text_of_a_failure(tmp_path: Path) -> None:
    result = CheckResult(
        "eval.accuracy",
        Status.FAIL,
        "accuracy below 0.9",
        0.8,
        0.9,
        subject="test",
        n=500,
        interval=Interval(0.76, 0.84),
    )
    report = Report("t", "check", "2024-01-01T00:00:00Z", [result], 1)
    failure = _cases(report, tmp_path)["eval.accuracy[test]"].find("failure")
    assert "value: 0.8 [0.76, 0.84] 95% CI, n=500  threshold: 0.9" in failure.text


def test_incomplete_run_has_a_property_and_a_suite_note(
    full_report: Report, tmp_path: Path
) -> None:
    suite = _parse(full_report, tmp_path).find("testsuite")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["dlqa.run_status"] == "finished"
    assert suite.find("system-out") is None

    partial = dataclasses.replace(full_report, status="failed", results=full_report.results[:2])
    suite = _parse(partial, tmp_path).find("testsuite")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["dlqa.run_status"] == "failed"
    assert suite.find("system-out").text == (
        "incomplete: the run failed; 2 results stored before that"
    )

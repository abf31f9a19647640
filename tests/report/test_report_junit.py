from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from dlqa.core.results import CheckResult, Status
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
    assert suite.get("tests") == "6"
    assert suite.get("failures") == "2"
    assert suite.get("errors") == "1"
    assert suite.get("skipped") == "1"
    assert root.get("tests") == "6" and root.get("failures") == "2"


def test_one_testcase_per_result_with_the_right_child(full_report: Report, tmp_path: Path) -> None:
    cases = {case.get("name"): case for case in _parse(full_report, tmp_path).iter("testcase")}
    assert list(cases) == [r.check_id for r in full_report.results]
    assert all(case.get("classname") == "data" for case in cases.values())

    def children(check_id: str) -> list[str]:
        return [child.tag for child in cases[check_id]]

    assert children("data.dark") == ["failure"]
    assert children("data.label_conflicts") == ["failure"]
    assert children("data.sharpness") == ["error"]
    assert children("data.audio_rate") == ["skipped"]
    assert children("data.near_duplicates") == ["system-out"]  # a warning passes
    assert children("data.class_balance") == []


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

"""The JUnit XML view, so that CI systems list every result as a test case.

One ``<testsuite name="dlqa.<kind>">`` with one ``<testcase>`` per result, named by its key
(``check_id`` or ``check_id[subject]``): ``fail`` becomes a ``<failure>``, ``error`` an
``<error>`` with the traceback, ``skip`` a ``<skipped>``; a ``warn`` passes (a warning must
not break the build) but carries its summary in ``<system-out>``.

``inconclusive`` follows the gate policy of the run. One that blocks is a ``<failure
type="dlqa.inconclusive">`` whose message starts with "inconclusive:" and says why (the
interval straddles the threshold). One that does not block (``on_inconclusive = "warn"``,
``--allow-inconclusive``, a subject outside the gate) is a *passed* testcase with a
``<system-out>`` saying it is inconclusive and not blocking, the same way a warning is shown:
"skipped" would claim the check did not run, and it did.

A run that did not finish says so twice: a ``dlqa.run_status`` property and a suite-level
``<system-out>`` starting with "incomplete:", since CI summaries show either but not both.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from dlqa.core.results import CheckResult, Status
from dlqa.report.evidence import evidence_lines
from dlqa.report.files import write_text_atomic
from dlqa.report.model import Report
from dlqa.report.text import (
    blocks,
    format_measure,
    format_number,
    incomplete_line,
    inconclusive_note,
    inconclusive_why,
)

# XML 1.0 forbids most control characters; a traceback or a file name can contain them.
_INVALID_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MAX_EVIDENCE_ITEMS = 20
_META_PROPERTIES = ("source", "n_samples", "fingerprint", "snapshot_id", "run_id", "dlqa_version")


def _xml_text(text: object) -> str:
    return _INVALID_XML_CHARS.sub("\ufffd", str(text))


def _stage(check_id: str) -> str:
    return check_id.split(".", 1)[0] if "." in check_id else "dlqa"


def _result_text(result: CheckResult, allow_inconclusive: bool) -> str:
    lines = [result.summary]
    if result.status is Status.INCONCLUSIVE:
        lines.append(inconclusive_note(result, allow_inconclusive))
    lines.append(f"value: {format_measure(result)}  threshold: {format_number(result.threshold)}")
    lines.extend(evidence_lines(result, _MAX_EVIDENCE_ITEMS))
    return "\n".join(lines)


def _add_outcome(case: ET.Element, result: CheckResult, allow_inconclusive: bool) -> None:
    """The child element that tells CI how this result went (none for a plain pass)."""
    message = _xml_text(result.summary)
    text = _xml_text(_result_text(result, allow_inconclusive))
    if result.status is Status.FAIL:
        ET.SubElement(case, "failure", {"message": message, "type": "dlqa.gate"}).text = text
    elif result.status is Status.ERROR:
        error = ET.SubElement(case, "error", {"message": message, "type": "dlqa.error"})
        error.text = _xml_text(result.details.get("traceback") or text)
    elif result.status is Status.SKIP:
        ET.SubElement(case, "skipped", {"message": message})
    elif result.status is Status.WARN:
        ET.SubElement(case, "system-out").text = _xml_text("WARN: ") + text
    elif result.status is Status.INCONCLUSIVE and blocks(result, allow_inconclusive):
        why = _xml_text(f"inconclusive: {inconclusive_why(result)}; {result.summary}")
        ET.SubElement(case, "failure", {"message": why, "type": "dlqa.inconclusive"}).text = text
    elif result.status is Status.INCONCLUSIVE:
        ET.SubElement(case, "system-out").text = _xml_text("INCONCLUSIVE (not blocking): ") + text


def build_junit_tree(report: Report) -> ET.ElementTree:
    """The JUnit document of ``report`` as an ElementTree (root ``<testsuites>``)."""
    allow = report.allow_inconclusive
    counts = report.counts()
    blocking_inconclusive = sum(
        1 for r in report.results if r.status is Status.INCONCLUSIVE and blocks(r, allow)
    )
    totals = {
        "tests": str(len(report.results)),
        "failures": str(counts[Status.FAIL.value] + blocking_inconclusive),
        "errors": str(counts[Status.ERROR.value]),
        "skipped": str(counts[Status.SKIP.value]),
    }
    root = ET.Element("testsuites", {"name": "dlqa", **totals})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": _xml_text(f"dlqa.{report.kind}"),
            **totals,
            "timestamp": _xml_text(report.created_at),
        },
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", {"name": "dlqa.run_status", "value": report.status})
    if allow:
        ET.SubElement(properties, "property", {"name": "dlqa.allow_inconclusive", "value": "true"})
    for key in _META_PROPERTIES:
        if report.meta.get(key) is not None:
            ET.SubElement(
                properties, "property", {"name": key, "value": _xml_text(report.meta[key])}
            )

    for result in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": _xml_text(_stage(result.check_id)), "name": _xml_text(result.key)},
        )
        _add_outcome(case, result, allow)

    incomplete = incomplete_line(report)
    if incomplete:
        # After the testcases: the JUnit schema puts a suite's system-out there.
        ET.SubElement(suite, "system-out").text = _xml_text(incomplete)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write the JUnit XML of ``report`` atomically; returns the path written."""
    root = build_junit_tree(report).getroot()
    body = ET.tostring(root, encoding="unicode")
    return write_text_atomic(path, '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n")

"""The JUnit XML view, so that CI systems list every check as a test case.

One ``<testsuite name="dlqa.<kind>">`` with one ``<testcase>`` per result: ``fail`` becomes a
``<failure>``, ``error`` an ``<error>`` with the traceback, ``skip`` a ``<skipped>``; a ``warn``
passes (a warning must not break the build) but carries its summary in ``<system-out>``.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from dlqa.core.results import CheckResult, Status
from dlqa.report.console import evidence_lines, format_number
from dlqa.report.json_report import write_text_atomic
from dlqa.report.model import Report

# XML 1.0 forbids most control characters; a traceback or a file name can contain them.
_INVALID_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MAX_EVIDENCE_ITEMS = 20
_META_PROPERTIES = ("source", "n_samples", "fingerprint", "snapshot_id", "run_id", "dlqa_version")


def _xml_text(text: object) -> str:
    return _INVALID_XML_CHARS.sub("\ufffd", str(text))


def _stage(check_id: str) -> str:
    return check_id.split(".", 1)[0] if "." in check_id else "dlqa"


def _result_text(result: CheckResult) -> str:
    lines = [
        result.summary,
        f"value: {format_number(result.value)}  threshold: {format_number(result.threshold)}",
    ]
    lines.extend(evidence_lines(result, _MAX_EVIDENCE_ITEMS))
    return "\n".join(lines)


def build_junit_tree(report: Report) -> ET.ElementTree:
    """The JUnit document of ``report`` as an ElementTree (root ``<testsuites>``)."""
    counts = report.counts()
    totals = {
        "tests": str(len(report.results)),
        "failures": str(counts[Status.FAIL.value]),
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
    present = [key for key in _META_PROPERTIES if report.meta.get(key) is not None]
    if present:
        properties = ET.SubElement(suite, "properties")
        for key in present:
            ET.SubElement(
                properties, "property", {"name": key, "value": _xml_text(report.meta[key])}
            )

    for result in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": _xml_text(_stage(result.check_id)), "name": _xml_text(result.check_id)},
        )
        message = _xml_text(result.summary)
        if result.status is Status.FAIL:
            failure = ET.SubElement(case, "failure", {"message": message, "type": "dlqa.gate"})
            failure.text = _xml_text(_result_text(result))
        elif result.status is Status.ERROR:
            error = ET.SubElement(case, "error", {"message": message, "type": "dlqa.error"})
            error.text = _xml_text(result.details.get("traceback") or _result_text(result))
        elif result.status is Status.SKIP:
            ET.SubElement(case, "skipped", {"message": message})
        elif result.status is Status.WARN:
            system_out = ET.SubElement(case, "system-out")
            system_out.text = _xml_text("WARN: " + _result_text(result))
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write the JUnit XML of ``report`` atomically; returns the path written."""
    root = build_junit_tree(report).getroot()
    body = ET.tostring(root, encoding="unicode")
    return write_text_atomic(path, '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n")

"""The versioned JSON view of a report: strict JSON, a published schema, atomic writes.

The document is meant for machines (CI scripts, dashboards, diffs between runs), so it keeps
every evidence item, writes NaN and infinities as ``null`` (strict JSON parsers reject them)
and carries ``schema`` / ``schema_version`` so that readers can refuse what they do not know.

dlqa writes version 2 (run status, ``allow_inconclusive``, histogram bins, the
``inconclusive`` status, each result's ``subject``, ``n`` and ``interval``) and reads both
versions: a v1 file is a finished run whose results have none of the new fields.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from dlqa._version import __version__ as dlqa_version
from dlqa.core.jsonsafe import to_json_safe
from dlqa.core.results import CheckResult, Status
from dlqa.report.files import write_text_atomic
from dlqa.report.model import RUN_STATUSES, Report

SCHEMA_NAME = "dlqa.report"
SCHEMA_VERSION = 2
SCHEMA_VERSIONS = (1, 2)
SCHEMA_RESOURCE = "report-v{version}.schema.json"

# What each version requires, for the validator used when jsonschema is not installed.
_TOP_REQUIRED = {
    1: ("schema", "schema_version", "dlqa_version", "kind", "title", "created_at",
        "exit_code", "meta", "counts", "class_counts", "results"),
    2: ("schema", "schema_version", "dlqa_version", "kind", "title", "created_at", "status",
        "exit_code", "allow_inconclusive", "meta", "counts", "class_counts", "histograms",
        "results"),
}  # fmt: skip
_RESULT_REQUIRED = {
    1: ("check_id", "status", "summary", "value", "threshold", "evidence"),
    2: ("check_id", "subject", "status", "summary", "value", "threshold", "n", "interval",
        "evidence"),
}  # fmt: skip
_STATUSES = {
    1: frozenset(s.value for s in Status if s is not Status.INCONCLUSIVE),
    2: frozenset(s.value for s in Status),
}


def report_to_dict(report: Report) -> dict[str, Any]:
    """The report as a JSON-safe dict in the ``dlqa.report`` v2 format (thumbnails, being
    image bytes, stay in the store and the HTML)."""
    document = {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "dlqa_version": dlqa_version,
        "kind": report.kind,
        "title": report.title,
        "created_at": report.created_at,
        "status": report.status,
        "exit_code": int(report.exit_code),
        "allow_inconclusive": bool(report.allow_inconclusive),
        "meta": report.meta,
        "counts": report.counts(),
        "class_counts": report.class_counts,
        "histograms": report.histograms,
        "results": [result.to_dict() for result in report.results],
    }
    return to_json_safe(document)


def write_json(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write the report as indented strict JSON, atomically; returns the path written."""
    text = json.dumps(report_to_dict(report), indent=2, ensure_ascii=False, allow_nan=False)
    return write_text_atomic(path, text + "\n")


def load_schema(version: int = SCHEMA_VERSION) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the document of ``version``."""
    if version not in SCHEMA_VERSIONS:
        raise ValueError(f"no schema for version {version!r}; known: {list(SCHEMA_VERSIONS)}")
    resource = SCHEMA_RESOURCE.format(version=version)
    text = resources.files("dlqa.report").joinpath(resource).read_text(encoding="utf-8")
    return json.loads(text)


def _document_version(data: Any) -> int:
    """The schema version ``data`` claims; ValueError when it is not one dlqa reads."""
    if not isinstance(data, dict):
        raise ValueError("$: a report document must be a JSON object")
    if "schema_version" not in data:
        raise ValueError("$: 'schema_version' is a required property")
    version = data["schema_version"]
    if isinstance(version, bool) or version not in SCHEMA_VERSIONS:
        raise ValueError(
            f"$.schema_version: {version!r} is not a version this dlqa reads "
            f"({', '.join(map(str, SCHEMA_VERSIONS))}); a newer dlqa may read it"
        )
    return int(version)


def validate_report_dict(data: Any) -> None:
    """Raise ValueError naming the path of the first problem unless ``data`` is a valid
    document of a version dlqa reads (1 or 2, by its ``schema_version``).

    Uses jsonschema when it is installed (a dev dependency); otherwise a hand-written check of
    the required fields, so that validation still means something in a minimal install.
    """
    version = _document_version(data)
    try:
        import jsonschema
    except ImportError:
        _validate_without_jsonschema(data, version)
        return
    validator = jsonschema.Draft202012Validator(load_schema(version))
    errors = sorted(
        validator.iter_errors(data), key=lambda e: (len(e.path), list(map(str, e.path)))
    )
    if errors:
        first = errors[0]
        raise ValueError(f"{_json_path(first.absolute_path)}: {first.message}")


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _fail(path: str, message: str) -> None:
    raise ValueError(f"{path}: {message}")


def _is_number(value: Any, *, integer: bool = False) -> bool:
    kinds = (int,) if integer else (int, float)
    return isinstance(value, kinds) and not isinstance(value, bool)


def _validate_without_jsonschema(data: dict[str, Any], version: int) -> None:
    for key in _TOP_REQUIRED[version]:
        if key not in data:
            _fail("$", f"{key!r} is a required property")
    if data["schema"] != SCHEMA_NAME:
        _fail("$.schema", f"must be {SCHEMA_NAME!r}")
    if version >= 2:
        if data["status"] not in RUN_STATUSES:
            _fail("$.status", f"{data['status']!r} is not one of {list(RUN_STATUSES)}")
        if not isinstance(data["allow_inconclusive"], bool):
            _fail("$.allow_inconclusive", "must be a boolean")
        if not isinstance(data["histograms"], dict):
            _fail("$.histograms", "must be an object")
    if not isinstance(data["counts"], dict):
        _fail("$.counts", "must be an object")
    for status in _STATUSES[version]:
        if status not in data["counts"]:
            _fail("$.counts", f"{status!r} is a required property")
    if not isinstance(data["results"], list):
        _fail("$.results", "must be an array")
    for index, result in enumerate(data["results"]):
        _validate_result(result, f"$.results[{index}]", version)


def _validate_result(result: Any, where: str, version: int) -> None:
    if not isinstance(result, dict):
        _fail(where, "must be an object")
    for key in _RESULT_REQUIRED[version]:
        if key not in result:
            _fail(where, f"{key!r} is a required property")
    statuses = _STATUSES[version]
    if result["status"] not in statuses:
        _fail(f"{where}.status", f"{result['status']!r} is not one of {sorted(statuses)}")
    for key in ("value", "threshold"):
        if result[key] is not None and not _is_number(result[key]):
            _fail(f"{where}.{key}", "must be a number or null")
    if version >= 2:
        if result["subject"] is not None and not isinstance(result["subject"], str):
            _fail(f"{where}.subject", "must be a string or null")
        if result["n"] is not None and not _is_number(result["n"], integer=True):
            _fail(f"{where}.n", "must be an integer or null")
        interval = result["interval"]
        if interval is not None and not (
            isinstance(interval, dict) and all(k in interval for k in ("low", "high", "level"))
        ):
            _fail(f"{where}.interval", "must be null or an object with low, high and level")
    if not isinstance(result["evidence"], list):
        _fail(f"{where}.evidence", "must be an array")
    for ev_index, evidence in enumerate(result["evidence"]):
        ev_where = f"{where}.evidence[{ev_index}]"
        if not isinstance(evidence, dict):
            _fail(ev_where, "must be an object")
        for key in ("kind", "items", "total"):
            if key not in evidence:
                _fail(ev_where, f"{key!r} is a required property")


def report_from_dict(data: dict[str, Any]) -> Report:
    """Rebuild a Report from a v1 or v2 document (thumbnails are not stored in either; a v1
    document is a finished run without histograms)."""
    validate_report_dict(data)
    return Report(
        title=data["title"],
        kind=data["kind"],
        created_at=data["created_at"],
        results=[CheckResult.from_dict(result) for result in data["results"]],
        exit_code=int(data["exit_code"]),
        status=data.get("status", "finished"),
        meta=dict(data["meta"]),
        class_counts={split: dict(c) for split, c in data["class_counts"].items()},
        histograms={name: dict(bins) for name, bins in (data.get("histograms") or {}).items()},
        allow_inconclusive=bool(data.get("allow_inconclusive", False)),
    )

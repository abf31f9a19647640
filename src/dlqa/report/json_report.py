"""The versioned JSON view of a report: strict JSON, a published schema, atomic writes.

The document is meant for machines (CI scripts, dashboards, diffs between runs), so it keeps
every evidence item, writes NaN and infinities as ``null`` (strict JSON parsers reject them)
and carries ``schema`` / ``schema_version`` so that readers can refuse what they do not know.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from enum import Enum
from importlib import resources
from pathlib import Path, PurePath
from typing import Any

import dlqa
from dlqa.core.results import CheckResult, Status
from dlqa.report.model import Report

SCHEMA_NAME = "dlqa.report"
SCHEMA_VERSION = 1
SCHEMA_RESOURCE = "report-v1.schema.json"


def report_to_dict(report: Report) -> dict[str, Any]:
    """The report as a JSON-safe dict in the ``dlqa.report`` v1 format."""
    document = {
        "schema": SCHEMA_NAME,
        "schema_version": SCHEMA_VERSION,
        "dlqa_version": dlqa.__version__,
        "kind": report.kind,
        "title": report.title,
        "created_at": report.created_at,
        "exit_code": int(report.exit_code),
        "meta": report.meta,
        "counts": report.counts(),
        "class_counts": report.class_counts,
        "results": [_result_to_dict(result) for result in report.results],
    }
    return to_json_safe(document)


def _result_to_dict(result: CheckResult) -> dict[str, Any]:
    data = result.to_dict()
    data["value"] = _number_or_none(result.value)
    data["threshold"] = _number_or_none(result.threshold)
    return data


def _number_or_none(value: Any) -> float | int | None:
    """A check's value as a finite JSON number; anything else (NaN, inf, junk) becomes null."""
    if value is None:
        return None
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def to_json_safe(obj: Any) -> Any:
    """A deep copy of ``obj`` made of JSON types only; non-finite floats become None.

    Checks put numpy scalars, tuples, sets and paths into ``details`` and evidence items;
    converting here keeps every producer free of JSON concerns.
    """
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Enum):
        return to_json_safe(obj.value)
    if isinstance(obj, dict):
        return {str(key): to_json_safe(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_safe(item) for item in obj]
    if isinstance(obj, (set, frozenset)):
        return [to_json_safe(item) for item in sorted(obj, key=str)]
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if hasattr(obj, "tolist"):  # numpy arrays and scalars, without importing numpy
        return to_json_safe(obj.tolist())
    if is_dataclass(obj) and not isinstance(obj, type):
        return to_json_safe(asdict(obj))
    return str(obj)


def write_json(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write the report as indented strict JSON, atomically; returns the path written."""
    text = json.dumps(report_to_dict(report), indent=2, ensure_ascii=False, allow_nan=False)
    return write_text_atomic(path, text + "\n")


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) through a temporary file and a rename.

    A reader (a CI step, the dashboard) never sees half a file, and an interrupted run leaves
    the previous report in place.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        # mkstemp creates the file private (0600); a report is meant to be read by others.
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the v1 document."""
    text = resources.files("dlqa.report").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    return json.loads(text)


def validate_report_dict(data: Any) -> None:
    """Raise ValueError naming the path of the first problem if ``data`` is not a v1 document.

    Uses jsonschema when it is installed (a dev dependency); otherwise a hand-written check of
    the required fields, so that validation still means something in a minimal install.
    """
    try:
        import jsonschema
    except ImportError:
        _validate_without_jsonschema(data)
        return
    validator = jsonschema.Draft202012Validator(load_schema())
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


def _validate_without_jsonschema(data: Any) -> None:
    def fail(path: str, message: str) -> None:
        raise ValueError(f"{path}: {message}")

    if not isinstance(data, dict):
        fail("$", "a report document must be a JSON object")
    top_required = ("schema", "schema_version", "dlqa_version", "kind", "title", "created_at")
    for key in (*top_required, "exit_code", "meta", "counts", "class_counts", "results"):
        if key not in data:
            fail("$", f"{key!r} is a required property")
    if data["schema"] != SCHEMA_NAME:
        fail("$.schema", f"must be {SCHEMA_NAME!r}")
    if data["schema_version"] != SCHEMA_VERSION:
        fail("$.schema_version", f"must be {SCHEMA_VERSION}")
    if not isinstance(data["results"], list):
        fail("$.results", "must be an array")
    statuses = {status.value for status in Status}
    for index, result in enumerate(data["results"]):
        where = f"$.results[{index}]"
        if not isinstance(result, dict):
            fail(where, "must be an object")
        for key in ("check_id", "status", "summary", "value", "threshold", "evidence"):
            if key not in result:
                fail(where, f"{key!r} is a required property")
        if result["status"] not in statuses:
            fail(f"{where}.status", f"{result['status']!r} is not one of {sorted(statuses)}")
        for key in ("value", "threshold"):
            number = result[key]
            if number is not None and (
                isinstance(number, bool) or not isinstance(number, (int, float))
            ):
                fail(f"{where}.{key}", "must be a number or null")
        for ev_index, evidence in enumerate(result["evidence"]):
            ev_where = f"{where}.evidence[{ev_index}]"
            if not isinstance(evidence, dict):
                fail(ev_where, "must be an object")
            for key in ("kind", "items", "total"):
                if key not in evidence:
                    fail(ev_where, f"{key!r} is a required property")


def report_from_dict(data: dict[str, Any]) -> Report:
    """Rebuild a Report from a v1 document (properties and sample paths are not stored in it)."""
    validate_report_dict(data)
    return Report(
        title=data["title"],
        kind=data["kind"],
        created_at=data["created_at"],
        results=[CheckResult.from_dict(result) for result in data["results"]],
        exit_code=int(data["exit_code"]),
        meta=dict(data["meta"]),
        class_counts={split: dict(c) for split, c in data["class_counts"].items()},
    )

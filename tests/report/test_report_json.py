from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest

import dlqa
from dlqa.core.results import Status
from dlqa.report import json_report
from dlqa.report.json_report import (
    SCHEMA_VERSION,
    load_schema,
    report_from_dict,
    report_to_dict,
    validate_report_dict,
    write_json,
)
from dlqa.report.model import Report


def test_document_has_the_documented_top_level_fields(full_report: Report) -> None:
    data = report_to_dict(full_report)
    assert data["schema"] == "dlqa.report"
    assert data["schema_version"] == SCHEMA_VERSION == 1
    assert data["dlqa_version"] == dlqa.__version__
    assert data["kind"] == "data.profile"
    assert data["exit_code"] == 1
    assert data["counts"] == {"pass": 1, "warn": 1, "fail": 2, "error": 1, "skip": 1}
    assert data["class_counts"]["train"] == {"cat": 120, "dog": 3}
    assert [r["check_id"] for r in data["results"]] == [r.check_id for r in full_report.results]
    # Views keep the top items; the JSON keeps every one of them.
    assert len(data["results"][0]["evidence"][0]["items"]) == 41
    assert data["results"][0]["evidence"][0]["total"] == 340
    assert data["results"][0]["evidence"][0]["description"] == "darkest first"


def test_document_validates_against_the_schema(full_report: Report) -> None:
    validate_report_dict(report_to_dict(full_report))


def test_non_finite_numbers_become_null_and_numpy_values_plain(full_report: Report) -> None:
    data = report_to_dict(full_report)
    dark, _, conflicts = data["results"][:3]
    assert dark["value"] is None  # NaN
    assert dark["threshold"] == 0.01
    assert conflicts["value"] is None  # inf
    assert conflicts["evidence"][1]["items"][1]["share"] is None  # NaN inside an item
    assert dark["details"] == {"cutoff": 12.5, "ids": ["a", "b"]}
    # Strict JSON: would raise on NaN or on a numpy type left over.
    json.dumps(data, allow_nan=False)


def test_write_json_is_strict_and_creates_parent_dirs(full_report: Report, tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "report.json"
    written = write_json(full_report, target)
    assert written == target
    text = target.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    loaded = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-strict {name}"))
    validate_report_dict(loaded)
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]  # no temp file left


def test_write_json_replaces_an_existing_file(full_report: Report, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old and not json")
    write_json(full_report, target)
    assert json.loads(target.read_text())["title"] == "Dataset QA: demo"


def test_failed_write_leaves_previous_file_and_no_temp(
    full_report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out" / "report.json"
    target.parent.mkdir()
    target.write_text("previous")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(json_report.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_json(full_report, target)
    assert target.read_text() == "previous"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]


@pytest.mark.parametrize(
    ("mutate", "expected_path"),
    [
        (lambda d: d["results"][0].pop("check_id"), r"\$\.results\[0\]"),
        (lambda d: d["results"][1].__setitem__("status", "broken"), r"\$\.results\[1\]\.status"),
        (lambda d: d["results"][4].__setitem__("value", "1.2"), r"\$\.results\[4\]\.value"),
        (lambda d: d["results"][0]["evidence"][0].pop("total"), r"results\[0\]\.evidence\[0\]"),
        (lambda d: d.__setitem__("schema_version", 2), r"\$\.schema_version"),
        (lambda d: d.pop("counts"), r"^\$:"),
    ],
)
def test_broken_documents_fail_validation_with_their_path(
    full_report: Report, mutate, expected_path: str
) -> None:
    data = copy.deepcopy(report_to_dict(full_report))
    mutate(data)
    with pytest.raises(ValueError, match=expected_path):
        validate_report_dict(data)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["results"][0].pop("check_id"),
        lambda d: d["results"][1].__setitem__("status", "broken"),
        lambda d: d["results"][4].__setitem__("value", True),
        lambda d: d["results"][0]["evidence"][0].pop("items"),
    ],
)
def test_fallback_validation_without_jsonschema_catches_the_same_breakage(
    full_report: Report, mutate, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_jsonschema(name, *args, **kwargs):
        if name == "jsonschema":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_jsonschema)
    good = report_to_dict(full_report)
    validate_report_dict(good)
    broken = copy.deepcopy(good)
    mutate(broken)
    with pytest.raises(ValueError, match=r"\$\.results\["):
        validate_report_dict(broken)


def test_schema_requires_the_result_fields() -> None:
    result_schema = load_schema()["$defs"]["result"]
    assert set(result_schema["required"]) == {
        "check_id",
        "status",
        "summary",
        "value",
        "threshold",
        "evidence",
    }
    assert result_schema["properties"]["status"]["enum"] == [s.value for s in Status]


def test_round_trip_through_json_keeps_results(full_report: Report, tmp_path: Path) -> None:
    path = write_json(full_report, tmp_path / "r.json")
    rebuilt = report_from_dict(json.loads(path.read_text()))
    assert [r.status for r in rebuilt.results] == [r.status for r in full_report.results]
    assert rebuilt.results[0].evidence[0].total == 340
    assert math.isclose(rebuilt.results[4].value, 1.2)
    assert rebuilt.counts() == full_report.counts()

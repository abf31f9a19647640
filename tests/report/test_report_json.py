from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path

import pytest

import dlqa
from dlqa.core.results import Interval, Status
from dlqa.report import files
from dlqa.report.json_report import (
    SCHEMA_VERSION,
    load_schema,
    report_from_dict,
    report_to_dict,
    validate_report_dict,
    write_json,
)
from dlqa.report.model import Report

V1_DOCUMENT = Path(__file__).parent / "fixtures" / "report-v1.json"


def _without_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_jsonschema(name, *args, **kwargs):
        if name == "jsonschema":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_jsonschema)


def test_document_has_the_documented_top_level_fields(full_report: Report) -> None:
    data = report_to_dict(full_report)
    assert data["schema"] == "dlqa.report"
    assert data["schema_version"] == SCHEMA_VERSION == 2
    assert data["dlqa_version"] == dlqa.__version__
    assert data["kind"] == "data.profile"
    assert data["status"] == "finished"
    assert data["allow_inconclusive"] is False
    assert data["exit_code"] == 1
    assert data["counts"] == {
        "pass": 2,
        "warn": 1,
        "fail": 2,
        "error": 1,
        "skip": 1,
        "inconclusive": 2,
    }
    assert data["class_counts"]["train"] == {"cat": 120, "dog": 3}
    assert [r["check_id"] for r in data["results"]] == [r.check_id for r in full_report.results]
    # Views keep the top items; the JSON keeps every one of them.
    assert len(data["results"][0]["evidence"][0]["items"]) == 41
    assert data["results"][0]["evidence"][0]["total"] == 340
    assert data["results"][0]["evidence"][0]["description"] == "darkest first"


def test_results_carry_subject_n_and_interval_null_when_absent(full_report: Report) -> None:
    results = {r["check_id"] + str(r["subject"]): r for r in report_to_dict(full_report)["results"]}
    accuracy = results["eval.accuracyval"]
    assert accuracy["status"] == "inconclusive"
    assert (accuracy["subject"], accuracy["n"]) == ("val", 400)
    assert accuracy["interval"] == {"low": 0.87, "high": 0.94, "level": 0.95}
    assert accuracy["details"] == {"on_inconclusive": "fail"}
    balance = results["data.class_balanceNone"]
    assert balance["subject"] is None and balance["n"] is None and balance["interval"] is None
    assert {"subject", "n", "interval"} <= set(balance)  # present, as null


def test_histograms_are_bins_not_values(full_report: Report) -> None:
    histograms = report_to_dict(full_report)["histograms"]
    assert set(histograms) == {"brightness", "width"}  # "empty" had no finite values
    brightness = histograms["brightness"]
    assert brightness["n"] == 200  # the NaN is not counted
    assert sum(brightness["counts"]) == 200
    assert len(brightness["edges"]) == len(brightness["counts"]) + 1
    assert histograms["width"]["median"] == 400.0


def test_run_status_and_allow_inconclusive_are_in_the_document(full_report: Report) -> None:
    partial = dataclasses.replace(full_report, status="interrupted", allow_inconclusive=True)
    data = report_to_dict(partial)
    assert data["status"] == "interrupted" and data["allow_inconclusive"] is True
    validate_report_dict(data)


def test_document_validates_against_the_schema(full_report: Report) -> None:
    validate_report_dict(report_to_dict(full_report))


def test_v1_document_still_validates_and_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(V1_DOCUMENT.read_text(encoding="utf-8"))
    validate_report_dict(data)
    report = report_from_dict(data)
    assert report.status == "finished" and report.complete
    assert report.histograms == {} and report.allow_inconclusive is False
    assert [r.key for r in report.results] == ["data.near_duplicates", "data.class_balance"]
    assert report.results[0].status is Status.FAIL
    assert report.results[0].subject is None and report.results[0].interval is None
    assert report.results[0].evidence[0].items[0]["distance"] == 2
    assert report.class_counts == {"all": {"cat": 100, "dog": 20}}
    assert report.meta["run_id"] == 7
    # The fallback validator reads v1 too.
    _without_jsonschema(monkeypatch)
    validate_report_dict(data)


def test_v1_rules_still_apply_to_a_v1_document() -> None:
    data = json.loads(V1_DOCUMENT.read_text(encoding="utf-8"))
    # "inconclusive" is a v2 status; a v1 document claiming it is broken.
    data["results"][1]["status"] = "inconclusive"
    with pytest.raises(ValueError, match=r"\$\.results\[1\]\.status"):
        validate_report_dict(data)


def test_a_v1_document_read_again_is_written_as_v2(tmp_path: Path) -> None:
    report = report_from_dict(json.loads(V1_DOCUMENT.read_text(encoding="utf-8")))
    data = json.loads(write_json(report, tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["schema_version"] == 2
    validate_report_dict(data)


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

    monkeypatch.setattr(files.os, "replace", broken_replace)
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
        (lambda d: d.__setitem__("schema_version", 3), r"\$\.schema_version"),
        (lambda d: d.__setitem__("schema_version", True), r"\$\.schema_version"),
        (lambda d: d.pop("schema_version"), r"^\$:"),
        (lambda d: d.pop("counts"), r"^\$:"),
        (lambda d: d.pop("status"), r"^\$:"),
        (lambda d: d.__setitem__("status", "paused"), r"\$\.status"),
        (lambda d: d["counts"].pop("inconclusive"), r"\$\.counts"),
        (lambda d: d["results"][6].pop("interval"), r"\$\.results\[6\]"),
        (lambda d: d["results"][6].__setitem__("n", 4.5), r"\$\.results\[6\]\.n"),
        (lambda d: d["results"][6].__setitem__("subject", 3), r"\$\.results\[6\]\.subject"),
        (lambda d: d["results"][6]["interval"].pop("low"), r"\$\.results\[6\]\.interval"),
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
        lambda d: d["results"][6].pop("subject"),
        lambda d: d["results"][6].__setitem__("n", "400"),
        lambda d: d["results"][6].__setitem__("interval", [0.8, 0.9]),
    ],
)
def test_fallback_validation_without_jsonschema_catches_the_same_breakage(
    full_report: Report, mutate, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_jsonschema(monkeypatch)
    good = report_to_dict(full_report)
    validate_report_dict(good)
    broken = copy.deepcopy(good)
    mutate(broken)
    with pytest.raises(ValueError, match=r"\$\.results\["):
        validate_report_dict(broken)


def test_fallback_validation_checks_the_top_level_of_v2(
    full_report: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_jsonschema(monkeypatch)
    for mutate, path in [
        (lambda d: d.pop("histograms"), r"^\$:"),
        (lambda d: d.__setitem__("status", "paused"), r"\$\.status"),
        (lambda d: d.__setitem__("allow_inconclusive", "no"), r"\$\.allow_inconclusive"),
        (lambda d: d.__setitem__("schema_version", 9), r"\$\.schema_version"),
    ]:
        broken = copy.deepcopy(report_to_dict(full_report))
        mutate(broken)
        with pytest.raises(ValueError, match=path):
            validate_report_dict(broken)


def test_schema_requires_the_result_fields() -> None:
    result_schema = load_schema()["$defs"]["result"]
    assert set(result_schema["required"]) == {
        "check_id",
        "subject",
        "status",
        "summary",
        "value",
        "threshold",
        "n",
        "interval",
        "evidence",
    }
    assert result_schema["properties"]["status"]["enum"] == [s.value for s in Status]
    v1 = load_schema(1)
    assert v1["properties"]["schema_version"] == {"const": 1}
    assert "inconclusive" not in v1["$defs"]["result"]["properties"]["status"]["enum"]
    with pytest.raises(ValueError, match="no schema for version 3"):
        load_schema(3)


@pytest.mark.parametrize("version", [1, 2])
def test_schema_files_are_valid_json_schemas(version: int) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(load_schema(version))


def test_round_trip_through_json_keeps_results(full_report: Report, tmp_path: Path) -> None:
    path = write_json(full_report, tmp_path / "r.json")
    rebuilt = report_from_dict(json.loads(path.read_text()))
    assert [r.status for r in rebuilt.results] == [r.status for r in full_report.results]
    assert rebuilt.results[0].evidence[0].total == 340
    assert math.isclose(rebuilt.results[4].value, 1.2)
    assert rebuilt.counts() == full_report.counts()
    assert [r.key for r in rebuilt.results] == [r.key for r in full_report.results]
    assert rebuilt.results[6].interval == Interval(0.87, 0.94)
    assert rebuilt.results[6].n == 400
    assert rebuilt.results[8].interval.level == 0.9
    assert rebuilt.histograms == full_report.histograms
    assert rebuilt.status == "finished"

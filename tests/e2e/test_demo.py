"""`dlqa demo` end to end: builds the example project, runs the checks, verifies the plants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlqa.demo.verify import PLANTED_CHECKS
from dlqa.report.json_report import validate_report_dict
from tests.e2e.conftest import run_cli


@pytest.mark.slow
def test_demo_catches_every_planted_problem(tmp_path, monkeypatch):
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # a relative --dir, as `make demo` passes it
    code, out, err = run_cli("demo", "--dir", "demo", "--quiet", "-w", "2")
    assert code == 0, out + err
    flat = " ".join(out.split())  # as printed, without the terminal's line breaks
    counts = {part: len(checks) for part, checks in PLANTED_CHECKS.items()}
    assert (
        f"All {sum(counts.values())} planted problems (image {counts['image']}, audio "
        f"{counts['audio']}, text {counts['text']}, drift {counts['drift']}) were caught" in flat
    )
    assert "Data checks failed with nothing planted" not in out
    assert "The demo's dlqa.toml tightens" in flat
    for check_id in ("data.near_silent", "data.truncated", "data.clipped"):
        assert f"- {check_id} (level warn -> fail): " in flat
    assert "Training QA on the demo CNN" in out and "none failed" in out
    report = tmp_path / "demo" / ".dlqa" / "reports" / "run-1" / "report.json"
    document = json.loads(report.read_text())
    validate_report_dict(document)
    assert document["exit_code"] == 1  # the gates fail on the planted problems
    statuses = {r["check_id"]: r["status"] for r in document["results"]}
    assert statuses["train.overfit_batch"] == "pass" and statuses["train.fast_loop"] == "pass"
    assert not [i for i, s in statuses.items() if i.startswith("train.") and s == "fail"]
    assert Path(report.with_name("report.html")).stat().st_size > 10_000
    # The audio and text parts: data runs of their own, every planted problem failing its
    # check with the planted samples flagged, every other data check not failing.
    for part, run_id in (("audio", 2), ("text", 3)):
        part_report = tmp_path / "demo" / ".dlqa" / "reports" / part / f"run-{run_id}"
        assert f"{part} html report (run {run_id}): {part_report / 'report.html'}" in flat
        part_document = json.loads((part_report / "report.json").read_text())
        validate_report_dict(part_document)
        assert part_document["exit_code"] == 1 and part_document["kind"] == "data.profile"
        part_statuses = {r["check_id"]: r["status"] for r in part_document["results"]}
        for check_id in PLANTED_CHECKS[part].values():
            assert part_statuses[check_id] == "fail", (part, check_id)
        failed = {i for i, s in part_statuses.items() if s == "fail"}
        assert failed == set(PLANTED_CHECKS[part].values()), part
    # The drift part: the training images against a brighter camera's, drift checks only.
    drift_report = tmp_path / "demo" / ".dlqa" / "reports" / "drift" / "run-4" / "report.json"
    drift_document = json.loads(drift_report.read_text())
    assert drift_document["kind"] == "data.drift" and drift_document["exit_code"] == 1
    drift_statuses = {r["check_id"]: r["status"] for r in drift_document["results"]}
    assert drift_statuses == {
        "data.prior_shift": "pass",
        "data.property_drift": "fail",
        "data.domain_classifier": "fail",
    }
    # The image run: the planted label errors among the suspects, the annotators' agreement.
    assert statuses["data.label_errors"] == "fail" and statuses["labels.agreement"] == "pass"
    # The project is a normal dlqa project: `dlqa check` runs in it and fails the same gates.
    monkeypatch.chdir(tmp_path / "demo")
    code, _, _ = run_cli("check", "--quiet")
    assert code == 1
    # As the demo says: the first run re-renders from the store, the same results.
    assert "dlqa report 1 --html again.html" in out.replace("\n", " ")
    code, _, err = run_cli("report", "1", "--json", "again.json", "--quiet")
    assert code == 0, err
    assert json.loads(Path("again.json").read_text())["results"] == document["results"]

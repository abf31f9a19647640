"""`dlqa demo` end to end: builds the example project, runs the checks, verifies the plants."""

from __future__ import annotations

import json
import re
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
        f"{counts['audio']}, text {counts['text']}, drift {counts['drift']}, eval "
        f"{counts['eval']}, exp {counts['exp']}, ablation {counts['ablation']}) were caught" in flat
    )
    assert "Data checks failed with nothing planted" not in out
    assert "The demo's dlqa.toml changes" in flat
    assert "- deploy.parity (targets None -> ['onnx_fp32', 'onnx_int8']): a looser gate" in flat
    for check_id in ("data.near_silent", "data.truncated", "data.clipped"):
        assert f"- {check_id} (level warn -> fail): " in flat
    assert "Training QA on the demo CNN" in out and "none failed" in out
    # Run 1 is the monitored training; run 2 the `dlqa check` of the trained CNN's project.
    assert "The CNN trained for 40 epochs reaches" in flat
    # Every dashboard page is served over the demo's store; the review queue holds a sample.
    dashboard = re.search(r"Dashboard: (\d+) of (\d+) dashboard pages served", flat)
    assert dashboard is not None and dashboard[1] == dashboard[2], flat
    assert "broken:" not in flat
    assert (tmp_path / "demo" / "review" / "review.csv").is_file()
    report = tmp_path / "demo" / ".dlqa" / "reports" / "run-2" / "report.json"
    document = json.loads(report.read_text())
    validate_report_dict(document)
    assert document["exit_code"] == 1  # the gates fail on the planted problems
    statuses = {r["check_id"]: r["status"] for r in document["results"]}
    assert statuses["train.overfit_batch"] == "pass" and statuses["train.fast_loop"] == "pass"
    assert not [i for i, s in statuses.items() if i.startswith("train.") and s == "fail"]
    assert Path(report.with_name("report.html")).stat().st_size > 10_000
    # The audio and text parts: data runs of their own, every planted problem failing its
    # check with the planted samples flagged, every other data check not failing.
    for part, run_id in (("audio", 3), ("text", 4)):
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
    drift_report = tmp_path / "demo" / ".dlqa" / "reports" / "drift" / "run-5" / "report.json"
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
    # ... and the evaluation: "four" splits into upright and sideways scans, the upside-down
    # regression cases fail, the metrics pass their gates with their intervals.
    results = {r["check_id"]: r for r in document["results"]}
    assert results["eval.embedding_clusters"]["details"]["split_classes"] == ["four"]
    assert statuses["eval.regression_cases"] == "fail"
    assert statuses["eval.accuracy"] == "pass" and results["eval.accuracy"]["n"] == 600
    # The deployment part: the bundle exported and checked inside `dlqa check`, every deploy
    # check passing; then served and smoke-tested (run 6), evaluated through (run 7), and
    # described by a model card.
    deploy_keys = {
        (r["check_id"], r.get("subject")): r["status"]
        for r in document["results"]
        if r["check_id"].startswith("deploy.")
    }
    assert ("deploy.parity", "onnx_fp32") in deploy_keys and (
        "deploy.batch_sweep",
        None,
    ) in deploy_keys
    assert {s for s in deploy_keys.values()} == {"pass"}, deploy_keys
    assert "Deployment checks failed" not in out
    assert "Smoke test of the served bundle (run 6): 20/20 golden inputs" in flat
    bundle_eval = tmp_path / "demo" / ".dlqa" / "reports" / "run-7" / "report.json"
    bundle_document = json.loads(bundle_eval.read_text())
    assert bundle_document["kind"] == "model.eval"
    bundle_accuracy = next(
        r for r in bundle_document["results"] if r["check_id"] == "eval.accuracy"
    )
    assert bundle_accuracy["n"] == 600 and bundle_accuracy["status"] == "pass"
    # The experiment part: the ablation's four cells and the changed metric's group (runs
    # 8-11, 13), the ablation's analysis with its masked regression (run 12), the longer
    # training "improved" over the baseline with every guard passing (run 14), the changed
    # metric definition caught by its guard (run 15), and two releases (runs 16, 17).
    reports = tmp_path / "demo" / ".dlqa" / "reports"
    kinds = {n: json.loads((reports / f"run-{n}" / "report.json").read_text()) for n in
             range(8, 18)}  # fmt: skip
    assert [kinds[n]["kind"] for n in range(8, 18)] == [
        *["exp.run"] * 4, "exp.ablate", "exp.run", "exp.compare", "exp.compare", "release",
        "release",
    ]  # fmt: skip
    ablation = {r["check_id"]: r for r in kinds[12]["results"]}
    assert ablation["exp.masked_regression"]["status"] == "fail"
    assert "flip hurts" in ablation["exp.masked_regression"]["summary"]
    cells = next(e for e in ablation["exp.ablation"]["evidence"] if e["kind"] == "ablation_cells")
    assert [c["cell"] for c in cells["items"]] == ["base", "flip", "longer", "flip+longer"]
    assert 'class="charts interaction"' in (reports / "run-12" / "report.html").read_text()
    clean = kinds[14]
    assert clean["exit_code"] == 0
    verdict = next(r for r in clean["results"] if r["check_id"] == "exp.compare")
    assert verdict["details"]["verdict"] == "improved" and verdict["n"] == 6
    guarded = kinds[15]
    guard = next(r for r in guarded["results"] if r["check_id"] == "exp.metric_definitions")
    assert guard["status"] == "fail" and guarded["exit_code"] == 1
    gate = [r for r in kinds[17]["results"] if r["check_id"] == "exp.release_regression"]
    assert gate and all(r["status"] == "pass" for r in gate) and kinds[17]["exit_code"] == 0
    card = tmp_path / "demo" / ".dlqa" / "reports" / "model-card-run-7" / "model-card.md"
    assert "## Deployment" in card.read_text()
    # The project is a normal dlqa project: `dlqa check` runs in it and fails the same gates.
    monkeypatch.chdir(tmp_path / "demo")
    code, _, _ = run_cli("check", "--quiet")
    assert code == 1
    # One run, two stages' evidence: the thumbnails of both are kept (data, then eval).
    from dlqa.store import open_store

    store = open_store()
    try:
        thumbnails = store.get_run(2).report["thumbnails"]
    finally:
        store.close()
    dark = json.loads(report.read_text())  # the planted dark image is data evidence
    dark_ids = {
        item["id"]
        for r in dark["results"] if r["check_id"] == "data.dark"
        for e in r["evidence"] for item in e["items"]
    }  # fmt: skip
    assert dark_ids and dark_ids <= set(thumbnails)
    assert any(key.startswith("four/scan_") for key in thumbnails)  # a cluster's gallery
    # As the demo says: the check run re-renders from the store, the same results.
    assert "dlqa report 2 --html again.html" in out.replace("\n", " ")
    code, _, err = run_cli("report", "2", "--json", "again.json", "--quiet")
    assert code == 0, err
    assert json.loads(Path("again.json").read_text())["results"] == document["results"]

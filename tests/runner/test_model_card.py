"""The model card: built from stored runs only, every missing piece said to be missing, every
piece of user data escaped.

The stores here are written through the store API with real eval results (``evaluate()`` on
plain arrays) and deploy and data results shaped as their stages store them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from dlqa.core.errors import UsageError
from dlqa.core.results import CheckResult, Interval, Status
from dlqa.evaluate import evaluate
from dlqa.report.model_card import (
    Deployment,
    Measure,
    Missing,
    md,
    md_code,
    render_html,
    render_markdown,
)
from dlqa.runner.model_card import build_model_card
from dlqa.store import Store, open_store

BUNDLE_FP = "sha256:" + "b" * 64
WEIGHTS_FP = "sha256:" + "w" * 64
TEST_FP = "sha256:" + "7" * 64
EVIL = "<script>alert(1)</script>"


@pytest.fixture
def store(tmp_path: Path):
    with open_store(f"sqlite:///{tmp_path / 'dlqa.db'}", project_dir=tmp_path) as opened:
        yield opened


def add_run(
    store: Store,
    kind: str,
    results: list[CheckResult],
    parts: dict | None = None,
    status: str = "finished",
) -> int:
    run_id = store.start_run(kind, f"dlqa {kind}", {}, provenance={"versions": {"dlqa": "9.9"}})
    store.add_results(run_id, results)
    if parts:
        store.set_report_parts(run_id, parts)
    store.finish_run(run_id, status, 0)
    return run_id


def add_snapshot(store: Store, run_id: int, source: str, fingerprint: str, counts: dict) -> int:
    digest = store.artifacts.put_bytes(f"table {run_id} {source}".encode())
    n = sum(counts.values())
    summary = {
        "n_samples": n,
        "n_errors": 0,
        "modality": "image",
        "class_counts": {"all": counts},
        "properties": {},
    }
    return store.add_snapshot(run_id, source, fingerprint, n, digest, summary)


def eval_results(*, bad_night: bool = False, classes=("cat", "dog")) -> list[CheckResult]:
    """Real eval.* results of 200 test predictions, sliced by camera; with ``bad_night`` the
    night slice is mostly wrong and fails its floor."""
    rng = np.random.default_rng(0)
    n = 200
    labels = rng.integers(0, 2, n)
    camera = np.array(["day"] * 150 + ["night"] * 50)
    correct = rng.random(n) < 0.95
    if bad_night:
        correct[150:] = rng.random(50) < 0.4
    predicted = np.where(correct, labels, 1 - labels)
    confidence = rng.uniform(0.6, 0.99, n)
    probs = np.zeros((n, 2))
    probs[np.arange(n), predicted] = confidence
    probs[np.arange(n), 1 - predicted] = 1 - confidence
    return evaluate(
        labels,
        probs,
        class_names=list(classes),
        slices={"camera": camera},
        guardrails={"min_confidence": 0.5},
        gates={
            "eval.accuracy": {"min": 0.5},
            "eval.slices": {"min_slice_accuracy": 0.8, "min_slice_size": 20},
        },
    )


def add_eval_run(
    store: Store,
    *,
    bundle: bool = True,
    kind: str = "model.eval",
    source: str = "/data/test",
    extra: list[CheckResult] = (),
    **options,
) -> int:
    run_id = add_run(store, kind, [*eval_results(**options), *extra])
    snapshot = add_snapshot(store, run_id, source, TEST_FP, {"cat": 100, "dog": 100})
    meta = {
        "model": "bundle models/bundle" if bundle else "pkg:build",
        "weights": None if bundle else "model.pt",
        "bundle": {"path": "models/bundle", "fingerprint": BUNDLE_FP, "weights": WEIGHTS_FP}
        if bundle
        else None,
        "classes": 2,
        "modality": "image",
        "failed_inputs": 0,
    }
    sets = {
        "test": {"source": source, "samples": 200, "fingerprint": TEST_FP, "snapshot_id": snapshot}
    }
    store.set_report_parts(run_id, {"meta": meta, "eval": {"sets": sets}})
    return run_id


def deploy_results(fp16: Status = Status.FAIL) -> list[CheckResult]:
    def parity(target: str, status: Status, diff: float, agree: int, target_acc: float):
        return CheckResult(
            "deploy.parity",
            status,
            f"{target} on 100 inputs: max |diff| {diff:.2g}",
            value=agree / 100,
            threshold=0.99,
            n=100,
            subject=target,
            interval=Interval(agree / 100 - 0.03, min(1.0, agree / 100 + 0.01)),
            details={
                "max_abs_diff": diff,
                "top1_agreement": agree / 100,
                "top1_agree": agree,
                "metric": {
                    "name": "accuracy",
                    "reference": 0.9,
                    "target": target_acc,
                    "delta": target_acc - 0.9,
                },
            },
        )

    return [
        CheckResult(
            "deploy.bundle",
            Status.PASS,
            "fingerprints match; 3 golden inputs reproduce",
            value=0.0,
            threshold=1e-4,
            n=3,
        ),
        parity("onnx_fp32", Status.PASS, 2e-6, 100, 0.9),
        parity("onnx_fp16", fp16, 0.8, 99, 0.89),
        CheckResult(
            "deploy.parity",
            Status.ERROR,
            "onnx_int8 could not be made: no onnx",
            subject="onnx_int8",
            details={"error": "no onnx"},
        ),
        CheckResult(
            "deploy.batch_sweep",
            Status.PASS,
            "the ONNX model matches at batch 1, 2, 32",
            value=0.0,
            threshold=0.0,
            n=8,
        ),
        CheckResult(
            "deploy.preprocessing",
            Status.PASS,
            "the spec reproduces the transform",
            value=0.998,
            threshold=0.99,
            n=100,
            interval=Interval(0.99, 1.0),
        ),
        CheckResult(
            "deploy.unexpected_inputs",
            Status.PASS,
            "an empty file was refused",
            subject="empty_file",
        ),
        CheckResult(
            "deploy.unexpected_inputs",
            Status.WARN,
            "a CMYK TIFF answers differently",
            subject="cmyk",
        ),
        CheckResult(
            "deploy.guardrails",
            Status.PASS,
            "the bundle abstains below 0.5",
            value=0.0,
            threshold=0.0,
        ),
    ]


def add_deploy_run(
    store: Store, fingerprint: str = BUNDLE_FP, weights: str = WEIGHTS_FP, **options
) -> int:
    part = {
        "bundle": "/p/models/bundle",
        "fingerprint": fingerprint,
        "weights": weights,
        "training_run": None,
        "refused": None,
        "files": 100,
        "url": None,
    }
    return add_run(store, "deploy.check", deploy_results(**options), {"deploy": part})


def add_data_run(store: Store, source: str = "/data/test", fingerprint: str = TEST_FP) -> int:
    results = [
        CheckResult("data.unreadable", Status.PASS, "0 of 200 samples cannot be decoded"),
        CheckResult("data.dark", Status.WARN, "3 of 200 samples are too dark", value=0.015),
    ]
    run_id = add_run(store, "data.profile", results)
    snapshot = add_snapshot(store, run_id, source, fingerprint, {"cat": 100, "dog": 100})
    store.set_report_parts(
        run_id, {"meta": {"source": source, "fingerprint": fingerprint, "snapshot_id": snapshot}}
    )
    return run_id


def issue_keys(card) -> set[tuple[int, str, str]]:
    return {(i.run_id, i.check, i.status) for i in card.known_issues}


def test_a_card_with_everything_found(store: Store) -> None:
    old_deploy = add_deploy_run(store, fp16=Status.PASS)
    data_run = add_data_run(store)
    eval_run = add_eval_run(store)
    deploy_run = add_deploy_run(store)  # the latest run of this bundle
    add_deploy_run(store, fingerprint="sha256:" + "c" * 64, weights="sha256:" + "d" * 64)

    card = build_model_card(store, eval_run)
    stored = {r.key: r for r in store.results_for_run(eval_run)}

    accuracy = card.headline[0]
    assert isinstance(accuracy, Measure) and accuracy.label == "accuracy"
    assert accuracy.value == stored["eval.accuracy"].value
    assert (accuracy.low, accuracy.high) == (
        stored["eval.accuracy"].interval.low,
        stored["eval.accuracy"].interval.high,
    )
    assert accuracy.n == 200 and accuracy.threshold == 0.5
    assert card.headline[1].value == stored["eval.macro_f1"].value
    assert {row.name for row in card.per_class} == {"cat", "dog"}
    assert all(row.recall.low is not None and row.support for row in card.per_class)
    assert {s.label for s in card.slices} == {"camera=day", "camera=night"}
    assert card.calibration.ece.value == stored["eval.calibration"].value
    assert card.calibration.brier == stored["eval.calibration"].details["brier"]

    deployment = card.deployment
    assert isinstance(deployment, Deployment)
    assert deployment.run.id == deploy_run != old_deploy
    assert BUNDLE_FP in deployment.matched_by
    assert [p.target for p in deployment.parity] == ["onnx_fp32", "onnx_fp16", "onnx_int8"]
    fp16 = deployment.parity[1]
    assert fp16.status == "fail" and fp16.max_abs_diff == 0.8
    assert fp16.agreement.value == 0.99 and fp16.accuracy_delta == pytest.approx(-0.01)
    assert deployment.parity[2].error == "no onnx"
    assert deployment.batch_sweep.status == "pass"
    assert deployment.preprocessing.value == 0.998
    assert [m.label for m in deployment.unexpected_inputs] == ["empty_file", "cmyk"]
    assert isinstance(deployment.smoke, Missing)

    assert [g.check for g in card.guardrails] == ["eval.guardrails", "deploy.guardrails"]
    assert [g.run_id for g in card.guardrails] == [eval_run, deploy_run]

    (test,) = card.data
    assert test.snapshot.n_samples == 200 and test.snapshot.class_counts == {"cat": 100, "dog": 100}
    assert test.checks.id == data_run and test.counts == {"pass": 1, "warn": 1}

    issues = issue_keys(card)
    assert (deploy_run, "deploy.parity[onnx_fp16]", "fail") in issues
    assert (deploy_run, "deploy.parity[onnx_int8]", "error") in issues
    assert (deploy_run, "deploy.unexpected_inputs[cmyk]", "warn") in issues
    assert (data_run, "data.dark", "warn") in issues
    assert not any(run == old_deploy for run, _, _ in issues)
    assert {r.id for r in card.provenance.runs} == {eval_run, deploy_run, data_run}
    assert ("bundle (evaluated)", BUNDLE_FP) in card.provenance.fingerprints
    assert card.provenance.store_url == store.url

    markdown = render_markdown(card)
    assert markdown.count("**missing**:") == 1 and "dlqa deploy smoke" in markdown  # only it
    assert f"run {deploy_run} (deploy.check" in markdown and "`onnx_fp16`" in markdown
    assert "[" + f"{accuracy.low:.4g}, {accuracy.high:.4g}" + "] 95% CI" in markdown
    html = render_html(card)
    assert "<svg" in html and "interval-bar" in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)


def test_a_missing_deployment_run_is_shown_as_missing(store: Store) -> None:
    eval_run = add_eval_run(store)
    add_deploy_run(store, fingerprint="sha256:" + "c" * 64, weights="sha256:" + "d" * 64)

    card = build_model_card(store, eval_run)

    assert isinstance(card.deployment, Missing)
    assert card.deployment.what == f"no deployment run for bundle {BUNDLE_FP}"
    assert card.deployment.command == "dlqa deploy check models/bundle"
    assert isinstance(card.guardrails[1], Missing)
    (test,) = card.data
    assert isinstance(test.checks, Missing)
    assert test.checks.command == "dlqa data profile /data/test"
    markdown = render_markdown(card)
    assert f"**missing**: no deployment run for bundle `{BUNDLE_FP}`" not in markdown
    assert f"**missing**: no deployment run for bundle {BUNDLE_FP}: run `dlqa deploy check" in (
        markdown
    )
    assert "missing</b>: no deployment run for bundle" in render_html(card)


def test_a_bundle_of_the_same_weights_is_found_by_its_weights_fingerprint(store: Store) -> None:
    eval_run = add_eval_run(store)
    other = add_deploy_run(store, fingerprint="sha256:" + "c" * 64)  # same weights

    deployment = build_model_card(store, eval_run).deployment

    assert isinstance(deployment, Deployment) and deployment.run.id == other
    assert deployment.matched_by.startswith(f"weights fingerprint {WEIGHTS_FP}")


def test_an_eval_of_the_configured_model_cannot_be_matched_and_says_how(store: Store) -> None:
    add_deploy_run(store)
    eval_run = add_eval_run(store, bundle=False)

    card = build_model_card(store, eval_run)

    assert isinstance(card.deployment, Missing)
    assert "not an exported bundle" in card.deployment.what
    assert card.deployment.command == "dlqa model eval BUNDLE"
    assert card.model.weights == "model.pt" and card.model.bundle_fingerprint is None


def test_a_check_run_is_its_own_deployment_and_data_run(store: Store) -> None:
    data = [CheckResult("data.unreadable", Status.FAIL, "1 of 625 samples cannot be decoded")]
    run_id = add_eval_run(store, bundle=False, kind="check", extra=[*data, *deploy_results()])
    add_snapshot(store, run_id, "/data/train", "sha256:" + "e" * 64, {"cat": 300, "dog": 325})
    store.set_report_parts(run_id, {"deploy": {"bundle": "b", "fingerprint": BUNDLE_FP}})

    card = build_model_card(store, run_id)

    assert isinstance(card.deployment, Deployment) and card.deployment.run.id == run_id
    assert card.deployment.matched_by.startswith("the same run")
    profiled = card.data[-1]
    assert profiled.role == f"data profiled in run {run_id}" and profiled.source == "/data/train"
    assert profiled.snapshot.n_samples == 625 and profiled.counts == {"fail": 1}
    keys = [(i.check, i.status) for i in card.known_issues]
    assert ("data.unreadable", "fail") in keys and ("deploy.parity[onnx_fp16]", "fail") in keys
    assert len(keys) == len(set(keys))  # each result once, though the run plays three roles
    assert [r.id for r in card.provenance.runs] == [run_id]


def test_an_unknown_run_and_a_run_without_eval_results_are_usage_errors(store: Store) -> None:
    data_run = add_data_run(store)
    with pytest.raises(UsageError, match="no run 42"):
        build_model_card(store, 42)
    with pytest.raises(UsageError, match=f"run {data_run} is not an evaluation run"):
        build_model_card(store, data_run)


def test_a_failing_slice_is_a_known_issue(store: Store) -> None:
    eval_run = add_eval_run(store, bad_night=True)

    card = build_model_card(store, eval_run)

    night = next(s for s in card.slices if s.label == "camera=night")
    assert night.status == "fail" and night.n == 50 and night.high < 0.8
    (issue,) = [i for i in card.known_issues if i.check == "eval.slices"]
    assert issue.status == "fail" and issue.run_id == eval_run and "camera=night" in issue.summary
    assert "camera=night" in render_markdown(card).split("## Known issues")[1]


def test_an_unfinished_eval_run_says_so_and_skipped_checks_are_missing(store: Store) -> None:
    results = [r for r in eval_results() if r.check_id in ("eval.accuracy", "eval.per_class")]
    results.append(CheckResult("eval.slices", Status.SKIP, "no slice columns given"))
    run_id = add_run(store, "model.eval", results, status="interrupted")

    card = build_model_card(store, run_id)

    assert "did not finish (status interrupted)" in card.notes[0]
    assert isinstance(card.headline[1], Missing) and "eval.macro_f1" in card.headline[1].what
    assert isinstance(card.slices, Missing) and "skip" in card.slices.what
    assert isinstance(card.calibration, Missing)
    assert isinstance(card.data, Missing)
    render_markdown(card), render_html(card)  # a sparse card still renders


def test_user_data_is_escaped_in_html_and_markdown(store: Store) -> None:
    eval_run = add_eval_run(store, classes=("cat", f"{EVIL}|"), source=f"/data/{EVIL}|x")
    add_deploy_run(store)
    card = build_model_card(store, eval_run)
    assert f"{EVIL}|" in {row.name for row in card.per_class}

    html = render_html(card)
    assert EVIL not in html and "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    markdown = render_markdown(card)
    assert "<script" not in markdown.replace("\\<script", "")
    assert "### test set: /data/\\<script>alert(1)\\</script>\\|x" in markdown
    # A class name cannot split a table row: its row has the table's 7 cells.
    row = next(line for line in markdown.splitlines() if line.startswith("| \\<script>"))
    assert len(re.findall(r"(?<!\\)\|", row)) == 8


def test_markdown_escaping() -> None:
    assert md("a|b <b>x</b> *y* [l](u)") == "a\\|b \\<b>x\\</b> \\*y\\* \\[l\\](u)"
    assert md("min_recall") == "min_recall" and md("_x_") == "\\_x\\_"
    assert md("two\nlines") == "two lines"
    assert md_code("a`b|c") == "``a`b\\|c``"
    assert md_code(EVIL) == md(EVIL)  # never a code span some renderer might pass through


def test_the_cli_writes_both_files_and_refuses_a_bad_run(store: Store, tmp_path: Path) -> None:
    from tests.e2e.conftest import run_cli

    eval_run = add_eval_run(store)
    code, out, err = run_cli(
        "model", "card", str(eval_run), "--db", store.url, "--out", str(tmp_path / "card")
    )
    assert code == 0, err
    assert (tmp_path / "card" / "model-card.md").is_file()
    assert (tmp_path / "card" / "model-card.html").is_file()
    assert str(tmp_path / "card" / "model-card.md") in out.replace("\n", "")

    code, _, err = run_cli("model", "card", "77", "--db", store.url, "--out", str(tmp_path))
    assert code == 2 and "no run 77" in err
    assert not (tmp_path / "model-card.md").exists()


def test_a_later_export_does_not_hide_the_check_and_a_smoke_run_is_found(store: Store) -> None:
    eval_run = add_eval_run(store)
    check_run = add_deploy_run(store)
    part = {"bundle": "/p/models/bundle", "fingerprint": BUNDLE_FP, "weights": WEIGHTS_FP}
    bundle_only = [CheckResult("deploy.bundle", Status.PASS, "fingerprints match")]
    add_run(store, "deploy.check", bundle_only, {"deploy": part})  # a later `dlqa deploy export`
    smoke = [CheckResult("deploy.smoke", Status.FAIL, "the server answered 500 on 2 inputs")]
    smoke_run = add_run(store, "deploy.smoke", smoke, {"deploy": {**part, "url": "http://h"}})

    card = build_model_card(store, eval_run)

    assert card.deployment.run.id == check_run
    assert card.deployment.smoke.run_id == smoke_run and card.deployment.smoke.status == "fail"
    assert (smoke_run, "deploy.smoke", "fail") in issue_keys(card)
    assert {r.id: r.role for r in card.provenance.runs}[smoke_run] == "smoke test"
    assert f"**fail** (run {smoke_run}): the server answered 500" in render_markdown(card)

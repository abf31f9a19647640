"""The stage pages (evaluation, deployment, experiments, releases, training): each lists its
runs a page at a time with their key figures; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dlqa.core.results import Interval, Status
from dlqa.store import Store
from tests.ui.test_pages_runs import (
    BAD_NAME,
    BAD_SHOWN,
    SCRIPT,
    add_hostile_run,
    add_run,
    assert_escaped,
    result,
)

PAGES = ("/eval", "/deploy", "/exp", "/releases", "/monitor")


def stage_runs(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<h2><a href="/runs/(\d+)">', page)]


def parity(variant: str, status: Status, diff: float, atol: float | None) -> Any:
    details = {"max_abs_diff": diff, "inputs_beyond_tolerance": 0 if status is Status.PASS else 5,
               "top1_agreement": 0.99, "tolerance": {"atol": atol, "min_top1_agreement": 0.98},
               "metric": {"name": "accuracy", "delta": -0.002}}  # fmt: skip
    return result("deploy.parity", status, subject=variant, details=details, n=512)


@pytest.mark.parametrize("path", PAGES)
def test_empty_store_says_what_would_fill_the_page(client: Any, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert "No runs for this page yet" in page.text and "dlqa demo" in page.text


def test_eval_shows_metrics_intervals_slices_and_clusters(client: Any, store: Store) -> None:
    run_id = add_run(store, "model.eval", [
        result("eval.accuracy", Status.PASS, value=0.93, n=600, interval=Interval(0.91, 0.95)),
        result("eval.slices", Status.PASS, value=0.9, n=150,
               details={"slices": 8, "columns": ["brightness", "contrast"]}),
        result("eval.embedding_clusters", Status.FAIL, value=1.0,
               details={"split_classes": ["four"], "classes_examined": 10}),
        result("data.dark", Status.FAIL),  # not an eval result: not on this page
    ])  # fmt: skip
    add_run(store, "data.profile")  # not listed
    page = client.get("/eval").text
    assert stage_runs(page) == [run_id]
    assert "0.91, 0.95" in page and "600" in page
    assert "8 slices over 2 column(s)" in page
    assert "1 split class(es) of 10 examined" in page
    assert "data.dark</code>" not in page


def test_deploy_draws_the_parity_matrix(client: Any, store: Store) -> None:
    run_id = add_run(store, "deploy.check", [
        parity("onnx_fp32", Status.PASS, 2e-5, 1e-4),
        parity("onnx_int8", Status.FAIL, 0.5, 1e-4),
        result("deploy.bundle"),
    ])  # fmt: skip
    add_run(store, "deploy.smoke", [result("deploy.smoke")])
    page = client.get("/deploy").text
    assert stage_runs(page)[1] == run_id
    rows = re.findall(r"<tr><td><code>(\w+)</code></td>(.*?)</tr>", page, re.S)
    grid = {variant: re.findall(r'class="num( status-\w+)?"', cells) for variant, cells in rows}
    assert grid["onnx_fp32"][0] == " status-pass" and grid["onnx_int8"][0] == " status-fail"
    assert "accuracy: -0.002" in page and "No parity results" in page


def test_exp_shows_groups_comparisons_and_ablations(client: Any, store: Store) -> None:
    seeds = [{"seed": s, "status": "ok", "metrics": {"accuracy": 0.8 + s / 100}} for s in range(3)]
    group = add_run(store, "exp.run", report={"exp": {"group": {"name": "cnn@base",
                                                                "seeds": seeds}}})  # fmt: skip
    compare = add_run(store, "exp.compare", [
        result("exp.compare", Status.PASS, subject="accuracy",
               details={"verdict": "improved", "reason": "better by 0.08 (p = 0.004)"}),
        result("exp.reproducible", Status.FAIL, summary="the candidate ran from a dirty tree"),
    ])  # fmt: skip
    ablate = add_run(store, "exp.ablate", [result("exp.ablation", subject="accuracy")],
                     report={"exp": {"ablation": {"metric": "accuracy"}}})  # fmt: skip
    page = client.get("/exp").text
    assert stage_runs(page) == [ablate, compare, group]
    assert "cnn@base" in page and "seeds 0, 1, 2" in page and "0.81" in page
    assert "accuracy: improved" in page and "better by 0.08" in page
    assert "the candidate ran from a dirty tree" in page
    assert "draws its charts" in page


def test_releases_plot_each_metric(client: Any, store: Store) -> None:
    for version, values in (("1.0", [0.83, 0.84, 0.86]), ("1.1", [0.95, 0.92, 0.91])):
        add_run(store, "release", report={"release": {"version": version,
                "metrics": {"accuracy": values, "f1": [0.8]},
                "intervals": {"f1": [0.7, 0.9]}}})  # fmt: skip
    page = client.get("/releases").text
    assert page.count("<svg") == 2  # accuracy and f1
    assert "<title>accuracy per release</title>" in page
    assert page.index(">1.0</text>") < page.index(">1.1</text>")  # oldest left
    assert "0.8 [0.7, 0.9]" in page  # f1's stored interval


def test_monitor_draws_loss_curves_and_lists_training_checks(client: Any, store: Store) -> None:
    losses = [2.5 / (1 + step / 10) for step in range(1000)]
    findings = [{"step": 12, "kind": "loss_spike", "value": 9.5, "module": "features.2"}]
    monitored = add_run(store, "train.monitor", report={"monitor": {
        "steps": 1000, "epochs": 5, "losses": losses, "grad_norms": [1.0] * 1000,
        "findings": findings}})  # fmt: skip
    checked = add_run(store, "train.check", [result("train.gradients", Status.FAIL,
                      summary="2 parameters get no gradient")])  # fmt: skip
    page = client.get("/monitor").text
    assert stage_runs(page) == [checked, monitored]
    assert "<polyline" in page and "1000 steps" in page
    points = re.search(r'<polyline points="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert len(points.split()) <= 300  # thinned for drawing
    assert "step 12: loss_spike = 9.5 in features.2" in page
    assert "2 parameters get no gradient" in page


@pytest.mark.slow
def test_stage_pages_are_paged(client: Any, store: Store) -> None:
    ids = [add_run(store, "model.eval", [result("eval.accuracy")]) for _ in range(45)]
    first = client.get("/eval").text
    assert stage_runs(first) == ids[::-1][:20] and "page 1 of 3" in first
    assert stage_runs(client.get("/eval?page=3").text) == ids[::-1][40:]
    assert stage_runs(client.get("/eval?page=2&per_page=10").text) == ids[::-1][10:20]


def test_markup_renders_escaped_on_every_stage_page(client: Any, store: Store) -> None:
    add_hostile_run(store, "check")
    add_hostile_run(store, "exp.compare", exp={"group": {"name": SCRIPT, "seeds": []}})
    add_hostile_run(store, "release", release={"version": SCRIPT,
                    "metrics": {SCRIPT: [0.5]}, "source": BAD_NAME})  # fmt: skip
    add_hostile_run(store, "train.monitor", monitor={"losses": [1.0, 0.5], "findings": [
        {"step": 1, "kind": SCRIPT, "module": BAD_NAME}]})  # fmt: skip
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
        assert_escaped(page.text)
        assert BAD_SHOWN in page.text, path

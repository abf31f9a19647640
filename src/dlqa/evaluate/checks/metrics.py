"""The headline metrics of the test set: accuracy, macro F1, per class, the confusion matrix.

Each metric carries its ``n`` and interval (Wilson for proportions, the confusion-matrix
bootstrap for F1), and a gate on it is decided by the interval: pass when the whole
interval clears the threshold, fail when the whole interval is beyond it, inconclusive in
between, with the eval-set size that would decide it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from dlqa.core.gates import decide
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Interval, Status
from dlqa.evaluate.context import EvalContext
from dlqa.evaluate.metrics import (
    accuracy,
    accuracy_interval,
    f1_per_class,
    macro_f1,
    precision_intervals,
    precision_per_class,
    recall_intervals,
    recall_per_class,
)
from dlqa.evaluate.noise import decide_metric, gate_details, size_to_decide_proportion

_SAID = {
    Status.PASS: "clears",
    Status.FAIL: "is below",
    Status.WARN: "is below",
    Status.INCONCLUSIVE: "too few samples to tell whether it clears",
}


class MinParams(BaseModel):
    min: float | None = Field(
        None, ge=0.0, le=1.0, description="the floor: the interval's lower bound must clear it"
    )


class PerClassParams(BaseModel):
    min_recall: float | None = Field(
        None, ge=0.0, le=1.0, description="every class's recall must clear this floor"
    )


class ConfusionParams(BaseModel):
    top_pairs: int = Field(10, ge=1, description="most-confused pairs listed")
    examples_per_pair: int = Field(3, ge=0, description="misclassified samples shown per pair")


def _fmt(value: float) -> str:
    return f"{value:.3f}"


def _span(interval: Interval) -> str:
    return f"[{interval.low:.3f}, {interval.high:.3f}]"


def _gate_words(status: Status, threshold: float | None) -> str:
    if threshold is None:
        return "no floor set"
    return f"min {threshold:g}: {_SAID[status]}"


def failures_evidence(context: EvalContext) -> list[Evidence]:
    if not context.failures:
        return []
    return [
        Evidence(
            "samples",
            [{"id": f["id"], "reason": f["reason"], "set": f.get("set")} for f in context.failures],
            len(context.failures),
            "inputs the model failed on (left out of every metric)",
        )
    ]


@register_check(
    "eval.accuracy",
    title="Accuracy",
    description=(
        "The share of test samples predicted right, with its Wilson 95 % interval. With "
        "`min`, passes only when the interval's lower bound clears it, fails when the upper "
        "bound is below it, and is inconclusive in between (with the eval-set size that "
        "would decide). Inputs the model failed on fail the check and are named."
    ),
    params=MinParams,
)
def check_accuracy(context: EvalContext, params: dict[str, Any]) -> CheckResult:
    counts = context.test_counts
    n = int(counts.sum())
    value = float(accuracy(counts))
    interval = accuracy_interval(counts)
    threshold = params["min"]
    status, details = decide_metric(value, interval, threshold, params, n=n, proportion=True)
    details.update(correct=int(np.trace(counts)), classes=context.n_classes)
    summary = (
        f"accuracy {_fmt(value)} {_span(interval)} on {n} test samples; "
        f"{_gate_words(status, threshold)}"
    )
    evidence = failures_evidence(context)
    if context.failures:
        status = Status.FAIL
        details["failed_inputs"] = len(context.failures)
        summary = f"the model failed on {len(context.failures)} input(s); {summary}"
    return CheckResult(
        "eval.accuracy", status, summary, value=value, threshold=threshold, n=n,
        interval=interval, evidence=evidence, details=details,
    )  # fmt: skip


@register_check(
    "eval.macro_f1",
    title="Macro F1",
    description=(
        "The mean F1 over the classes present in the test labels (scikit-learn's "
        "`average='macro'` over present classes), with a bootstrap 95 % interval "
        "(1,000 resamples of the confusion matrix). `min` is decided by the interval, as "
        "for eval.accuracy."
    ),
    params=MinParams,
)
def check_macro_f1(context: EvalContext, params: dict[str, Any]) -> CheckResult:
    counts = context.test_counts
    n = int(counts.sum())
    value = float(macro_f1(counts))
    boot = context.test_bootstrap.macro_f1
    # A percentile interval can miss a point estimate on a skewed statistic; widen to it.
    interval = Interval(min(boot.low, value), max(boot.high, value), boot.level)
    threshold = params["min"]
    status, details = decide_metric(value, interval, threshold, params, n=n, proportion=False)
    details.update(
        classes_present=int((counts.sum(axis=1) > 0).sum()),
        interval_method=f"bootstrap, {context.n_resamples} resamples of the confusion matrix",
    )
    summary = (
        f"macro F1 {_fmt(value)} {_span(interval)} on {n} test samples; "
        f"{_gate_words(status, threshold)}"
    )
    return CheckResult(
        "eval.macro_f1", status, summary, value=value, threshold=threshold, n=n,
        interval=interval, details=details,
    )  # fmt: skip


def _class_status(interval: Interval, floor: float, params: dict[str, Any]) -> Status:
    return decide(interval, floor, params, higher_is_better=True)


@register_check(
    "eval.per_class",
    title="Precision, recall and F1 per class",
    description=(
        "Per class: support, precision and recall with Wilson intervals, F1 with a "
        "bootstrap interval, worst recall first. With `min_recall`, every class present in "
        "the test set must clear it: a class whose recall interval is below fails, one whose "
        "interval straddles it is inconclusive (with the size that would decide)."
    ),
    params=PerClassParams,
)
def check_per_class(context: EvalContext, params: dict[str, Any]) -> CheckResult:
    counts = context.test_counts
    names = context.class_names
    support = counts.sum(axis=1)
    precision, recall, f1 = (
        precision_per_class(counts), recall_per_class(counts), f1_per_class(counts),
    )  # fmt: skip
    recall_ci, precision_ci = recall_intervals(counts), precision_intervals(counts)
    f1_ci = context.test_bootstrap.f1_per_class
    floor = params["min_recall"]
    present = [k for k in range(len(names)) if support[k] > 0]
    present.sort(key=lambda k: (recall_ci[k].high, recall[k]))
    statuses: dict[int, Status] = {}
    intervals, table = [], []
    for k in present:
        status = Status.PASS if floor is None else _class_status(recall_ci[k], floor, params)
        statuses[k] = status
        item = {
            "name": f"recall[{names[k]}]", "value": float(recall[k]), "low": recall_ci[k].low,
            "high": recall_ci[k].high, "threshold": floor, "n": int(support[k]),
            "status": status.value,
        }  # fmt: skip
        if status is Status.INCONCLUSIVE:
            item["n_to_decide"] = size_to_decide_proportion(float(recall[k]), float(floor))
        intervals.append(item)
        table.append(
            {
                "class": names[k],
                "support": int(support[k]),
                "precision": round(float(precision[k]), 4),
                "precision_interval": _span(precision_ci[k]),
                "recall": round(float(recall[k]), 4),
                "recall_interval": _span(recall_ci[k]),
                "f1": round(float(f1[k]), 4),
                "f1_interval": _span(f1_ci[k]),
            }
        )
    failing = [k for k, s in statuses.items() if s in (Status.FAIL, Status.WARN)]
    undecided = [k for k, s in statuses.items() if s is Status.INCONCLUSIVE]
    status = statuses[failing[0]] if failing else Status.INCONCLUSIVE if undecided else Status.PASS
    worst = present[0] if present else None
    value = None if worst is None else float(recall[worst])
    absent = [names[k] for k in range(len(names)) if support[k] == 0]
    details: dict[str, Any] = {"classes_present": len(present), "classes_absent": absent}
    if floor is None:
        said = "no recall floor set"
    elif failing:
        said = f"{len(failing)} class(es) below min_recall {floor:g}: " + ", ".join(
            names[k] for k in failing[:5]
        )
    elif undecided:
        sizes = [i.get("n_to_decide") for i in intervals if i["status"] == "inconclusive"]
        known = [s for s in sizes if s is not None]
        details.update(gate_details(Status.INCONCLUSIVE, max(known) if known else None,
                                    int(support[undecided[0]]), float(floor)))  # fmt: skip
        said = f"{len(undecided)} class(es) too small to tell against min_recall {floor:g}: " + (
            ", ".join(names[k] for k in undecided[:5])
        )
    else:
        said = f"every class clears min_recall {floor:g}"
    summary = (
        f"{len(present)} classes; lowest recall {names[worst]} {_fmt(value)} "
        f"{_span(recall_ci[worst])} (n={int(support[worst])}); {said}"
        if worst is not None
        else "no class present in the test set"
    )
    evidence = [
        Evidence("intervals", intervals, len(intervals), "recall per class, worst first"),
        Evidence("table", table, len(table), "precision, recall and F1 per class"),
    ]
    return CheckResult(
        "eval.per_class", status, summary, value=value, threshold=floor,
        n=int(support.sum()), interval=None if worst is None else recall_ci[worst],
        evidence=evidence, details=details,
    )  # fmt: skip


def confused_pairs(counts: np.ndarray, top: int) -> list[tuple[int, int, int]]:
    """(true, predicted, count) of the off-diagonal cells with the most samples."""
    off = counts.astype(np.int64).copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None, kind="stable")[:top]
    rows, cols = np.unravel_index(flat, off.shape)
    return [(int(i), int(j), int(off[i, j])) for i, j in zip(rows, cols, strict=True) if off[i, j]]


@register_check(
    "eval.confusion",
    title="Confusion matrix and most-confused pairs",
    description=(
        "The test set's confusion matrix (rows: true class, columns: predicted), the pairs "
        "of classes confused most often with their share of the true class, and the most "
        "confident mistakes of each pair as examples. Shown, not gated."
    ),
    params=ConfusionParams,
)
def check_confusion(context: EvalContext, params: dict[str, Any]) -> CheckResult:
    counts = context.test_counts
    names = context.class_names
    pairs = confused_pairs(counts, params["top_pairs"])
    support = counts.sum(axis=1)
    rows = [
        {"true": names[i], "predicted": names[j], "count": c,
         "share_of_true": round(c / int(support[i]), 4)}
        for i, j, c in pairs
    ]  # fmt: skip
    index = context.test_index
    examples = []
    for i, j, _ in pairs:
        rows_of_pair = index[(context.labels[index] == i) & (context.predictions[index] == j)]
        by_confidence = rows_of_pair[np.argsort(-context.confidence[rows_of_pair])]
        examples.extend(
            context.sample(int(r), reason=f"{names[i]} predicted as {names[j]}")
            for r in by_confidence[: params["examples_per_pair"]]
        )
    errors = int(counts.sum() - np.trace(counts))
    evidence = [Evidence("confusion", [{"classes": list(names), "matrix": counts.tolist()}], 1)]
    if rows:
        evidence.append(Evidence("table", rows, len(rows), "most-confused pairs"))
    if examples:
        evidence.append(
            Evidence("samples", examples, len(examples), "most confident mistakes per pair")
        )
    top = f"; most confused: {rows[0]['true']} → {rows[0]['predicted']} ({rows[0]['count']})"
    summary = f"{errors} errors among {int(counts.sum())} test samples" + (top if rows else "")
    return CheckResult(
        "eval.confusion", Status.PASS, summary, value=float(errors), n=int(counts.sum()),
        evidence=evidence, details={"errors": errors},
    )  # fmt: skip

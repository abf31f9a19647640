"""``eval.slices``: metrics per slice of the test set, worst first, each with its size."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from dlqa.core.gates import decide
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.evaluate.context import EvalContext
from dlqa.evaluate.noise import gate_details, size_to_decide_proportion
from dlqa.evaluate.slices import slice_metrics, slice_values, worst_first

EXAMPLES = 6


class SliceParams(BaseModel):
    min_slice_accuracy: float | None = Field(
        None, ge=0.0, le=1.0, description="every slice's accuracy must clear this floor"
    )
    min_slice_size: int = Field(
        30, ge=1, description="slices with fewer test samples are shown but not gated"
    )
    n_bins: int = Field(4, ge=2, le=20, description="quantile bins of a numeric slice column")


@register_check(
    "eval.slices",
    title="Metrics per slice",
    description=(
        "Accuracy (Wilson interval) per slice of the test set: per value of a metadata "
        "column, per quantile bin of a numeric one (a data-stage property such as brightness "
        "or duration), worst first by the interval's upper bound, each with its size. With "
        "`min_slice_accuracy`, every slice of at least `min_slice_size` samples must clear "
        "it (decided by its interval); smaller slices are listed, not gated."
    ),
    params=SliceParams,
    needs=("slices",),
)
def check_slices(context: EvalContext, params: dict[str, Any]) -> CheckResult:
    rows = context.test_index
    labels, predictions = context.labels[rows], context.predictions[rows]
    metrics = []
    for name, values in context.slices.items():
        metrics.extend(
            slice_metrics(labels, predictions, name, values[rows], n_bins=params["n_bins"])
        )
    ordered = worst_first(metrics)
    floor, least = params["min_slice_accuracy"], params["min_slice_size"]
    items, statuses = [], []
    for metric in ordered:
        item = metric.to_item()
        if floor is None:
            status = Status.PASS
        elif metric.n < least:
            status, item["gated"] = Status.SKIP, False
        else:
            status = decide(metric.interval, floor, params, higher_is_better=True)
            if status is Status.INCONCLUSIVE:
                item["n_to_decide"] = size_to_decide_proportion(metric.accuracy, floor)
        statuses.append(status)
        items.append(
            {
                "name": f"{metric.column}={metric.value}", "value": metric.accuracy,
                "low": metric.interval.low, "high": metric.interval.high, "threshold": floor,
                "n": metric.n, "status": status.value,
                **{k: v for k, v in item.items() if k in ("gated", "n_to_decide")},
            }
        )  # fmt: skip
    failing = [i for i, s in enumerate(statuses) if s in (Status.FAIL, Status.WARN)]
    undecided = [i for i, s in enumerate(statuses) if s is Status.INCONCLUSIVE]
    status = statuses[failing[0]] if failing else (
        Status.INCONCLUSIVE if undecided else Status.PASS
    )  # fmt: skip
    details: dict[str, Any] = {"slices": len(ordered), "columns": list(context.slices)}
    if undecided and not failing:
        first = ordered[undecided[0]]
        size = items[undecided[0]].get("n_to_decide")
        details.update(gate_details(Status.INCONCLUSIVE, size, first.n, float(floor)))
    evidence = [Evidence("intervals", items, len(items), "accuracy per slice, worst first")]
    worst = ordered[0] if ordered else None
    if worst is not None:
        evidence.append(_worst_examples(context, rows, worst, params["n_bins"]))
    if worst is None:
        summary = "no slice to measure"
    else:
        summary = (
            f"{len(ordered)} slices over {len(context.slices)} column(s); worst "
            f"{worst.column}={worst.value}: accuracy {worst.accuracy:.3f} "
            f"[{worst.interval.low:.3f}, {worst.interval.high:.3f}] (n={worst.n})"
        )
        if floor is not None:
            summary += (
                f"; {len(failing)} below and {len(undecided)} undecided against "
                f"min_slice_accuracy {floor:g}"
            )
    return CheckResult(
        "eval.slices", status, summary, value=None if worst is None else worst.accuracy,
        threshold=floor, n=None if worst is None else worst.n,
        interval=None if worst is None else worst.interval, evidence=evidence, details=details,
    )  # fmt: skip


def _worst_examples(context: EvalContext, rows: np.ndarray, worst: Any, n_bins: int) -> Evidence:
    """The most confident mistakes inside the worst slice."""
    column = slice_values(context.slices[worst.column][rows], n_bins=n_bins)
    group = column.names.index(worst.value) if worst.value in column.names else -1
    inside = rows[column.codes == group]
    wrong = inside[~context.correct[inside]]
    wrong = wrong[np.argsort(-context.confidence[wrong])][:EXAMPLES]
    items = [context.sample(int(r), reason=f"{worst.column}={worst.value}") for r in wrong]
    return Evidence("samples", items, int((~context.correct[inside]).sum()),
                    f"mistakes in the worst slice {worst.column}={worst.value}")  # fmt: skip

"""``eval.calibration``: whether the model's confidence means what it says."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Interval
from dlqa.evaluate.calibration import (
    brier_score,
    calibration_intervals,
    expected_calibration_error,
    reliability_bins,
)
from dlqa.evaluate.context import EvalContext
from dlqa.evaluate.noise import decide_metric


class CalibrationParams(BaseModel):
    max_ece: float | None = Field(
        None, ge=0.0, le=1.0, description="ceiling on the ECE: its interval must stay below"
    )
    n_bins: int = Field(15, ge=1, le=1000, description="equal-mass bins of the ECE")


@register_check(
    "eval.calibration",
    title="Calibration",
    description=(
        "Expected calibration error of the top-label confidence over equal-mass bins (each "
        "bin holds about the same number of test samples), with a bootstrap 95 % interval "
        "and a reliability diagram; the multi-class Brier score. With `max_ece`, passes only "
        "when the interval's upper bound stays below it. ECE is biased upwards on small sets."
    ),
    params=CalibrationParams,
)
def check_calibration(context: EvalContext, params: dict[str, Any]) -> CheckResult:
    rows = context.test_index
    probs, labels = context.probs[rows], context.labels[rows]
    n_bins = params["n_bins"]
    ece = float(expected_calibration_error(probs, labels, n_bins=n_bins))
    brier = float(brier_score(probs, labels))
    intervals = calibration_intervals(
        probs, labels, n_bins=n_bins, n_resamples=context.n_resamples, seed=context.seed
    )
    interval = Interval(min(intervals.ece.low, ece), max(intervals.ece.high, ece))
    threshold = params["max_ece"]
    n = int(rows.size)
    status, details = decide_metric(
        ece, interval, threshold, params, n=n, proportion=False, higher_is_better=False
    )
    bins = reliability_bins(probs, labels, n_bins=n_bins)
    details.update(
        brier=brier, brier_interval=intervals.brier.to_dict(), n_bins=n_bins,
        mean_confidence=float(context.confidence[rows].mean()),
        accuracy=float(context.correct[rows].mean()),
    )  # fmt: skip
    item = {"bins": bins.to_items(), "ece": ece, "brier": brier}
    gap = details["mean_confidence"] - details["accuracy"]
    lean = "overconfident" if gap > 0 else "underconfident"
    summary = (
        f"ECE {ece:.3f} [{interval.low:.3f}, {interval.high:.3f}], Brier {brier:.3f} on {n} "
        f"test samples; mean confidence {details['mean_confidence']:.3f} vs accuracy "
        f"{details['accuracy']:.3f} ({lean} by {abs(gap):.3f})"
        + ("" if threshold is None else f"; max_ece {threshold:g}: {status.value}")
    )
    return CheckResult(
        "eval.calibration", status, summary, value=ece, threshold=threshold, n=n,
        interval=interval, evidence=[Evidence("reliability", [item], 1)], details=details,
    )  # fmt: skip

"""The case sets: ``golden`` (curated hard and edge cases, compared case by case with the
previous stored run) and ``regression`` (the bad-case gallery from user reports, which must
all pass)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from dlqa.core.gates import verdict
from dlqa.core.intervals import wilson_interval
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence
from dlqa.evaluate.context import EvalContext
from dlqa.evaluate.noise import decide_metric


class GoldenParams(BaseModel):
    max_newly_wrong: int = Field(
        0, ge=0, description="cases right in the previous run and wrong now that are tolerated"
    )
    min_accuracy: float | None = Field(
        None, ge=0.0, le=1.0, description="floor on the golden set's accuracy (by its interval)"
    )


class RegressionParams(BaseModel):
    max_failures: int = Field(0, ge=0, description="regression cases allowed to fail")


def case_outcomes(context: EvalContext, set_name: str) -> dict[str, bool]:
    """Sample id -> whether the model got it right, for the rows of one set."""
    rows = context.sets[set_name]
    return {context.sample_ids[r]: bool(context.correct[r]) for r in rows}


@register_check(
    "eval.golden",
    title="Golden set, case by case",
    description=(
        "Accuracy on the curated golden set (Wilson interval), and each case compared with "
        "the previous stored run of the same golden set: cases newly wrong and newly right "
        "are the evidence. More than `max_newly_wrong` newly wrong cases warns (level "
        "`fail` to block); `min_accuracy` is decided by the interval."
    ),
    params=GoldenParams,
    level="warn",
    needs=("golden",),
)
def check_golden(context: EvalContext, params: dict[str, Any]) -> CheckResult:
    rows = context.sets["golden"]
    outcomes = case_outcomes(context, "golden")
    n, right = len(outcomes), sum(outcomes.values())
    value = right / n
    interval = wilson_interval(right, n)
    status, details = decide_metric(
        value, interval, params["min_accuracy"], params, n=n, proportion=True
    )
    previous = context.previous.get("golden")
    details.update(cases=n, correct=right, outcomes=outcomes)
    if "golden" in context.fingerprints:
        details["fingerprint"] = context.fingerprints["golden"]
    row_of = {context.sample_ids[r]: int(r) for r in rows}
    evidence: list[Evidence] = []
    if previous is None:
        compared = "no previous run of this golden set to compare with"
    else:
        common = [i for i in outcomes if i in previous]
        newly_wrong = [i for i in common if previous[i] and not outcomes[i]]
        newly_right = [i for i in common if not previous[i] and outcomes[i]]
        details.update(
            previous_run=context.previous_run,
            newly_wrong=newly_wrong,
            newly_right=newly_right,
            compared_cases=len(common),
        )
        run = f"run {context.previous_run}" if context.previous_run else "the previous run"
        compared = f"{len(newly_wrong)} newly wrong and {len(newly_right)} newly right since {run}"
        if newly_wrong:
            evidence.append(
                Evidence(
                    "samples",
                    [context.sample(row_of[i], reason=f"right in {run}, now "
                                    f"{_predicted(context, row_of[i])}") for i in newly_wrong],
                    len(newly_wrong),
                    "golden cases newly wrong",
                )
            )  # fmt: skip
        if newly_right:
            evidence.append(
                Evidence(
                    "samples",
                    [context.sample(row_of[i], reason=f"wrong in {run}, right now")
                     for i in newly_right],
                    len(newly_right),
                    "golden cases newly right",
                )
            )  # fmt: skip
        if len(newly_wrong) > params["max_newly_wrong"]:
            status = verdict(True, params)
    wrong = [int(r) for r in rows if not context.correct[r]]
    if wrong:
        evidence.append(
            Evidence(
                "samples",
                [context.sample(r, reason=_predicted(context, r)) for r in wrong],
                len(wrong),
                "golden cases the model gets wrong",
            )
        )
    summary = (
        f"{right} of {n} golden cases right ({value:.3f} [{interval.low:.3f}, "
        f"{interval.high:.3f}]); {compared}"
    )
    return CheckResult(
        "eval.golden", status, summary, value=value, threshold=params["min_accuracy"], n=n,
        interval=interval, evidence=evidence, details=details,
    )  # fmt: skip


@register_check(
    "eval.regression_cases",
    title="Regression cases",
    description=(
        "Every case of the regression set (bad cases from user reports, each with its "
        "expected label and a note) must be predicted right; more than `max_failures` "
        "failing cases fail the gate, each named with its note."
    ),
    params=RegressionParams,
    needs=("regression",),
)
def check_regression_cases(context: EvalContext, params: dict[str, Any]) -> CheckResult:
    rows = context.sets["regression"]
    failing = [int(r) for r in rows if not context.correct[r]]
    n = int(rows.size)
    passed = n - len(failing)
    allowed = params["max_failures"]
    status = verdict(len(failing) > allowed, params)
    evidence = []
    if failing:
        items = [context.sample(r, reason=_predicted(context, r)) for r in failing]
        evidence.append(Evidence("samples", items, len(items), "regression cases that fail"))
    rate = wilson_interval(passed, n)
    summary = f"{passed} of {n} regression cases pass" + (
        f"; {len(failing)} fail (at most {allowed} allowed)" if failing else ""
    )
    return CheckResult(
        "eval.regression_cases", status, summary, value=float(len(failing)),
        threshold=float(allowed), n=n, evidence=evidence,
        details={
            "cases": n, "failing": [context.sample_ids[r] for r in failing],
            "pass_rate": passed / n, "pass_rate_interval": rate.to_dict(),
            "outcomes": case_outcomes(context, "regression"),
        },
    )  # fmt: skip


def _predicted(context: EvalContext, row: int) -> str:
    predicted = int(context.predictions[row])
    return f"predicted {context.class_names[predicted]} ({context.probs[row, predicted]:.2f})"

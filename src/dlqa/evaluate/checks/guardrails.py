"""``eval.guardrails``: the predictions checked against the declared forbidden outputs,
output bounds and abstention rule (:mod:`dlqa.evaluate.guardrails`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from dlqa.core.gates import decide, verdict
from dlqa.core.intervals import wilson_interval
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.evaluate.context import EvalContext
from dlqa.evaluate.guardrails import Guardrails, abstains, rule_applies

MAX_ITEMS = 200


class GuardrailParams(BaseModel):
    max_violations: int = Field(0, ge=0, description="forbidden or out-of-bounds outputs tolerated")


@register_check(
    "eval.guardrails",
    title="Guardrails",
    description=(
        "The predictions of every eval set checked against `[eval.guardrails]`: a forbidden "
        "class emitted for an input it is forbidden for, an output probability outside "
        "`output_bounds`, and, with `min_confidence`, the share of the test set the model "
        "abstains on (decided against `max_abstain_rate` by its Wilson interval) and its "
        "accuracy where it does not abstain."
    ),
    params=GuardrailParams,
    needs=("guardrails",),
)
def check_guardrails(context: EvalContext, params: dict[str, Any]) -> CheckResult:
    rails: Guardrails = context.guardrails
    n = len(context.labels)
    abstained = abstains(context.confidence, rails)
    violations: list[dict[str, Any]] = []
    name_to_index = {name: i for i, name in enumerate(context.class_names)}
    for i, rule in enumerate(rails.forbidden):
        applies = rule_applies(rule, n, context.slices, context.sets)
        banned = np.isin(context.predictions, [name_to_index[c] for c in rule.classes])
        for row in np.flatnonzero(applies & banned & ~abstained):
            reason = f"forbidden output (rule {i + 1}{': ' + rule.note if rule.note else ''})"
            violations.append(context.sample(int(row), reason=reason))
    if rails.output_bounds is not None:
        low, high = rails.output_bounds
        outside = ((context.probs < low) | (context.probs > high)).any(axis=1)
        for row in np.flatnonzero(outside):
            worst = float(context.probs[row].max() if context.probs[row].max() > high
                          else context.probs[row].min())  # fmt: skip
            violations.append(
                context.sample(int(row), reason=f"output {worst:.4g} outside [{low:g}, {high:g}]")
            )
    status = verdict(len(violations) > params["max_violations"], params)
    details: dict[str, Any] = {"violations": len(violations), "rules": len(rails.forbidden)}
    parts = [f"{len(violations)} guardrail violation(s) over {n} predictions"]
    interval, shown_interval = None, None
    value: float | None = float(len(violations))
    threshold: float | None = float(params["max_violations"])
    if rails.min_confidence is not None:
        test = context.test_index
        abstain_count = int(abstained[test].sum())
        interval = wilson_interval(abstain_count, int(test.size))
        accepted = test[~abstained[test]]
        selective = float(context.correct[accepted].mean()) if accepted.size else None
        details.update(
            abstain_rate=abstain_count / test.size,
            abstain_interval=interval.to_dict(),
            selective_accuracy=selective,
            accepted=int(accepted.size),
        )
        parts.append(
            f"abstains on {abstain_count} of {test.size} test samples "
            f"(below confidence {rails.min_confidence:g})"
            + ("" if selective is None else f", accuracy {selective:.3f} where it answers")
        )
        if rails.max_abstain_rate is not None:
            rate_status = decide(interval, rails.max_abstain_rate, params, higher_is_better=False)
            details["abstain_verdict"] = rate_status.value
            if status is Status.PASS:
                status = rate_status
                value, threshold = abstain_count / test.size, rails.max_abstain_rate
                shown_interval = interval  # the result's value is now the abstain rate
            parts.append(f"max_abstain_rate {rails.max_abstain_rate:g}: {rate_status.value}")
    evidence = []
    if violations:
        evidence.append(
            Evidence("samples", violations[:MAX_ITEMS], len(violations), "guardrail violations")
        )
    return CheckResult(
        "eval.guardrails", status, "; ".join(parts), value=value, threshold=threshold,
        n=n, interval=shown_interval,
        evidence=evidence, details=details,
    )  # fmt: skip

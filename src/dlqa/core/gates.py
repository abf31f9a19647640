"""Gates: how a check's measured value, its uncertainty and the project's settings become a
verdict, and whether that verdict fails the run."""

from __future__ import annotations

import dataclasses
from typing import Any

from dlqa.core.errors import EXIT_GATE_FAILED, EXIT_OK
from dlqa.core.results import CheckResult, Interval, Status


def verdict(violated: bool, params: dict[str, Any]) -> Status:
    """The status of a check whose measured value crossed (or not) its threshold."""
    if not violated:
        return Status.PASS
    return Status.FAIL if params["level"] == "fail" else Status.WARN


def decide(
    interval: Interval,
    threshold: float,
    params: dict[str, Any],
    *,
    higher_is_better: bool,
) -> Status:
    """The verdict on a noisy value: pass when its whole interval clears the threshold, the
    gate's level when the whole interval is beyond it, ``inconclusive`` in between."""
    if higher_is_better:
        clears, beyond = interval.low >= threshold, interval.high < threshold
    else:
        clears, beyond = interval.high <= threshold, interval.low > threshold
    if clears:
        return Status.PASS
    if beyond:
        return verdict(True, params)
    return Status.INCONCLUSIVE


def apply_gate(result: CheckResult, params: dict[str, Any]) -> CheckResult:
    """The gate's policy applied to one result of a check.

    A subject outside the gate's ``subjects`` is shown, not gated (a failure there is a
    warning); an inconclusive result carries the policy that decides whether it blocks.
    """
    subjects = params.get("subjects")
    if subjects is not None and result.subject is not None and result.subject not in subjects:
        details = {**result.details, "gated": False}
        status = Status.WARN if result.status is Status.FAIL else result.status
        if result.status is Status.INCONCLUSIVE:
            details["on_inconclusive"] = "warn"
        return dataclasses.replace(result, status=status, details=details)
    if result.status is Status.INCONCLUSIVE:
        relaxed = params.get("on_inconclusive") == "warn" or params.get("level") == "warn"
        policy = "warn" if relaxed else "fail"
        return dataclasses.replace(result, details={**result.details, "on_inconclusive": policy})
    return result


def gate_fails(result: CheckResult, *, allow_inconclusive: bool = False) -> bool:
    """Whether this result fails the run (exit code 1)."""
    if result.status is Status.INCONCLUSIVE:
        return not allow_inconclusive and result.details.get("on_inconclusive", "fail") == "fail"
    return result.status.fails_gate


def exit_code_of(results: list[CheckResult], *, allow_inconclusive: bool = False) -> int:
    failed = any(gate_fails(r, allow_inconclusive=allow_inconclusive) for r in results)
    return EXIT_GATE_FAILED if failed else EXIT_OK

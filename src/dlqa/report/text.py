"""Text every view shares: numbers with their uncertainty, status labels, verdict and counts.

The terminal, HTML, JUnit and pytest views all say the same thing the same way: a measured
value reads ``0.912 [0.87, 0.94] 95% CI, n=400``, an undecided result is never called a pass,
and a run that did not finish says so before anything else.
"""

from __future__ import annotations

import math
from typing import Any

from dlqa.core.gates import gate_fails
from dlqa.core.results import CheckResult, Interval, Status
from dlqa.report.model import Report


def format_number(value: Any) -> str:
    """A value or threshold as a short string: 4 significant digits, '-' for none."""
    if value is None:
        return "-"
    if isinstance(value, (bool, int)):
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "nan"
    return f"{number:.4g}"


def format_level(level: float) -> str:
    """A confidence level as a percentage: 0.95 -> '95%', 0.995 -> '99.5%'."""
    return f"{level * 100:.4g}%"


def format_interval(interval: Interval | None) -> str:
    """``[0.87, 0.94] 95% CI``, or '' when there is no interval."""
    if interval is None:
        return ""
    low, high = format_number(interval.low), format_number(interval.high)
    return f"[{low}, {high}] {format_level(interval.level)} CI"


def format_measure(result: CheckResult) -> str:
    """The value with its interval and sample size: ``0.912 [0.87, 0.94] 95% CI, n=400``."""
    text = format_number(result.value)
    if result.interval is not None:
        text += " " + format_interval(result.interval)
    if result.n is not None:
        text += f", n={result.n}"
    return text


def blocks(result: CheckResult, allow_inconclusive: bool = False) -> bool:
    """Whether this result fails the run (the core's gate policy, not a second copy of it)."""
    return gate_fails(result, allow_inconclusive=allow_inconclusive)


def not_blocking_reason(result: CheckResult, allow_inconclusive: bool = False) -> str | None:
    """Why an inconclusive result does not fail the run; None when it does, or when the
    result is not inconclusive."""
    if result.status is not Status.INCONCLUSIVE or blocks(result, allow_inconclusive):
        return None
    if result.details.get("gated") is False:
        return "outside the gate's subjects"
    if result.details.get("on_inconclusive") == "warn":
        return 'the gate says on_inconclusive = "warn"'
    return "run with --allow-inconclusive"


def status_label(result: CheckResult, allow_inconclusive: bool = False) -> str:
    """The status as views print it; an inconclusive result that does not block says so."""
    label = result.status.value
    if not_blocking_reason(result, allow_inconclusive) is not None:
        label += " (not blocking)"
    return label


def inconclusive_why(result: CheckResult) -> str:
    """Why an inconclusive result could not be decided, in one clause."""
    if result.interval is not None and result.threshold is not None:
        clause = (
            f"the {format_interval(result.interval)} of {format_number(result.value)} "
            f"straddles the threshold {format_number(result.threshold)}"
        )
    else:
        clause = "not enough data to decide"
    return clause + (f" (n={result.n})" if result.n is not None else "")


def inconclusive_note(result: CheckResult, allow_inconclusive: bool = False) -> str:
    """'inconclusive: <why>; blocks the gate' or '...; not blocking: <reason>'."""
    reason = not_blocking_reason(result, allow_inconclusive)
    effect = "fails the gate" if reason is None else f"not blocking: {reason}"
    return f"inconclusive: {inconclusive_why(result)}; {effect}"


def incomplete_line(report: Report) -> str | None:
    """The line every view shows first when the run did not finish; None when it did."""
    if report.complete:
        return None
    n = len(report.results)
    stored = f"{n} result{'' if n == 1 else 's'} stored"
    if report.status == "running":
        return f"incomplete: the run is still running; {stored} so far"
    how = {"interrupted": "was interrupted", "failed": "failed"}.get(
        report.status, f"ended as {report.status!r}"
    )
    return f"incomplete: the run {how}; {stored} before that"


def run_failed(report: Report) -> bool:
    """Whether views show the run as failed: a gate failed, or the run did not finish."""
    return not report.complete or any(
        blocks(result, report.allow_inconclusive) for result in report.results
    )


def verdict_line(report: Report) -> str:
    failed = [r.key for r in report.results if blocks(r, report.allow_inconclusive)]
    if failed:
        noun = "gate" if len(failed) == 1 else "gates"
        return f"{len(failed)} {noun} failed: {', '.join(failed)}"
    if not report.results:
        return "no checks ran" if report.complete else "no results stored before the run ended"
    # "passed" only for a finished run: a partial run has not shown that the rest would pass.
    line = "all gates passed" if report.complete else "no gate failed in the results stored"
    relaxed = sum(1 for r in report.results if r.status is Status.INCONCLUSIVE)
    if relaxed:
        line += f"; {relaxed} inconclusive, not blocking"
    return line


def counts_line(report: Report) -> str:
    counts = report.counts()
    noun = "result" if len(report.results) == 1 else "results"
    parts = ", ".join(f"{counts[status.value]} {status.value}" for status in Status)
    return f"{len(report.results)} {noun}: {parts}"


def notes_of(report: Report) -> list[str]:
    """Notes a stage left about the run (a worker died, folder entries not followed)."""
    return [str(note) for note in report.meta.get("notes") or []]

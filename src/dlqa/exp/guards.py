"""The guards of a comparison (seed 003's patterns 4, 9 and 10): reasons a verdict between two
seed groups would not mean what it says.

* ``exp.metric_definitions``: the metric's code (``metric_fingerprint``) or the eval set
  (its fingerprint) differs between the groups: the numbers measure different things.
* ``exp.reproducible``: a side ran from a dirty tree (``--allow-dirty``) or was imported
  without its commit: what produced it is not on record.
* ``exp.baseline_fresh``: the baseline is older than ``max_baseline_age_days``, or ran in
  another environment (hardware, torch/CUDA, key packages): re-run it (``dlqa exp rerun``).
* ``exp.code_and_data``: the code and the data both changed between the groups: the effect
  cannot be put on either (a warning).

Each is a pure function of the two groups; an override recorded for a guard turns its failure
into a warning that says who decided what.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.exp.groups import SeedGroup

Diff = Callable[[dict[str, Any], dict[str, Any]], list[str]]


def metric_definitions(
    baseline: SeedGroup, candidate: SeedGroup, metrics: list[str]
) -> CheckResult:
    rows, unknown = [], []
    for key, what in (("metric_fingerprints", "metric"), ("eval_sets", "eval set")):
        ours, theirs = baseline.fingerprints(key), candidate.fingerprints(key)
        names = sorted(set(ours) | set(theirs)) if key == "eval_sets" else metrics
        for name in names:
            a, b = ours.get(name, set()), theirs.get(name, set())
            if not a and not b:
                continue
            if not a or not b:
                side = "candidate" if b else "baseline"
                unknown.append(f"{what} {name}: only the {side} logged its fingerprint")
            elif a != b:
                rows.append(
                    {"kind": what, "name": name, "baseline": sorted(a), "candidate": sorted(b)}
                )
    if rows:
        names = ", ".join(f"{r['kind']} {r['name']}" for r in rows)
        return CheckResult(
            "exp.metric_definitions",
            Status.FAIL,
            f"{names}: the definition differs between {baseline.name} and {candidate.name} "
            "(other metric code or another eval set): the numbers are not comparable",
            evidence=[Evidence("table", rows, len(rows), "fingerprints that differ")],
            details={"differ": rows, "unknown": unknown},
        )
    if unknown:
        return CheckResult(
            "exp.metric_definitions", Status.WARN, "; ".join(unknown), details={"unknown": unknown}
        )
    # Only the compared metrics (and the eval sets) count: a fingerprint logged for another
    # metric says nothing about these.
    logged = [
        name
        for group in (baseline, candidate)
        for name in group.fingerprints("metric_fingerprints")
        if name in metrics
    ] + list(baseline.fingerprints("eval_sets"))
    if not logged:
        return CheckResult(
            "exp.metric_definitions",
            Status.SKIP,
            "neither group logged metric or eval-set fingerprints (exp.current()."
            "log_fingerprints / log_eval_set): whether the definitions match is unknown",
        )
    return CheckResult(
        "exp.metric_definitions", Status.PASS, "the metric and eval-set fingerprints match"
    )


def reproducible(baseline: SeedGroup, candidate: SeedGroup) -> CheckResult:
    problems = []
    for role, group in (("baseline", baseline), ("candidate", candidate)):
        if not group.reproducible:
            why = group.why_not_reproducible or "ran from a dirty tree"
            problems.append(f"the {role} {group.name} is not reproducible: {why}")
    if problems:
        return CheckResult(
            "exp.reproducible", Status.FAIL, "; ".join(problems), details={"problems": problems}
        )
    commits = {g.name: (g.git or {}).get("commit") for g in (baseline, candidate)}
    return CheckResult(
        "exp.reproducible",
        Status.PASS,
        "both groups ran from clean trees at recorded commits",
        details={"commits": commits},
    )


def baseline_fresh(
    baseline: SeedGroup,
    candidate: SeedGroup,
    *,
    max_age_days: float,
    environment_diff: Diff,
    now: datetime | None = None,
) -> CheckResult:
    problems, details = [], {}
    created = _parse(baseline.created_at)
    if created is not None:
        age = ((now or datetime.now(UTC)) - created).total_seconds() / 86400
        details["age_days"] = round(age, 2)
        if age > max_age_days:
            problems.append(f"the baseline is {age:.0f} days old (max {max_age_days:g})")
    diff = []
    if baseline.environment and candidate.environment:
        diff = environment_diff(baseline.environment, candidate.environment)
        if diff:
            problems.append("it ran in another environment: " + "; ".join(diff[:5]))
    details["environment_diff"] = diff
    if problems:
        return CheckResult(
            "exp.baseline_fresh",
            Status.FAIL,
            f"{'; '.join(problems)}: re-run it with `dlqa exp rerun {baseline.name}`",
            evidence=[
                Evidence(
                    "table", [{"difference": d} for d in diff], len(diff), "environment differences"
                )
            ]
            if diff
            else [],
            details=details,
        )
    return CheckResult(
        "exp.baseline_fresh",
        Status.PASS,
        "the baseline is recent and ran in the same environment",
        details=details,
    )


def code_and_data(baseline: SeedGroup, candidate: SeedGroup) -> CheckResult:
    code = (baseline.git or {}).get("commit") != (candidate.git or {}).get("commit") or any(
        (g.git or {}).get("dirty") for g in (baseline, candidate)
    )
    data_a = {s.data for s in baseline.ok if s.data}
    data_b = {s.data for s in candidate.ok if s.data}
    data = bool(data_a and data_b and data_a != data_b)
    details = {"code_changed": code, "data_changed": data}
    if code and data:
        return CheckResult(
            "exp.code_and_data",
            Status.WARN,
            "the code and the data both changed between the groups: the difference cannot be "
            "put on either; change one at a time",
            details=details,
        )
    what = "the code" if code else "the data" if data else "neither code nor data"
    return CheckResult(
        "exp.code_and_data", Status.PASS, f"{what} changed between the groups", details=details
    )


def apply_override(result: CheckResult, overrides: Mapping[str, str]) -> CheckResult:
    """A guard failure with a recorded override becomes a warning naming the override."""
    reason = overrides.get(result.check_id)
    if reason is None or result.status is not Status.FAIL:
        return result
    return replace(  # CheckResult is frozen
        result,
        status=Status.WARN,
        summary=f"overridden ({reason}): {result.summary}",
        details={**result.details, "overridden": reason},
    )


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


__all__ = [
    "apply_override",
    "baseline_fresh",
    "code_and_data",
    "metric_definitions",
    "reproducible",
]

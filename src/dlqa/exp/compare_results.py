"""The results of a comparison: ``exp.compare`` per metric (and per mode combination with
``--all-modes``, Holm-corrected over all of them), ``exp.mode_matrix`` per metric, and the
sequential comparison's verdict with its path of looks."""

from __future__ import annotations

from typing import Any

from dlqa.core.results import CheckResult, Evidence, Interval, Status
from dlqa.exp.groups import SeedGroup
from dlqa.exp.stats import Comparison

VERDICT_STATUS = {
    "improved": Status.PASS,
    "no_difference": Status.PASS,
    "regressed": Status.FAIL,
    "inconclusive": Status.INCONCLUSIVE,
}
# Worst first: the status of a matrix is that of its worst combination.
_SEVERITY = (Status.FAIL, Status.INCONCLUSIVE, Status.PASS)


def comparisons(context: Any) -> list[tuple[str | None, str, SeedGroup, SeedGroup, Comparison]]:
    """(mode label or None, metric, baseline, candidate, comparison) for every metric of every
    pair, Holm-corrected over all of them together (a regression on one mode of eight is
    judged as one test of eight); computed once per context."""
    from dlqa.exp.stats import compare_metrics

    if context.computed is not None:
        return context.computed
    keyed = {}
    for label, baseline, candidate in context.pairs():
        for metric in context.metrics:
            keyed[metric if label is None else f"{metric} @ {label}"] = (
                label, metric, baseline, candidate
            )  # fmt: skip
    lower = context.lower_is_better
    found = compare_metrics(
        {key: b.values(m) for key, (_, m, b, _) in keyed.items()},
        {key: c.values(m) for key, (_, m, _, c) in keyed.items()},
        higher_is_better={key: m not in lower for key, (_, m, _, _) in keyed.items()},
        alpha=context.alpha,
        min_effect=context.min_effect,
        alternative=context.alternative,
    )
    context.computed = [(*keyed[key], found[key]) for key in keyed]
    return context.computed


def compare_results(context: Any) -> list[CheckResult]:
    """One ``exp.compare`` result per metric (per metric and mode with ``--all-modes``)."""
    if context.sequential is not None or context.sequential_failure is not None:
        return [sequential_result(context)]
    results = []
    for label, metric, baseline, candidate, c in comparisons(context):
        subject = metric if label is None else f"{metric} @ {label}"
        results.append(
            CheckResult(
                "exp.compare",
                VERDICT_STATUS[c.verdict],
                f"{subject}: {c.verdict}: {c.reason}",
                value=c.difference,
                interval=_interval(c.ci, c.alpha),
                n=c.n_baseline + c.n_candidate,
                subject=subject,
                evidence=[seed_groups(baseline, candidate, metric, c)],
                details={
                    **c.to_dict(),
                    "baseline": baseline.name,
                    "candidate": candidate.name,
                    "mode": label,
                },
            )  # fmt: skip
        )
    return results


def mode_matrix_results(context: Any) -> list[CheckResult]:
    """``exp.mode_matrix``: per metric, every mode combination's verdict in one grid; fails
    when any combination regresses (a change meant for one mode hurt another)."""
    results = []
    found = comparisons(context)
    pairs = {label: (b, c) for label, b, c in context.pairs()}
    for metric in context.metrics:
        rows = [(label, b, c, comp) for label, m, b, c, comp in found if m == metric]
        adjusted = holm_adjusted([entry[-1].p_value for entry in found])
        p_holm = {id(comp): p for (*_, comp), p in zip(found, adjusted, strict=True)}
        items = [_matrix_item(label, b, c, comp, metric, p_holm[id(comp)])
                 for label, b, c, comp in rows]  # fmt: skip
        status = next(s for s in _SEVERITY if any(VERDICT_STATUS[r[3].verdict] is s for r in rows))
        regressed = [r[0] for r in rows if r[3].verdict == "regressed"]
        undecided = [r[0] for r in rows if r[3].verdict == "inconclusive"]
        if regressed:
            summary = f"regressed on {len(regressed)} of {len(rows)} mode combinations: " + (
                "; ".join(regressed)
            )
        elif undecided:
            summary = f"no regression shown, {len(undecided)} of {len(rows)} undecided: " + (
                "; ".join(undecided)
            )
        else:
            summary = f"no mode combination regresses ({len(rows)} compared, Holm-corrected)"
        results.append(
            CheckResult(
                "exp.mode_matrix",
                status,
                f"{metric}: {summary}",
                value=float(len(regressed)),
                n=sum(r[3].n_baseline + r[3].n_candidate for r in rows),
                subject=metric,
                evidence=[Evidence("mode_matrix", items, len(items), "every mode combination")],
                details={
                    "modes": {label: [b.name, c.name] for label, (b, c) in pairs.items()},
                    "regressed": regressed,
                    "inconclusive": undecided,
                },
            )  # fmt: skip
        )
    return results


def sequential_result(context: Any) -> CheckResult:
    """The staged comparison's verdict, or the seed that stopped it."""
    baseline, candidate, metric = context.baseline, context.candidate, context.metrics[0]
    failure = context.sequential_failure
    if failure is not None:
        tail = (failure.record.log_tail or "").splitlines()[-1:] or [""]
        return CheckResult(
            "exp.compare",
            Status.FAIL,
            f"{metric}: the sequential comparison stopped: {failure}"
            + (f" ({tail[0][:200]})" if tail[0] else ""),
            subject=metric,
            details={"failed_seed": failure.record.to_dict(), "group": failure.group},
        )
    r = context.sequential
    c = r.comparison
    path = [
        {**look.to_dict(), "min_effect": r.min_effect, "higher_is_better": r.higher_is_better,
         "planned_max": r.planned_looks[-1]}
        for look in r.looks
    ]  # fmt: skip
    evidence = [Evidence("sequential_path", path, len(path), "the estimate and the boundaries")]
    if c is not None:
        evidence.insert(0, seed_groups(baseline, candidate, metric, c))
    return CheckResult(
        "exp.compare",
        VERDICT_STATUS[r.verdict],
        f"{metric}: {r.verdict} (sequential, {r.seeds_used} runs): {r.reason}",
        value=None if c is None else c.difference,
        interval=None if c is None else _interval(c.ci, c.alpha),
        n=r.seeds_used,
        subject=metric,
        evidence=evidence,
        details={**r.to_dict(), "baseline": baseline.name, "candidate": candidate.name},
    )


def seed_groups(baseline: SeedGroup, candidate: SeedGroup, metric: str, c: Comparison) -> Evidence:
    """Both groups' seeds; the candidate's item also carries the difference of the means and
    its interval, so that a view of the evidence alone (the seed-dots chart) can draw it."""
    difference = {
        "difference": c.difference,
        "ci": None if c.ci is None else [min(c.ci), max(c.ci)],
        "ci_level": 1 - c.alpha,
        "higher_is_better": c.higher_is_better,
    }
    groups = [
        {"group": g.name, "role": role, "values": g.values(metric), "run_id": g.run_id,
         "reproducible": g.reproducible, **extra}
        for role, g, extra in (("baseline", baseline, {}), ("candidate", candidate, difference))
    ]  # fmt: skip
    return Evidence("seed_groups", groups, 2, "the seeds of each group")


def holm_adjusted(p_values: list[float | None]) -> list[float | None]:
    """Holm-adjusted p-values (the smallest alpha at which each would be rejected by
    :func:`dlqa.exp.stats.holm`); None stays None and counts as p = 1."""
    ps = [1.0 if p is None else float(p) for p in p_values]
    m, running = len(ps), 0.0
    adjusted = [1.0] * m
    for rank, i in enumerate(sorted(range(m), key=ps.__getitem__)):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        adjusted[i] = running
    return [None if p is None else a for p, a in zip(p_values, adjusted, strict=True)]


def _matrix_item(
    label: str, b: SeedGroup, c: SeedGroup, comp: Comparison, metric: str, p_holm: float | None
) -> dict[str, Any]:
    return {
        "mode": dict(c.mode or b.mode or _parse_label(label)),
        "label": label,
        "metric": metric,
        "baseline_mean": comp.mean_baseline,
        "candidate_mean": comp.mean_candidate,
        "difference": comp.difference,
        "ci": None if comp.ci is None else [min(comp.ci), max(comp.ci)],
        "p_value": comp.p_value,
        "p_holm": p_holm,
        "verdict": comp.verdict,
        "status": VERDICT_STATUS[comp.verdict].value,
        "n": [comp.n_baseline, comp.n_candidate],
    }


def _parse_label(label: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in label.split(",") if "=" in part)


def _interval(ci: tuple[float, float] | None, alpha: float) -> Interval | None:
    return None if ci is None else Interval(min(ci), max(ci), 1 - alpha)


__all__ = [
    "VERDICT_STATUS",
    "compare_results",
    "comparisons",
    "holm_adjusted",
    "mode_matrix_results",
    "seed_groups",
    "sequential_result",
]

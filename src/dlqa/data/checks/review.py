"""Spot checks: what reviewers' verdicts say about the dataset (`dlqa data review`).

Both checks read ``profile.reviews`` (the verdicts in force on this profile's samples) and are
left out of runs without any.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.core.gates import decide, verdict
from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.checks._common import percent, sample_items
from dlqa.data.context import DataProfile
from dlqa.data.review import (
    VERDICT_BAD_SAMPLE,
    VERDICT_WRONG_LABEL,
    ReviewedSample,
    class_sizes,
    estimate_error_rate,
)


@register_check(
    "data.review_error_rate",
    title="Error rate from spot checks",
    description=(
        "The dataset's error rate estimated from reviewed random draws (`dlqa data review "
        "sample`, then `import`): `wrong_label` and `bad_sample` verdicts, per class weighted "
        "by the class's size, with a Wilson interval. It fails when the whole interval lies "
        "above `max_error_rate` and is inconclusive while it straddles it (review more "
        "samples). Flagged samples reviewed outside the random draws are reported apart: they "
        "over-represent errors by design."
    ),
    defaults={
        "max_error_rate": Param(
            0.05,
            doc=(
                "highest acceptable share of samples with a wrong label or unusable: about "
                "what curated benchmarks' test sets have (3-6 %); showing a rate below 5 % "
                "takes at least 73 error-free reviews at 95 % confidence"
            ),
            ge=0.0,
            le=1.0,
        ),
        "confidence": Param(0.95, doc="confidence level of the intervals", gt=0.5, lt=1.0),
    },
    needs=("reviews",),
)
def check_review_error_rate(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    check_id = "data.review_error_rate"
    reviews = profile.reviews
    limit = float(params["max_error_rate"])
    estimate = estimate_error_rate(reviews, class_sizes(profile), params["confidence"])
    status = decide(estimate.interval, limit, params, higher_is_better=False)
    interval = estimate.interval
    flagged = estimate.flagged
    details: dict[str, Any] = {
        "verdicts": len(reviews.samples),
        "random": estimate.counts,
        "n_effective": round(estimate.n_effective, 3),
        "per_class": estimate.per_class,
        "coverage": estimate.coverage,
        "flagged": flagged,
        "random_unreviewed": reviews.random_unreviewed,
        "review_ids": reviews.review_ids,
    }
    if estimate.unweighted:
        details["classes_no_longer_present"] = estimate.unweighted
    flagged_note = (
        f"; flagged samples reviewed apart: {flagged['errors']} of {flagged['n']} confirmed"
        if flagged["n"]
        else ""
    )
    if estimate.rate is None:
        summary = (
            f"no random draw reviewed yet ({reviews.random_unreviewed} waiting), so no "
            f"estimate{flagged_note}"
        )
    else:
        errors = estimate.counts[VERDICT_WRONG_LABEL] + estimate.counts[VERDICT_BAD_SAMPLE]
        summary = (
            f"estimated error rate {percent(estimate.rate)} "
            f"({percent(interval.low)} to {percent(interval.high)}) from {errors} errors in "
            f"{estimate.n} reviewed random draws ({estimate.counts[VERDICT_WRONG_LABEL]} wrong "
            f"labels, {estimate.counts[VERDICT_BAD_SAMPLE]} bad samples)"
        )
        if status is Status.INCONCLUSIVE:
            summary += f"; too few reviews to tell whether it is below {percent(limit)}"
        elif status is not Status.PASS:
            summary += f"; at most {percent(limit)} allowed"
        if estimate.coverage < 1.0:
            summary += f"; the reviewed classes hold {percent(estimate.coverage)} of the samples"
        summary += flagged_note
    rows = [
        {
            "label": row["label"],
            "samples": row["size"],
            "reviewed": row["n"],
            "wrong_label": row[VERDICT_WRONG_LABEL],
            "bad_sample": row[VERDICT_BAD_SAMPLE],
            "rate": row["rate"],
            "low": round(row["interval"]["low"], 4),
            "high": round(row["interval"]["high"], 4),
        }
        for row in estimate.per_class
    ]
    return CheckResult(
        check_id,
        status,
        summary,
        value=estimate.rate,
        threshold=limit,
        n=estimate.n,
        interval=interval,
        evidence=[Evidence("table", rows, len(rows), "reviewed random draws per class")]
        if rows
        else [],
        details=details,
    )


@register_check(
    "data.confirmed_label_errors",
    title="Confirmed label errors",
    description=(
        "Samples a reviewer marked `wrong_label` that still carry the label they had, with the "
        "label the reviewer gave, and samples marked `bad_sample` still in the dataset. "
        "Samples relabelled since the review are listed as fixed; removed ones are no longer "
        "findings."
    ),
    defaults={
        "max_count": Param(
            0,
            doc="confirmed errors that may remain (a reviewer has already seen each one)",
            ge=0,
        ),
    },
    needs=("reviews",),
)
def check_confirmed_label_errors(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    check_id = "data.confirmed_label_errors"
    reviews = profile.reviews
    marked = [s for s in reviews.samples if s.verdict in (VERDICT_WRONG_LABEL, VERDICT_BAD_SAMPLE)]
    rows = profile.rows_of([s.sample_id for s in marked])
    now = profile.labels.take(rows) if len(rows) else []
    wrong, bad, fixed = [], [], []
    for sample, row, label in zip(marked, rows.tolist(), now, strict=True):
        if sample.verdict == VERDICT_BAD_SAMPLE:
            bad.append((row, sample))
        elif label == sample.label:
            wrong.append((row, sample))
        else:
            fixed.append(
                {
                    "id": sample.sample_id,
                    "was": sample.label,
                    "suggested": sample.correct_label,
                    "now": label,
                    "as_suggested": label == sample.correct_label,
                }
            )
    items = _items(profile, wrong, bad)
    count = len(items)
    status = verdict(count > params["max_count"], params)
    parts = []
    if wrong:
        parts.append(f"{len(wrong)} confirmed wrong label{'s' if len(wrong) != 1 else ''}")
    if bad:
        parts.append(f"{len(bad)} sample{'s' if len(bad) != 1 else ''} marked bad")
    summary = (
        (" and ".join(parts) + " still in the dataset") if parts else "no confirmed error left"
    )
    if fixed:
        summary += f"; {len(fixed)} relabelled since the review"
    summary += f" ({len(reviews.samples)} samples reviewed)"
    if status is not Status.PASS and params["max_count"]:
        summary += f"; at most {params['max_count']} allowed"
    return CheckResult(
        check_id,
        status,
        summary,
        value=float(count),
        threshold=float(params["max_count"]),
        evidence=[Evidence("samples", items, count, "confirmed by a reviewer")] if items else [],
        details={
            "wrong_label": len(wrong),
            "bad_sample": len(bad),
            "fixed": fixed,
            "reviewed": len(reviews.samples),
            "not_in_profile": reviews.not_in_profile,
        },
    )


def _items(
    profile: DataProfile,
    wrong: list[tuple[int, ReviewedSample]],
    bad: list[tuple[int, ReviewedSample]],
) -> list[dict[str, Any]]:
    """Evidence items, wrong labels first: id, label, the reviewer's label and the reason."""
    marked = wrong + bad
    if not marked:
        return []
    items = sample_items(profile, np.array([row for row, _ in marked], dtype=np.int64))
    for item, (_, sample) in zip(items, marked, strict=True):
        item.pop("value", None)
        by = f" by {sample.reviewer}" if sample.reviewer else ""
        if sample.verdict == VERDICT_WRONG_LABEL:
            item["suggested"] = sample.correct_label
            reason = f"reviewed{by}: {sample.label!r} should be {sample.correct_label!r}"
        else:
            reason = f"reviewed{by}: not a usable sample"
        item["reason"] = reason + (f" ({sample.note})" if sample.note else "")
    return items

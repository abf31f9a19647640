"""Class balance: imbalance ratio, smallest class, classes missing from a split."""

from __future__ import annotations

from collections import Counter
from typing import Any

from dlqa.core.registry import register_check, verdict
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.context import DataProfile

ALL_SPLITS = "all"


def class_counts(profile: DataProfile) -> dict[str, dict[str, int]]:
    """split -> label -> count, with an "all" entry; unlabeled samples count as "(none)"."""
    counts: dict[str, Counter] = {ALL_SPLITS: Counter()}
    for label, split in zip(profile.labels, profile.splits, strict=True):
        label = "(none)" if label is None else label
        counts[ALL_SPLITS][label] += 1
        if split is not None:
            counts.setdefault(split, Counter())[label] += 1
    return {split: dict(sorted(c.items())) for split, c in counts.items()}


@register_check(
    "data.class_balance",
    title="Class balance",
    description=(
        "Ratio of the largest to the smallest class above `max_ratio`, a class with fewer than "
        "`min_per_class` samples, or a class missing from a split."
    ),
    defaults={"max_ratio": 10.0, "min_per_class": 10},
    param_docs={
        "max_ratio": "largest allowed ratio of the biggest class to the smallest",
        "min_per_class": "fewest samples a class may have (in all splits together)",
    },
)
def check_class_balance(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    counts = class_counts(profile)
    overall = counts[ALL_SPLITS]
    if not overall:
        return CheckResult("data.class_balance", Status.SKIP, "the dataset has no samples")
    biggest, smallest = max(overall.values()), min(overall.values())
    ratio = biggest / smallest
    splits = [s for s in counts if s != ALL_SPLITS]
    missing = [(label, s) for s in splits for label in overall if label not in counts[s]]
    small = [label for label, c in overall.items() if c < params["min_per_class"]]

    problems = []
    if ratio > params["max_ratio"]:
        problems.append(f"imbalance ratio {ratio:.1f} > {params['max_ratio']:g}")
    if small:
        problems.append(f"{len(small)} classes under {params['min_per_class']} samples")
    if missing:
        problems.append(f"{len(missing)} class/split combinations empty")
    status = verdict(bool(problems), params)
    rows = [
        {"label": label, **{s: counts[s].get(label, 0) for s in splits}, "total": total}
        for label, total in sorted(overall.items(), key=lambda kv: kv[1])
    ]
    summary = (
        f"{len(overall)} classes, {smallest} to {biggest} samples per class (ratio {ratio:.1f})"
    )
    if problems:
        summary += ": " + "; ".join(problems)
    return CheckResult(
        "data.class_balance",
        status,
        summary,
        value=ratio,
        threshold=params["max_ratio"],
        evidence=[Evidence("table", rows, len(rows), "samples per class and split")],
        details={
            "counts": counts,
            "small_classes": small,
            "missing_from_split": [{"label": lab, "split": s} for lab, s in missing],
        },
    )

"""Class balance: imbalance ratio, smallest class, classes missing from a split."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.core.gates import verdict
from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.context import DataProfile

ALL_SPLITS = "all"
NO_LABEL = "(none)"


def class_counts(profile: DataProfile) -> dict[str, dict[str, int]]:
    """split -> label -> count, with an "all" entry first and the splits in the order they
    first appear; unlabeled samples count as "(none)". Counted on integer codes."""
    label_names, label_codes = profile.codes("label")
    names = [NO_LABEL, *label_names]  # code + 1: 0 is "no label"
    width = len(names)
    overall = np.bincount(label_codes + 1, minlength=width)
    counts = {ALL_SPLITS: _named_counts(names, overall)}
    split_names, split_codes = profile.codes("split")
    has_split = split_codes >= 0
    if has_split.any():
        per_split = np.bincount(
            split_codes[has_split].astype(np.int64) * width + label_codes[has_split] + 1,
            minlength=len(split_names) * width,
        ).reshape(len(split_names), width)
        present, first_row = np.unique(split_codes[has_split], return_index=True)
        for code in present[np.argsort(first_row, kind="stable")]:
            counts[split_names[code]] = _named_counts(names, per_split[code])
    return counts


def _named_counts(names: list[str], counts: np.ndarray) -> dict[str, int]:
    named: dict[str, int] = {}
    for name, count in zip(names, counts.tolist(), strict=True):
        if count:
            named[name] = named.get(name, 0) + count
    return dict(sorted(named.items()))


@register_check(
    "data.class_balance",
    title="Class balance",
    description=(
        "Ratio of the largest to the smallest class above `max_ratio`, a class with fewer than "
        "`min_per_class` samples, or a class missing from a split."
    ),
    defaults={
        "max_ratio": Param(
            10.0, doc="largest allowed ratio of the biggest class to the smallest", ge=1
        ),
        "min_per_class": Param(
            10, doc="fewest samples a class may have (in all splits together)", ge=0
        ),
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

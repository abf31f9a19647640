"""Class balance: imbalance ratio, smallest class, classes far below the typical class,
classes missing from a split, and whether each class has enough samples in an evaluation
split for a per-class recall to mean something."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlqa.core.gates import verdict
from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.checks._common import (
    skip_without_labels,
    unlabelled_details,
    unlabelled_note,
)
from dlqa.data.context import DataProfile

ALL_SPLITS = "all"

# Splits on which per-class decisions are made (recall per class, thresholds per class).
EVALUATION_SPLITS = frozenset(
    {"test", "testing", "val", "valid", "validation", "eval", "evaluation", "dev", "holdout"}
)
_Z95 = 1.959964  # two-sided 95 %


def worst_case_recall_interval_width(n: int) -> float:
    """Width of the 95 % Wilson interval of a proportion measured on n samples, at its widest
    (an observed recall of 0.5): z / sqrt(n + z^2). 1.0 for no samples."""
    return 1.0 if n <= 0 else _Z95 / math.sqrt(n + _Z95 * _Z95)


def class_counts(profile: DataProfile) -> dict[str, dict[str, int]]:
    """split -> label -> count of the labelled samples, with an "all" entry first and the
    splits in the order their first labelled sample appears. Samples without a label are
    not a class and are not counted here (see :func:`unlabelled_counts`). Counted on integer
    codes."""
    label_names, label_codes = profile.codes("label")
    width = len(label_names)
    labelled = label_codes >= 0
    overall = np.bincount(label_codes[labelled], minlength=width)
    counts = {ALL_SPLITS: _named_counts(label_names, overall)}
    split_names, split_codes = profile.codes("split")
    keep = labelled & (split_codes >= 0)
    if keep.any():
        per_split = np.bincount(
            split_codes[keep].astype(np.int64) * width + label_codes[keep],
            minlength=len(split_names) * width,
        ).reshape(len(split_names), width)
        present, first_row = np.unique(split_codes[keep], return_index=True)
        for code in present[np.argsort(first_row, kind="stable")]:
            counts[split_names[code]] = _named_counts(label_names, per_split[code])
    return counts


def unlabelled_counts(profile: DataProfile) -> dict[str, int]:
    """split -> number of samples without a label, "all" first; splits with none left out."""
    _, label_codes = profile.codes("label")
    unlabelled = label_codes < 0
    counts = {ALL_SPLITS: int(unlabelled.sum())}
    split_names, split_codes = profile.codes("split")
    keep = unlabelled & (split_codes >= 0)
    if keep.any():
        per_split = np.bincount(split_codes[keep], minlength=len(split_names))
        present, first_row = np.unique(split_codes[keep], return_index=True)
        for code in present[np.argsort(first_row, kind="stable")]:
            counts[split_names[code]] = int(per_split[code])
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
        "`min_per_class` samples, or a class missing from a split. Samples without a label "
        "are not a class: they are left out and their share is reported; a dataset without "
        "labels is skipped."
    ),
    defaults={
        "max_ratio": Param(
            10.0, doc="largest allowed ratio of the biggest class to the smallest", ge=1
        ),
        "min_per_class": Param(
            10, doc="fewest samples a class may have (in all splits together)", ge=0
        ),
        "min_median_fraction": Param(
            0.25,
            doc="a class smaller than this fraction of the median class is named (a warning)",
            ge=0.0,
            le=1.0,
        ),
        "max_recall_interval": Param(
            0.3,
            doc=(
                "widest 95 % Wilson interval (at recall 0.5, its widest) a class's recall may "
                "have on an evaluation split (test, val, ...): 0.3 needs 39 samples, 0.2 93, "
                "0.1 381 (a warning)"
            ),
            ge=0.0,
            le=1.0,
        ),
    },
)
def check_class_balance(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    if profile.n == 0:
        return CheckResult("data.class_balance", Status.SKIP, "the dataset has no samples")
    skipped = skip_without_labels("data.class_balance", profile)
    if skipped is not None:
        return skipped
    counts = class_counts(profile)
    overall = counts[ALL_SPLITS]
    biggest, smallest = max(overall.values()), min(overall.values())
    ratio = biggest / smallest
    # A split whose samples are all unlabelled (an unlabelled test folder) has no class
    # counts to compare, so it is not "missing" every class.
    splits = [s for s in counts if s != ALL_SPLITS]
    missing = [(label, s) for s in splits for label in overall if label not in counts[s]]
    small = [label for label, c in overall.items() if c < params["min_per_class"]]
    median = float(np.median(list(overall.values())))
    rare = [label for label, c in overall.items() if c < params["min_median_fraction"] * median]
    intervals = _recall_intervals(counts, overall, splits)
    wide = [r for r in intervals if r["n"] and r["width"] > params["max_recall_interval"]]

    problems = []
    if ratio > params["max_ratio"]:
        problems.append(f"imbalance ratio {ratio:.1f} > {params['max_ratio']:g}")
    if small:
        problems.append(f"{len(small)} classes under {params['min_per_class']} samples")
    if missing:
        problems.append(f"{len(missing)} class/split combinations empty")
    status = verdict(bool(problems), params)
    # Rare classes and wide intervals are warnings by default: worth knowing, not a reason
    # to stop a pipeline unless a gate says so.
    notes = []
    if rare:
        notes.append(
            f"{_named(rare, overall)} below {params['min_median_fraction']:g} of the median "
            f"class ({median:g})"
        )
    if wide:
        notes.append(
            f"{len(wide)} class/split combinations too small for a per-class recall "
            f"(95 % interval wider than {params['max_recall_interval']:g}: "
            + ", ".join(f"{w['label']} in {w['split']} n={w['n']}" for w in wide[:5])
            + (", ..." if len(wide) > 5 else "")
            + ")"
        )
    if notes and status is Status.PASS:
        status = Status.WARN
    problems += notes
    rows = [
        {"label": label, **{s: counts[s].get(label, 0) for s in splits}, "total": total}
        for label, total in sorted(overall.items(), key=lambda kv: kv[1])
    ]
    summary = (
        f"{len(overall)} classes, {smallest} to {biggest} samples per class (ratio {ratio:.1f})"
    )
    if problems:
        summary += ": " + "; ".join(problems)
    summary += unlabelled_note(profile)
    details: dict[str, Any] = {
        "counts": counts,
        "small_classes": small,
        "median_class_size": median,
        "rare_classes": rare,
        "recall_intervals": intervals,
        "wide_recall_intervals": wide,
        "missing_from_split": [{"label": lab, "split": s} for lab, s in missing],
    }
    unlabelled = unlabelled_details(profile)
    if unlabelled["count"]:
        by_split = unlabelled_counts(profile)
        del by_split[ALL_SPLITS]
        details["unlabelled"] = {**unlabelled, **({"by_split": by_split} if by_split else {})}
    return CheckResult(
        "data.class_balance",
        status,
        summary,
        value=ratio,
        threshold=params["max_ratio"],
        evidence=[Evidence("table", rows, len(rows), "samples per class and split")],
        details=details,
    )


def _named(labels: list[str], overall: dict[str, int]) -> str:
    shown = ", ".join(f"{label} ({overall[label]})" for label in labels[:5])
    more = f" and {len(labels) - 5} more" if len(labels) > 5 else ""
    return f"{len(labels)} {'class' if len(labels) == 1 else 'classes'} {shown}{more}"


def _recall_intervals(
    counts: dict[str, dict[str, int]], overall: dict[str, int], splits: list[str]
) -> list[dict[str, Any]]:
    """Per evaluation split and class: n and the widest 95 % Wilson interval of a recall
    measured on it (a class absent from the split has n 0, width 1)."""
    rows = []
    for split in splits:
        if split.lower() not in EVALUATION_SPLITS:
            continue
        for label in overall:
            n = counts[split].get(label, 0)
            width = worst_case_recall_interval_width(n)
            rows.append({"split": split, "label": label, "n": n, "width": round(width, 4)})
    return rows

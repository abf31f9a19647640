"""Label-name hygiene: names that differ only by case, spacing, punctuation, plural or a typo."""

from __future__ import annotations

import re
from itertools import combinations
from typing import Any

from dlqa.core.gates import verdict
from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence
from dlqa.data.checks._common import skip_without_labels, unlabelled_details
from dlqa.data.checks.balance import ALL_SPLITS, class_counts
from dlqa.data.context import DataProfile

_SEPARATORS = re.compile(r"[\s_\-.]+")


def normalize_label(name: str) -> str:
    """Case, surrounding space and separators (space, _, -, .) do not make a different class."""
    return _SEPARATORS.sub("_", name.strip().casefold()).strip("_")


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _differs_only_in_digits(a: str, b: str) -> bool:
    # "class1" vs "class2", "2019" vs "2018": numbered classes are distinct on purpose.
    return re.sub(r"\d", "", a) == re.sub(r"\d", "", b)


def find_similar_labels(labels: list[str]) -> list[dict[str, Any]]:
    """Groups of label names that probably mean the same class, each with the reason."""
    findings: list[dict[str, Any]] = []
    by_key: dict[str, list[str]] = {}
    for name in labels:
        by_key.setdefault(normalize_label(name), []).append(name)
    for names in by_key.values():
        if len(names) > 1:
            findings.append({"labels": sorted(names), "reason": "differ only by case or spacing"})
    keys = sorted(by_key)
    for a, b in combinations(keys, 2):
        short, long = sorted((a, b), key=len)
        if len(long) - len(short) > 2 or len(long) < 4:
            continue
        if long in (short + "s", short + "es"):
            reason = "singular and plural"
        elif _differs_only_in_digits(a, b):
            continue
        elif len(short) >= 4 and edit_distance(a, b) == 1:
            reason = "one character apart (a likely typo)"
        else:
            continue
        findings.append({"labels": sorted(by_key[a] + by_key[b]), "reason": reason})
    return findings


@register_check(
    "data.label_names",
    title="Label-name hygiene",
    description=(
        "Label names that differ only by case, spacing or punctuation, singular vs plural, "
        "or a one-character typo (numbered names such as class1/class2 are not flagged)."
    ),
    defaults={"max_groups": Param(0, doc="number of suspicious groups of names allowed", ge=0)},
)
def check_label_names(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    skipped = skip_without_labels("data.label_names", profile)
    if skipped is not None:
        return skipped
    counts = class_counts(profile)[ALL_SPLITS]  # labelled samples only
    labels = list(counts)
    findings = find_similar_labels(labels)
    for finding in findings:
        finding["counts"] = [counts[name] for name in finding["labels"]]
    status = verdict(len(findings) > params["max_groups"], params)
    if findings:
        shown = "; ".join(" / ".join(f["labels"]) for f in findings[:3])
        summary = f"{len(findings)} groups of label names look like one class: {shown}"
    else:
        summary = f"{len(labels)} label names, none that look like the same class"
    return CheckResult(
        "data.label_names",
        status,
        summary,
        value=float(len(findings)),
        threshold=float(params["max_groups"]),
        evidence=[Evidence("table", findings, len(findings))] if findings else [],
        details={"n_labels": len(labels), "unlabelled": unlabelled_details(profile)},
    )

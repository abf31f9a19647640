"""Snapshots of a profiled dataset: the fingerprint, a summary, and the diff of two snapshots."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from dlqa.core.results import CheckResult
from dlqa.data.checks.balance import class_counts
from dlqa.data.columns import NUMERIC_PROPERTIES
from dlqa.data.context import DataProfile

FINGERPRINT_PREFIX = "sha256:"


def dataset_fingerprint(profile: DataProfile) -> str:
    """Hash of the content-hash manifest: sorted (sample id, content hash, label, split) rows.

    Renaming, relabelling, moving between splits or changing any byte changes it; the order
    in which files were listed does not.
    """
    rows = sorted(
        zip(
            profile.ids,
            profile.strings("sha256"),
            profile.labels,
            profile.splits,
            strict=True,
        ),
        key=lambda row: row[0],
    )
    digest = hashlib.sha256()
    for row in rows:
        digest.update("\t".join("" if v is None else str(v) for v in row).encode())
        digest.update(b"\n")
    return FINGERPRINT_PREFIX + digest.hexdigest()


def _quantiles(values: np.ndarray) -> dict[str, float] | None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    q = np.quantile(finite, [0.0, 0.05, 0.5, 0.95, 1.0])
    return {
        "min": float(q[0]),
        "p05": float(q[1]),
        "median": float(q[2]),
        "p95": float(q[3]),
        "max": float(q[4]),
        "mean": float(finite.mean()),
    }


def snapshot_summary(profile: DataProfile) -> dict[str, Any]:
    """What a snapshot row keeps besides its table: counts and property quantiles."""
    return {
        "n_samples": profile.n,
        "n_errors": int((~profile.decoded).sum()),
        "class_counts": class_counts(profile),
        "properties": {name: _quantiles(profile.numbers(name)) for name in NUMERIC_PROPERTIES},
    }


@dataclass
class DataDiff:
    old_fingerprint: str
    new_fingerprint: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)  # id + what changed
    class_counts: list[dict[str, Any]] = field(default_factory=list)  # label, old, new, delta
    properties: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)  # check_id, new, fixed

    @property
    def unchanged(self) -> bool:
        return self.old_fingerprint == self.new_fingerprint

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_fingerprint": self.old_fingerprint,
            "new_fingerprint": self.new_fingerprint,
            "identical": self.unchanged,
            "samples": {
                "added": self.added,
                "removed": self.removed,
                "changed": self.changed,
            },
            "class_counts": self.class_counts,
            "properties": self.properties,
            "issues": self.issues,
        }


def _sample_rows(profile: DataProfile) -> dict[str, tuple[Any, Any, Any]]:
    return dict(
        zip(
            profile.ids,
            zip(profile.strings("sha256"), profile.labels, profile.splits, strict=True),
            strict=True,
        )
    )


def _changes(old: tuple, new: tuple) -> list[str]:
    names = ("content", "label", "split")
    return [name for name, a, b in zip(names, old, new, strict=True) if a != b]


def property_shift(old: np.ndarray, new: np.ndarray) -> dict[str, Any] | None:
    """Median shift and the Kolmogorov-Smirnov statistic (an effect size in 0..1, not a p-value,
    which on large datasets calls every tiny shift significant)."""
    old, new = old[np.isfinite(old)], new[np.isfinite(new)]
    if old.size == 0 or new.size == 0:
        return None
    return {
        "old_median": float(np.median(old)),
        "new_median": float(np.median(new)),
        "ks_statistic": float(stats.ks_2samp(old, new).statistic),
    }


def diff_profiles(
    old: DataProfile,
    new: DataProfile,
    old_results: list[CheckResult] | None = None,
    new_results: list[CheckResult] | None = None,
) -> DataDiff:
    diff = DataDiff(dataset_fingerprint(old), dataset_fingerprint(new))
    old_rows, new_rows = _sample_rows(old), _sample_rows(new)
    diff.added = sorted(set(new_rows) - set(old_rows))
    diff.removed = sorted(set(old_rows) - set(new_rows))
    for sample_id in sorted(set(old_rows) & set(new_rows)):
        what = _changes(old_rows[sample_id], new_rows[sample_id])
        if what:
            diff.changed.append({"id": sample_id, "changed": what})

    old_counts, new_counts = class_counts(old)["all"], class_counts(new)["all"]
    for label in sorted(set(old_counts) | set(new_counts)):
        a, b = old_counts.get(label, 0), new_counts.get(label, 0)
        diff.class_counts.append({"label": label, "old": a, "new": b, "delta": b - a})

    for name in NUMERIC_PROPERTIES:
        shift = property_shift(old.numbers(name), new.numbers(name))
        if shift is not None:
            diff.properties.append({"property": name, **shift})
    diff.properties.sort(key=lambda row: -row["ks_statistic"])

    old_by_id = {r.check_id: r for r in old_results or []}
    new_by_id = {r.check_id: r for r in new_results or []}
    for check_id in sorted(set(old_by_id) | set(new_by_id)):
        before = old_by_id[check_id].flagged_ids() if check_id in old_by_id else set()
        after = new_by_id[check_id].flagged_ids() if check_id in new_by_id else set()
        if before != after:
            diff.issues.append(
                {
                    "check_id": check_id,
                    "new": sorted(after - before),
                    "fixed": sorted(before - after),
                    "old_status": old_by_id[check_id].status.value
                    if check_id in old_by_id
                    else None,
                    "new_status": new_by_id[check_id].status.value
                    if check_id in new_by_id
                    else None,
                }
            )
    return diff

"""Snapshots of a profiled dataset: the fingerprint, a summary, and the diff of two snapshots."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dlqa.core.results import CheckResult
from dlqa.data.checks.balance import class_counts
from dlqa.data.context import DataProfile, release_arrow_memory
from dlqa.data.modalities import modality_of

FINGERPRINT_PREFIX = "sha256:"


_FINGERPRINT_ROWS = 16_384  # rows hashed per step: the id order is kept, memory stays flat


def dataset_fingerprint(profile: DataProfile) -> str:
    """Hash of the content-hash manifest: sorted (sample id, content hash, label, split) rows.

    Renaming, relabelling, moving between splits or changing any byte changes it; the order
    in which files were listed does not. Each row hashes as its four values (empty when
    missing) joined by tabs, with a newline; rows are built in Arrow a block at a time.
    """
    # Whole columns only as Arrow buffers; labels and splits from their integer codes.
    ids = profile.column("sample_id").combine_chunks()
    order = pc.sort_indices(ids)  # stable, by code point as Python sorts strings
    sha = profile.column("sha256").combine_chunks()
    coded = []
    for name in ("label", "split"):
        names, codes = profile.codes(name)
        coded.append(
            (pa.array([*names, ""], type=pa.string()), np.where(codes < 0, len(names), codes))
        )
    digest = hashlib.sha256()
    for start in range(0, len(order), _FINGERPRINT_ROWS):
        block = order.slice(start, _FINGERPRINT_ROWS)
        positions = block.to_numpy()
        values = [ids.take(block).fill_null(""), sha.take(block).fill_null("")]
        values += [names.take(pa.array(codes[positions])) for names, codes in coded]
        rows = pc.binary_join_element_wise(*values, "\t")
        rows = pc.binary_join_element_wise(rows, "", "\n")
        for chunk in _chunked(rows).chunks:
            digest.update(_string_bytes(chunk))
    del ids, sha, order
    release_arrow_memory()
    return FINGERPRINT_PREFIX + digest.hexdigest()


def _chunked(array: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def _string_bytes(array: pa.StringArray) -> memoryview:
    """The UTF-8 bytes of a string array's values, back to back (no copy)."""
    if not len(array):
        return memoryview(b"")
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset :]
    data = array.buffers()[2]
    if data is None:
        return memoryview(b"")
    return memoryview(data)[int(offsets[0]) : int(offsets[len(array)])]


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
        "modality": profile.modality,
        "class_counts": class_counts(profile),
        "properties": {
            name: _quantiles(profile.numbers(name))
            for name in modality_of(profile).numeric_properties
        },
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


_COMPARED = (("content", "sha256"), ("label", "label"), ("split", "split"))


def _compare_samples(old: DataProfile, new: DataProfile) -> tuple[list, list, list]:
    """(added ids, removed ids, changed [{"id", "changed"}]), each sorted by id, matched in
    Arrow: only the ids that differ become Python strings."""
    old_ids, new_ids = old.ids.arrow, new.ids.arrow
    in_old = pc.is_in(new_ids, value_set=old_ids).to_numpy()
    in_new = pc.is_in(old_ids, value_set=new_ids).to_numpy()
    added = sorted(new.ids.take(~in_old))
    removed = sorted(old.ids.take(~in_new))
    new_rows = np.flatnonzero(in_old)
    old_rows = pc.index_in(new_ids, value_set=old_ids).to_numpy(zero_copy_only=False)
    old_rows = old_rows[new_rows].astype(np.int64)
    differs = np.zeros((len(_COMPARED), len(new_rows)), dtype=bool)
    for number, (_, column) in enumerate(_COMPARED):
        before = old.take(column, old_rows) if len(new_rows) else old.column(column).slice(0, 0)
        after = new.take(column, new_rows) if len(new_rows) else new.column(column).slice(0, 0)
        same = pc.equal(before, after).fill_null(False).to_numpy()
        both_missing = pc.and_(before.is_null(), after.is_null()).to_numpy()
        differs[number] = ~(same | both_missing)
    changed_rows = np.flatnonzero(differs.any(axis=0))
    changed_ids = new.ids.take(new_rows[changed_rows])
    names = [name for name, _ in _COMPARED]
    changed = [
        {"id": sample_id, "changed": [name for name, d in zip(names, what, strict=True) if d]}
        for sample_id, what in zip(changed_ids, differs[:, changed_rows].T.tolist(), strict=True)
    ]
    changed.sort(key=lambda row: row["id"])
    return added, removed, changed


def property_shift(old: np.ndarray, new: np.ndarray) -> dict[str, Any] | None:
    """Median shift and the Kolmogorov-Smirnov statistic (an effect size in 0..1, not a p-value,
    which on large datasets calls every tiny shift significant)."""
    old, new = old[np.isfinite(old)], new[np.isfinite(new)]
    if old.size == 0 or new.size == 0:
        return None
    from scipy import stats  # a second to import: only diffs need it, not every profile run

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
    diff.added, diff.removed, diff.changed = _compare_samples(old, new)

    old_counts, new_counts = class_counts(old)["all"], class_counts(new)["all"]
    for label in sorted(set(old_counts) | set(new_counts)):
        a, b = old_counts.get(label, 0), new_counts.get(label, 0)
        diff.class_counts.append({"label": label, "old": a, "new": b, "delta": b - a})

    # Properties both profiles measured (a dataset that changed modality shares none but size).
    shared = [name for name in modality_of(new).numeric_properties if old.has_column(name)]
    for name in shared:
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

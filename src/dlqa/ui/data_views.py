"""What the data pages show, apart from the HTTP: snapshot diffs computed once and kept, and
the columns of a per-sample table worth a column on a page.

A diff of two million-sample snapshots takes seconds (it reads and compares whole columns), too
slow to compute on every request. It is computed once with the project's diff
(:func:`dlqa.runner.diff_snapshots`) and kept as a Parquet file named by both tables' digests
and both runs, beside the artifacts: the same inputs always give the same diff, so a kept diff
is never stale; later requests read one page of it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dlqa.runner import diff_snapshots
from dlqa.sources.folder import display_name
from dlqa.store import Store
from dlqa.store.records import RUN_FINISHED, SnapshotRecord
from dlqa.ui.sample_table import read_range

DIFF_FORMAT = "1"  # bump when the kept file's layout changes: old files are then ignored
DIFF_METADATA_KEY = b"dlqa.diff"
DIFF_ROWS_PER_GROUP = 4096
# The kinds of change, in the order the kept file holds them: each kind is one range of rows,
# so a page of one kind reads only its rows. Changed samples with a new label come first.
CHANGE_KINDS = ("added", "removed", "label", "changed")
BASE_COLUMNS = ("sample_id", "label", "split", "file_size", "error")
MAX_PROPERTY_COLUMNS = 5
# Snapshots whose diff with their predecessor `dlqa ui` computes in the background at start.
WARMED_SNAPSHOTS = 20


def shown(text: Any) -> str:
    """Text a page can hold: a name read with surrogate escapes shows its bytes as ``\\xff``."""
    return display_name(str(text)) if text is not None else ""


def table_columns(schema: pa.Schema, summary: dict[str, Any]) -> list[str]:
    """The columns a snapshot page shows: identity, label, error, then a few measured
    properties (those the summary describes), never the wide binary ones."""
    names = set(schema.names)
    properties = [name for name in (summary.get("properties") or {}) if name in names]
    base = [name for name in BASE_COLUMNS if name in names]
    return base + [name for name in properties if name not in base][:MAX_PROPERTY_COLUMNS]


@dataclass(frozen=True)
class KeptDiff:
    """A diff as kept: counts and per-label / per-property / per-check lines, and the file
    whose rows are the changed samples (``sample_id``, ``change``, ``fields``)."""

    header: dict[str, Any]
    path: Path | None = None  # the kept file, or
    table: pa.Table | None = None  # the rows in memory (a diff that could not be kept)

    def counts(self) -> dict[str, int]:
        return self.header["counts"]

    def kind_range(self, kind: str | None) -> tuple[int, int]:
        """The rows of one kind of change (every row when ``kind`` is None)."""
        counts = self.counts()
        if kind is None:
            return 0, sum(counts[name] for name in CHANGE_KINDS)
        start = 0
        for name in CHANGE_KINDS:
            if name == kind:
                return start, start + counts[name]
            start += counts[name]
        raise KeyError(kind)

    def rows(self, kind: str | None, offset: int, limit: int) -> tuple[list[dict], int]:
        """One page of the changed samples of ``kind`` and how many there are."""
        start, stop = self.kind_range(kind)
        first, last = start + offset, min(stop, start + offset + limit)
        if self.table is not None:
            return self.table.slice(first, max(0, last - first)).to_pylist(), stop - start
        file = pq.ParquetFile(self.path)
        return read_range(file, first, last, list(file.schema_arrow.names)), stop - start


def diff_path(store: Store, old: SnapshotRecord, new: SnapshotRecord) -> Path:
    name = f"{old.table_digest}-{new.table_digest}-{old.run_id}-{new.run_id}-v{DIFF_FORMAT}"
    return store.artifacts.root / "diffs" / f"{name}.parquet"


def kept_diff(store: Store, old: SnapshotRecord, new: SnapshotRecord) -> KeptDiff:
    """The diff of ``old`` and ``new``: read back when kept, else computed (and kept when both
    runs have finished: a running run may still add results that change the issues)."""
    path = diff_path(store, old, new)
    if path.is_file():
        return _read_kept(path)
    _, _, diff = diff_snapshots(store, old.id, new.id)
    table, header = _diff_table(diff)
    if old.complete and new.complete and _write_kept(path, table, header):
        return _read_kept(path)
    return KeptDiff(header, table=table)


def warm_recent_diffs(store: Store, recent: int = WARMED_SNAPSHOTS) -> int:
    """Compute and keep the diff of each of the ``recent`` latest snapshots with the one before
    it (the link every snapshot has on /data), so that the first person to follow it does not
    wait for it; returns how many were computed. A diff that fails is left to the request,
    which reports it."""
    computed = 0
    for listing in store.snapshot_page(0, recent):
        if listing.previous_id is None or listing.run_status != RUN_FINISHED:
            continue
        try:
            old = store.get_snapshot(listing.previous_id)
            new = store.get_snapshot(listing.id)
            if not diff_path(store, old, new).is_file() and old.complete:
                kept_diff(store, old, new)
                computed += 1
        except Exception:  # noqa: BLE001 - the page that asks for it shows the problem
            continue
    return computed


def _diff_table(diff: Any) -> tuple[pa.Table, dict[str, Any]]:
    labelled = [row for row in diff.changed if "label" in row["changed"]]
    other = [row for row in diff.changed if "label" not in row["changed"]]
    groups = {
        "added": [(sample_id, "") for sample_id in diff.added],
        "removed": [(sample_id, "") for sample_id in diff.removed],
        "label": [(row["id"], ", ".join(row["changed"])) for row in labelled],
        "changed": [(row["id"], ", ".join(row["changed"])) for row in other],
    }
    ids, changes, fields = [], [], []
    for kind in CHANGE_KINDS:
        for sample_id, what in groups[kind]:
            ids.append(sample_id)
            changes.append(kind)
            fields.append(what)
    table = pa.table(
        {
            "sample_id": pa.array(ids, pa.string()),
            "change": pa.array(changes, pa.string()),
            "fields": pa.array(fields, pa.string()),
        }
    )
    header = {
        "identical": diff.unchanged,
        "old_fingerprint": diff.old_fingerprint,
        "new_fingerprint": diff.new_fingerprint,
        "counts": {kind: len(groups[kind]) for kind in CHANGE_KINDS},
        "class_counts": [row for row in diff.class_counts if row["delta"]],
        "properties": diff.properties,
        "issues": [
            {
                "check_id": issue["check_id"],
                "new": len(issue["new"]),
                "fixed": len(issue["fixed"]),
                "old_status": issue["old_status"],
                "new_status": issue["new_status"],
            }
            for issue in diff.issues
        ],
    }
    return table, header


def _write_table(path: Path, table: pa.Table, header: dict[str, Any]) -> None:
    table = table.replace_schema_metadata({DIFF_METADATA_KEY: json.dumps(header).encode()})
    pq.write_table(table, path, row_group_size=DIFF_ROWS_PER_GROUP)


def _write_kept(path: Path, table: pa.Table, header: dict[str, Any]) -> bool:
    """Keep the diff at ``path`` (written whole, then moved into place); False when the
    artifact folder cannot be written (a read-only store: the diff is then not kept)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        os.close(handle)
    except OSError:
        return False
    try:
        _write_table(Path(name), table, header)
        os.replace(name, path)
    except OSError:
        Path(name).unlink(missing_ok=True)
        return False
    return True


def _read_kept(path: Path) -> KeptDiff:
    metadata = pq.read_schema(path).metadata or {}
    return KeptDiff(json.loads(metadata[DIFF_METADATA_KEY]), path=path)


__all__ = [
    "CHANGE_KINDS",
    "KeptDiff",
    "diff_path",
    "kept_diff",
    "warm_recent_diffs",
    "shown",
    "table_columns",
]

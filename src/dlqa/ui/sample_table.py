"""One page of a Parquet table, read without loading the table: only the row groups that hold
the page's rows, and only the columns shown (a per-sample table has a million rows and wide
binary columns that no page shows)."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


@dataclass(frozen=True)
class SampleFilter:
    """Rows a per-sample column flags: ``column`` set (``present``) or true (``true``)."""

    name: str
    column: str
    label: str
    kind: str  # "present" or "true"


# Flags that the profile writes into the per-sample table (dlqa.data.columns and the modality
# columns): the dashboard offers those the table holds.
SAMPLE_FILTERS = (
    SampleFilter("errors", "error", "could not be read", "present"),
    SampleFilter("format_mismatch", "format_mismatch", "wrong extension", "true"),
    SampleFilter("grayscale", "is_grayscale", "grayscale", "true"),
)


@dataclass(frozen=True)
class TablePage:
    rows: list[dict[str, Any]]
    total: int  # rows in the table, or that the filter matches


def _group_starts(file: pq.ParquetFile) -> np.ndarray:
    """The first row of each row group, then the number of rows."""
    sizes = [file.metadata.row_group(i).num_rows for i in range(file.metadata.num_row_groups)]
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)


def read_rows(file: pq.ParquetFile, positions: np.ndarray, columns: list[str]) -> list[dict]:
    """The rows at ``positions`` (ascending), reading only the row groups that hold them."""
    if positions.size == 0:
        return []
    starts = _group_starts(file)
    groups = np.unique(np.searchsorted(starts, positions, side="right") - 1)
    table = file.read_row_groups([int(g) for g in groups], columns=columns, use_threads=False)
    # Where each chosen row group begins inside the table just read.
    sizes = starts[groups + 1] - starts[groups]
    base = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    group_of = np.searchsorted(groups, np.searchsorted(starts, positions, side="right") - 1)
    local = base[group_of] + (positions - starts[groups[group_of]])
    return table.take(pa.array(local, type=pa.int64())).to_pylist()


def read_range(file: pq.ParquetFile, start: int, stop: int, columns: list[str]) -> list[dict]:
    """Rows ``start`` to ``stop`` (exclusive) of the table."""
    stop = min(stop, file.metadata.num_rows)
    return read_rows(file, np.arange(start, max(start, stop), dtype=np.int64), columns)


def _flag_may_match(kind: str) -> Callable[[Any, int], bool]:
    """Whether a row group's statistics leave a match of a flag possible."""

    def may_match(stats: Any, rows: int) -> bool:
        if kind == "present":
            return not (stats.has_null_count and stats.null_count == rows)
        return not (stats.has_min_max and stats.max is False)

    return may_match


def _positions_where(
    file: pq.ParquetFile,
    name: str,
    may_match: Callable[[Any, int], bool],
    select: Callable[[pa.ChunkedArray], Any],
) -> np.ndarray:
    """The rows where ``select`` (a boolean array of column ``name``) is true. Only that column
    is read, and only from row groups whose statistics ``may_match`` does not rule out."""
    column = file.schema_arrow.get_field_index(name)
    starts = _group_starts(file)
    candidates = []
    for group in range(file.metadata.num_row_groups):
        meta = file.metadata.row_group(group)
        stats = meta.column(column).statistics
        if stats is None or may_match(stats, meta.num_rows):
            candidates.append(group)
    if not candidates:
        return np.zeros(0, dtype=np.int64)
    values = file.read_row_groups(candidates, columns=[name], use_threads=False).column(0)
    hits = np.flatnonzero(select(values).to_numpy(zero_copy_only=False))
    # Map positions in the candidate groups read back to positions in the whole table.
    sizes = starts[np.array(candidates) + 1] - starts[candidates]
    base = np.concatenate([[0], np.cumsum(sizes)])
    which = np.searchsorted(base, hits, side="right") - 1
    return (starts[candidates][which] + hits - base[which]).astype(np.int64)


def matching_positions(file: pq.ParquetFile, flag: SampleFilter) -> np.ndarray:
    """The rows that ``flag`` selects."""

    def select(values: pa.ChunkedArray) -> Any:
        return pc.is_valid(values) if flag.kind == "present" else pc.fill_null(values, False)

    return _positions_where(file, flag.column, _flag_may_match(flag.kind), select)


def positions_of_ids(file: pq.ParquetFile, sample_ids: set[str]) -> np.ndarray:
    """The rows whose ``sample_id`` is one of ``sample_ids``. Row groups whose id range (their
    statistics) holds none of them are not read: a source listed in order reads a few."""
    if not sample_ids:
        return np.zeros(0, dtype=np.int64)
    wanted = sorted(sample_ids)  # code point order: the byte order of UTF-8 statistics
    value_set = pa.array(wanted, pa.string())

    def may_hold(stats: Any, rows: int) -> bool:
        if not stats.has_min_max:
            return True
        first = bisect.bisect_left(wanted, stats.min)
        return first < len(wanted) and wanted[first] <= stats.max

    def select(values: pa.ChunkedArray) -> Any:
        return pc.is_in(values, value_set=value_set)

    return _positions_where(file, "sample_id", may_hold, select)


def available_filters(file: pq.ParquetFile) -> list[SampleFilter]:
    names = set(file.schema_arrow.names)
    return [flag for flag in SAMPLE_FILTERS if flag.column in names]


def read_page(
    file: pq.ParquetFile,
    columns: list[str],
    offset: int,
    limit: int,
    flag: SampleFilter | None = None,
) -> TablePage:
    """Rows ``offset`` to ``offset + limit`` of ``file`` (of those ``flag`` selects, when
    given)."""
    if flag is None:
        total = file.metadata.num_rows
        return TablePage(read_range(file, offset, offset + limit, columns), total)
    return page_of_positions(file, matching_positions(file, flag), columns, offset, limit)


def page_of_positions(
    file: pq.ParquetFile, positions: np.ndarray, columns: list[str], offset: int, limit: int
) -> TablePage:
    """One page of the rows at ``positions`` (ascending)."""
    return TablePage(read_rows(file, positions[offset : offset + limit], columns), positions.size)


__all__ = [
    "SAMPLE_FILTERS",
    "SampleFilter",
    "TablePage",
    "available_filters",
    "matching_positions",
    "page_of_positions",
    "positions_of_ids",
    "read_page",
    "read_range",
    "read_rows",
]

"""The context that dataset checks read: the per-sample profile table plus shared, cached work.

Whole columns stay in Arrow or numpy: strings become integer codes (labels, splits, content
hashes), numbers float arrays, flags bool arrays. Only the samples a check flags (its evidence)
become Python objects. A profile read from Parquet reads each column when a check asks for it,
and the large signature columns (structure grids, colour layouts) only for the samples in
candidate pairs, one row group at a time, so the check stage's memory stays a few bytes per
sample per column in use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dlqa.data.columns import MODALITY_KEY
from dlqa.data.exact_groups import find_exact_groups

_ITER_BATCH = 8192  # values turned into Python objects at a time when iterating a column
_READ_BATCH_ROWS = 65_536  # rows read from Parquet at a time
# String columns kept as integer codes once read (few distinct values, asked for often).
_CODED_COLUMNS = frozenset({"label", "split"})


class StringColumn(Sequence):
    """A string column of a profile that stays in Arrow (or in the Parquet file): index it
    for one value (``str`` or None) or for a few rows (an object array); iterating it converts
    a batch at a time. ``StringColumn(array)`` wraps an Arrow array of its own."""

    def __init__(
        self,
        array: pa.ChunkedArray | pa.Array | None = None,
        *,
        profile: DataProfile | None = None,
        name: str = "values",
    ) -> None:
        if profile is None:
            if array is None:
                raise TypeError("StringColumn needs an array or a profile")
            profile = DataProfile(pa.table({name: _chunked(array)}))
        self._profile, self._name = profile, name

    @property
    def arrow(self) -> pa.ChunkedArray:
        """The whole column as Arrow (read in full: for whole-column work in Arrow)."""
        return self._profile.column(self._name)

    def __len__(self) -> int:
        return self._profile.n

    @overload
    def __getitem__(self, key: int) -> Any: ...

    @overload
    def __getitem__(self, key: slice | np.ndarray | Sequence[int]) -> np.ndarray: ...

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, np.integer)):
            position = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= position < len(self):
                raise IndexError(f"row {int(key)} out of range for {len(self)} rows")
            return self.take([position])[0]
        if isinstance(key, slice):
            key = np.arange(len(self))[key]
        return np.asarray(self.take(key), dtype=object)

    def take(self, indices: np.ndarray | Sequence[int]) -> list[Any]:
        """The values at ``indices`` (ints, or a boolean mask) as a Python list."""
        positions = np.asarray(indices)
        if positions.dtype == bool:
            positions = np.flatnonzero(positions)
        positions = positions.astype(np.int64, copy=False).reshape(-1)
        if not positions.size:
            return []
        return self._profile.take_values(self._name, positions)

    def __iter__(self) -> Iterator[Any]:
        return self._profile.iter_values(self._name)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        # The whole column as Python objects: for callers that really need it.
        return np.asarray(self.tolist(), dtype=object if dtype is None else dtype)

    def tolist(self) -> list[Any]:
        return list(self)

    def __repr__(self) -> str:
        return f"StringColumn({self._name!r}, n={len(self)})"


def release_arrow_memory() -> None:
    """Hand memory that Arrow's allocator keeps after whole-column work back to the system.

    mimalloc holds freed pages for reuse by Arrow, but the check stage's next big arrays are
    numpy's; without this the process keeps every column it ever read in its peak (measured:
    54 MB of 160 held after fingerprinting 80,000 samples).
    """
    pa.default_memory_pool().release_unused()


def _chunked(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    return column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])


def string_codes(column: pa.ChunkedArray | pa.Array) -> tuple[list[str], np.ndarray]:
    """The distinct non-null values of a string column, sorted, and each row's position in
    them as int32 (-1 for null)."""
    column = _chunked(column)
    distinct = pc.unique(column).drop_null()
    distinct = distinct.take(pc.sort_indices(distinct))
    codes = pc.index_in(column, value_set=distinct).fill_null(-1)
    return distinct.to_pylist(), codes.to_numpy().astype(np.int32, copy=False)


def fixed_binary_rows(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A fixed-size binary column as a (k, width) uint8 array (zeros where null), and which
    rows are present."""
    array = _chunked(column).combine_chunks()
    width = array.type.byte_width
    rows = np.zeros((len(array), width), dtype=np.uint8)
    known = array.is_valid().to_numpy(zero_copy_only=False)
    if len(array):
        start = array.offset * width
        flat = np.frombuffer(array.buffers()[1], dtype=np.uint8)[start : start + len(array) * width]
        rows[known] = flat.reshape(len(array), width)[known]
    return rows, known


class DataProfile:
    """A profiled dataset. Columns come back as numpy arrays (numbers, flags, codes) or
    :class:`StringColumn` (strings); duplicate searches are cached because several checks
    (duplicates, conflicting labels, leakage) share them."""

    def __init__(self, table: pa.Table, source: str = "") -> None:
        self._table: pa.Table | None = table
        self._file: pq.ParquetFile | None = None
        self._start(source)

    def _start(self, source: str) -> None:
        self.source = source
        self._cache: dict[Any, Any] = {}
        self._codes: dict[str, tuple[list[str], np.ndarray]] = {}
        # Inputs beside the table that some checks read, None when the run has none:
        # the reference dataset of the drift checks (a DataProfile),
        self.reference: DataProfile | None = None
        # what data.label_errors reads (dlqa.data.label_inputs.LabelModel),
        self.label_model: Any = None
        # stored spot-check verdicts on these samples (dlqa.data.review.ReviewVerdicts).
        self.reviews: Any = None

    @classmethod
    def from_parquet(cls, path: Path | str, source: str = "") -> DataProfile:
        """A profile that reads the Parquet table's columns as checks ask for them."""
        profile = cls.__new__(cls)
        profile._table = None
        profile._file = pq.ParquetFile(path)
        profile._start(source)
        return profile

    # ------------------------------------------------------------------ columns

    @property
    def schema(self) -> pa.Schema:
        return self._file.schema_arrow if self._file is not None else self._table.schema

    @property
    def table(self) -> pa.Table:
        """The whole table (read in full from Parquet: prefer the column accessors)."""
        return self._table if self._table is not None else self._file.read()

    @cached_property
    def modality(self) -> str:
        """ "image", "audio" or "text": what the profile's samples are (from the table's
        metadata; a table without it is an image profile, as every profile was before)."""
        metadata = self.schema.metadata or {}
        return metadata.get(MODALITY_KEY, b"image").decode()

    @property
    def inputs(self) -> frozenset[str]:
        """The optional inputs this profile carries ("reference", "label_model", "reviews")."""
        names = ("reference", "label_model", "reviews")
        return frozenset(name for name in names if getattr(self, name) is not None)

    def has_column(self, name: str) -> bool:
        return name in self.schema.names

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()``, once per ``key`` for this profile: work that several checks share
        (candidate pairs of a near-duplicate search)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    @cached_property
    def n(self) -> int:
        return self._file.metadata.num_rows if self._file is not None else self._table.num_rows

    def column(self, name: str) -> pa.ChunkedArray:
        """One column as Arrow (read from the file each time for a Parquet profile)."""
        if self._file is not None:
            # Batch by batch: reading a whole column at once leaves the allocator holding
            # buffers of the column's size (measured: 350 B per sample for four string columns
            # against 20 for batches of 64k rows).
            field = self.schema.field(name)
            batches = self._file.iter_batches(
                batch_size=_READ_BATCH_ROWS, columns=[name], use_threads=False
            )
            return pa.chunked_array([batch.column(0) for batch in batches], type=field.type)
        return self._table.column(name)

    def take(self, name: str, indices: np.ndarray) -> pa.ChunkedArray:
        """The rows ``indices`` of a column, in that order; from Parquet one row group at a
        time, so a wide column is never read whole."""
        indices = np.asarray(indices, dtype=np.int64)
        if self._file is None:
            return self._table.column(name).take(pa.array(indices))
        order = np.argsort(indices, kind="stable")
        wanted = indices[order]
        metadata = self._file.metadata
        sizes = [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]
        bounds = np.cumsum([0, *sizes])
        pieces = []
        for group in range(metadata.num_row_groups):
            low, high = np.searchsorted(wanted, bounds[group : group + 2])
            if low == high:
                continue
            rows = self._file.read_row_group(group, columns=[name]).column(0)
            pieces.append(rows.take(pa.array(wanted[low:high] - bounds[group])))
        field_type = self.schema.field(name).type
        taken = pa.chunked_array(pieces, type=field_type).combine_chunks()
        return pa.chunked_array([taken.take(pa.array(np.argsort(order, kind="stable")))])

    def strings(self, name: str) -> StringColumn:
        """A string column (None where null): index it; it stays in Arrow (or the file)."""
        return StringColumn(profile=self, name=name)

    def numbers(self, name: str) -> np.ndarray:
        """A numeric column as float64 (NaN where null)."""
        column = self.column(name).cast(pa.float64())
        return column.to_numpy()

    def flags(self, name: str) -> np.ndarray:
        """A boolean column (False where null)."""
        return self.column(name).fill_null(False).to_numpy()

    def codes(self, name: str) -> tuple[list[str], np.ndarray]:
        """A string column as (sorted distinct values, int32 code per row, -1 where null),
        cached: labels and splits are grouped by several checks."""
        if name not in self._codes:
            self._codes[name] = string_codes(self.column(name))
            release_arrow_memory()
        return self._codes[name]

    def take_values(self, name: str, indices: np.ndarray) -> list[Any]:
        """Values of a column at ``indices`` as Python objects: labels and splits from their
        cached codes, other columns read for those rows only."""
        if name in _CODED_COLUMNS:
            names, codes = self.codes(name)
            return [None if code < 0 else names[code] for code in codes[indices].tolist()]
        return self.take(name, indices).to_pylist()

    def iter_values(self, name: str) -> Iterator[Any]:
        """Every value of a column, in order, converted a batch at a time."""
        if name in _CODED_COLUMNS:
            names, codes = self.codes(name)
            for start in range(0, len(codes), _ITER_BATCH):
                for code in codes[start : start + _ITER_BATCH].tolist():
                    yield None if code < 0 else names[code]
            return
        if self._file is not None:
            batches = self._file.iter_batches(
                batch_size=_ITER_BATCH, columns=[name], use_threads=False
            )
            for batch in batches:
                yield from batch.column(0).to_pylist()
            return
        for chunk in self._table.column(name).chunks:
            for start in range(0, len(chunk), _ITER_BATCH):
                yield from chunk.slice(start, _ITER_BATCH).to_pylist()

    @property
    def ids(self) -> StringColumn:
        return self.strings("sample_id")

    @property
    def labels(self) -> StringColumn:
        return self.strings("label")

    @property
    def splits(self) -> StringColumn:
        return self.strings("split")

    @cached_property
    def has_splits(self) -> bool:
        return bool((self.codes("split")[1] >= 0).any())

    @cached_property
    def decoded(self) -> np.ndarray:
        """True for samples that decoded (no file error)."""
        return self.column("error").is_null().to_numpy()

    def rows_of(self, sample_ids: Sequence[str]) -> np.ndarray:
        """Row positions of the given sample ids (-1 for an unknown id), without turning the
        id column into Python strings."""
        if not len(sample_ids):
            return np.zeros(0, dtype=np.int64)
        wanted = pa.array(list(sample_ids), type=pa.string())
        distinct = pc.unique(wanted)
        # Hash the few ids asked for and probe the column once: hashing the whole column as
        # the value set costs ~0.3 s per call at a million samples (a dashboard request).
        hits = pc.index_in(self.column("sample_id"), value_set=distinct)
        rows = np.flatnonzero(hits.is_valid().to_numpy(zero_copy_only=False))
        found = np.full(len(distinct), -1, dtype=np.int64)
        slots = hits.take(pa.array(rows)).to_numpy().astype(np.int64)
        # Reversed, so that an id held twice maps to its first row, as a lookup would.
        found[slots[::-1]] = rows[::-1]
        return found[pc.index_in(wanted, value_set=distinct).to_numpy().astype(np.int64)]

    # ------------------------------------------------------------------ duplicates

    @cached_property
    def exact_groups(self) -> list[np.ndarray]:
        """Groups of decoded samples with identical content: the decoded content's hash where
        the modality has one (audio, text), else the bytes' hash. A file that does not decode
        is in no group: ``data.unreadable`` reports it, once (two empty files are not
        "identical")."""
        keys = pc.if_else(self.column("error").is_null(), self.content_keys(), None)
        groups = find_exact_groups(keys)
        release_arrow_memory()
        return groups

    def content_keys(self) -> pa.ChunkedArray:
        """Per sample, the key of its content. Images: the bytes' hash. Audio and text: the
        decoded content's hash, null where there is no content to compare (an empty text is
        data.empty_text's finding, and two of them are not duplicates)."""
        if self.modality == "image" or not self.has_column("content_hash"):
            return self.column("sha256")
        return self.column("content_hash")

    @cached_property
    def _sha_group(self) -> np.ndarray:
        group = np.full(self.n, -1, dtype=np.int32)
        for number, members in enumerate(self.exact_groups):
            group[members] = number
        return group

    def exact_pairs(self) -> np.ndarray:
        """Byte-identical samples paired with the first of their group (a star, not a clique:
        k copies give k - 1 pairs, and a group with two labels or splits still shows a pair
        that differs)."""
        groups = self.exact_groups
        if not groups:
            return np.zeros((0, 2), dtype=np.int64)
        firsts = np.concatenate([np.full(len(g) - 1, g[0]) for g in groups])
        others = np.concatenate([g[1:] for g in groups])
        return np.stack([firsts, others], axis=1).astype(np.int64)

    def is_exact_pair(self, pairs: np.ndarray) -> np.ndarray:
        group_a, group_b = self._sha_group[pairs[:, 0]], self._sha_group[pairs[:, 1]]
        return (group_a >= 0) & (group_a == group_b)

"""Manifests: CSV, Parquet or JSONL tables with a path column, a label column and metadata."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from dlqa.core.errors import UsageError
from dlqa.sources.base import Sample

MANIFEST_FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
DEFAULT_SPLIT_COLUMN = "split"
_SHOWN_ROWS = 5  # how many offending rows or paths an error message names
_METADATA_BATCH_ROWS = 4096  # metadata is turned into Python strings one batch at a time

_OPTION_NAMES = {
    "path": ("--path-column", "path_column"),
    "label": ("--label-column", "label_column"),
    "split": ("--split-column", "split_column"),
    "id": ("--id-column", "id_column"),
}


def is_manifest_path(path: str | os.PathLike[str]) -> bool:
    """True when the file name has a manifest extension (.csv, .parquet, .pq, .jsonl, .ndjson)."""
    return Path(path).suffix.lower() in MANIFEST_FORMATS


class ManifestSource:
    """Samples listed in a table, one row each, in the table's row order.

    Relative paths are resolved against the manifest's folder. The sample id is the id column
    when one is named, else the path as written (with ``/`` separators). Columns other than the
    path, label, split and id columns become each sample's ``metadata`` (strings, None for null).

    The split column is optional while it keeps its default name ``"split"``; any other name the
    caller gives must exist. ``label_column=None`` reads an unlabelled manifest.
    """

    kind = "manifest"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        path_column: str = "path",
        label_column: str | None = "label",
        split_column: str | None = DEFAULT_SPLIT_COLUMN,
        id_column: str | None = None,
    ) -> None:
        manifest_path = Path(path).expanduser()
        self.root = str(manifest_path.resolve())
        table = read_manifest_table(manifest_path)
        if table.num_rows == 0:
            raise UsageError(
                f"manifest {self.root!r} has no rows",
                hint="add one row per sample, with a path and a label",
            )
        columns = table.column_names
        _require_column(self.root, columns, "path", path_column)
        if label_column is not None:
            _require_column(self.root, columns, "label", label_column)
        if id_column is not None:
            _require_column(self.root, columns, "id", id_column)
        if split_column is not None and split_column not in columns:
            if split_column != DEFAULT_SPLIT_COLUMN:
                _require_column(self.root, columns, "split", split_column)
            split_column = None

        written_paths = _column_as_strings(table.column(path_column))
        _reject_blank_rows(self.root, written_paths, "path", path_column)
        posix_paths = [str(p).replace("\\", "/") for p in written_paths]
        base_folder = manifest_path.resolve().parent
        self._paths = [os.path.join(base_folder, p) for p in posix_paths]
        _reject_missing_files(self.root, posix_paths, self._paths)

        self._labels: list[str | None]
        if label_column is None:
            self._labels = [None] * table.num_rows
        else:
            self._labels = _column_as_strings(table.column(label_column))
            _reject_blank_rows(self.root, self._labels, "label", label_column)
        self._splits: list[str | None] = (
            [None] * table.num_rows
            if split_column is None
            else _column_as_strings(table.column(split_column))
        )
        if id_column is None:
            self._ids: list[str] = posix_paths
        else:
            ids = _column_as_strings(table.column(id_column))
            _reject_blank_rows(self.root, ids, "id", id_column)
            self._ids = [str(value) for value in ids]
        _reject_duplicate_ids(self.root, self._ids, id_column)

        used = {path_column, label_column, split_column, id_column}
        self.metadata_columns: list[str] = [c for c in columns if c not in used]
        self._metadata = table.select(self.metadata_columns)

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[Sample]:
        for index, metadata in enumerate(self._metadata_rows()):
            yield Sample(
                sample_id=self._ids[index],
                index=index,
                path=self._paths[index],
                label=self._labels[index],
                split=self._splits[index],
                metadata=metadata,
            )

    def _metadata_rows(self) -> Iterator[dict[str, str | None]]:
        if not self.metadata_columns:
            for _ in range(len(self._ids)):
                yield {}
            return
        for batch in self._metadata.to_batches(max_chunksize=_METADATA_BATCH_ROWS):
            values = [_column_as_strings(column) for column in batch.columns]
            named = list(zip(self.metadata_columns, values, strict=True))
            for row in range(batch.num_rows):
                yield {name: column[row] for name, column in named}

    def __repr__(self) -> str:
        return f"ManifestSource({self.root!r}, samples={len(self)})"


def read_manifest_table(path: Path) -> pa.Table:
    """Read a CSV, Parquet or JSONL manifest into an Arrow table (CSV columns all as strings)."""
    if not path.exists():
        raise UsageError(f"manifest {str(path)!r} does not exist")
    if not path.is_file():
        raise UsageError(f"manifest {str(path)!r} is not a file")
    file_format = MANIFEST_FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise UsageError(
            f"{str(path)!r} is not a manifest: unknown extension {path.suffix!r}",
            hint="use a .csv, .parquet, .pq, .jsonl or .ndjson file",
        )
    try:
        if file_format == "parquet":
            return pq.read_table(path)
        if file_format == "jsonl":
            return pa_json.read_json(path)
        return _read_csv_as_strings(path)
    except (pa.ArrowException, OSError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(
            f"could not read manifest {str(path)!r} as {file_format.upper()}: {reason}",
            hint=f"check that the file is valid {file_format.upper()} "
            "with a header of column names",
        ) from error


def _read_csv_as_strings(path: Path) -> pa.Table:
    # Type inference would turn ids such as "007" into 7 and labels into floats; read text.
    with pa_csv.open_csv(path) as reader:
        names = reader.schema.names
    convert = pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in names}, strings_can_be_null=True
    )
    return pa_csv.read_csv(path, convert_options=convert)


def _column_as_strings(column: pa.ChunkedArray | pa.Array) -> list[str | None]:
    """Values as Python strings, None for null and NaN (integral floats print as integers)."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.to_pylist()
    if pa.types.is_floating(column.type):
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
    try:
        return pc.cast(column, pa.string()).to_pylist()
    except pa.ArrowNotImplementedError:
        return [None if value is None else str(value) for value in column.to_pylist()]


def _require_column(manifest: str, columns: Sequence[str], role: str, name: str) -> None:
    if name in columns:
        return
    flag, setting = _OPTION_NAMES[role]
    near = [c for c in columns if c.strip().lower() == name.strip().lower()]
    suggestion = f" (did you mean {near[0]!r}?)" if near else ""
    raise UsageError(
        f"manifest {manifest!r} has no {role} column {name!r}{suggestion}; "
        f"columns present: {', '.join(map(repr, columns))}",
        hint=f"name the {role} column with {flag} on the command line, "
        f"or {setting} in the [data] table of dlqa.toml",
    )


def _reject_blank_rows(manifest: str, values: Sequence[str | None], role: str, column: str) -> None:
    blank_rows = [row for row, value in enumerate(values, 1) if value is None or not value.strip()]
    if blank_rows:
        raise UsageError(
            f"manifest {manifest!r}: {len(blank_rows)} row(s) have an empty or missing {role} "
            f"in column {column!r}; data rows {_first_few(blank_rows)} (1-based, header not "
            "counted)",
            hint=f"fill in the {role} of every row, or remove those rows",
        )


def _reject_missing_files(
    manifest: str, written_paths: Sequence[str], resolved_paths: Sequence[str]
) -> None:
    missing = [
        written
        for written, resolved in zip(written_paths, resolved_paths, strict=True)
        if not os.path.isfile(resolved)
    ]
    if missing:
        raise UsageError(
            f"manifest {manifest!r}: {len(missing)} of {len(written_paths)} listed file(s) do not "
            f"exist: {_first_few(missing)}",
            hint="relative paths are read from the manifest's own folder; fix the paths or "
            "remove those rows",
        )


def _reject_duplicate_ids(manifest: str, ids: Sequence[str], id_column: str | None) -> None:
    if len(set(ids)) == len(ids):
        return
    repeated = [value for value, count in Counter(ids).items() if count > 1]
    what = f"ids in column {id_column!r}" if id_column else "paths (used as sample ids)"
    raise UsageError(
        f"manifest {manifest!r}: {len(repeated)} duplicate {what}: {_first_few(repeated)}",
        hint="each row must name a different sample; remove the repeated rows"
        + ("" if id_column else " or name a unique id column with --id-column / id_column"),
    )


def _first_few(items: Sequence[object]) -> str:
    shown = ", ".join(repr(i) if isinstance(i, str) else str(i) for i in items[:_SHOWN_ROWS])
    return shown + (f", ... ({len(items)} in all)" if len(items) > _SHOWN_ROWS else "")

"""Manifests: CSV, Parquet or JSONL tables with a path column, a label column and metadata."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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

    Labels are kept exactly as written: ``NA``, ``null``, ``None`` or ``nan`` name a class. Only
    an empty cell (null, a float NaN in Parquet, or only spaces) is missing, and that sample is
    unlabelled (label None). Every problem of the manifest (missing columns, empty paths or
    ids, files that do not exist, duplicate ids) is reported in one :class:`UsageError`.
    """

    kind = "manifest"
    modality = "image"

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
        # Every problem of the manifest is collected and reported at once: fixing a file one
        # error message at a time is a loop a user should not have to run.
        problems: list[_Problem] = []
        columns = table.column_names
        has_path = _require_column(problems, columns, "path", path_column)
        if label_column is not None and not _require_column(
            problems, columns, "label", label_column
        ):
            label_column = None
        has_id = id_column is None or _require_column(problems, columns, "id", id_column)
        if split_column is not None and split_column not in columns:
            if split_column != DEFAULT_SPLIT_COLUMN:
                _require_column(problems, columns, "split", split_column)
            split_column = None

        base_folder = manifest_path.resolve().parent
        posix_paths: list[str] = []
        self._paths: list[str] = []
        if has_path:
            written_paths = _column_as_strings(table.column(path_column))
            blank_paths = _blank_rows(written_paths)
            _report_blank_rows(problems, blank_paths, "path", path_column)
            posix_paths = ["" if p is None else p.replace("\\", "/") for p in written_paths]
            self._paths = [os.path.join(base_folder, p) for p in posix_paths]
            _report_missing_files(problems, posix_paths, self._paths, set(blank_paths))

        # Labels are names exactly as written ("NA", "null", "None" are classes); only an empty
        # (or blank) value is missing, and that sample is unlabelled.
        self._labels: list[str | None] = [None] * table.num_rows
        if label_column is not None:
            self._labels = [
                None if label is None or not label.strip() else label
                for label in _column_as_strings(table.column(label_column))
            ]
        self._splits: list[str | None] = (
            [None] * table.num_rows
            if split_column is None
            else _column_as_strings(table.column(split_column))
        )
        self._ids: list[str] = posix_paths
        if id_column is not None and has_id:
            ids = _column_as_strings(table.column(id_column))
            _report_blank_rows(problems, _blank_rows(ids), "id", id_column)
            self._ids = ["" if value is None else str(value) for value in ids]
        if (has_id and id_column is not None) or (has_path and id_column is None):
            _report_duplicate_ids(problems, self._ids, id_column)
        if problems:
            raise _manifest_error(self.root, problems, table.num_rows)

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
    # Only an empty cell is null: "NA", "null", "None", "nan" and "N/A" are values as written
    # (a class may be called "NA"), where Arrow's default list would make them missing.
    with pa_csv.open_csv(path) as reader:
        names = reader.schema.names
    convert = pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
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


@dataclass(frozen=True)
class _Problem:
    text: str  # what is wrong, with the rows or values it concerns
    hint: str  # what to do about it


def _manifest_error(manifest: str, problems: list[_Problem], n_rows: int) -> UsageError:
    """One error naming every problem: alone, a problem reads as before (message + hint)."""
    if len(problems) == 1:
        return UsageError(f"manifest {manifest!r}: {problems[0].text}", hint=problems[0].hint)
    lines = [f"manifest {manifest!r} ({n_rows} data rows) has {len(problems)} problems:"]
    for number, problem in enumerate(problems, 1):
        lines.append(f"  {number}. {problem.text}")
        lines.append(f"     fix: {problem.hint}")
    return UsageError(
        "\n".join(lines),
        hint="row numbers count data rows from 1, the header not counted",
    )


def _require_column(problems: list[_Problem], columns: Sequence[str], role: str, name: str) -> bool:
    """Whether the column exists; a problem naming the columns present when it does not."""
    if name in columns:
        return True
    flag, setting = _OPTION_NAMES[role]
    near = [c for c in columns if c.strip().lower() == name.strip().lower()]
    suggestion = f" (did you mean {near[0]!r}?)" if near else ""
    problems.append(
        _Problem(
            f"no {role} column {name!r}{suggestion}; "
            f"columns present: {', '.join(map(repr, columns))}",
            f"name the {role} column with {flag} on the command line, "
            f"or {setting} in the [data] table of dlqa.toml",
        )
    )
    return False


def _blank_rows(values: Sequence[str | None]) -> list[int]:
    """0-based positions of the values that are missing, empty or only spaces."""
    return [row for row, value in enumerate(values) if value is None or not value.strip()]


def _report_blank_rows(
    problems: list[_Problem], blank_rows: Sequence[int], role: str, column: str
) -> None:
    if blank_rows:
        problems.append(
            _Problem(
                f"{len(blank_rows)} row(s) have an empty or missing {role} in column "
                f"{column!r}; data rows {_first_few([row + 1 for row in blank_rows])} "
                "(1-based, header not counted)",
                f"fill in the {role} of every row, or remove those rows",
            )
        )


def _report_missing_files(
    problems: list[_Problem],
    written_paths: Sequence[str],
    resolved_paths: Sequence[str],
    blank_rows: set[int],
) -> None:
    missing = [
        f"{written!r} (row {row + 1})"
        for row, (written, resolved) in enumerate(zip(written_paths, resolved_paths, strict=True))
        if row not in blank_rows and not os.path.isfile(resolved)
    ]
    if missing:
        problems.append(
            _Problem(
                f"{len(missing)} of {len(written_paths)} listed file(s) do not exist: "
                f"{_first_few(missing, quote=False)}",
                "relative paths are read from the manifest's own folder; fix the paths or "
                "remove those rows",
            )
        )


def _report_duplicate_ids(
    problems: list[_Problem], ids: Sequence[str], id_column: str | None
) -> None:
    rows_of: dict[str, list[int]] = {}
    for row, value in enumerate(ids, 1):
        if value.strip():  # a blank id is reported as blank, not as a duplicate
            rows_of.setdefault(value, []).append(row)
    repeated = [
        f"{value!r} (rows {_first_few(rows)})" for value, rows in rows_of.items() if len(rows) > 1
    ]
    if not repeated:
        return
    what = f"ids in column {id_column!r}" if id_column else "paths (used as sample ids)"
    problems.append(
        _Problem(
            f"{len(repeated)} duplicate {what}: {_first_few(repeated, quote=False)}",
            "each row must name a different sample; remove the repeated rows"
            + ("" if id_column else " or name a unique id column with --id-column / id_column"),
        )
    )


def _first_few(items: Sequence[object], quote: bool = True) -> str:
    shown = ", ".join(
        repr(i) if quote and isinstance(i, str) else str(i) for i in items[:_SHOWN_ROWS]
    )
    return shown + (f", ... ({len(items)} in all)" if len(items) > _SHOWN_ROWS else "")

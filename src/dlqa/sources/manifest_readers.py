"""Reading a CSV, Parquet or JSONL manifest into an Arrow table, and its cells as strings.

Bad input is one :class:`UsageError` that names the rows at fault, never a traceback:

- CSV cells are read as bytes and decoded per column: a column of valid UTF-8 as it is, and
  one with other bytes (a cp1252 export, say) cell by cell with U+FFFD for what does not
  decode, so that every row survives and the text probe reports the damage.
- A CSV row with more or fewer fields than the header is an error naming each such data row
  and its text: a skipped row would silently lose a sample, and a ragged row nearly always
  means an unquoted comma, which has shifted the label of that row into another column.
- A JSONL line that is not a JSON object is an error naming the line. Lines Arrow's reader
  rejects for other reasons (a column that is a number in one row and text in another,
  invalid UTF-8, one line longer than a read block) are read again line by line, all values
  as strings.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from dlqa.core.errors import UsageError

MANIFEST_FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
SHOWN_ROWS = 5  # how many offending rows or paths an error message names
_SHOWN_TEXT = 60  # characters of an offending row's text in a message


def is_manifest_path(path: str | os.PathLike[str]) -> bool:
    """True when the file name has a manifest extension (.csv, .parquet, .pq, .jsonl, .ndjson)."""
    return Path(path).suffix.lower() in MANIFEST_FORMATS


def first_few(items: list[Any], quote: bool = True) -> str:
    """The first :data:`SHOWN_ROWS` items, comma-separated, with the count when cut."""
    shown = ", ".join(
        repr(i) if quote and isinstance(i, str) else str(i) for i in items[:SHOWN_ROWS]
    )
    return shown + (f", ... ({len(items)} in all)" if len(items) > SHOWN_ROWS else "")


def read_manifest_table(path: Path) -> pa.Table:
    """Read a CSV, Parquet or JSONL manifest into an Arrow table (CSV columns all as bytes:
    see :func:`column_as_strings`)."""
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
            return _read_jsonl(path)
        return _read_csv_as_bytes(path)
    except (pa.ArrowException, OSError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(
            f"could not read manifest {str(path)!r} as {file_format.upper()}: {reason}",
            hint=f"check that the file is valid {file_format.upper()} "
            "with a header of column names",
        ) from error


def _read_csv_as_bytes(path: Path) -> pa.Table:
    # Type inference would turn ids such as "007" into 7 and labels into floats, so every
    # column is read as text; as bytes, so that a cell that is not UTF-8 costs only that cell.
    # Only an empty cell is null: "NA", "null", "None", "nan" and "N/A" are values as written
    # (a class may be called "NA"), where Arrow's default list would make them missing.
    # Quoted values may span lines: texts do.
    ragged: list[pa_csv.InvalidRow] = []

    def on_invalid_row(row: pa_csv.InvalidRow) -> str:
        ragged.append(row)
        return "skip"

    parse = pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid_row)
    with pa_csv.open_csv(path, parse_options=parse) as reader:
        names = reader.schema.names
    ragged.clear()  # open_csv parsed the first block: read_csv sees those rows again
    convert = pa_csv.ConvertOptions(
        column_types={name: pa.binary() for name in names},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    table = pa_csv.read_csv(path, parse_options=parse, convert_options=convert)
    if ragged:
        if any(row.number is None for row in ragged):
            # Arrow knows row numbers only when it reads in one thread: read again that way,
            # on this error path only, to name the rows.
            ragged.clear()
            pa_csv.read_csv(
                path,
                read_options=pa_csv.ReadOptions(use_threads=False),
                parse_options=parse,
                convert_options=convert,
            )
        raise _ragged_rows_error(path, ragged, len(names))
    return table


def _ragged_rows_error(path: Path, rows: list[pa_csv.InvalidRow], n_fields: int) -> UsageError:
    # Arrow numbers records from 1 with the header; data rows count from 1 after it.
    shown = [
        f"data row {'?' if row.number is None else row.number - 1} has {row.actual_columns} "
        f"({_clipped(row.text)})"
        for row in rows
    ]
    return UsageError(
        f"could not read manifest {str(path)!r} as CSV: {len(rows)} row(s) have a different "
        f"number of fields than the header ({n_fields}): {first_few(shown, quote=False)}",
        hint='quote every field that holds a comma or a line break ("a, b"), or fix those '
        "rows; data rows count from 1, the header not counted",
    )


def _clipped(text: str) -> str:
    return repr(text if len(text) <= _SHOWN_TEXT else text[:_SHOWN_TEXT] + "...")


def _read_jsonl(path: Path) -> pa.Table:
    try:
        return pa_json.read_json(path)
    except pa.ArrowInvalid:
        # Arrow names neither the line nor, for a mixed column, what to do: read again in
        # Python, which does both (this costs memory, on this path only).
        return _read_jsonl_lines(path)


def _read_jsonl_lines(path: Path) -> pa.Table:
    records: list[dict[str, Any]] = []
    bad: list[str] = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                bad.append(f"line {number}: {error.msg} at column {error.colno}")
                continue
            if not isinstance(record, dict):
                bad.append(f"line {number}: a JSON {type(record).__name__}, not an object")
                continue
            records.append(record)
    if bad:
        raise UsageError(
            f"could not read manifest {str(path)!r} as JSONL: {len(bad)} line(s) are not "
            f"JSON objects: {first_few(bad, quote=False)}",
            hint='write one JSON object per line, e.g. {"path": "a.png", "label": "cat"}',
        )
    names = list(dict.fromkeys(key for record in records for key in record))
    return pa.table(
        {
            name: pa.array([_json_value_as_string(r.get(name)) for r in records], pa.string())
            for name in names
        }
    )


def _json_value_as_string(value: Any) -> str | None:
    """A JSON value as :func:`column_as_strings` gives a typed column's values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def column_as_strings(
    column: pa.ChunkedArray | pa.Array, errors: str = "replace"
) -> list[str | None]:
    """Values as Python strings, None for null and NaN (integral floats print as integers).

    Bytes (CSV cells, Parquet binary columns) are UTF-8; a column with other bytes is decoded
    cell by cell with ``errors`` ("replace": U+FFFD for each undecodable byte;
    "surrogateescape" keeps a file name's bytes, as ``os.fsdecode`` does).
    """
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column.to_pylist()
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        try:
            return pc.cast(column, pa.string()).to_pylist()
        except pa.ArrowInvalid:  # not UTF-8 throughout
            return [
                None if value is None else value.decode("utf-8", errors)
                for value in column.to_pylist()
            ]
    if pa.types.is_floating(kind):
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, kind), column)
    try:
        return pc.cast(column, pa.string()).to_pylist()
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return [None if value is None else str(value) for value in column.to_pylist()]

"""The profile: probe every sample of a source and stream one row per sample to Parquet.

Chunks of samples are probed by an executor (one task per chunk, returning an Arrow record
batch); batches are appended in source order, so memory stays flat whatever the dataset size.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dlqa.core.errors import UsageError
from dlqa.data.columns import META_PREFIX, PROBE_ERROR, PROFILE_COLUMNS, PROFILE_SCHEMA
from dlqa.data.probes.file import read_file_bytes
from dlqa.data.probes.image import (
    ImageWork,
    decode_image_bytes,
    pixel_statistics_many,
    probe_array,
)
from dlqa.execute.base import Executor
from dlqa.execute.local import get_executor
from dlqa.sources.base import Sample, Source
from dlqa.sources.folder import display_name

# Rows buffered before a Parquet row group is written: big enough for efficient reads, small
# enough to keep memory flat (measured: with 16,384 the parent's peak grew by 22 MB between
# 2,500 and 10,000 images because everything was still buffered; with 2,048 it grew by 1 MB).
_ROWS_PER_ROW_GROUP = 2048


@dataclass(frozen=True)
class ProfileInfo:
    path: Path
    n_samples: int
    n_errors: int
    meta_columns: list[str]


def probe_sample(sample: Sample) -> dict[str, Any]:
    """Every PROFILE_SCHEMA column for one sample (None where unknown).

    In-memory samples (``array`` set) go through ``probe_array``; files are read once, then
    hashed and decoded from the same bytes. File and image errors are findings in the row.
    """
    row, work = _decode_sample(sample)
    if work is not None:
        row.update(pixel_statistics_many([work])[0])
    return row


def _decode_sample(sample: Sample) -> tuple[dict[str, Any], ImageWork | None]:
    """The row of one sample without its pixel statistics, and what they need (None when
    there is nothing to measure, or the sample is already fully probed)."""
    row: dict[str, Any] = dict.fromkeys(PROFILE_COLUMNS)
    row.update(
        sample_id=sample.sample_id,
        index=sample.index,
        path=storable_path(sample.path),
        label=None if sample.label is None else str(sample.label),
        split=None if sample.split is None else str(sample.split),
    )
    if sample.array is not None:
        row.update(probe_array(sample.array))
        return row, None
    if sample.path is None:
        row["error"] = "unreadable"
        row["error_detail"] = "the sample has neither a path nor an array"
        return row, None
    data, file_row = read_file_bytes(sample.path)
    row.update(file_row)
    if data is None:
        return row, None
    image_row, work = decode_image_bytes(data)
    row.update(image_row)
    return row, work


def _failed_probe_row(sample: Sample, exc: Exception) -> dict[str, Any]:
    """The row of a sample whose probe raised: the run goes on, the sample carries the error.

    Decoders' failures are caught inside the probes and are findings about the file; what
    reaches here is an OSError (the file could not be read), a UsageError (an in-memory array
    of the wrong kind), or a bug in dlqa's probe code, which is said as such, with where it
    happened, so that the file is not blamed for it.
    """
    row: dict[str, Any] = dict.fromkeys(PROFILE_COLUMNS)
    row.update(
        sample_id=sample.sample_id,
        index=sample.index,
        path=storable_path(sample.path),
        label=None if sample.label is None else str(sample.label),
        split=None if sample.split is None else str(sample.split),
        error=_probe_failure_kind(exc),
        error_detail=f"{type(exc).__name__}: {exc}{_where(exc)}",
    )
    return row


def _probe_failure_kind(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return "unreadable"
    if isinstance(exc, UsageError):
        return "corrupt"
    return PROBE_ERROR


def _where(exc: Exception) -> str:
    """`` (in file.py:123, function)`` for a bug in dlqa's code; "" for the others."""
    if isinstance(exc, (OSError, UsageError)):
        return ""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" (in {os.path.basename(last.filename)}:{last.lineno}, {last.name})"


def storable_path(path: str | None) -> str | None:
    # A file name that is not UTF-8 is stored with its bytes escaped (Arrow strings are UTF-8).
    return None if path is None else display_name(path)


def profile_schema(meta_keys: list[str]) -> pa.Schema:
    """PROFILE_SCHEMA followed by one string column per metadata key."""
    return pa.schema(
        list(PROFILE_SCHEMA) + [pa.field(META_PREFIX + key, pa.string()) for key in meta_keys]
    )


def _probe_chunk(task: tuple[list[Sample], list[str]]) -> pa.RecordBatch:
    """Executor task: probe a chunk of samples into one record batch (runs in a worker).

    Each sample is read and decoded in turn; the pixel statistics of the chunk's images are
    then computed together (``pixel_statistics_many``), which for small images is most of the
    probe's time saved. Only the chunk's rows are ever Python objects.
    """
    samples, meta_keys = task
    rows: list[dict[str, Any]] = []
    works: list[tuple[int, ImageWork]] = []  # (row, what its statistics need)
    for sample in samples:
        try:
            row, work = _decode_sample(sample)
        except Exception as exc:  # one bad sample must never abort the whole profile
            row, work = _failed_probe_row(sample, exc), None
        if work is not None:
            works.append((len(rows), work))
        rows.append(row)
    _add_pixel_statistics(rows, works, samples)
    for row, sample in zip(rows, samples, strict=True):
        for key in meta_keys:
            value = sample.metadata.get(key)
            row[META_PREFIX + key] = None if value is None else str(value)
    return pa.RecordBatch.from_pylist(rows, schema=profile_schema(meta_keys))


def _add_pixel_statistics(
    rows: list[dict[str, Any]], works: list[tuple[int, ImageWork]], samples: list[Sample]
) -> None:
    if not works:
        return
    try:
        statistics = pixel_statistics_many([work for _, work in works])
    except Exception:  # measure one at a time, so that only the sample at fault fails
        statistics = []
        for index, work in works:
            try:
                statistics.append(pixel_statistics_many([work])[0])
            except Exception as exc:
                rows[index] = _failed_probe_row(samples[index], exc)
                statistics.append({})
    for (index, _), values in zip(works, statistics, strict=True):
        rows[index].update(values)


def _chunks(samples: Iterable[Sample], chunk_size: int) -> Iterator[list[Sample]]:
    iterator = iter(samples)
    while chunk := list(islice(iterator, chunk_size)):
        yield chunk


def _meta_keys(chunk: list[Sample]) -> list[str]:
    """Metadata keys of the first sample that has any (a source gives every sample the same)."""
    for sample in chunk:
        if sample.metadata:
            return [str(key) for key in sample.metadata]
    return []


def profile_source(
    source: Source,
    out_path: Path,
    *,
    executor: Executor | None = None,
    chunk_size: int = 256,
    on_progress: Callable[[int], None] | None = None,
) -> ProfileInfo:
    """Probe every sample of ``source`` and write the profile table to ``out_path`` (Parquet).

    Rows come in source order. ``on_progress`` receives the number of samples in each chunk as
    it finishes. Without an executor, one process per CPU core is used (in-process when the
    whole source fits in one chunk). The file appears only once complete.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise UsageError(
            f"chunk_size must be a positive whole number, got {chunk_size!r}",
            hint="the default of 256 samples per task suits most datasets",
        )
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    owned_executor = None
    if executor is None:
        owned_executor = get_executor(1 if len(source) <= chunk_size else None)
        executor = owned_executor

    chunks = _chunks(source, chunk_size)
    first_chunk = next(chunks, [])
    meta_keys = _meta_keys(first_chunk)
    schema = profile_schema(meta_keys)
    tasks = ((chunk, meta_keys) for chunk in _prepend(first_chunk, chunks))

    partial_path = out_path.with_name(out_path.name + ".partial")
    n_samples = n_errors = 0
    try:
        with pq.ParquetWriter(partial_path, schema) as writer:
            buffered: list[pa.RecordBatch] = []
            buffered_rows = 0
            for batch in executor.map(_probe_chunk, tasks):
                n_samples += batch.num_rows
                n_errors += batch.num_rows - batch.column("error").null_count
                buffered.append(batch)
                buffered_rows += batch.num_rows
                if buffered_rows >= _ROWS_PER_ROW_GROUP:
                    writer.write_table(pa.Table.from_batches(buffered, schema=schema))
                    buffered, buffered_rows = [], 0
                if on_progress is not None:
                    on_progress(batch.num_rows)
            if buffered:
                writer.write_table(pa.Table.from_batches(buffered, schema=schema))
        os.replace(partial_path, out_path)
    finally:
        partial_path.unlink(missing_ok=True)
        if owned_executor is not None:
            owned_executor.close()
    return ProfileInfo(
        path=out_path,
        n_samples=n_samples,
        n_errors=n_errors,
        meta_columns=[META_PREFIX + key for key in meta_keys],
    )


def _prepend(first: list[Sample], rest: Iterator[list[Sample]]) -> Iterator[list[Sample]]:
    if first:
        yield first
    yield from rest


def read_profile(path: Path | str, columns: list[str] | None = None) -> pa.Table:
    """Read a profile table written by ``profile_source`` (optionally only some columns)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(
            f"no profile table at {path}",
            hint="run `dlqa data profile` (or profile_source) first to write it",
        )
    if columns is not None:
        available = set(pq.read_schema(path).names)
        missing = [name for name in columns if name not in available]
        if missing:
            raise UsageError(
                f"profile table {path} has no column(s) {', '.join(missing)}",
                hint=f"available columns: {', '.join(sorted(available))}",
            )
    return pq.read_table(path, columns=columns)

"""The profile: probe every sample of a source and stream one row per sample to Parquet.

Chunks of samples are probed by an executor (one task per chunk, returning an Arrow record
batch); batches are appended in source order, so memory stays flat whatever the dataset size.

A worker process that dies on a chunk (a decoder's segfault, the out-of-memory killer) costs
at most the sample that killed it: the chunk is probed again one sample at a time, the sample
that kills its worker again gets a row with ``error="unreadable"`` and an ``error_detail``
naming the signal or exit status, the other chunks go on, and ``ProfileInfo.worker_deaths``
says what happened, so that the run reports it.

Test hook, off unless its environment variable is set: with ``DLQA_TEST_CRASH_ON=<text>``, a
pool worker that is about to probe a sample whose path contains ``<text>`` kills itself, with
SIGSEGV, or with ``os._exit(N)`` when ``DLQA_TEST_CRASH_EXIT=N`` is set too. It never fires in
the main process (``workers=1``). It is how the tests make a real worker die on a real file.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
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
from dlqa.execute.base import Executor, WorkerDied
from dlqa.execute.local import get_executor
from dlqa.sources.base import Sample, Source
from dlqa.sources.folder import display_name

# Rows buffered before a Parquet row group is written: big enough for efficient reads, small
# enough to keep memory flat (measured: with 16,384 the parent's peak grew by 22 MB between
# 2,500 and 10,000 images because everything was still buffered; with 2,048 it grew by 1 MB).
_ROWS_PER_ROW_GROUP = 2048

CRASH_HOOK_VARIABLE = "DLQA_TEST_CRASH_ON"
CRASH_EXIT_VARIABLE = "DLQA_TEST_CRASH_EXIT"

# The `outcome` of a worker death: the sample kept killing its worker, so its row is a
# finding; or it probed fine when tried again alone (the death is still reported).
DEATH_UNREADABLE = "unreadable"
DEATH_PROBED_AGAIN = "probed again"


@dataclass(frozen=True)
class ProfileInfo:
    """What ``profile_source`` wrote.

    ``worker_deaths`` says where worker processes died, one ``{"sample_id", "reason",
    "outcome"}`` per sample they died on: ``reason`` is how (``"signal 11 (SIGSEGV)"``,
    ``"exit status 3"``), ``outcome`` ``"unreadable"`` (it killed its worker again, so its row
    is an unreadable finding) or ``"probed again"`` (tried again alone, it probed fine). A
    death that no single sample repeated has ``sample_id`` None and ``"samples"``, the first
    and last id of the chunk it struck. Empty when no worker died.
    """

    path: Path
    n_samples: int
    n_errors: int
    meta_columns: list[str]
    worker_deaths: list[dict[str, Any]] = field(default_factory=list)


def probe_sample(sample: Sample) -> dict[str, Any]:
    """Every PROFILE_SCHEMA column for one sample (None where unknown).

    In-memory samples (``array`` set) go through ``probe_array``; files are read once, then
    hashed and decoded from the same bytes. File and image errors are findings in the row.
    """
    row, work = _decode_sample(sample)
    if work is not None:
        row.update(pixel_statistics_many([work])[0])
    return row


def _identity_row(sample: Sample) -> dict[str, Any]:
    """A row with only what the source says about the sample (every other column None)."""
    row: dict[str, Any] = dict.fromkeys(PROFILE_COLUMNS)
    row.update(
        sample_id=sample.sample_id,
        index=sample.index,
        path=storable_path(sample.path),
        label=None if sample.label is None else str(sample.label),
        split=None if sample.split is None else str(sample.split),
    )
    return row


def _decode_sample(sample: Sample) -> tuple[dict[str, Any], ImageWork | None]:
    """The row of one sample without its pixel statistics, and what they need (None when
    there is nothing to measure, or the sample is already fully probed)."""
    row = _identity_row(sample)
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
    row = _identity_row(sample)
    row.update(
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
    crash_on = os.environ.get(CRASH_HOOK_VARIABLE)  # the test hook; see the module docstring
    for sample in samples:
        if crash_on:
            _crash_if_marked(sample, crash_on)
        try:
            row, work = _decode_sample(sample)
        except Exception as exc:  # one bad sample must never abort the whole profile
            row, work = _failed_probe_row(sample, exc), None
        if work is not None:
            works.append((len(rows), work))
        rows.append(row)
    _add_pixel_statistics(rows, works, samples)
    return _to_batch(rows, samples, meta_keys)


def _to_batch(
    rows: list[dict[str, Any]], samples: list[Sample], meta_keys: list[str]
) -> pa.RecordBatch:
    for row, sample in zip(rows, samples, strict=True):
        for key in meta_keys:
            value = sample.metadata.get(key)
            row[META_PREFIX + key] = None if value is None else str(value)
    return pa.RecordBatch.from_pylist(rows, schema=profile_schema(meta_keys))


def _crash_if_marked(sample: Sample, marker: str) -> None:
    """The test hook: kill this pool worker on a marked sample, as a decoder's crash would."""
    if sample.path is None or marker not in sample.path:
        return
    if multiprocessing.parent_process() is None:  # never the main process
        return
    status = os.environ.get(CRASH_EXIT_VARIABLE)
    if status:
        os._exit(int(status))
    import resource  # POSIX only, like the hook

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file from a test
    os.kill(os.getpid(), signal.SIGSEGV)


def _probe_batches(
    executor: Executor, tasks: Iterable[tuple[list[Sample], list[str]]], deaths: list[dict]
) -> Iterator[pa.RecordBatch]:
    """The record batch of each chunk, in order; a chunk whose worker died is probed again
    one sample at a time (``_probe_alone``), and what happened is added to ``deaths``."""
    for outcome in executor.map(_probe_chunk, tasks, on_worker_death="yield"):
        if not isinstance(outcome, WorkerDied):
            yield outcome
            continue
        samples, meta_keys = outcome.item
        if len(samples) == 1:  # the death is already pinned on the sample
            yield _probe_alone(executor, samples[0], meta_keys, outcome, deaths)
            continue
        n_deaths = len(deaths)
        singles = (([sample], meta_keys) for sample in samples)
        retried = executor.map(_probe_chunk, singles, on_worker_death="yield")
        for sample, single in zip(samples, retried, strict=True):
            if isinstance(single, WorkerDied):
                single = _probe_alone(executor, sample, meta_keys, single, deaths)
            yield single
        if len(deaths) == n_deaths:  # every sample probed fine alone: still, a worker died
            deaths.append(
                {
                    "sample_id": None,
                    "reason": outcome.reason,
                    "outcome": DEATH_PROBED_AGAIN,
                    "samples": [samples[0].sample_id, samples[-1].sample_id],
                }
            )


def _probe_alone(
    executor: Executor,
    sample: Sample,
    meta_keys: list[str],
    death: WorkerDied,
    deaths: list[dict],
) -> pa.RecordBatch:
    """The batch of one sample whose worker died: tried once more unless it killed a fresh
    worker on its own (a worker that ran other samples may have died of what they left
    behind); a second death makes its row an unreadable finding."""
    if death.tasks_before > 0:
        [again] = executor.map(_probe_chunk, [([sample], meta_keys)], on_worker_death="yield")
        if not isinstance(again, WorkerDied):
            deaths.append(
                {
                    "sample_id": sample.sample_id,
                    "reason": death.reason,
                    "outcome": DEATH_PROBED_AGAIN,
                }
            )
            return again
        death = again
    deaths.append(
        {"sample_id": sample.sample_id, "reason": death.reason, "outcome": DEATH_UNREADABLE}
    )
    what = "reading this file" if sample.path is not None else "probing this sample"
    row = _identity_row(sample)
    row.update(error="unreadable", error_detail=f"a worker died while {what}: {death.reason}")
    return _to_batch([row], [sample], meta_keys)


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
    whole source fits in one chunk). The file appears only once complete. A worker process
    that dies costs at most the sample it died on (see the module docstring); such deaths are
    in ``worker_deaths`` of the result.
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
    deaths: list[dict[str, Any]] = []
    try:
        with pq.ParquetWriter(partial_path, schema) as writer:
            buffered: list[pa.RecordBatch] = []
            buffered_rows = 0
            for batch in _probe_batches(executor, tasks, deaths):
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
        worker_deaths=deaths,
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

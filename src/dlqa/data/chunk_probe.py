"""What a worker does with a chunk of samples: read, decode and measure each one into a row of
the per-sample table, and return the chunk as one Arrow record batch.

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
from typing import Any

import pyarrow as pa

from dlqa.core.errors import UsageError
from dlqa.data.columns import META_PREFIX, PROBE_ERROR, PROFILE_COLUMNS, PROFILE_SCHEMA
from dlqa.data.probes.file import read_file_bytes
from dlqa.data.probes.image import (
    ImageWork,
    decode_image_bytes,
    pixel_statistics_many,
    probe_array,
)
from dlqa.sources.base import Sample
from dlqa.sources.folder import display_name

CRASH_HOOK_VARIABLE = "DLQA_TEST_CRASH_ON"
CRASH_EXIT_VARIABLE = "DLQA_TEST_CRASH_EXIT"


def probe_sample(sample: Sample) -> dict[str, Any]:
    """Every PROFILE_SCHEMA column for one sample (None where unknown).

    In-memory samples (``array`` set) go through ``probe_array``; files are read once, then
    hashed and decoded from the same bytes. File and image errors are findings in the row.
    """
    row, work = _decode_sample(sample)
    if work is not None:
        row.update(pixel_statistics_many([work])[0])
    return row


def identity_row(sample: Sample) -> dict[str, Any]:
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
    row = identity_row(sample)
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
    row = identity_row(sample)
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


def probe_chunk(task: tuple[list[Sample], list[str]]) -> pa.RecordBatch:
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
    return to_batch(rows, samples, meta_keys)


def to_batch(
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

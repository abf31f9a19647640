"""What a worker does with a chunk of samples: read, decode and measure each one into a row of
the per-sample table, and return the chunk as one Arrow record batch.

Test hook, off unless its environment variable is set: with ``DLQA_TEST_CRASH_ON=<text>``, a
pool worker that is about to probe a sample whose path contains ``<text>`` kills itself, with
SIGSEGV, or with ``os._exit(N)`` when ``DLQA_TEST_CRASH_EXIT=N`` is set too. It never fires in
the main process (``workers=1``). It is how the tests make a real worker die on a real file.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import traceback
from typing import Any

import pyarrow as pa

from dlqa.core.errors import UsageError
from dlqa.data.columns import META_PREFIX, PROBE_ERROR
from dlqa.data.modalities import Modality, get_modality, profile_schema
from dlqa.data.probes.file import read_file_bytes
from dlqa.sources.base import Sample
from dlqa.sources.folder import display_name

CRASH_HOOK_VARIABLE = "DLQA_TEST_CRASH_ON"
CRASH_EXIT_VARIABLE = "DLQA_TEST_CRASH_EXIT"


# Where a worker finds the files: (the root as this machine sees it, the same root as the
# workers see it), when they mount the shared file system elsewhere; None when the paths are
# the same everywhere. A sample's file travels as its path relative to the first root.
RootMap = tuple[str, str] | None

# A chunk for a worker: its samples, the metadata keys of the source, the modality's name, and
# where the workers see the source's root (optional: without it, the paths as they are).
ChunkTask = tuple[list[Sample], list[str], str] | tuple[list[Sample], list[str], str, RootMap]


def worker_path(path: str, roots: RootMap) -> str:
    """Where a worker reads the file the client knows as ``path``: the same path, or its path
    relative to the client's root joined to the workers' root (which, when relative, a worker
    resolves against its own working directory)."""
    if roots is None:
        return path
    client_root, shared_root = roots
    return os.path.join(shared_root, os.path.relpath(path, client_root))


def probe_sample(sample: Sample, modality: str = "image") -> dict[str, Any]:
    """Every column of the modality's profile table for one sample (None where unknown).

    In-memory samples are probed from their array or text; files are read once, then hashed
    and decoded from the same bytes. File and decoding errors are findings in the row.
    """
    spec = get_modality(modality)
    row, work = _decode_sample(sample, spec, None)
    if work is not None and spec.finish is not None:
        row.update(spec.finish([work])[0])
    return row


def identity_row(sample: Sample, modality: Modality) -> dict[str, Any]:
    """A row with only what the source says about the sample (every other column None)."""
    row: dict[str, Any] = dict.fromkeys(_column_names(modality.name))
    row.update(
        sample_id=sample.sample_id,
        index=sample.index,
        path=storable_path(sample.path),
        label=None if sample.label is None else str(sample.label),
        split=None if sample.split is None else str(sample.split),
    )
    return row


@functools.cache
def _column_names(modality: str) -> tuple[str, ...]:
    # Built once per modality: rebuilding the schema per row cost ~20 % of a text probe.
    return tuple(profile_schema(get_modality(modality), []).names)


def _decode_sample(
    sample: Sample, modality: Modality, roots: RootMap
) -> tuple[dict[str, Any], Any]:
    """The row of one sample without what the modality finishes per chunk (pixel statistics),
    and what that needs (None when the sample is already fully probed). The file is read
    where ``roots`` says the worker sees it; the row keeps the path the source gave."""
    row = identity_row(sample, modality)
    if sample.in_memory:
        decoded, work = modality.decode(sample, None)
        row.update(decoded)
        return row, work
    if sample.path is None:
        row["error"] = "unreadable"
        # A dataset item that raised says what; otherwise the sample simply has no content.
        row["error_detail"] = sample.error or "the sample has neither a path nor in-memory content"
        return row, None
    data, file_row = read_file_bytes(worker_path(sample.path, roots))
    row.update(file_row)
    if data is None:
        return row, None
    decoded, work = modality.decode(sample, data)
    row.update(decoded)
    return row, work


def _failed_probe_row(sample: Sample, modality: Modality, exc: Exception) -> dict[str, Any]:
    """The row of a sample whose probe raised: the run goes on, the sample carries the error.

    Decoders' failures are caught inside the probes and are findings about the file; what
    reaches here is an OSError (the file could not be read), a UsageError (an in-memory array
    of the wrong kind), or a bug in dlqa's probe code, which is said as such, with where it
    happened, so that the file is not blamed for it.
    """
    row = identity_row(sample, modality)
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


def probe_chunk(task: ChunkTask) -> pa.RecordBatch:
    """Executor task: probe a chunk of samples into one record batch (runs in a worker).

    Each sample is read and decoded in turn; what the modality finishes per chunk (the pixel
    statistics of images, which for small images is most of the probe's time saved) is then
    done for the chunk together. Only the chunk's rows are ever Python objects.
    """
    samples, meta_keys, modality_name, *rest = task
    roots: RootMap = rest[0] if rest else None
    modality = get_modality(modality_name)
    rows: list[dict[str, Any]] = []
    works: list[tuple[int, Any]] = []  # (row, what finishing it needs)
    crash_on = os.environ.get(CRASH_HOOK_VARIABLE)  # the test hook; see the module docstring
    for sample in samples:
        if crash_on:
            _crash_if_marked(sample, crash_on)
        try:
            row, work = _decode_sample(sample, modality, roots)
        except Exception as exc:  # one bad sample must never abort the whole profile
            row, work = _failed_probe_row(sample, modality, exc), None
        if work is not None:
            works.append((len(rows), work))
        rows.append(row)
    _finish_chunk(rows, works, samples, modality)
    return to_batch(rows, samples, meta_keys, modality)


def to_batch(
    rows: list[dict[str, Any]], samples: list[Sample], meta_keys: list[str], modality: Modality
) -> pa.RecordBatch:
    for row, sample in zip(rows, samples, strict=True):
        for key in meta_keys:
            value = sample.metadata.get(key)
            row[META_PREFIX + key] = None if value is None else str(value)
    return pa.RecordBatch.from_pylist(rows, schema=profile_schema(modality, meta_keys))


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


def _finish_chunk(
    rows: list[dict[str, Any]],
    works: list[tuple[int, Any]],
    samples: list[Sample],
    modality: Modality,
) -> None:
    if not works or modality.finish is None:
        return
    try:
        statistics = modality.finish([work for _, work in works])
    except Exception:  # finish one at a time, so that only the sample at fault fails
        statistics = []
        for index, work in works:
            try:
                statistics.append(modality.finish([work])[0])
            except Exception as exc:
                rows[index] = _failed_probe_row(samples[index], modality, exc)
                statistics.append({})
    for (index, _), values in zip(works, statistics, strict=True):
        rows[index].update(values)

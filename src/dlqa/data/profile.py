"""The profile: probe every sample of a source and stream one row per sample to Parquet.

Chunks of samples are probed by an executor (one task per chunk, returning an Arrow record
batch); batches are appended in source order, so memory stays flat whatever the dataset size.

A worker process that dies on a chunk (a decoder's segfault, the out-of-memory killer) costs
at most the sample that killed it: the chunk is probed again one sample at a time, the sample
that kills its worker again gets a row with ``error="unreadable"`` and an ``error_detail``
naming the signal or exit status, the other chunks go on, and ``ProfileInfo.worker_deaths``
says what happened, so that the run reports it.

What a worker does with a chunk (and the test hook that kills a worker on a marked file)
lives in ``chunk_probe.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dlqa.core.errors import UsageError
from dlqa.data.chunk_probe import (
    ChunkTask,
    RootMap,
    identity_row,
    probe_chunk,
    to_batch,
    worker_path,
)
from dlqa.data.columns import META_PREFIX
from dlqa.data.modalities import get_modality, profile_schema
from dlqa.execute.base import Executor, WorkerDied
from dlqa.execute.local import get_executor
from dlqa.sources.base import Sample, Source

# Rows buffered before a Parquet row group is written: big enough for efficient reads, small
# enough to keep memory flat (measured: with 16,384 the parent's peak grew by 22 MB between
# 2,500 and 10,000 images because everything was still buffered; with 2,048 it grew by 1 MB).
_ROWS_PER_ROW_GROUP = 2048

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


def _probe_batches(
    executor: Executor, tasks: Iterable[ChunkTask], deaths: list[dict]
) -> Iterator[pa.RecordBatch]:
    """The record batch of each chunk, in order; a chunk whose worker died is probed again
    one sample at a time (``_probe_alone``), and what happened is added to ``deaths``."""
    for outcome in executor.map(probe_chunk, tasks, on_worker_death="yield"):
        if not isinstance(outcome, WorkerDied):
            yield outcome
            continue
        samples, *context = outcome.item
        if len(samples) == 1:  # the death is already pinned on the sample
            yield _probe_alone(executor, samples[0], context, outcome, deaths)
            continue
        n_deaths = len(deaths)
        singles = (([sample], *context) for sample in samples)
        retried = executor.map(probe_chunk, singles, on_worker_death="yield")
        for sample, single in zip(samples, retried, strict=True):
            if isinstance(single, WorkerDied):
                single = _probe_alone(executor, sample, context, single, deaths)
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
    context: list[Any],
    death: WorkerDied,
    deaths: list[dict],
) -> pa.RecordBatch:
    """The batch of one sample whose worker died: tried once more unless it killed a fresh
    worker on its own (a worker that ran other samples may have died of what they left
    behind); a second death makes its row an unreadable finding. ``context`` is the rest of
    the chunk's task: the metadata keys, the modality's name, the root map."""
    meta_keys, modality = context[0], context[1]
    if death.tasks_before > 0:
        [again] = executor.map(probe_chunk, [([sample], *context)], on_worker_death="yield")
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
    spec = get_modality(modality)
    row = identity_row(sample, spec)
    row.update(error="unreadable", error_detail=f"a worker died while {what}: {death.reason}")
    return to_batch([row], [sample], meta_keys, spec)


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
    modality = get_modality(getattr(source, "modality", "image"))
    schema = profile_schema(modality, meta_keys)
    roots = _root_map(source, executor)
    _require_visible_to_workers(executor, first_chunk, roots)
    tasks = ((chunk, meta_keys, modality.name, roots) for chunk in _prepend(first_chunk, chunks))

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


def _root_map(source: Source, executor: Executor) -> RootMap:
    """(the source's root here, the same root as the executor's workers see it) when they see
    the shared file system elsewhere (``worker_root`` of a Dask executor); None otherwise."""
    shared_root = getattr(executor, "worker_root", None)
    if shared_root is None or not os.path.isabs(str(source.root)):
        return None  # in-memory sources ("<arrays>") have no files to find
    root = str(source.root)
    return (root if os.path.isdir(root) else os.path.dirname(root)), str(shared_root)


def _require_visible_to_workers(executor: Executor, chunk: list[Sample], roots: RootMap) -> None:
    """A usage error, before any work, when the workers cannot see files that this machine
    sees (no shared file system, or one mounted elsewhere): otherwise every sample would come
    back as an "unreadable" finding. A file missing here too is the data's own problem and is
    left to the probe."""
    first_missing = getattr(executor, "first_missing_path", None)
    if first_missing is None:  # the local pool sees what this process sees
        return
    seen_here = [s.path for s in chunk if s.path is not None and os.path.exists(s.path)]
    missing = first_missing([worker_path(path, roots) for path in seen_here])
    if missing is None:
        return
    path, worker = missing
    raise UsageError(
        f"the Dask workers cannot see the data: {path} is missing on worker {worker}",
        hint="put the data on a file system the workers share, mounted at the same path, or "
        "say where the workers see the source's root "
        f"({roots[0] if roots else _common_root(seen_here)}) with --worker-root or "
        "[execute] worker_root",
    )


def _common_root(paths: list[str]) -> str:
    return os.path.commonpath(paths) if paths else "?"


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

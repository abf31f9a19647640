"""Running the seeds of a group: one process per seed, in the project root, with the seed in
``DLQA_SEED`` and its own run folder in ``DLQA_RUN_DIR``.

Each seed's process gets one thread for torch and BLAS (``OMP_NUM_THREADS=1`` and friends) so
that N workers on N cores do not oversubscribe them. Its output goes to ``log.txt`` in its run
folder; its resource use (CPU time, peak memory) comes from ``wait4`` on the process. A seed
that exits non-zero, is killed, or leaves no metrics is a failed seed with the tail of its log:
stored, never dropped.

On a Dask cluster (``run_seeds_on_cluster``), each seed is a task whose worker runs the same
``run_seed`` and sends its record back; the project folder must be shared with the workers.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlqa.core.errors import UsageError
from dlqa.exp.groups import SEED_FAILED, SEED_OK, SeedRecord
from dlqa.exp.tracking import read_run_folder

LOG_TAIL_LINES = 40
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


@dataclass(frozen=True)
class SeedJob:
    seed: int
    command: list[str]
    cwd: Path
    run_dir: Path
    group: str
    timeout_s: float | None = None
    one_thread: bool = True
    env: tuple[tuple[str, str], ...] = ()  # more variables (a mode's DLQA_MODE_*)


def check_command(command: Sequence[str], cwd: Path) -> list[str]:
    """``command`` as a list, its program found (on PATH or as a path from ``cwd``); a
    missing program is a UsageError before any seed starts."""
    argv = [str(part) for part in command]
    if not argv:
        raise UsageError("no command to run", hint="dlqa exp run NAME --seeds N -- CMD ARGS...")
    program = argv[0]
    found = shutil.which(program) or (
        (cwd / program).is_file() and os.access(cwd / program, os.X_OK)
    )
    if not found:
        raise UsageError(
            f"command not found: {program}", hint="give the program's path or put it on PATH"
        )
    return argv


class _Live:
    """The seed processes running now, so that Ctrl-C can stop them all."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.processes: dict[int, subprocess.Popen] = {}
        self.stopping = False

    def stop_all(self) -> None:
        with self.lock:
            self.stopping = True
            for process in self.processes.values():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGTERM)


def run_seed(job: SeedJob, live: _Live, hourly_rate: float | None = None) -> SeedRecord:
    """Run one seed to the end and read what it left in its run folder."""
    job.run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(DLQA_SEED=str(job.seed), DLQA_RUN_DIR=str(job.run_dir), DLQA_EXP_GROUP=job.group)
    if job.one_thread:
        env.update(ONE_THREAD)
    env.update(job.env)
    log_path = job.run_dir / "log.txt"
    start = time.perf_counter()
    with log_path.open("wb") as log:
        with live.lock:
            if live.stopping:
                return SeedRecord(job.seed, SEED_FAILED, reason="not started: interrupted")
            process = subprocess.Popen(
                job.command,
                cwd=job.cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            live.processes[job.seed] = process
        timer = None
        if job.timeout_s:
            timer = threading.Timer(job.timeout_s, _kill, (process,))
            timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            if timer is not None:
                timer.cancel()
            with live.lock:
                live.processes.pop(job.seed, None)
    process.returncode = returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    record = SeedRecord(
        job.seed,
        SEED_OK,
        returncode=returncode,
        wall_s=round(wall, 3),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 3),
        max_rss_mb=round(usage.ru_maxrss / 1024, 1),  # kilobytes on Linux
        cost=None if hourly_rate is None else round(wall / 3600 * hourly_rate, 6),
        log_tail=_tail(log_path),
    )
    folder = read_run_folder(job.run_dir)
    _fill(record, folder)
    if returncode != 0:
        record.status = SEED_FAILED
        record.reason = _exit_reason(returncode)
    elif not record.metrics:
        record.status = SEED_FAILED
        record.reason = "finished without metrics: " + "; ".join(folder.problems or ["none logged"])
    elif folder.problems:
        record.status = SEED_FAILED
        record.reason = "; ".join(folder.problems)
    return record


def _fill(record: SeedRecord, folder: object) -> None:
    record.metrics = dict(getattr(folder, "metrics", {}) or {})
    meta = dict(getattr(folder, "meta", {}) or {})
    record.metric_fingerprints = dict(meta.get("metric_fingerprints") or {})
    record.eval_sets = dict(meta.get("eval_sets") or {})
    record.data = meta.get("data")
    record.params = dict(meta.get("params") or {})
    record.artifacts = dict(meta.get("artifacts") or {})


def _kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _exit_reason(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit code {returncode}"


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_seeds(
    jobs: Sequence[SeedJob],
    *,
    workers: int = 1,
    hourly_rate: float | None = None,
    on_done: Callable[[SeedRecord], None] | None = None,
    cluster: Any = None,
    gpus_per_seed: float = 0,
) -> list[SeedRecord]:
    """Every job, ``workers`` at a time; in seed order. Ctrl-C stops the running seeds and
    raises KeyboardInterrupt after marking the unfinished ones as interrupted (the caller
    keeps what finished: ``run_seeds.finished``).

    With ``cluster`` (a ``DaskExecutor``), each seed is a task on a Dask worker instead (see
    ``run_seeds_on_cluster``); the cluster decides how many run at once."""
    if cluster is not None:
        return run_seeds_on_cluster(
            cluster, jobs, hourly_rate=hourly_rate, on_done=on_done, gpus_per_seed=gpus_per_seed
        )
    live = _Live()
    records: dict[int, SeedRecord] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    futures = {pool.submit(run_seed, job, live, hourly_rate): job for job in jobs}
    try:
        for future in as_completed(futures):
            record = future.result()
            records[record.seed] = record
            if on_done is not None:
                on_done(record)
    except KeyboardInterrupt:
        live.stop_all()
        pool.shutdown(wait=True, cancel_futures=True)
        for future, job in futures.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                records[job.seed] = future.result()
            elif job.seed not in records:
                records[job.seed] = SeedRecord(job.seed, SEED_FAILED, reason="interrupted")
        raise _interrupted(jobs, records) from None
    pool.shutdown(wait=True)
    return [records[job.seed] for job in jobs]


def _interrupted(jobs: Sequence[SeedJob], records: dict[int, SeedRecord]) -> KeyboardInterrupt:
    """The KeyboardInterrupt to raise, carrying every job's record (unfinished: interrupted)."""
    interrupted = KeyboardInterrupt()
    interrupted.records = [  # type: ignore[attr-defined]
        records.get(job.seed) or SeedRecord(job.seed, SEED_FAILED, reason="interrupted")
        for job in jobs
    ]
    return interrupted


def run_seeds_on_cluster(
    cluster: Any,
    jobs: Sequence[SeedJob],
    *,
    hourly_rate: float | None = None,
    on_done: Callable[[SeedRecord], None] | None = None,
    gpus_per_seed: float = 0,
) -> list[SeedRecord]:
    """Every job as a task on a Dask worker: the seed's command runs there as a subprocess,
    in the job's working directory, which must be on a file system the workers share (a
    usage error names it otherwise). Each task holds ``GPU: gpus_per_seed`` of its worker's
    resources when that is above 0. The worker reads the seed's run folder and sends back its
    record (metrics, fingerprints, log tail, resource use); a worker lost under a seed makes
    that seed a failed one, saying so. Records come back in seed order."""
    _require_shared_folders(cluster, jobs)
    resources = {"GPU": gpus_per_seed} if gpus_per_seed > 0 else None
    task = functools.partial(_run_seed_on_worker, hourly_rate=hourly_rate)
    records: dict[int, SeedRecord] = {}
    try:
        for job, outcome in cluster.map_unordered(task, jobs, resources=resources):
            record = outcome
            if not isinstance(outcome, SeedRecord):  # WorkerDied: Dask already retried it
                record = SeedRecord(
                    job.seed, SEED_FAILED, reason=f"its Dask worker died ({outcome.reason})"
                )
            records[job.seed] = record
            if on_done is not None:
                on_done(record)
    except KeyboardInterrupt:
        # The unfinished tasks are cancelled; a seed process already started on a worker
        # runs on to its end (or its --timeout) there.
        raise _interrupted(jobs, records) from None
    return [records[job.seed] for job in jobs]


def _run_seed_on_worker(job: SeedJob, hourly_rate: float | None) -> SeedRecord:
    """Runs on a Dask worker: one seed, exactly as the local runner runs it."""
    return run_seed(job, _Live(), hourly_rate)


def _require_shared_folders(cluster: Any, jobs: Sequence[SeedJob]) -> None:
    if not jobs:
        return
    folder = str(jobs[0].cwd)
    missing = cluster.first_missing_path([folder])
    if missing is not None:
        raise UsageError(
            f"the Dask workers cannot see the project folder: {missing[0]} is missing on "
            f"worker {missing[1]}",
            hint="seeds run in the project folder on the workers: put it on a file system "
            "they share, mounted at the same path",
        )


__all__ = ["SeedJob", "check_command", "run_seed", "run_seeds", "run_seeds_on_cluster"]

"""The seeds of a sequential comparison: the plain callables of
:func:`dlqa.exp.sequential.compare_sequential`, backed by real seed processes.

Each arm is a seed group being extended: a seed it already has (the 3 of an earlier
``dlqa exp run``) is read back, a seed it lacks is run (``launch.run_seed``) and added to the
group. ``compare_sequential`` asks for the baseline's seed and then the candidate's; the
candidate's is started together with the baseline's, so two cores run both arms at once.
A seed that fails stops the comparison (:class:`SeedFailed`): the group keeps it, on record.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from dlqa.exp.groups import SEED_OK, SeedGroup, SeedRecord
from dlqa.exp.launch import SeedJob, _Live, run_seed


class SeedFailed(Exception):
    """A seed of one arm failed or did not log the metric: the comparison cannot go on."""

    def __init__(self, group: str, record: SeedRecord, why: str) -> None:
        super().__init__(f"{group} seed {record.seed}: {why}")
        self.group = group
        self.record = record


@dataclass
class Arm:
    """One side: its group (extended in place), how to run a seed, the metric judged."""

    group: SeedGroup
    cwd: Path
    run_root: Path
    metric: str
    env: tuple[tuple[str, str], ...] = ()
    timeout_s: float | None = None
    hourly_rate: float | None = None
    ran: list[int] = field(default_factory=list)  # seeds this comparison ran

    def known(self, seed: int) -> float | None:
        """The metric of ``seed`` when the group already has it, finished and finite."""
        for record in self.group.seeds:
            if record.seed == seed and record.status == SEED_OK and self.metric in record.metrics:
                value = float(record.metrics[self.metric])
                return value if math.isfinite(value) else None
        return None

    def value(self, seed: int, live: _Live, done: Callable[[], None]) -> float:
        """The metric of ``seed``: read back, or run now and added to the group."""
        found = self.known(seed)
        if found is not None:
            return found
        job = SeedJob(
            seed,
            list(self.group.command),
            self.cwd,
            self.run_root / f"seed-{seed}",
            self.group.name,
            self.timeout_s,
            env=self.env,
        )
        record = run_seed(job, live, self.hourly_rate)
        self.group.seeds = [s for s in self.group.seeds if s.seed != seed] + [record]
        self.group.seeds.sort(key=lambda s: s.seed)
        self.ran.append(seed)
        done()
        if record.status != SEED_OK:
            raise SeedFailed(self.group.name, record, record.reason or "failed")
        value = record.metrics.get(self.metric)
        if value is None or not math.isfinite(float(value)):
            raise SeedFailed(self.group.name, record, f"no finite {self.metric} logged")
        return float(value)


class PairedSeeds:
    """``run_baseline`` and ``run_candidate`` for ``compare_sequential``; ``close`` waits
    for a seed still running (the caller's ``finally``), ``stop`` kills the running seeds."""

    def __init__(self, baseline: Arm, candidate: Arm, done: Callable[[], None]) -> None:
        self.baseline, self.candidate, self.done = baseline, candidate, done
        self.live = _Live()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dlqa-candidate")
        self._pending: dict[int, Future[float]] = {}

    def run_baseline(self, seed: int) -> float:
        if self.candidate.known(seed) is None and seed not in self._pending:
            self._pending[seed] = self._pool.submit(
                self.candidate.value, seed, self.live, self.done
            )
        return self.baseline.value(seed, self.live, self.done)

    def run_candidate(self, seed: int) -> float:
        pending = self._pending.pop(seed, None)
        if pending is not None:
            return pending.result()
        return self.candidate.value(seed, self.live, self.done)

    def stop(self) -> None:
        self.live.stop_all()

    def close(self) -> None:
        """Wait for the candidate's seed still running: its record joins the group, and a
        failure of its own is on record there (the first failure is the one reported)."""
        self._pool.shutdown(wait=True)
        self._pending.clear()


__all__ = ["Arm", "PairedSeeds", "SeedFailed"]

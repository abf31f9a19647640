"""Seed groups as data: what one seed of an experiment produced, and a named group of them.

A group is stored as one dlqa run (``dlqa exp run`` or ``dlqa exp record``) whose report part
``exp`` holds the group: its name, the command, whether it is reproducible, the git state and
environment it ran in, and one record per seed (metrics, metric and eval-set fingerprints,
status, resource use, the tail of its log). ``dlqa exp compare`` reads the latest group of each
name back from the store.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

SEED_OK = "ok"
SEED_FAILED = "failed"
# The kinds of run that store a seed group: run, imported, re-run at its commit.
# A sequential comparison stores the two groups it extended.
GROUP_KINDS = ("exp.run", "exp.record", "exp.rerun", "exp.sequential")


@dataclass
class SeedRecord:
    """One seed: its final metrics, or why it has none."""

    seed: int
    status: str  # SEED_OK or SEED_FAILED
    metrics: dict[str, float] = field(default_factory=dict)
    metric_fingerprints: dict[str, str] = field(default_factory=dict)
    eval_sets: dict[str, str] = field(default_factory=dict)  # name -> fingerprint
    data: str | None = None  # the dataset fingerprint the script logged
    params: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)  # path -> sha256
    returncode: int | None = None
    reason: str | None = None  # why it failed
    wall_s: float | None = None
    cpu_s: float | None = None
    max_rss_mb: float | None = None
    cost: float | None = None
    log_tail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SeedRecord:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class SeedGroup:
    """A named group of seeds and where it ran."""

    name: str
    seeds: list[SeedRecord]
    command: list[str] = field(default_factory=list)
    reproducible: bool = True
    why_not_reproducible: str | None = None
    git: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    created_at: str | None = None
    run_id: int | None = None
    source: str = "exp.run"  # or "exp.record" (imported), "exp.rerun", "exp.sequential"
    rerun_of: int | None = None
    mode: dict[str, str] | None = None  # the mode combination it ran in ([exp] modes)

    @property
    def ok(self) -> list[SeedRecord]:
        return [s for s in self.seeds if s.status == SEED_OK]

    @property
    def failed(self) -> list[SeedRecord]:
        return [s for s in self.seeds if s.status != SEED_OK]

    def metric_names(self) -> list[str]:
        names: dict[str, None] = {}
        for seed in self.ok:
            names.update(dict.fromkeys(seed.metrics))
        return list(names)

    def values(self, metric: str) -> list[float]:
        """The metric over the seeds that finished and logged it (finite values only)."""
        return [
            float(s.metrics[metric])
            for s in self.ok
            if metric in s.metrics and math.isfinite(float(s.metrics[metric]))
        ]

    def fingerprints(self, key: str) -> dict[str, set[str]]:
        """Metric (``metric_fingerprints``) or eval-set (``eval_sets``) name -> the distinct
        fingerprints its seeds logged."""
        found: dict[str, set[str]] = {}
        for seed in self.ok:
            for name, value in getattr(seed, key).items():
                found.setdefault(name, set()).add(str(value))
        return found

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seeds"] = [s.to_dict() for s in self.seeds]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], run_id: int | None = None) -> SeedGroup:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["seeds"] = [SeedRecord.from_dict(s) for s in data.get("seeds", [])]
        group = cls(**known)
        if run_id is not None:
            group.run_id = run_id
        return group


def group_runs(store: Any) -> list[Any]:
    """Every stored run that holds a seed group, newest first."""
    runs = [r for kind in GROUP_KINDS for r in store.list_runs(kind=kind)]
    return sorted(runs, key=lambda r: r.id, reverse=True)


def new_group(name: str, command: list[str], spec: Mapping[str, Any]) -> SeedGroup:
    """A group about to run ``command``, with what the runner recorded in ``spec``: the git
    state (``dirty``, ``git``, ``why_not_reproducible``), the environment, the mode, and for
    a re-run its ``source`` and ``rerun_of``."""
    from datetime import UTC, datetime

    return SeedGroup(
        name=name,
        seeds=[],
        command=list(command),
        reproducible=not spec.get("dirty"),
        git=spec.get("git"),
        environment=spec.get("environment"),
        why_not_reproducible=spec.get("why_not_reproducible"),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source=spec.get("source", "exp.run"),
        rerun_of=spec.get("rerun_of"),
        mode=spec.get("mode"),
    )


def stored_in(run: Any) -> list[dict[str, Any]]:
    """The groups a stored run holds: ``exp.group`` (run, record, rerun) or ``exp.groups``
    (the two arms a sequential comparison extended)."""
    part = (run.report or {}).get("exp")
    if not isinstance(part, dict):
        return []
    found = [part["group"]] if isinstance(part.get("group"), dict) else []
    found += [g for g in part.get("groups") or [] if isinstance(g, dict)]
    return found


def latest_group(runs: Iterable[Any], name: str) -> SeedGroup | None:
    """The newest stored group called ``name`` among ``runs`` (RunRecords, newest first)."""
    for run in runs:
        for data in stored_in(run):
            if data.get("name") == name:
                group = SeedGroup.from_dict(data, run_id=run.id)
                group.created_at = group.created_at or run.created_at.isoformat(timespec="seconds")
                return group
    return None


def group_names(runs: Iterable[Any]) -> dict[str, list[Any]]:
    """Group name -> its stored runs, newest first."""
    names: dict[str, list[Any]] = {}
    for run in runs:
        for data in stored_in(run):
            names.setdefault(data.get("name", "?"), []).append(run)
    return names


__all__ = [
    "GROUP_KINDS",
    "SEED_FAILED",
    "SEED_OK",
    "SeedGroup",
    "SeedRecord",
    "group_names",
    "group_runs",
    "latest_group",
    "new_group",
    "stored_in",
]

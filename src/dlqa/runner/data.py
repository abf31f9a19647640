"""The data stage end to end: probe, snapshot, check, store, and the report's context."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import dlqa
from dlqa.core.registry import all_specs
from dlqa.core.results import CheckResult
from dlqa.core.suite import Suite, SuiteOutcome
from dlqa.data.checks.balance import class_counts
from dlqa.data.context import DataProfile
from dlqa.data.profile import profile_source
from dlqa.data.snapshots import DataDiff, dataset_fingerprint, diff_profiles, snapshot_summary
from dlqa.execute import get_executor
from dlqa.report.model import Report
from dlqa.runner.common import command_line, now_iso
from dlqa.sources.base import Source
from dlqa.store import Store

PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
HISTOGRAM_PROPERTIES = ("brightness", "contrast", "sharpness", "entropy", "width", "height")
_MAX_HISTOGRAM_VALUES = 200_000  # a strided sample is plenty for a histogram
_THUMBNAILS_PER_EVIDENCE = 24


@dataclass
class DataRun:
    run_id: int
    snapshot_id: int
    fingerprint: str
    results: list[CheckResult]
    report: Report
    table_path: Path
    written: dict[str, Path] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return self.report.exit_code


@dataclass
class DataStage:
    """What the data stage leaves for the report: the profile, its snapshot, the results."""

    profile: DataProfile
    snapshot_id: int
    fingerprint: str
    table_digest: str
    table_path: Path
    results: list[CheckResult]

    def report_context(self, source: Source, workers: int | None) -> dict[str, Any]:
        """The Report fields that come from data: meta, class counts, histograms, paths."""
        return {
            "meta": {
                "source": source.root,
                "source_kind": source.kind,
                "n_samples": self.profile.n,
                "fingerprint": self.fingerprint,
                "snapshot_id": self.snapshot_id,
                "table_artifact": self.table_digest,
                "workers": workers or os.cpu_count(),
            },
            "class_counts": class_counts(self.profile),
            "properties": _histogram_values(self.profile),
            "sample_paths": _evidence_paths(self.profile, self.results),
        }


def data_stage(
    source: Source,
    store: Store,
    run_id: int,
    suite: Suite,
    *,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> DataStage:
    """Profile ``source``, store the snapshot, run the data suite and store each result as
    soon as it exists (so an internal failure later leaves what ran intact)."""
    staging = store.project_dir / ".dlqa" / "tmp"
    staging.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=staging) as tmp:
        table = Path(tmp) / "profile.parquet"
        with get_executor(workers) as executor:
            profile_source(source, table, executor=executor, on_progress=on_progress)
        digest = store.artifacts.put_file(table, PARQUET_MEDIA_TYPE)
    table_path = store.artifacts.path(digest)
    profile = DataProfile.from_parquet(table_path, source=source.root)
    fingerprint = dataset_fingerprint(profile)
    snapshot_id = store.add_snapshot(
        run_id, source.root, fingerprint, profile.n, digest, snapshot_summary(profile)
    )
    outcome = suite.run(profile, on_result=lambda r: store.add_results(run_id, [r]))
    return DataStage(profile, snapshot_id, fingerprint, digest, table_path, outcome.results)


def run_data_qa(
    source: Source,
    store: Store,
    *,
    gates: dict[str, dict[str, Any]] | None = None,
    workers: int | None = None,
    title: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> DataRun:
    """`dlqa data profile`: the data stage as a run of its own, with its report."""
    suite = Suite(all_specs("data"), gates)  # validates the gates before any work
    run_id = store.start_run("data.profile", command_line(), {"source": source.root})
    try:
        stage = data_stage(source, store, run_id, suite, workers=workers, on_progress=on_progress)
    except BaseException:
        store.finish_run(run_id, "failed", 3)
        raise
    exit_code = SuiteOutcome(stage.results).exit_code
    store.finish_run(run_id, "finished", exit_code)
    context = stage.report_context(source, workers)
    context["meta"].update(run_id=run_id, dlqa_version=dlqa.__version__)
    report = Report(
        title=title or f"Data QA: {source.root}",
        kind="data.profile",
        created_at=now_iso(),
        results=stage.results,
        exit_code=exit_code,
        **context,
    )
    return DataRun(
        run_id, stage.snapshot_id, stage.fingerprint, stage.results, report, stage.table_path
    )


def _histogram_values(profile: DataProfile) -> dict[str, list[float]]:
    stride = max(1, profile.n // _MAX_HISTOGRAM_VALUES)
    values = {}
    for name in HISTOGRAM_PROPERTIES:
        column = profile.numbers(name)[::stride]
        values[name] = column[np.isfinite(column)].tolist()
    return values


def _evidence_paths(profile: DataProfile, results: list[CheckResult]) -> dict[str, str]:
    """Paths of the samples that views show as thumbnails (the top of each evidence list)."""
    wanted: set[str] = set()
    for result in results:
        for evidence in result.evidence:
            for item in evidence.items[:_THUMBNAILS_PER_EVIDENCE]:
                if isinstance(item, dict) and "id" in item:
                    wanted.add(item["id"])
                elif isinstance(item, dict) and "ids" in item:
                    wanted.update(item["ids"][:_THUMBNAILS_PER_EVIDENCE])
    paths = profile.strings("path")
    return {sid: paths[i] for i, sid in enumerate(profile.ids) if sid in wanted and paths[i]}


def load_snapshot_profile(store: Store, ref: int | str) -> tuple[Any, DataProfile]:
    snapshot = store.get_snapshot(ref)
    path = store.artifacts.path(snapshot.table_digest)
    return snapshot, DataProfile.from_parquet(path, source=snapshot.source)


def diff_snapshots(
    store: Store, old_ref: int | str, new_ref: int | str
) -> tuple[Any, Any, DataDiff]:
    """Compare two stored snapshots: samples, class counts, property shifts and issues."""
    old, old_profile = load_snapshot_profile(store, old_ref)
    new, new_profile = load_snapshot_profile(store, new_ref)
    diff = diff_profiles(
        old_profile,
        new_profile,
        store.results_for_run(old.run_id),
        store.results_for_run(new.run_id),
    )
    return old, new, diff

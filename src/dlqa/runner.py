"""Runs a stage end to end: probe, check, store, and build the report that views render.

This module sits above the stages and the store (like the CLI) so that the Python API and
the CLI share one implementation.
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import dlqa
from dlqa.config import Config
from dlqa.core.errors import ConfigError
from dlqa.core.registry import all_specs
from dlqa.core.results import CheckResult
from dlqa.core.suite import Suite
from dlqa.data.checks.balance import class_counts
from dlqa.data.context import DataProfile
from dlqa.data.profile import profile_source
from dlqa.data.snapshots import DataDiff, dataset_fingerprint, diff_profiles, snapshot_summary
from dlqa.execute import get_executor
from dlqa.report.html import write_html
from dlqa.report.json_report import write_json
from dlqa.report.junit import write_junit
from dlqa.report.model import Report
from dlqa.sources.base import Source
from dlqa.sources.open import open_source
from dlqa.store import Store, open_store

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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _command_line() -> str:
    return shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])


def run_data_qa(
    source: Source,
    store: Store,
    *,
    gates: dict[str, dict[str, Any]] | None = None,
    workers: int | None = None,
    title: str | None = None,
    kind: str = "data.profile",
    config: dict[str, Any] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> DataRun:
    """Profile ``source``, store the snapshot, run every data check and store each result
    as soon as it exists (so an internal failure later leaves what ran intact)."""
    suite = Suite(all_specs("data"), gates)  # validates the gates before any work
    run_id = store.start_run(kind, _command_line(), {"source": source.root, **(config or {})})
    try:
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
    except BaseException:
        store.finish_run(run_id, "failed", 3)
        raise
    store.finish_run(run_id, "finished", outcome.exit_code)
    report = Report(
        title=title or f"Data QA: {source.root}",
        kind=kind,
        created_at=_now(),
        results=outcome.results,
        exit_code=outcome.exit_code,
        meta={
            "source": source.root,
            "source_kind": source.kind,
            "n_samples": profile.n,
            "fingerprint": fingerprint,
            "snapshot_id": snapshot_id,
            "run_id": run_id,
            "table_artifact": digest,
            "dlqa_version": dlqa.__version__,
            "workers": workers or os.cpu_count(),
        },
        class_counts=class_counts(profile),
        properties=_histogram_values(profile),
        sample_paths=_evidence_paths(profile, outcome.results),
    )
    return DataRun(run_id, snapshot_id, fingerprint, outcome.results, report, table_path)


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


WRITERS = {"json": write_json, "html": write_html, "junit": write_junit}
SUFFIXES = {"json": "report.json", "html": "report.html", "junit": "junit.xml"}


def write_reports(
    report: Report,
    *,
    out_dir: Path | None = None,
    formats: tuple[str, ...] | list[str] = (),
    explicit: dict[str, Path | None] | None = None,
) -> dict[str, Path]:
    """Write each format in ``formats`` to ``out_dir`` and each explicit path given."""
    targets: dict[str, Path] = {}
    if out_dir is not None:
        targets.update({fmt: out_dir / SUFFIXES[fmt] for fmt in formats})
    targets.update({fmt: path for fmt, path in (explicit or {}).items() if path is not None})
    return {fmt: WRITERS[fmt](report, path) for fmt, path in targets.items()}


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


def open_configured_source(config: Config) -> Source:
    """The data source that dlqa.toml names, with its manifest column options."""
    if not config.data.source:
        raise ConfigError(
            "dlqa.toml: data.source is not set",
            hint='add [data] source = "path/to/images" (a folder tree or a manifest)',
        )
    return open_source(
        config.resolve(config.data.source),
        path_column=config.data.path_column,
        label_column=config.data.label_column,
        split_column=config.data.split_column,
        id_column=config.data.id_column,
    )


def run_configured_checks(
    config: Config,
    source: Source,
    *,
    db: str | None = None,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    explicit_reports: dict[str, Path | None] | None = None,
) -> DataRun:
    """What `dlqa check` does: run the configured suite, store it, write the reports."""
    store = open_store(db or config.store.url, project_dir=config.base_dir)
    try:
        run = run_data_qa(
            source,
            store,
            gates=config.gates,
            workers=workers or config.execute.workers,
            title=f"dlqa check: {config.project.name}",
            kind="check",
            config=config.model_dump(mode="json"),
            on_progress=on_progress,
        )
    finally:
        store.close()
    run.written = write_reports(
        run.report,
        out_dir=config.resolve(config.report.dir) / f"run-{run.run_id}",
        formats=config.report.formats,
        explicit=explicit_reports,
    )
    return run

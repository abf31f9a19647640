"""The data stage as a run of its own (`dlqa data profile`), and snapshot diffs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlqa.config import Config, default_config
from dlqa.core.stages import ProgressFactory
from dlqa.data.context import DataProfile
from dlqa.data.snapshots import DataDiff, diff_profiles
from dlqa.runner.session import RunSession
from dlqa.sources.base import Source
from dlqa.store import Store


def run_data_qa(
    source: Source,
    store: Store | None = None,
    *,
    config: Config | None = None,
    gates: dict[str, dict[str, Any]] | None = None,
    db: str | None = None,
    workers: int | None = None,
    title: str | None = None,
    progress: ProgressFactory | None = None,
    allow_inconclusive: bool = False,
    report_dir: Path | None = None,
    formats: tuple[str, ...] | list[str] | None = (),
    explicit_reports: dict[str, Path | None] | None = None,
) -> RunSession:
    """Profile ``source``, run the data checks, store the snapshot and every result.

    ``config`` (a loaded dlqa.toml) supplies the store, gates and report settings; ``gates``
    overrides its gates. Returns the closed session (``exit_code``, ``report``, ``results``).
    """
    config = config or default_config()
    if gates is not None:
        config = config.model_copy(update={"gates": gates})
    session = RunSession(
        config,
        kind="data.profile",
        title=title or f"Data QA: {source.root}",
        db=db,
        store=store,
        workers=workers,
        progress=progress,
        allow_inconclusive=allow_inconclusive,
        report_dir=report_dir,
        formats=formats,
        explicit_reports=explicit_reports,
    )
    with session:
        session.run_stage("data", {"source": source})
    return session


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

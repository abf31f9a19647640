"""The data stage as a run of its own (`dlqa data profile`), and snapshot diffs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlqa.config import Config, default_config
from dlqa.core.errors import UsageError
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
    inputs: dict[str, Any] | None = None,
) -> RunSession:
    """Profile ``source``, run the data checks, store the snapshot and every result.

    ``config`` (a loaded dlqa.toml) supplies the store, gates and report settings; ``gates``
    overrides its gates. ``inputs`` adds what the data stage reads beside the source
    (``pred_probs``, ``embeddings``, ``label_errors``, ``reference``), over ``[data]``.
    Returns the closed session (``exit_code``, ``report``, ``results``).
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
        session.run_stage("data", {**(inputs or {}), "source": source})
    return session


def diff_snapshots(
    store: Store, old_ref: int | str | None = None, new_ref: int | str | None = None
) -> tuple[Any, Any, DataDiff]:
    """Compare two stored snapshots: samples, class counts, property shifts and issues.

    ``new_ref`` defaults to the latest snapshot, ``old_ref`` to the one before it *of the same
    source* (two different datasets profiled in turn are not a change of one dataset).
    """
    new = store.get_snapshot("latest" if new_ref is None else new_ref)
    if old_ref is None:
        earlier = [s for s in store.list_snapshots(source=new.source) if s.id < new.id]
        if not earlier:
            raise UsageError(
                f"snapshot {new.id} is the only finished snapshot of {new.source}",
                hint="profile the source again, or name two snapshots: dlqa data diff A B",
            )
        old = earlier[0]
    else:
        old = store.get_snapshot(old_ref)
    old_profile = DataProfile.from_parquet(store.artifacts.path(old.table_digest), old.source)
    new_profile = DataProfile.from_parquet(store.artifacts.path(new.table_digest), new.source)
    diff = diff_profiles(
        old_profile,
        new_profile,
        store.results_for_run(old.run_id),
        store.results_for_run(new.run_id),
    )
    return old, new, diff

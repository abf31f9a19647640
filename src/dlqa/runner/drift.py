"""`dlqa data drift`: a current dataset against a reference, through the drift checks only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlqa.config import Config, default_config
from dlqa.core.registry import all_specs
from dlqa.core.stages import ProgressFactory
from dlqa.data.context import DataProfile
from dlqa.runner.session import RunSession
from dlqa.sources.base import Source

# A dataset on either side: a source to profile now, or a stored snapshot ('12', 'latest~1').
DatasetRef = Source | str


def drift_check_ids() -> list[str]:
    """The data checks that compare with a reference dataset."""
    return [spec.check_id for spec in all_specs("data") if "reference" in spec.needs]


def run_drift(
    reference: DatasetRef,
    current: DatasetRef,
    *,
    config: Config | None = None,
    db: str | None = None,
    workers: int | None = None,
    progress: ProgressFactory | None = None,
    allow_inconclusive: bool = False,
    report_dir: Path | None = None,
    formats: tuple[str, ...] | list[str] | None = (),
    explicit_reports: dict[str, Path | None] | None = None,
) -> RunSession:
    """Compare ``current`` with ``reference`` (class priors, properties, a domain classifier)
    and store the results; a current source is profiled and stored as a snapshot like any
    profile. Returns the closed session (exit code 0 when nothing drifted, 1 when a gate
    failed)."""
    config = config or default_config()
    name = current if isinstance(current, str) else current.root
    ref_name = reference if isinstance(reference, str) else reference.root
    session = RunSession(
        config,
        kind="data.drift",
        title=f"Drift: {name} against {ref_name}",
        db=db,
        workers=workers,
        progress=progress,
        allow_inconclusive=allow_inconclusive,
        report_dir=report_dir,
        formats=formats,
        explicit_reports=explicit_reports,
    )
    with session:
        inputs: dict[str, Any] = {"reference": reference}
        if isinstance(current, str):
            snapshot = session.store.get_snapshot(current)
            inputs["profile"] = DataProfile.from_parquet(
                session.store.artifacts.path(snapshot.table_digest), snapshot.source
            )
            inputs["snapshot_meta"] = {
                "snapshot_id": snapshot.id,
                "fingerprint": snapshot.fingerprint,
                "table_artifact": snapshot.table_digest,
            }
        else:
            inputs["source"] = current
        session.run_stage("data", inputs, checks=drift_check_ids())
    return session

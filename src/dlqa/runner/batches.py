"""The batches stage as a run of its own: DataLoader batch checks, stored and reported."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dlqa.config import Config, default_config
from dlqa.runner.session import RunSession
from dlqa.store import Store


def run_batch_checks(
    batches: Iterable[Any],
    *,
    config: Config | None = None,
    db: str | None = None,
    report_dir: Path | None = None,
    formats: tuple[str, ...] | list[str] | None = (),
    store: Store | None = None,
    gates: dict[str, dict[str, Any]] | None = None,
    title: str | None = None,
    allow_inconclusive: bool = False,
    explicit_reports: dict[str, Path | None] | None = None,
    **declarations: Any,
) -> RunSession:
    """Run the ``data.batch_*`` checks over ``batches`` (a DataLoader) as one stored run.

    ``declarations`` are those of :func:`dlqa.data.batches.check_batches` (``class_names``,
    ``mean``, ``std``, ``scale``, ``decoded``, ``max_batches``, ...); an unknown one is a
    usage error. ``config`` (a loaded dlqa.toml) supplies the store, gates and report
    settings; ``gates`` overrides its gates. Returns the closed session (``exit_code``,
    ``report``, ``results``, ``written``).
    """
    config = config or default_config()
    if gates is not None:
        config = config.model_copy(update={"gates": gates})
    session = RunSession(
        config,
        kind="data.batches",
        title=title or f"DataLoader batches: {type(batches).__name__}",
        db=db,
        store=store,
        allow_inconclusive=allow_inconclusive,
        report_dir=report_dir,
        formats=formats,
        explicit_reports=explicit_reports,
    )
    with session:
        session.run_stage("batches", {"batches": batches, **declarations})
    return session

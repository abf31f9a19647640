"""`dlqa check`, `dlqa train check` and `dlqa train fast`: configured stages in one run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dlqa.config import Config
from dlqa.core.errors import ConfigError
from dlqa.core.registry import get_spec
from dlqa.core.stages import ProgressFactory
from dlqa.runner.session import RunSession, configured_stages


def run_configured_checks(
    config: Config,
    *,
    stages: Sequence[str] | None = None,
    kind: str = "check",
    inputs: dict[str, dict] | None = None,
    checks: Sequence[str] | None = None,
    db: str | None = None,
    workers: int | None = None,
    progress: ProgressFactory | None = None,
    allow_inconclusive: bool = False,
    explicit_reports: dict[str, Path | None] | None = None,
) -> RunSession:
    """Run the stages that dlqa.toml configures (or ``stages``), storing every result as it
    comes, and write the reports. ``inputs`` maps a stage name to what the command hands it;
    ``checks`` narrows every stage to those check ids.
    Returns the closed session (``exit_code``, ``report``, ``written``)."""
    names = list(stages) if stages is not None else configured_stages(config)
    if not names:
        raise ConfigError(
            "dlqa.toml configures nothing to check",
            hint='set [data] source = "..." and/or the [train] import paths',
        )
    session = RunSession(
        config,
        kind=kind,
        title=f"dlqa {kind}: {config.project.name}",
        db=db,
        workers=workers,
        progress=progress,
        allow_inconclusive=allow_inconclusive,
        explicit_reports=explicit_reports,
    )
    with session:
        for name in names:
            wanted = None if checks is None else _checks_of_stage(name, checks)
            if wanted == []:
                continue
            session.run_stage(name, (inputs or {}).get(name), checks=wanted)
    return session


def _checks_of_stage(stage: str, checks: Sequence[str]) -> list[str]:
    return [check_id for check_id in checks if get_spec(check_id).stage == stage]

"""`dlqa check`: every configured stage in one stored run, with one report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dlqa
from dlqa.config import Config
from dlqa.core.errors import ConfigError
from dlqa.core.registry import all_specs
from dlqa.core.results import CheckResult
from dlqa.core.suite import Suite, SuiteOutcome
from dlqa.report.model import Report
from dlqa.runner.common import command_line, now_iso, write_reports
from dlqa.runner.data import DataStage, data_stage
from dlqa.runner.train import run_battery, run_fast_loop
from dlqa.sources.base import Source
from dlqa.sources.open import open_source
from dlqa.store import open_store


@dataclass
class CheckRun:
    run_id: int
    results: list[CheckResult]
    report: Report
    data: DataStage | None = None
    written: dict[str, Path] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return self.report.exit_code


def open_configured_source(config: Config) -> Source | None:
    """The data source that dlqa.toml names (None when it names none)."""
    if not config.data.source:
        return None
    return open_source(
        config.resolve(config.data.source),
        path_column=config.data.path_column,
        label_column=config.data.label_column,
        split_column=config.data.split_column,
        id_column=config.data.id_column,
    )


def run_configured_checks(
    config: Config,
    source: Source | None,
    *,
    stages: tuple[str, ...] = ("data", "train"),
    db: str | None = None,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    explicit_reports: dict[str, Path | None] | None = None,
) -> CheckRun:
    """Run the configured stages ("data"; "train": the battery and the fast loop; "fast":
    the fast loop only), store every result as it comes, write the reports."""
    run_data = "data" in stages and source is not None
    run_battery_stage = "train" in stages and bool(config.train.model)
    run_fast = ("train" in stages or "fast" in stages) and bool(
        config.train.fast or config.train.fast_command
    )
    run_train = run_battery_stage or run_fast
    if not (run_data or run_train):
        raise ConfigError(
            "dlqa.toml configures nothing to check",
            hint='set [data] source = "..." and/or the [train] import paths',
        )
    data_suite = Suite(all_specs("data"), config.gates) if run_data else None  # validate early
    workers = workers or config.execute.workers
    kind = {("data", "train"): "check", ("train",): "train.check", ("fast",): "train.fast"}.get(
        stages, "check"
    )
    store = open_store(db or config.store.url, project_dir=config.base_dir)
    run_id = store.start_run(kind, command_line(), config.model_dump(mode="json"))
    results: list[CheckResult] = []
    stage = None
    try:
        if run_data:
            stage = data_stage(
                source, store, run_id, data_suite, workers=workers, on_progress=on_progress
            )
            results += stage.results
        if run_battery_stage:
            battery = run_battery(config, config.gates)
            store.add_results(run_id, battery)
            results += battery
        if run_fast:
            fast = run_fast_loop(config, config.gates)
            store.add_results(run_id, [fast])
            results.append(fast)
    except BaseException:
        store.finish_run(run_id, "failed", 3)
        store.close()
        raise
    exit_code = SuiteOutcome(results).exit_code
    store.finish_run(run_id, "finished", exit_code)
    store.close()
    context = stage.report_context(source, workers) if stage else {"meta": {}}
    context["meta"].update(run_id=run_id, dlqa_version=dlqa.__version__)
    report = Report(
        title=f"dlqa check: {config.project.name}",
        kind=kind,
        created_at=now_iso(),
        results=results,
        exit_code=exit_code,
        **context,
    )
    run = CheckRun(run_id, results, report, stage)
    run.written = write_reports(
        report,
        out_dir=config.resolve(config.report.dir) / f"run-{run_id}",
        formats=config.report.formats,
        explicit=explicit_reports,
    )
    return run

"""The run lifecycle that every command producing results shares.

A :class:`RunSession` opens the store, records the run with its provenance, stores each
result the moment its check finishes, and closes with the right status and exit code:
0 pass, 1 a gate failed, 2 usage or config error (also mid-run), 3 internal error, 130 on
Ctrl-C. Whatever ran before a failure or an interrupt is stored, and reports of it are
written, marked incomplete.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any

from dlqa.config import Config
from dlqa.core.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    ConfigError,
    DlqaError,
    RunInterrupted,
)
from dlqa.core.gates import exit_code_of
from dlqa.core.registry import all_specs
from dlqa.core.results import CheckResult
from dlqa.core.stages import ProgressFactory, StageRun, StageSpec, all_stages, get_stage
from dlqa.core.suite import Suite
from dlqa.report.model import Report
from dlqa.runner.provenance import collect_provenance
from dlqa.runner.reports import load_report, write_reports
from dlqa.store import (
    RUN_FAILED,
    RUN_FINISHED,
    RUN_INTERRUPTED,
    Store,
    open_store,
    resolve_database_url,
)


def command_line() -> str:
    return shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])


def _no_progress(total: int, description: str) -> Callable[[int], None]:
    return lambda advance: None


class RunSession(AbstractContextManager["RunSession"]):
    """One stored run. Use as a context manager; after it, ``report``, ``written`` and
    ``exit_code`` tell how it went (an exception still propagates, with its reports written)."""

    def __init__(
        self,
        config: Config,
        *,
        kind: str,
        title: str,
        db: str | None = None,
        store: Store | None = None,
        workers: int | None = None,
        progress: ProgressFactory | None = None,
        allow_inconclusive: bool = False,
        report_dir: Path | None = None,
        formats: tuple[str, ...] | list[str] | None = None,
        explicit_reports: dict[str, Path | None] | None = None,
    ) -> None:
        self.config = config
        self.kind = kind
        self.title = title
        self._db = db
        self._owns_store = store is None
        self.store: Store | None = store
        self.workers = workers or config.execute.workers
        self.progress = progress or _no_progress
        self.allow_inconclusive = allow_inconclusive
        self.report_dir = config.resolve(config.report.dir) if report_dir is None else report_dir
        self.formats = tuple(config.report.formats if formats is None else formats)
        self.explicit_reports = explicit_reports or {}
        self.run_id: int | None = None
        self.results: list[CheckResult] = []
        self.report: Report | None = None
        self.written: dict[str, Path] = {}
        self.exit_code: int | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> RunSession:
        if self.store is None:
            self.store = open_store(
                resolve_database_url(self._db, self.config.store.url, self.config.base_dir),
                project_dir=self.config.base_dir,
                artifacts=self.config.store.artifacts,
            )
        try:
            command = command_line()
            self.run_id = self.store.start_run(
                self.kind,
                command,
                self.config.model_dump(mode="json"),
                provenance=collect_provenance(command, self.config.base_dir, self.config.path),
            )
            self.store.set_report_parts(
                self.run_id, {"title": self.title, "allow_inconclusive": self.allow_inconclusive}
            )
        except BaseException as exc:
            if self.run_id is None:
                self._close_store()
                raise
            # The run is recorded: close it the way any failure does (a Ctrl-C here must not
            # leave it "running" for ever), with its (empty) reports.
            self.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self.store is not None and self.run_id is not None
        if exc is None:
            status = RUN_FINISHED
            self.exit_code = exit_code_of(self.results, allow_inconclusive=self.allow_inconclusive)
        elif isinstance(exc, KeyboardInterrupt):
            status, self.exit_code = RUN_INTERRUPTED, EXIT_INTERRUPTED
        elif isinstance(exc, DlqaError):
            status, self.exit_code = RUN_FAILED, exc.exit_code
        else:
            status, self.exit_code = RUN_FAILED, EXIT_INTERNAL
        try:
            self.store.finish_run(self.run_id, status, self.exit_code)
            self.report = load_report(self.store, self.run_id)
            self.written = write_reports(
                self.report,
                out_dir=self.report_dir / f"run-{self.run_id}",
                formats=self.formats,
                explicit=self.explicit_reports,
            )
        except Exception as report_exc:
            if exc is None:
                raise
            # The original failure is what the user must see; say the reports failed too.
            exc.add_note(f"dlqa could not write the reports of run {self.run_id}: {report_exc}")
        finally:
            self._close_store()
        if exc is None:
            return
        where = ", ".join(str(p) for p in self.written.values()) or "none written"
        kept = f"{len(self.results)} results stored; reports of what ran: {where}"
        if isinstance(exc, KeyboardInterrupt):
            raise RunInterrupted(
                f"interrupted: run {self.run_id} is recorded as interrupted; {kept}"
            ) from exc
        exc.add_note(f"run {self.run_id} stopped: {kept}")

    def _close_store(self) -> None:
        if self._owns_store and self.store is not None:
            self.store.close()

    # -- work ---------------------------------------------------------------------------

    def add_result(self, result: CheckResult) -> None:
        """Store one result now, so that a failure later cannot lose it."""
        assert self.store is not None and self.run_id is not None, "use the session in `with`"
        self.store.add_results(self.run_id, [result])
        self.results.append(result)

    def run_stage(
        self,
        name: str,
        inputs: dict[str, Any] | None = None,
        *,
        checks: Sequence[str] | None = None,
    ) -> list[CheckResult]:
        """Build the stage's context, run its checks (only ``checks`` when given), storing each
        result as it comes, and let the stage store its report parts."""
        spec = _require_stage(name)
        assert self.store is not None and self.run_id is not None, "use the session in `with`"
        suite = stage_suite(spec, self.config.gates, checks)
        stage_run = StageRun(
            config=self.config,
            section=self.config.section(name),
            store=self.store,
            run_id=self.run_id,
            workers=self.workers,
            progress=self.progress,
            inputs=dict(inputs or {}),
            check_ids=frozenset(check.check_id for check, _ in suite.entries),
        )
        assert spec.build_context is not None
        built = spec.build_context(stage_run)
        before = len(self.results)
        if hasattr(built, "__enter__") and hasattr(built, "__exit__"):
            with built as context:
                self._run_suite(spec, suite, context, explicit=checks is not None)
        else:
            context = built
            self._run_suite(spec, suite, context, explicit=checks is not None)
        results = self.results[before:]
        if spec.after_checks is not None:
            spec.after_checks(context, results, stage_run)
        if stage_run.report_parts:
            self.store.set_report_parts(self.run_id, stage_run.report_parts)
        return results

    def _run_suite(self, spec: StageSpec, suite: Suite, context: Any, *, explicit: bool) -> None:
        if spec.modality_of is not None:
            suite.for_modality(spec.modality_of(context), explicit=explicit)
        if spec.inputs_of is not None:
            suite.for_inputs(spec.inputs_of(context), spec.input_hints, explicit=explicit)
        suite.run(context, on_result=self.add_result)


def stage_suite(
    spec: StageSpec, gates: dict[str, dict[str, Any]], checks: Sequence[str] | None = None
) -> Suite:
    """The checks that read this stage's context (only ``checks`` when given), in the stage's
    order; an id that is not a check of this stage is a usage error."""
    specs = all_specs(spec.name)
    if checks is not None:
        known = {s.check_id for s in specs}
        unknown = sorted(set(checks) - known)
        if unknown:
            raise ConfigError(
                f"not checks of the {spec.name} stage: {', '.join(unknown)}",
                hint="`dlqa checks` lists every check with its stage",
            )
        specs = [s for s in specs if s.check_id in set(checks)]
    return Suite(specs, gates, order=spec.check_order)


def _require_stage(name: str) -> StageSpec:
    spec = get_stage(name)
    if spec is None or spec.build_context is None:
        runnable = [s.name for s in all_stages() if s.build_context is not None]
        raise ConfigError(f"no stage {name!r} to run", hint=f"stages: {', '.join(runnable)}")
    return spec


def configured_stages(config: Config) -> list[str]:
    """The stages `dlqa check` runs for this dlqa.toml, in order."""
    return [
        spec.name
        for spec in all_stages()
        if spec.build_context is not None
        and config.section(spec.name) is not None
        and spec.is_configured(config.section(spec.name))
    ]

"""The dlqa pytest plugin: the training sanity battery as a fixture with readable assertions.

Installed with dlqa (entry point ``pytest11``), so a project's tests can write::

    def test_model(dlqa_sanity):
        dlqa_sanity(build_model, loss_fn, make_optimizer, batch).assert_all()

and a failure lists every check that failed by id, with its summary and top evidence
(parameter names, sample indices, values). ``.results`` holds every ``CheckResult``;
``.assert_passed("train.updates", ...)`` asserts on chosen checks only.

pytest loads this module in every project that has dlqa installed, so it imports neither torch
nor the battery at import time: the fixture does, and skips the test with the install hint when
torch is missing. Loading it twice (the entry point plus ``-p dlqa.pytest_plugin`` or a
``pytest_plugins`` line) is harmless: once registered under one name, the other is blocked.

PYTEST_DONT_REWRITE: the assertions here raise AssertionError with their own message.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from dlqa.core.errors import UsageError
from dlqa.core.gates import gate_fails
from dlqa.core.results import CheckResult, Status

# The entry point's name and the module's own name: pytest registers a plugin under the name it
# was loaded by, and refuses the same module under a second name.
PLUGIN_NAMES = ("dlqa", "dlqa.pytest_plugin")
EVIDENCE_ITEMS_SHOWN = 5


@dataclass(frozen=True)
class CheckOutcome:
    """Results of a stage, a list of checks or the sanity battery, with assertions that
    explain themselves."""

    results: list[CheckResult]
    what: str = "dlqa sanity battery"
    allow_inconclusive: bool = False

    @property
    def failed(self) -> list[CheckResult]:
        """Results that fail their gate (``fail``, ``error``, and ``inconclusive`` unless
        relaxed)."""
        allow = self.allow_inconclusive
        return [result for result in self.results if gate_fails(result, allow_inconclusive=allow)]

    def __getitem__(self, check_id: str) -> CheckResult:
        for result in self.results:
            if result.check_id == check_id or result.key == check_id:
                return result
        known = ", ".join(result.key for result in self.results)
        raise KeyError(f"no result for {check_id!r}; {self.what} ran: {known}")

    def assert_all(self) -> CheckOutcome:
        """Raise AssertionError listing every failed check, unless none failed."""
        __tracebackhide__ = True  # the failure is the user's test, not this frame
        if self.failed:
            header = f"{self.what}: {len(self.failed)} of {len(self.results)} checks failed"
            raise AssertionError(_describe(header, self.failed))
        return self

    def assert_passed(self, *check_ids: str) -> CheckOutcome:
        """Raise AssertionError unless each named check ran and passed its gate (``pass`` or
        ``warn``; a skipped check did not verify anything, so it does not count). With no ids,
        the same as :meth:`assert_all`. A check with subjects passes when all of them do."""
        __tracebackhide__ = True
        if not check_ids:
            return self.assert_all()
        ran = {result.check_id for result in self.results}
        missing = [check_id for check_id in check_ids if check_id not in ran]
        if missing:
            known = ", ".join(sorted(ran)) or "none"
            raise AssertionError(
                f"{self.what}: no result for {', '.join(missing)} (checks run: {known})"
            )
        allow = self.allow_inconclusive
        not_passed = [
            result
            for result in self.results
            if result.check_id in check_ids
            and (gate_fails(result, allow_inconclusive=allow) or result.status is Status.SKIP)
        ]
        if not_passed:
            header = (
                f"{self.what}: {len(not_passed)} results of the {len(check_ids)} checks "
                "asserted did not pass"
            )
            raise AssertionError(_describe(header, not_passed))
        return self


def _describe(header: str, results: list[CheckResult]) -> str:
    # The same item, number and inconclusive wording as the terminal and JUnit views.
    from dlqa.report.evidence import evidence_lines
    from dlqa.report.text import format_measure, format_number, inconclusive_note

    lines = [header]
    for result in results:
        lines.append(f"  {result.key} [{result.status.value}]: {result.summary}")
        if result.interval is not None or result.n is not None:
            threshold = format_number(result.threshold)
            lines.append(f"      value {format_measure(result)}, threshold {threshold}")
        if result.status is Status.INCONCLUSIVE:
            lines.append(f"      {inconclusive_note(result)}")
        lines.extend(f"      {line}" for line in evidence_lines(result, EVIDENCE_ITEMS_SHOWN))
        if result.status is Status.ERROR and result.details.get("traceback"):
            last_line = str(result.details["traceback"]).rstrip().splitlines()[-1]
            lines.append(f"      raised: {last_line}")
    return "\n".join(lines)


SanityRunner = Callable[..., CheckOutcome]
CheckRunner = Callable[..., CheckOutcome]


@pytest.fixture
def dlqa_sanity() -> SanityRunner:
    """``dlqa_sanity(model_factory, loss_fn, optimizer_factory, batch, **options)`` runs the
    training sanity battery (options as ``dlqa.train.sanity.run``) and returns a
    :class:`CheckOutcome`. Skips the test when PyTorch is not installed."""
    from dlqa.train import require_torch

    try:
        require_torch()
    except UsageError as exc:
        pytest.skip(str(exc))
    from dlqa.train.sanity import run

    def run_sanity_battery(
        model_factory: Callable[[], Any],
        loss_fn: Callable[[Any, Any], Any],
        optimizer_factory: Callable[[Any], Any],
        batch: Any,
        **options: Any,
    ) -> CheckOutcome:
        __tracebackhide__ = True
        try:
            results = run(model_factory, loss_fn, optimizer_factory, batch, **options)
        except UsageError as exc:
            problem = str(exc)
        else:
            return CheckOutcome(list(results))
        # A setup the battery cannot run at all: one readable message, not dlqa's traceback.
        pytest.fail(f"dlqa sanity battery could not run: {problem}", pytrace=False)

    return run_sanity_battery


@pytest.fixture
def dlqa_check(request: pytest.FixtureRequest) -> CheckRunner:
    """``dlqa_check(what, *, config=None, db=None, allow_inconclusive=False)`` runs a configured
    stage (``"data"``), several (``["data", "train"]``) or a list of check ids
    (``["data.near_duplicates", "train.fast_loop"]``) as ``dlqa check`` would, storing the run,
    and returns a :class:`CheckOutcome` whose ``assert_all()`` / ``assert_passed(...)`` fail
    the test with every failed gate explained. ``config`` defaults to the ``dlqa.toml`` in
    pytest's root folder."""
    from dlqa.config import CONFIG_FILENAME, load_config
    from dlqa.core.registry import all_specs, get_spec
    from dlqa.core.stages import get_stage
    from dlqa.runner import run_configured_checks

    def run_checks(
        what: str | list[str],
        *,
        config: Any = None,
        db: str | None = None,
        allow_inconclusive: bool = False,
    ) -> CheckOutcome:
        __tracebackhide__ = True
        names = [what] if isinstance(what, str) else list(what)
        path = config if config is not None else request.config.rootpath / CONFIG_FILENAME
        try:
            settings = load_config(path)
            check_ids = [name for name in names if "." in name]
            stages = [name for name in names if "." not in name]
            for name in stages:
                if get_stage(name) is None:
                    raise UsageError(f"no stage {name!r}", hint="name a stage or check ids")
            if check_ids:  # a named stage still runs whole beside named checks
                check_ids += [spec.check_id for name in stages for spec in all_specs(name)]
                stages = list(dict.fromkeys([*stages, *(get_spec(c).stage for c in check_ids)]))
            run = run_configured_checks(
                settings,
                stages=stages,
                checks=check_ids or None,
                kind="pytest",
                db=db,
                allow_inconclusive=allow_inconclusive,
            )
        except UsageError as exc:
            pytest.fail(f"dlqa_check({what!r}) could not run: {exc}", pytrace=False)
        return CheckOutcome(
            run.results, what=f"dlqa_check({what!r})", allow_inconclusive=allow_inconclusive
        )

    return run_checks


def pytest_plugin_registered(plugin: object, plugin_name: str, manager: Any) -> None:
    # Registered under one of its names, block the others, so that a second load by the other
    # name is skipped instead of failing with "Plugin already registered under a different name".
    if plugin is not sys.modules[__name__] or plugin_name not in PLUGIN_NAMES:
        return
    for alias in PLUGIN_NAMES:
        if alias != plugin_name and manager.get_plugin(alias) is None:
            manager.set_blocked(alias)

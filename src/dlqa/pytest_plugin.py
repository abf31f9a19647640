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
from dlqa.core.results import CheckResult, Status

# The entry point's name and the module's own name: pytest registers a plugin under the name it
# was loaded by, and refuses the same module under a second name.
PLUGIN_NAMES = ("dlqa", "dlqa.pytest_plugin")
EVIDENCE_ITEMS_SHOWN = 5
MAX_ITEM_CHARS = 200


@dataclass(frozen=True)
class SanityOutcome:
    """The battery's results with assertions that explain themselves."""

    results: list[CheckResult]

    @property
    def failed(self) -> list[CheckResult]:
        """Results whose status fails the gate (``fail`` and ``error``)."""
        return [result for result in self.results if result.status.fails_gate]

    def __getitem__(self, check_id: str) -> CheckResult:
        for result in self.results:
            if result.check_id == check_id:
                return result
        known = ", ".join(result.check_id for result in self.results)
        raise KeyError(f"no result for {check_id!r}; the battery ran: {known}")

    def assert_all(self) -> SanityOutcome:
        """Raise AssertionError listing every failed check, unless none failed."""
        __tracebackhide__ = True  # the failure is the user's test, not this frame
        if self.failed:
            header = f"dlqa sanity battery: {len(self.failed)} of {len(self.results)} checks failed"
            raise AssertionError(_describe(header, self.failed))
        return self

    def assert_passed(self, *check_ids: str) -> SanityOutcome:
        """Raise AssertionError unless each named check ran and passed its gate (``pass`` or
        ``warn``; a skipped check did not verify anything, so it does not count). With no ids,
        the same as :meth:`assert_all`."""
        __tracebackhide__ = True
        if not check_ids:
            return self.assert_all()
        by_id = {result.check_id: result for result in self.results}
        missing = [check_id for check_id in check_ids if check_id not in by_id]
        if missing:
            known = ", ".join(by_id) or "none"
            raise AssertionError(
                f"dlqa sanity battery: no result for {', '.join(missing)} (checks run: {known})"
            )
        not_passed = [
            by_id[check_id]
            for check_id in check_ids
            if by_id[check_id].status.fails_gate or by_id[check_id].status is Status.SKIP
        ]
        if not_passed:
            header = (
                f"dlqa sanity battery: {len(not_passed)} of the {len(check_ids)} checks "
                "asserted did not pass"
            )
            raise AssertionError(_describe(header, not_passed))
        return self


def _describe(header: str, results: list[CheckResult]) -> str:
    from dlqa.report.console import evidence_heading

    lines = [header]
    for result in results:
        lines.append(f"  {result.check_id} [{result.status.value}]: {result.summary}")
        for evidence in result.evidence:
            top = evidence.items[:EVIDENCE_ITEMS_SHOWN]
            lines.append(f"      {evidence_heading(evidence, len(top))}:")
            lines.extend(f"        - {_describe_item(evidence.kind, item)}" for item in top)
        if result.status is Status.ERROR and result.details.get("traceback"):
            last_line = str(result.details["traceback"]).rstrip().splitlines()[-1]
            lines.append(f"      raised: {last_line}")
    return "\n".join(lines)


def _describe_item(kind: str, item: Any) -> str:
    """A named item (a parameter, a sample) as ``name: key=value, ...``; others as the
    terminal report shows them."""
    from dlqa.report.console import describe_item, format_number

    name_key = (
        next((key for key in ("name", "id") if key in item), None)
        if isinstance(item, dict)
        else None
    )
    if name_key is None:
        return describe_item(kind, item)
    rest = ", ".join(
        f"{key}={format_number(value) if isinstance(value, float) else value}"
        for key, value in item.items()
        if key != name_key
    )
    text = f"{item[name_key]}: {rest}" if rest else str(item[name_key])
    return text if len(text) <= MAX_ITEM_CHARS else text[: MAX_ITEM_CHARS - 3] + "..."


SanityRunner = Callable[..., SanityOutcome]


@pytest.fixture
def dlqa_sanity() -> SanityRunner:
    """``dlqa_sanity(model_factory, loss_fn, optimizer_factory, batch, **options)`` runs the
    training sanity battery (options as ``dlqa.train.sanity.run``) and returns a
    :class:`SanityOutcome`. Skips the test when PyTorch is not installed."""
    from dlqa.train import require_torch

    try:
        require_torch()
    except UsageError as exc:
        pytest.skip(str(exc))
    from dlqa.train.sanity import run

    def run_battery(
        model_factory: Callable[[], Any],
        loss_fn: Callable[[Any, Any], Any],
        optimizer_factory: Callable[[Any], Any],
        batch: Any,
        **options: Any,
    ) -> SanityOutcome:
        __tracebackhide__ = True
        try:
            results = run(model_factory, loss_fn, optimizer_factory, batch, **options)
        except UsageError as exc:
            problem = str(exc)
        else:
            return SanityOutcome(list(results))
        # A setup the battery cannot run at all: one readable message, not dlqa's traceback.
        pytest.fail(f"dlqa sanity battery could not run: {problem}", pytrace=False)

    return run_battery


def pytest_plugin_registered(plugin: object, plugin_name: str, manager: Any) -> None:
    # Registered under one of its names, block the others, so that a second load by the other
    # name is skipped instead of failing with "Plugin already registered under a different name".
    if plugin is not sys.modules[__name__] or plugin_name not in PLUGIN_NAMES:
        return
    for alias in PLUGIN_NAMES:
        if alias != plugin_name and manager.get_plugin(alias) is None:
            manager.set_blocked(alias)

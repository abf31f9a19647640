"""A suite runs checks against a context, applies the gates and never lets one crash hide others."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dlqa.core.errors import EXIT_GATE_FAILED, EXIT_OK
from dlqa.core.registry import CheckSpec
from dlqa.core.results import CheckResult, Status


@dataclass(frozen=True)
class SuiteOutcome:
    results: list[CheckResult]

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status.fails_gate]

    @property
    def exit_code(self) -> int:
        return EXIT_GATE_FAILED if self.failed else EXIT_OK

    def counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Status}
        for r in self.results:
            counts[r.status.value] += 1
        return counts


class Suite:
    """Checks to run with their resolved parameters (defaults overridden by gates)."""

    def __init__(self, specs: Iterable[CheckSpec], gates: dict[str, dict[str, Any]] | None = None):
        gates = gates or {}
        self.entries: list[tuple[CheckSpec, dict[str, Any]]] = []
        for spec in specs:
            params = spec.resolve_params(gates.get(spec.check_id))
            self.entries.append((spec, params))

    def run(
        self, context: Any, on_result: Callable[[CheckResult], None] | None = None
    ) -> SuiteOutcome:
        results = []
        for spec, params in self.entries:
            if not params["enabled"]:
                result = CheckResult(spec.check_id, Status.SKIP, "disabled in dlqa.toml")
            else:
                result = run_check(spec, context, params)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return SuiteOutcome(results)


def run_check(spec: CheckSpec, context: Any, params: dict[str, Any]) -> CheckResult:
    try:
        result = spec.func(context, params)
    except Exception as exc:  # a crashed check is an ERROR result, the suite goes on
        return CheckResult(
            check_id=spec.check_id,
            status=Status.ERROR,
            summary=f"check raised {type(exc).__name__}: {exc}",
            details={"traceback": traceback.format_exc()},
        )
    if result.check_id != spec.check_id:
        raise AssertionError(f"{spec.check_id} returned a result for {result.check_id}")
    return result

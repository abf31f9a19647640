"""A suite runs checks against a context, applies the gates and never lets one crash hide others."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dlqa.core.gates import apply_gate, exit_code_of, gate_fails
from dlqa.core.registry import CheckSpec
from dlqa.core.results import CheckResult, Status


@dataclass(frozen=True)
class SuiteOutcome:
    results: list[CheckResult]
    allow_inconclusive: bool = False

    @property
    def failed(self) -> list[CheckResult]:
        return [
            r for r in self.results if gate_fails(r, allow_inconclusive=self.allow_inconclusive)
        ]

    @property
    def exit_code(self) -> int:
        return exit_code_of(self.results, allow_inconclusive=self.allow_inconclusive)

    def counts(self) -> dict[str, int]:
        return count_statuses(self.results)


def count_statuses(results: Iterable[CheckResult]) -> dict[str, int]:
    counts = {s.value: 0 for s in Status}
    for r in results:
        counts[r.status.value] += 1
    return counts


class Suite:
    """Checks to run with their resolved parameters (defaults overridden by gates)."""

    def __init__(
        self,
        specs: Iterable[CheckSpec],
        gates: dict[str, dict[str, Any]] | None = None,
        *,
        order: Sequence[str] = (),
    ):
        gates = gates or {}
        rank = {check_id: i for i, check_id in enumerate(order)}
        # Stable: checks the order does not name keep the order they were given in.
        ordered = sorted(specs, key=lambda s: rank.get(s.check_id, len(rank)))
        self.entries: list[tuple[CheckSpec, dict[str, Any]]] = [
            (spec, spec.resolve_params(gates.get(spec.check_id))) for spec in ordered
        ]
        self.not_applicable: dict[str, str] = {}  # check id -> why it is not run

    def for_modality(self, modality: str | None, *, explicit: bool = False) -> None:
        """Leave out the checks that do not apply to ``modality`` (an image check on audio);
        with ``explicit`` (the user named the checks) they stay, and skip with the reason."""
        self._leave_out(
            lambda spec: (
                None
                if spec.applies_to(modality)
                else f"applies to {' and '.join(sorted(spec.modalities or ()))} data; "
                f"this dataset is {modality}"
            ),
            explicit,
        )

    def for_inputs(
        self,
        provided: frozenset[str],
        hints: dict[str, str] | None = None,
        *,
        explicit: bool = False,
    ) -> None:
        """Leave out the checks that need an input the run does not have (a drift check
        without a reference dataset); named explicitly, they skip and say how to provide it."""
        hints = hints or {}

        def missing(spec: CheckSpec) -> str | None:
            absent = sorted(spec.needs - provided)
            if not absent:
                return None
            return "; ".join(f"needs {hints.get(name, name)}" for name in absent)

        self._leave_out(missing, explicit)

    def _leave_out(self, reason_of: Callable[[CheckSpec], str | None], explicit: bool) -> None:
        kept = []
        for spec, params in self.entries:
            reason = reason_of(spec)
            if reason is None:
                kept.append((spec, params))
            elif explicit:
                self.not_applicable.setdefault(spec.check_id, reason)
                kept.append((spec, params))
        self.entries = kept

    def run(
        self, context: Any, on_result: Callable[[CheckResult], None] | None = None
    ) -> SuiteOutcome:
        results = []
        for spec, params in self.entries:
            if not params["enabled"]:
                produced = [CheckResult(spec.check_id, Status.SKIP, "disabled in dlqa.toml")]
            elif spec.check_id in self.not_applicable:
                reason = self.not_applicable[spec.check_id]
                produced = [CheckResult(spec.check_id, Status.SKIP, reason)]
            else:
                produced = run_check(spec, context, params)
            for result in produced:
                results.append(result)
                if on_result is not None:
                    on_result(result)
        return SuiteOutcome(results)


def run_check(spec: CheckSpec, context: Any, params: dict[str, Any]) -> list[CheckResult]:
    """Run one check: its results with the gate applied, or one ``error`` result that says
    what went wrong (an exception, or something that is not a CheckResult)."""
    try:
        returned = spec.func(context, params)
        produced = _validated(spec, returned)
        return [apply_gate(result, params) for result in produced]
    except Exception as exc:  # a crashed check is an ERROR result, the suite goes on
        return [
            CheckResult(
                check_id=spec.check_id,
                status=Status.ERROR,
                summary=f"check raised {type(exc).__name__}: {exc}",
                details={"traceback": traceback.format_exc(), "origin": spec.origin},
            )
        ]


class CheckContractError(TypeError):
    """A check returned something that breaks the check contract (a bug in the check)."""


def _validated(spec: CheckSpec, returned: Any) -> list[CheckResult]:
    produced = list(returned) if isinstance(returned, (list, tuple)) else [returned]
    where = f"{spec.check_id} (from {spec.origin})"
    if not produced:
        raise CheckContractError(f"{where} returned no result")
    subjects = set()
    for result in produced:
        if not isinstance(result, CheckResult):
            raise CheckContractError(f"{where} returned {type(result).__name__}, not a CheckResult")
        if result.check_id != spec.check_id:
            raise CheckContractError(f"{where} returned a result for {result.check_id!r}")
        if len(produced) > 1 and result.subject is None:
            raise CheckContractError(f"{where} returned several results without subjects")
        if result.subject in subjects:
            raise CheckContractError(f"{where} returned subject {result.subject!r} twice")
        subjects.add(result.subject)
    return produced

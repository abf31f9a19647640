"""Did the gates catch every problem planted in the demo project?"""

from __future__ import annotations

from dataclasses import dataclass

from dlqa.core.results import CheckResult

# Planted problem -> the check that must flag it (and fail its gate).
PLANTED_CHECKS = {
    "corrupt": "data.unreadable",
    "format_mismatch": "data.format_mismatch",
    "dark": "data.dark",
    "exact_duplicates": "data.exact_duplicates",
    "near_duplicate": "data.near_duplicates",
    "mislabeled": "data.conflicting_labels",
    "split_leakage": "data.split_leakage",
}


@dataclass(frozen=True)
class PlantedOutcome:
    problem: str
    check_id: str
    sample_ids: list[str]
    missed_ids: list[str]
    status: str

    @property
    def caught(self) -> bool:
        return not self.missed_ids and self.status == "fail"


def verify_planted(
    results: list[CheckResult], planted: dict[str, list[str]]
) -> list[PlantedOutcome]:
    by_id = {r.check_id: r for r in results}
    outcomes = []
    for problem, sample_ids in planted.items():
        check_id = PLANTED_CHECKS[problem]
        result = by_id.get(check_id)
        flagged = result.flagged_ids() if result else set()
        outcomes.append(
            PlantedOutcome(
                problem=problem,
                check_id=check_id,
                sample_ids=list(sample_ids),
                missed_ids=[s for s in sample_ids if s not in flagged],
                status=result.status.value if result else "missing",
            )
        )
    return outcomes

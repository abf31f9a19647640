"""Did the gates catch every problem planted in the demo project, and nothing else fail?"""

from __future__ import annotations

from dataclasses import dataclass

from dlqa.core.gates import gate_fails
from dlqa.core.results import CheckResult

# Part -> planted problem -> the check that must flag it (and fail its gate). The problem names
# are the keys of each part's planted map (build.py, audio_part.py, text_part.py).
PLANTED_CHECKS: dict[str, dict[str, str]] = {
    "image": {
        "corrupt": "data.unreadable",
        "format_mismatch": "data.format_mismatch",
        "dark": "data.dark",
        "exact_duplicates": "data.exact_duplicates",
        "near_duplicate": "data.near_duplicates",
        "mislabeled": "data.conflicting_labels",
        "split_leakage": "data.split_leakage",
        "label_error": "data.label_errors",
    },
    "audio": {
        "near_silent": "data.near_silent",
        "truncated": "data.truncated",
        "clipped": "data.clipped",
        "exact_duplicates": "data.exact_duplicates",
        "near_duplicate": "data.near_duplicates",
        "label_error": "data.label_errors",
    },
    "text": {
        "empty_text": "data.empty_text",
        "control_characters": "data.control_characters",
        "mojibake": "data.mojibake",
        "exact_duplicates": "data.exact_duplicates",
        "near_duplicate": "data.near_duplicates",
        "split_leakage": "data.split_leakage",
        "label_error": "data.label_errors",
    },
    "drift": {
        "brightness_shift": "data.property_drift",
        "new_camera": "data.domain_classifier",
    },
    "eval": {
        "two_meaning": "eval.embedding_clusters",
        "regression_case": "eval.regression_cases",
    },
    "exp": {
        "changed_metric": "exp.metric_definitions",
    },
    "ablation": {
        "masked_regression": "exp.masked_regression",
    },
}


# Problems found as a cluster (a group of the evidence) rather than as samples one by one.
CLUSTER_PROBLEMS = frozenset({"two_meaning"})
# A planted cluster is found when one cluster of the evidence is the planted samples, give
# or take this share either way (an unusual ordinary sample may sit with them).
CLUSTER_TOLERANCE = 0.1


def cluster_of(result: CheckResult, planted: list[str]) -> set[str]:
    """The planted ids of the evidence group that is the planted cluster: one holding at
    least 90 % of them and made at least 90 % of them (all of them count as flagged then);
    else the planted ids of the best group, so that the others show as missed."""
    wanted = set(planted)
    best: set[str] = set()
    for evidence in result.evidence:
        if evidence.kind != "groups":
            continue
        for item in evidence.items:
            members = {str(m) for m in (item.get("ids") if isinstance(item, dict) else item)}
            hit = members & wanted
            if len(hit) > len(best):
                best = hit
            if len(hit) >= (1 - CLUSTER_TOLERANCE) * len(wanted) and len(hit) >= (
                1 - CLUSTER_TOLERANCE
            ) * len(members):
                return wanted
    return best


@dataclass(frozen=True)
class PlantedOutcome:
    part: str
    problem: str
    check_id: str
    sample_ids: list[str]
    missed_ids: list[str]
    status: str

    @property
    def caught(self) -> bool:
        return not self.missed_ids and self.status == "fail"


def verify_planted(
    results: list[CheckResult], planted: dict[str, list[str]], part: str = "image"
) -> list[PlantedOutcome]:
    """One outcome per planted problem of ``part``: caught when its check failed its gate and
    flagged every sample id planted for it."""
    checks = PLANTED_CHECKS[part]
    by_id = {r.check_id: r for r in results}
    outcomes = []
    for problem, sample_ids in planted.items():
        check_id = checks[problem]
        result = by_id.get(check_id)
        flagged = result.flagged_ids() if result else set()
        if problem in CLUSTER_PROBLEMS and result is not None:
            flagged = cluster_of(result, sample_ids)
        outcomes.append(
            PlantedOutcome(
                part=part,
                problem=problem,
                check_id=check_id,
                sample_ids=list(sample_ids),
                missed_ids=[s for s in sample_ids if s not in flagged],
                status=result.status.value if result else "missing",
            )
        )
    return outcomes


def unexpected_failures(results: list[CheckResult], part: str) -> list[str]:
    """Checks of ``part``'s stage (data; eval or exp for those parts) that failed their
    gate although nothing was planted for them: the demo's ordinary samples are meant to
    pass everything else."""
    expected = set(PLANTED_CHECKS[part].values())
    prefix = {"eval": "eval.", "exp": "exp.", "ablation": "exp."}.get(part, "data.")
    return sorted(
        {
            r.check_id
            for r in results
            if r.check_id.startswith(prefix) and r.check_id not in expected and gate_fails(r)
        }
    )

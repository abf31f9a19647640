"""What the drift checks share: the reference's problems, the properties compared, the
verdict of several judgements, and the levels (see ``drift.py`` for the limits)."""

from __future__ import annotations

from typing import Any

from dlqa.core.gates import verdict
from dlqa.core.params import Param
from dlqa.core.results import CheckResult, Interval, Status
from dlqa.data.context import DataProfile
from dlqa.data.drift import Judgement
from dlqa.data.modalities import modality_of

SUGGESTIVE = 0.01  # family-wise level below which an estimate beyond its limit is inconclusive
# Properties that must be compared wherever a profile has them, even if a modality's list
# leaves one out: a change of resolution or of microphone sample rate is the classic skew.
ALWAYS_COMPARED = ("width", "height", "sample_rate")

ALPHA = Param(
    0.001,
    doc="chance, shared by everything the check compares, that two samples of one "
    "distribution are called drifted",
    gt=0.0,
    lt=1.0,
)


def reference_problem(check_id: str, profile: DataProfile) -> CheckResult | None:
    reference = profile.reference
    if reference is None:
        return CheckResult(check_id, Status.SKIP, "no reference dataset to compare with")
    if reference.n == 0 or profile.n == 0:
        empty = "reference" if reference.n == 0 else "current"
        return CheckResult(check_id, Status.SKIP, f"the {empty} dataset has no samples")
    return None


def compared_properties(profile: DataProfile, reference: DataProfile) -> list[str]:
    """The numeric properties of the current data's modality that both profiles have."""
    names = list(modality_of(profile).numeric_properties)
    names += [name for name in ALWAYS_COMPARED if name not in names]
    return [name for name in names if profile.has_column(name) and reference.has_column(name)]


def modality_mismatch(
    check_id: str, profile: DataProfile, params: dict[str, Any]
) -> CheckResult | None:
    """A finding when the reference is another modality: the user gave the wrong dataset,
    and a skip would let `dlqa data drift` exit 0 on it."""
    reference = profile.reference
    if reference.modality == profile.modality:
        return None
    return CheckResult(
        check_id,
        verdict(True, params),
        f"the reference is {reference.modality} data and the current dataset "
        f"{profile.modality} data: their properties cannot be compared, and they are not "
        "one distribution (is the reference the right dataset?)",
        details={"reference_modality": reference.modality, "modality": profile.modality},
    )


def no_properties(check_id: str, profile: DataProfile) -> CheckResult:
    return CheckResult(
        check_id,
        Status.SKIP,
        f"no numeric property of {profile.modality} data is in both profiles (the reference "
        "was profiled without them): nothing to compare",
    )


def status_of(judgements: list[Judgement], params: dict[str, Any]) -> Status:
    if "drift" in judgements:
        return verdict(True, params)
    return Status.INCONCLUSIVE if "undecided" in judgements else Status.PASS


def interval_of(low: float, high: float) -> Interval:
    return Interval(float(low), float(max(low, high)))

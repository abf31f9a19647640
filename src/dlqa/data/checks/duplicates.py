"""Duplicate checks: exact copies, near-duplicates, duplicates with conflicting labels, leakage."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.checks._common import (
    fraction_result,
    max_fraction_param,
    pairs_result,
    percent,
    skip_without_labels,
    unlabelled_details,
)
from dlqa.data.context import DataProfile
from dlqa.data.crop_hashes import DEFAULT_MAX_COLOUR_DISTANCE, DEFAULT_MIN_CORRELATION
from dlqa.data.duplicates import DEFAULT_MAX_DISTANCE, MAX_SUPPORTED_DISTANCE

_NEAR = {
    "max_distance": Param(
        DEFAULT_MAX_DISTANCE,
        doc=(
            "largest Hamming distance between 64-bit perceptual hashes that counts as a "
            f"duplicate (at most {MAX_SUPPORTED_DISTANCE}: beyond half the bits, near means "
            "nothing)"
        ),
        ge=0,
        le=MAX_SUPPORTED_DISTANCE,
    ),
    "min_correlation": Param(
        DEFAULT_MIN_CORRELATION,
        doc=(
            "smallest correlation of the 16 x 16 structure grids (gradients removed) that "
            "confirms a candidate pair; 0 keeps every candidate"
        ),
        ge=-1.0,
        le=1.0,
    ),
    "max_colour_distance": Param(
        DEFAULT_MAX_COLOUR_DISTANCE,
        doc=(
            "largest mean difference of the 4 x 4 opponent-colour layouts (colour levels, "
            "0 to 510) that confirms a candidate pair; 255 ignores colour (a grayscale copy "
            "of a colour image)"
        ),
        ge=0.0,
        le=510.0,
    ),
}
_INVOLVED_FRACTION = max_fraction_param(0.0, "largest fraction of samples involved")


def _near_options(params: dict[str, Any]) -> tuple[int, float, float]:
    return params["max_distance"], params["min_correlation"], params["max_colour_distance"]


@register_check(
    "data.exact_duplicates",
    title="Exact duplicates",
    description="Byte-identical files (same content hash).",
    defaults={
        "max_fraction": max_fraction_param(0.0, "largest fraction of redundant copies allowed")
    },
)
def check_exact_duplicates(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    groups = profile.exact_groups
    redundant = sum(len(g) - 1 for g in groups)
    fraction = redundant / profile.n if profile.n else 0.0
    ranked = sorted(groups, key=len, reverse=True)
    rows = np.concatenate(ranked) if ranked else np.zeros(0, dtype=np.int64)
    ids, labels = profile.ids.take(rows), profile.labels.take(rows)
    items, start = [], 0
    for members in ranked:
        stop = start + len(members)
        items.append({"ids": ids[start:stop], "labels": labels[start:stop]})
        start = stop
    return fraction_result(
        "data.exact_duplicates",
        fraction,
        params,
        summary=(
            f"{len(groups)} groups of identical files, {redundant} redundant copies "
            f"({percent(fraction)} of samples)"
        ),
        evidence=[Evidence("groups", items, len(items))] if items else [],
        details={"groups": len(groups), "redundant_copies": redundant},
    )


@register_check(
    "data.near_duplicates",
    title="Near-duplicates",
    description=(
        "Pairs of different files whose perceptual hashes are within `max_distance` bits: "
        "resized, re-encoded, brightened or slightly cropped copies."
    ),
    defaults={
        **_NEAR,
        "max_fraction": max_fraction_param(
            0.01, "largest fraction of samples that may be in a near-duplicate pair"
        ),
    },
)
def check_near_duplicates(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    pairs, distances = profile.near_pairs(*_near_options(params))
    if len(pairs):
        different_files = ~profile.is_exact_pair(pairs)
        pairs, distances = pairs[different_files], distances[different_files]
    return pairs_result(
        "data.near_duplicates",
        profile,
        pairs,
        distances,
        params,
        what=f"of different files within Hamming distance {params['max_distance']}",
        details={key: params[key] for key in _NEAR},
    )


@register_check(
    "data.conflicting_labels",
    title="Duplicates with conflicting labels",
    description=(
        "Exact or near-duplicate samples that carry different labels (a sample without a "
        "label conflicts with none; a dataset without labels is skipped)."
    ),
    defaults={**_NEAR, "max_fraction": _INVOLVED_FRACTION},
)
def check_conflicting_labels(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    skipped = skip_without_labels("data.conflicting_labels", profile)
    if skipped is not None:
        return skipped
    return _duplicates_that_differ(
        "data.conflicting_labels",
        profile,
        params,
        profile.codes("label")[1],
        what="of duplicates carry different labels",
        missing_differs=False,
        details={"unlabelled": unlabelled_details(profile)},
    )


def _duplicates_that_differ(
    check_id: str,
    profile: DataProfile,
    params: dict[str, Any],
    codes: np.ndarray,
    what: str,
    *,
    missing_differs: bool = True,
    details: dict[str, Any] | None = None,
) -> CheckResult:
    """Exact or near-duplicate pairs whose two samples differ in ``codes`` (the integer codes
    of labels or splits, -1 for a missing value). With ``missing_differs`` a missing value is
    a code of its own; without it a pair with a missing value never differs (an unlabelled
    copy of a labelled image is not a label conflict)."""
    pairs, distances = profile.duplicate_pairs(*_near_options(params))
    if len(pairs):
        first, second = codes[pairs[:, 0]], codes[pairs[:, 1]]
        differ = first != second
        if not missing_differs:
            differ &= (first >= 0) & (second >= 0)
    else:
        differ = np.zeros(0, bool)
    return pairs_result(
        check_id,
        profile,
        pairs[differ],
        distances[differ],
        params,
        what=what,
        details={**{key: params[key] for key in _NEAR}, **(details or {})},
    )


@register_check(
    "data.split_leakage",
    title="Cross-split leakage",
    description="Exact or near-duplicate samples found in two different splits (train and test).",
    defaults={**_NEAR, "max_fraction": _INVOLVED_FRACTION},
)
def check_split_leakage(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    if not profile.has_splits:
        return CheckResult(
            "data.split_leakage",
            Status.SKIP,
            "the source has no splits (use split folders or a split column)",
        )
    return _duplicates_that_differ(
        "data.split_leakage",
        profile,
        params,
        profile.codes("split")[1],
        what="of duplicates cross splits",
    )

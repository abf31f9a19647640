"""Duplicate checks: exact copies, near-duplicates, duplicates with conflicting labels, leakage."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.checks._common import fraction_result, pairs_result, percent
from dlqa.data.context import DataProfile
from dlqa.data.crop_hashes import DEFAULT_MAX_COLOUR_DISTANCE, DEFAULT_MIN_CORRELATION
from dlqa.data.duplicates import DEFAULT_MAX_DISTANCE

_DISTANCE_DOC = (
    "largest Hamming distance between 64-bit perceptual hashes that counts as a duplicate"
)
_CORRELATION_DOC = (
    "smallest correlation of the 16 x 16 structure grids (gradients removed) that confirms "
    "a candidate pair; 0 keeps every candidate"
)
_COLOUR_DOC = (
    "largest mean difference of the 4 x 4 opponent-colour layouts (colour levels) that "
    "confirms a candidate pair; 255 ignores colour (a grayscale copy of a colour image)"
)
_NEAR = {
    "max_distance": DEFAULT_MAX_DISTANCE,
    "min_correlation": DEFAULT_MIN_CORRELATION,
    "max_colour_distance": DEFAULT_MAX_COLOUR_DISTANCE,
}
_NEAR_DOCS = {
    "max_distance": _DISTANCE_DOC,
    "min_correlation": _CORRELATION_DOC,
    "max_colour_distance": _COLOUR_DOC,
}


def _near_options(params: dict[str, Any]) -> tuple[int, float, float]:
    return params["max_distance"], params["min_correlation"], params["max_colour_distance"]


@register_check(
    "data.exact_duplicates",
    title="Exact duplicates",
    description="Byte-identical files (same content hash).",
    defaults={"max_fraction": 0.0},
    param_docs={"max_fraction": "largest fraction of redundant copies allowed"},
)
def check_exact_duplicates(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    groups = profile.exact_groups
    redundant = sum(len(g) - 1 for g in groups)
    fraction = redundant / profile.n if profile.n else 0.0
    items = [
        {
            "ids": [profile.ids[i] for i in members],
            "labels": [profile.labels[i] for i in members],
        }
        for members in sorted(groups, key=len, reverse=True)
    ]
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
    defaults={**_NEAR, "max_fraction": 0.01},
    param_docs={
        **_NEAR_DOCS,
        "max_fraction": "largest fraction of samples that may be in a near-duplicate pair",
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
    description="Exact or near-duplicate samples that carry different labels.",
    defaults={**_NEAR, "max_fraction": 0.0},
    param_docs={**_NEAR_DOCS, "max_fraction": "largest fraction of samples involved"},
)
def check_conflicting_labels(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    return _duplicates_that_differ(
        "data.conflicting_labels",
        profile,
        params,
        profile.labels,
        what="of duplicates carry different labels",
    )


def _duplicates_that_differ(
    check_id: str, profile: DataProfile, params: dict[str, Any], values: np.ndarray, what: str
) -> CheckResult:
    """Exact or near-duplicate pairs whose two samples differ in ``values`` (label, split)."""
    pairs, distances = profile.duplicate_pairs(*_near_options(params))
    differ = values[pairs[:, 0]] != values[pairs[:, 1]] if len(pairs) else np.zeros(0, bool)
    return pairs_result(
        check_id,
        profile,
        pairs[differ],
        distances[differ],
        params,
        what=what,
        details={key: params[key] for key in _NEAR},
    )


@register_check(
    "data.split_leakage",
    title="Cross-split leakage",
    description="Exact or near-duplicate samples found in two different splits (train and test).",
    defaults={**_NEAR, "max_fraction": 0.0},
    param_docs={**_NEAR_DOCS, "max_fraction": "largest fraction of samples involved"},
)
def check_split_leakage(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    if not profile.has_splits:
        return CheckResult(
            "data.split_leakage",
            Status.SKIP,
            "the source has no splits (use split folders or a split column)",
        )
    return _duplicates_that_differ(
        "data.split_leakage", profile, params, profile.splits, what="of duplicates cross splits"
    )

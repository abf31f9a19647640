"""Duplicate checks: exact copies, near-duplicates, duplicates with conflicting labels, leakage."""

from __future__ import annotations

from typing import Any

import numpy as np

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
from dlqa.data.modalities import all_near_params, modality_of

# Every modality's near-duplicate parameters: each modality reads its own.
_NEAR = all_near_params()
_INVOLVED_FRACTION = max_fraction_param(0.0, "largest fraction of samples involved")


def near_pairs(profile: DataProfile, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Near-duplicate pairs (i < j) by the profile's modality, with their distances."""
    return modality_of(profile).near_pairs(profile, params)


def duplicate_pairs(profile: DataProfile, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Exact and near duplicates together: (pairs, distances), distance 0 for exact copies."""
    near, distances = near_pairs(profile, params)
    exact = profile.exact_pairs()
    pairs = np.concatenate([exact, near]) if len(near) else exact
    dist = np.concatenate([np.zeros(len(exact)), np.asarray(distances, dtype=np.float64)])
    if not len(pairs):
        return pairs, dist
    keyed = pairs[:, 0] * np.int64(profile.n) + pairs[:, 1]
    _, first = np.unique(keyed, return_index=True)
    return pairs[first], dist[first]


def _near_details(profile: DataProfile, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters the profile's modality read, and what its distance means."""
    modality = modality_of(profile)
    return {
        **{key: params[key] for key in modality.near_params},
        "distance": modality.distance_meaning,
    }


@register_check(
    "data.exact_duplicates",
    title="Exact duplicates",
    description=(
        "Samples with identical content: byte-identical images; audio with the same decoded "
        "samples (in any container or bit depth); texts equal after normalisation (Unicode "
        "NFKC, case, whitespace, punctuation). Files that do not decode are left to "
        "data.unreadable."
    ),
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
        "Pairs of different samples that are nearly the same. Images: perceptual hashes "
        "within `max_distance` bits, confirmed by structure and colour (resized, re-encoded, "
        "brightened or slightly cropped copies). Audio: spectrogram fingerprints (a gain "
        "change, added noise, a time shift, resampling). Text: MinHash over word shingles."
    ),
    defaults={
        **_NEAR,
        "max_fraction": max_fraction_param(
            0.01, "largest fraction of samples that may be in a near-duplicate pair"
        ),
    },
)
def check_near_duplicates(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    pairs, distances = near_pairs(profile, params)
    if len(pairs):
        different_files = ~profile.is_exact_pair(pairs)
        pairs, distances = pairs[different_files], distances[different_files]
    return pairs_result(
        "data.near_duplicates",
        profile,
        pairs,
        distances,
        params,
        what="of near-duplicate samples that are not exact copies",
        details=_near_details(profile, params),
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
    pairs, distances = duplicate_pairs(profile, params)
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
        details={**_near_details(profile, params), **(details or {})},
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

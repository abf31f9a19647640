"""Per-class property outliers by robust statistics (median and MAD, with fallbacks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Status
from dlqa.data import audio_rules
from dlqa.data.checks import image_samples
from dlqa.data.checks._common import (
    flagged_fraction_result,
    max_fraction_param,
    unlabelled_details,
)
from dlqa.data.context import DataProfile
from dlqa.data.modalities import modality_of

# Samples that per-sample checks report at their root (a black frame is data.dark's, a
# near-silent clip data.near_silent's): outliers leave them out rather than say it twice.
_CLAIMED_AT_ROOT: dict[str, Callable[[DataProfile], np.ndarray]] = {
    "image": image_samples.claimed_at_root,
    "audio": audio_rules.claimed_at_root,
}

# 0.6745 makes the MAD comparable to a standard deviation for normal data (Iglewicz-Hoaglin):
# sigma = MAD / 0.6745.
_MAD_TO_SIGMA = 0.6745
# For normal data the mean absolute deviation is sigma * sqrt(2 / pi): sigma = 1.2533 MeanAD.
_MEAN_AD_TO_SIGMA = 1.253314
# A spread this small relative to the median is floating-point noise, not spread.
_RELATIVE_NOISE = 1e-9


def robust_location_and_scale(values: np.ndarray, min_sigma: float = 0.0) -> tuple[float, float]:
    """The median of the finite ``values`` and a robust standard deviation: MAD / 0.6745.

    When more than half the values are identical the MAD is 0, which would hide a value far
    from all the others; the scale then falls back to the mean absolute deviation from the
    median (x 1.2533, Iglewicz and Hoaglin's recommendation), which is 0 only when every
    value is the median. The scale is never below ``min_sigma``; a scale that is only
    floating-point noise is 0 (no spread to judge against). (nan, 0) when no value is finite.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), 0.0
    median = float(np.median(finite))
    deviations = np.abs(finite - median)
    sigma = float(np.median(deviations)) / _MAD_TO_SIGMA
    if sigma == 0.0:
        sigma = _MEAN_AD_TO_SIGMA * float(deviations.mean())
    if sigma <= _RELATIVE_NOISE * max(1.0, abs(median)):
        sigma = 0.0
    return median, max(sigma, min_sigma)


def robust_z_scores(
    values: np.ndarray, min_sigma: float = 0.0, reference: np.ndarray | None = None
) -> np.ndarray:
    """(x - median) / robust sigma of each value, median and sigma taken from ``reference``
    (default: the values themselves; see :func:`robust_location_and_scale`); zeros where there
    is no spread to judge against, and for values that are not finite."""
    median, sigma = robust_location_and_scale(values if reference is None else reference, min_sigma)
    if sigma == 0.0:
        return np.zeros(values.shape, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        z = (values - median) / sigma
    return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)


def _class_members(codes: np.ndarray, decoded: np.ndarray, min_size: int) -> list[np.ndarray]:
    """Indices of the decoded samples of each labelled class (label code >= 0) that has at
    least ``min_size``."""
    keep = np.flatnonzero(decoded & (codes >= 0))
    if not len(keep):
        return []
    kept_codes = codes[keep]
    order = np.argsort(kept_codes, kind="stable")
    sizes = np.bincount(kept_codes)
    groups = np.split(keep[order], np.cumsum(sizes)[:-1])
    return [members for members in groups if len(members) >= min_size]


@register_check(
    "data.property_outliers",
    title="Per-class property outliers",
    description=(
        "Samples whose properties (images: brightness, contrast, entropy, colourfulness, "
        "sharpness, size, aspect ratio; audio: duration, level, peak; text: length) lie far "
        "from the rest of their class (robust z-score on median and MAD above "
        "`max_z`, the mean absolute deviation when most values are identical); classes "
        "smaller than `min_class_size` are not judged. Samples without a label are judged "
        "against the whole dataset."
    ),
    defaults={
        "max_z": Param(
            6.0, doc="robust z-score above which a sample is an outlier of its class", gt=0
        ),
        "min_class_size": Param(20, doc="classes with fewer decoded samples are not judged", ge=1),
        "max_fraction": max_fraction_param(
            0.01, "largest fraction of samples that may be outliers"
        ),
    },
    level="warn",
)
def check_property_outliers(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    worst_z = np.zeros(profile.n)
    worst_property = np.full(profile.n, -1, dtype=np.int8)  # index into the judged properties
    _, codes = profile.codes("label")
    modality = modality_of(profile)
    if not modality.outlier_properties:
        return CheckResult(
            "data.property_outliers",
            Status.SKIP,
            f"no property of {modality.name} samples is judged here (text length is "
            "data.extreme_length's)",
        )
    decoded = profile.decoded
    if modality.name in _CLAIMED_AT_ROOT:
        decoded = decoded & ~_CLAIMED_AT_ROOT[modality.name](profile)
    min_size = params["min_class_size"]
    classes = _class_members(codes, decoded, min_size)
    # A sample without a label has no class to compare with, but it must not escape the check
    # (a black frame in a flat folder of photos is exactly what a user wants to see): it is
    # judged against the whole dataset, the one group it does belong to. For a dataset with
    # no labels at all that makes the check a whole-dataset outlier search, which is what
    # such a dataset can be asked; labelled samples are still judged within their class.
    unlabelled = np.flatnonzero(decoded & (codes < 0))
    everyone = np.flatnonzero(decoded)
    if len(everyone) < min_size:
        unlabelled = unlabelled[:0]
    judged_properties = modality.outlier_properties
    names = list(judged_properties)

    def keep_worst(members: np.ndarray, z: np.ndarray, number: int) -> None:
        z = np.abs(z)
        worse = z > worst_z[members]
        worst_z[members[worse]] = z[worse]
        worst_property[members[worse]] = number

    for number, (name, scale) in enumerate(judged_properties.items()):
        min_sigma = scale.min_sigma
        values = profile.numbers(name)
        judged = np.log(np.fmax(values, 1e-6)) if scale.log_scale else values
        for members in classes:
            keep_worst(members, robust_z_scores(judged[members], min_sigma), number)
        if len(unlabelled):
            z = robust_z_scores(judged[unlabelled], min_sigma, reference=judged[everyone])
            keep_worst(unlabelled, z, number)
    mask = worst_z > params["max_z"]
    flagged = np.flatnonzero(mask)[np.argsort(-worst_z[mask], kind="stable")]
    # Only the flagged samples become Python objects: their property values and labels.
    flagged_values = {
        number: profile.numbers(names[number])[flagged]
        for number in np.unique(worst_property[flagged]).tolist()
    }
    labels = profile.labels.take(flagged)
    reasons = []
    for k in range(len(flagged)):
        number = int(worst_property[flagged[k]])
        value = flagged_values[number][k]
        group = "the dataset (no label)" if labels[k] is None else f"class {labels[k]!r}"
        reasons.append(f"{names[number]} {value:.3g} is unusual for {group}")
    no_labels = len(everyone) > 0 and not (codes[everyone] >= 0).any()
    if no_labels:
        what = "of the whole dataset (no sample has a label)"
    elif len(unlabelled):
        what = "of their class (samples without a label: of the whole dataset)"
    else:
        what = "of their class"
    return flagged_fraction_result(
        "data.property_outliers",
        profile,
        flagged,
        params,
        what=f"are outliers {what} (robust z above {params['max_z']:g})",
        values=worst_z[flagged],
        reasons=reasons,
        details={
            "grouping": "dataset" if no_labels else "class",
            "unlabelled": unlabelled_details(profile),
        },
    )

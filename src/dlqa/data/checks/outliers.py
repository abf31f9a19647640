"""Per-class property outliers by robust statistics (median and MAD)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult
from dlqa.data.checks._common import flagged_fraction_result, max_fraction_param
from dlqa.data.context import DataProfile

# Properties judged on a log scale: they span orders of magnitude and are skewed.
OUTLIER_PROPERTIES = {
    "brightness": False,
    "contrast": False,
    "entropy": False,
    "colorfulness": False,
    "sharpness": True,
    "width": True,
    "height": True,
    "aspect_ratio": True,
}
# 0.6745 makes the MAD comparable to a standard deviation for normal data (Iglewicz-Hoaglin).
_MAD_TO_SIGMA = 0.6745


def robust_z_scores(values: np.ndarray) -> np.ndarray:
    """0.6745 (x - median) / MAD; zeros where the MAD is zero (no spread to judge against)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros_like(values)
    median = np.median(finite)
    mad = np.median(np.abs(finite - median))
    if mad == 0:
        return np.zeros_like(values)
    with np.errstate(invalid="ignore"):
        z = _MAD_TO_SIGMA * (values - median) / mad
    return np.nan_to_num(z, nan=0.0)


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
        "Samples whose brightness, contrast, entropy, colourfulness, sharpness, size or aspect "
        "ratio lies far from the rest of their class (robust z-score on median and MAD above "
        "`max_z`); classes smaller than `min_class_size` are not judged."
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
    worst_property = np.full(profile.n, -1, dtype=np.int8)  # index into OUTLIER_PROPERTIES
    _, codes = profile.codes("label")
    classes = _class_members(codes, profile.decoded, params["min_class_size"])
    names = list(OUTLIER_PROPERTIES)
    for number, (name, log_scale) in enumerate(OUTLIER_PROPERTIES.items()):
        values = profile.numbers(name)
        judged = np.log(np.fmax(values, 1e-6)) if log_scale else values
        for members in classes:
            z = np.abs(robust_z_scores(judged[members]))
            worse = z > worst_z[members]
            worst_z[members[worse]] = z[worse]
            worst_property[members[worse]] = number
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
        reasons.append(f"{names[number]} {value:.3g} is unusual for class {labels[k]!r}")
    return flagged_fraction_result(
        "data.property_outliers",
        profile,
        flagged,
        params,
        what=f"are outliers of their class (robust z above {params['max_z']:g})",
        values=worst_z[flagged],
        reasons=reasons,
    )

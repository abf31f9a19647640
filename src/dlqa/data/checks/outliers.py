"""Per-class property outliers by robust statistics (median and MAD)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult
from dlqa.data.checks._common import flagged_fraction_result
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


def _class_members(labels: np.ndarray, decoded: np.ndarray, min_size: int) -> list[np.ndarray]:
    """Indices of the decoded samples of each labelled class that has at least ``min_size``."""
    keep = np.flatnonzero(decoded & np.array([lab is not None for lab in labels], dtype=bool))
    if not len(keep):
        return []
    names, codes = np.unique(labels[keep].astype(str), return_inverse=True)
    order = np.argsort(codes, kind="stable")
    groups = np.split(keep[order], np.cumsum(np.bincount(codes, minlength=len(names)))[:-1])
    return [members for members in groups if len(members) >= min_size]


@register_check(
    "data.property_outliers",
    title="Per-class property outliers",
    description=(
        "Samples whose brightness, contrast, entropy, colourfulness, sharpness, size or aspect "
        "ratio lies far from the rest of their class (robust z-score on median and MAD above "
        "`max_z`); classes smaller than `min_class_size` are not judged."
    ),
    defaults={"max_z": 6.0, "min_class_size": 20, "max_fraction": 0.01},
    param_docs={
        "max_z": "robust z-score above which a sample is an outlier of its class",
        "min_class_size": "classes with fewer decoded samples are not judged",
        "max_fraction": "largest fraction of samples that may be outliers",
    },
    level="warn",
)
def check_property_outliers(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    worst_z = np.zeros(profile.n)
    worst_property = np.empty(profile.n, dtype=object)
    labels = profile.labels
    classes = _class_members(labels, profile.decoded, params["min_class_size"])
    columns = {}
    for name, log_scale in OUTLIER_PROPERTIES.items():
        values = profile.numbers(name)
        columns[name] = values
        judged = np.log(np.fmax(values, 1e-6)) if log_scale else values
        for members in classes:
            z = np.abs(robust_z_scores(judged[members]))
            worse = z > worst_z[members]
            worst_z[members[worse]] = z[worse]
            worst_property[members[worse]] = name
    mask = worst_z > params["max_z"]
    flagged = np.flatnonzero(mask)[np.argsort(-worst_z[mask], kind="stable")]
    reasons = []
    for i in flagged:
        name = worst_property[i]
        reasons.append(f"{name} {columns[name][i]:.3g} is unusual for class {labels[i]!r}")
    return flagged_fraction_result(
        "data.property_outliers",
        profile,
        flagged,
        params,
        what=f"are outliers of their class (robust z above {params['max_z']:g})",
        values=worst_z[flagged],
        reasons=reasons,
    )

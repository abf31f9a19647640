"""Image checks judged against the dataset itself: grayscale content stored in colour, images
stored in the minority channel mode, and sizes far from the dataset's own."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult
from dlqa.data.checks._common import flagged_fraction_result, max_fraction_param, percent
from dlqa.data.checks.image_samples import column_or_nan, ranked
from dlqa.data.context import DataProfile

_MAX_FRACTION = max_fraction_param(0.0)


@register_check(
    "data.grayscale",
    title="Colour images that are effectively grayscale",
    description=(
        "Stored with colour channels, but nearly all pixels are gray: the 99th percentile of "
        "the per-pixel channel spread is within a few levels (a red ball on gray is colour)."
    ),
    defaults={"max_fraction": _MAX_FRACTION},
    level="warn",
    modalities=("image",),
)
def check_grayscale(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    chroma = column_or_nan(profile, "chroma_p99")
    # a profile written before chroma_p99 existed ranks on the mean it has
    values = np.where(np.isnan(chroma), profile.numbers("colorfulness"), chroma)
    flagged = ranked(values, profile.flags("is_grayscale") & profile.decoded, descending=False)
    modes = profile.strings("mode").take(flagged)
    reasons = [
        f"{mode} image, 99 % of its pixels within {values[i]:.0f} levels of gray"
        for mode, i in zip(modes, flagged, strict=True)
    ]
    return flagged_fraction_result(
        "data.grayscale",
        profile,
        flagged,
        params,
        what="are stored in colour but are effectively grayscale",
        values=values[flagged],
        reasons=reasons,
    )


# Pillow modes that store one gray channel (with or without alpha); every other mode (RGB,
# RGBA, P, CMYK, YCbCr, ...) can hold colour.
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "F"})


def is_gray_mode(mode: str) -> bool:
    return mode in _GRAY_MODES or mode == "I" or mode.startswith("I;")


@register_check(
    "data.channel_mode",
    title="Channel mode differs from the rest of the dataset",
    description=(
        "1-channel (gray) images in a dataset stored mostly in colour, or colour images in a "
        "mostly gray one: the minority is named (a loader that does not convert gets tensors "
        "of two shapes). A dataset stored in one mode passes."
    ),
    defaults={"max_fraction": _MAX_FRACTION},
    level="warn",
    modalities=("image",),
)
def check_channel_mode(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    modes = profile.strings("mode")
    decoded = profile.decoded
    gray = np.array([mode is not None and is_gray_mode(mode) for mode in modes], dtype=bool)
    gray &= decoded
    colour = decoded & ~gray
    n_gray, n_colour = int(gray.sum()), int(colour.sum())
    minority, majority_name = (gray, "colour") if n_gray <= n_colour else (colour, "gray")
    if not (n_gray and n_colour):
        minority = np.zeros(profile.n, dtype=bool)
    flagged = np.flatnonzero(minority)
    share = max(n_gray, n_colour) / max(n_gray + n_colour, 1)
    kind = "gray (1-channel)" if majority_name == "colour" else "colour"
    reasons = [
        f"{mode} {kind} image in a dataset that is {percent(share)} {majority_name}"
        for mode in modes.take(flagged)
    ]
    return flagged_fraction_result(
        "data.channel_mode",
        profile,
        flagged,
        params,
        what=f"are stored {kind} while the dataset is mostly {majority_name}",
        reasons=reasons,
        details={"gray_images": n_gray, "colour_images": n_colour},
    )


def _robust_scale(values: np.ndarray) -> tuple[float, float]:
    """Median and 1.4826 x MAD (the standard deviation for normal data) of finite values."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return float("nan"), float("nan")
    median = float(np.median(finite))
    return median, 1.4826 * float(np.median(np.abs(finite - median)))


def _beyond(deviation: np.ndarray, scale: float, max_z: float, min_factor: float) -> np.ndarray:
    """Deviations (in log units) past both max_z robust deviations and a factor of min_factor:
    the factor is the floor that keeps a dataset of one size (scale 0) from flagging a pixel's
    difference, the z what keeps a dataset of many sizes from flagging its own spread."""
    with np.errstate(invalid="ignore"):
        return deviation > max(max_z * scale, float(np.log(min_factor)))


@register_check(
    "data.odd_size",
    title="Odd image size",
    description=(
        "Shorter side far below the dataset's median, or elongation (long/short) far from "
        "the dataset's median: more than `max_z` robust deviations (on a log scale) and more "
        "than `min_factor` (`min_aspect_factor`) times. A 30 px image among 800 px photographs "
        "is odd, a 28 px digit among 28 px digits is not; images larger than typical are "
        "not (they are reduced). `min_side` and `max_aspect` are absolute limits on top."
    ),
    defaults={
        "max_z": Param(5.0, doc="robust z (median/MAD of log sizes) beyond which a size is odd",
                       gt=0),
        "min_factor": Param(
            3.0, doc="and at least this many times smaller than the median shorter side", ge=1
        ),
        "min_aspect_factor": Param(
            2.0, doc="and an elongation at least this many times off the median's", ge=1
        ),
        "min_side": Param(1, doc="shorter side below this is odd in any dataset (1: off)", ge=1),
        "max_aspect": Param(
            100.0, doc="long/short above this is odd in any dataset (100: practically off)", ge=1
        ),
        "max_fraction": _MAX_FRACTION,
    },
    level="warn",
    modalities=("image",),
)  # fmt: skip
def check_odd_size(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    width, height = profile.numbers("width"), profile.numbers("height")
    decoded = profile.decoded & np.isfinite(width) & np.isfinite(height)
    short, long = np.fmin(width, height), np.fmax(width, height)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_short = np.where(decoded & (short > 0), np.log(short), np.nan)
        log_aspect = np.where(decoded & (short > 0), np.log(long / short), np.nan)
    side_median, side_scale = _robust_scale(log_short)
    aspect_median, aspect_scale = _robust_scale(log_aspect)
    small = _beyond(side_median - log_short, side_scale, params["max_z"], params["min_factor"])
    elongated = _beyond(
        np.abs(log_aspect - aspect_median), aspect_scale, params["max_z"],
        params["min_aspect_factor"],
    )  # fmt: skip
    with np.errstate(invalid="ignore"):
        absolute = (short < params["min_side"]) | (long / short > params["max_aspect"])
    mask = decoded & (small | elongated | absolute)
    # Worst first: the farthest from the dataset's median, in log units.
    severity = np.fmax(side_median - log_short, np.abs(log_aspect - aspect_median))
    flagged = ranked(severity, mask, descending=True)
    typical_side, typical_aspect = np.exp(side_median), np.exp(aspect_median)
    reasons = [
        f"{int(width[i])}x{int(height[i])}: shorter side {int(short[i])} px, elongation "
        f"{long[i] / short[i]:.2f} (dataset median {typical_side:.0f} px, {typical_aspect:.2f})"
        for i in flagged
    ]
    return flagged_fraction_result(
        "data.odd_size",
        profile,
        flagged,
        params,
        what=(
            f"have an odd size for this dataset (median shorter side {typical_side:.0f} px, "
            f"elongation {typical_aspect:.2f})"
        ),
        values=(long / short)[flagged],
        reasons=reasons,
        details={
            "median_short_side": round(float(typical_side), 2),
            "median_elongation": round(float(typical_aspect), 4),
        },
    )

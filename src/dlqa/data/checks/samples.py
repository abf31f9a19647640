"""Per-sample checks: each flags samples whose probed property crosses a threshold."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.checks._common import flagged_fraction_result, max_fraction_param
from dlqa.data.columns import PROBE_ERROR
from dlqa.data.context import DataProfile

_MAX_FRACTION = max_fraction_param(0.0)


def _ranked(values: np.ndarray, mask: np.ndarray, *, descending: bool) -> np.ndarray:
    flagged = np.flatnonzero(mask)
    order = np.argsort(-values[flagged] if descending else values[flagged], kind="stable")
    return flagged[order]


@register_check(
    "data.unreadable",
    title="Unreadable, empty, truncated or corrupt files",
    description="Files that cannot be decoded: empty, truncated, corrupt or unreadable.",
    defaults={"max_fraction": _MAX_FRACTION},
)
def check_unreadable(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    flagged = np.flatnonzero(~profile.decoded)
    errors = profile.strings("error").take(flagged)
    details = profile.strings("error_detail").take(flagged)
    bugs = [k for k, error in enumerate(errors) if error == PROBE_ERROR]
    if bugs:
        return _probe_bug_result(profile, flagged[bugs], [details[k] for k in bugs])
    reasons = [
        f"{error}: {detail}" if detail else str(error)
        for error, detail in zip(errors, details, strict=True)
    ]
    kinds: dict[str, int] = {}
    for error in errors:
        kinds[error] = kinds.get(error, 0) + 1
    return flagged_fraction_result(
        "data.unreadable",
        profile,
        flagged,
        params,
        what="cannot be decoded",
        reasons=reasons,
        details={"by_kind": kinds},
    )


@register_check(
    "data.format_mismatch",
    title="File format differs from its extension",
    description="The magic bytes say one format and the extension another (a PNG named .jpg).",
    defaults={"max_fraction": _MAX_FRACTION},
)
def check_format_mismatch(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    flagged = np.flatnonzero(profile.flags("format_mismatch"))
    actual = profile.strings("actual_format").take(flagged)
    claimed = profile.strings("ext_format").take(flagged)
    ids = profile.ids.take(flagged)
    reasons = [
        f"{str(actual[k]).upper()} content in a {PurePosixPath(ids[k]).suffix or claimed[k]} file"
        for k in range(len(flagged))
    ]
    return flagged_fraction_result(
        "data.format_mismatch",
        profile,
        flagged,
        params,
        what="have content in another format than their extension says",
        reasons=reasons,
    )


def _threshold_check(
    check_id: str,
    profile: DataProfile,
    params: dict[str, Any],
    *,
    column: str,
    limit_key: str,
    below: bool,
    what: str,
) -> CheckResult:
    values = profile.numbers(column)
    limit = float(params[limit_key])
    with np.errstate(invalid="ignore"):
        mask = (values < limit) if below else (values > limit)
    mask &= profile.decoded
    flagged = _ranked(values, mask, descending=not below)
    sign = "<" if below else ">"
    reasons = [f"{column} {values[i]:.1f} {sign} {limit:g}" for i in flagged]
    return flagged_fraction_result(
        check_id,
        profile,
        flagged,
        params,
        what=what.format(limit=limit),
        values=values[flagged],
        reasons=reasons,
        details={limit_key: limit},
    )


@dataclass(frozen=True)
class _ThresholdCheck:
    """A check that flags samples whose probed ``column`` is below (or above) a limit."""

    check_id: str
    title: str
    description: str
    column: str
    limit_key: str
    limit: float
    below: bool
    limit_doc: str
    what: str
    low: float  # the measurable range of the column: the limit must lie inside it
    high: float

    def __call__(self, profile: DataProfile, params: dict[str, Any]) -> CheckResult:
        return _threshold_check(
            self.check_id,
            profile,
            params,
            column=self.column,
            limit_key=self.limit_key,
            below=self.below,
            what=self.what,
        )


_THRESHOLD_CHECKS = (
    _ThresholdCheck(
        "data.dark", "Too dark", "Mean luma (0-255) below `max_brightness`.",
        "brightness", "max_brightness", 30.0, True,
        "mean luma below this is too dark", "are too dark (mean luma below {limit:g})",
        0.0, 255.0,
    ),
    _ThresholdCheck(
        "data.bright", "Too bright", "Mean luma (0-255) above `min_brightness`.",
        "brightness", "min_brightness", 225.0, False,
        "mean luma above this is too bright", "are too bright (mean luma above {limit:g})",
        0.0, 255.0,
    ),
    _ThresholdCheck(
        "data.low_contrast", "Low contrast",
        "Standard deviation of luma (0-255) below `min_contrast`.",
        "contrast", "min_contrast", 10.0, True,
        "luma standard deviation below this is low contrast",
        "have low contrast (luma std below {limit:g})",
        0.0, 127.5,  # half the levels black and half white
    ),
    _ThresholdCheck(
        "data.blurry", "Blurry",
        "Variance of the Laplacian of luma at the working size below `min_sharpness`.",
        "sharpness", "min_sharpness", 20.0, True,
        "Laplacian variance below this is blurry",
        "are blurry (Laplacian variance below {limit:g})",
        0.0, 1020.0**2,  # the 4-neighbour Laplacian of 0..255 pixels spans -1020..1020
    ),
    _ThresholdCheck(
        "data.low_information", "Low information",
        "Entropy of the luma histogram (bits, 0-8) below `min_entropy`: blank or flat images.",
        "entropy", "min_entropy", 2.0, True,
        "histogram entropy in bits below this is low information",
        "carry little information (entropy below {limit:g} bits)",
        0.0, 8.0,
    ),
)  # fmt: skip

for _check in _THRESHOLD_CHECKS:
    register_check(
        _check.check_id,
        title=_check.title,
        description=_check.description,
        defaults={
            _check.limit_key: Param(
                _check.limit, doc=_check.limit_doc, ge=_check.low, le=_check.high
            ),
            "max_fraction": _MAX_FRACTION,
        },
        level="warn",
        modalities=("image",),
    )(_check)


@register_check(
    "data.grayscale",
    title="Colour images that are effectively grayscale",
    description="Stored with colour channels, but the channels are (almost) equal.",
    defaults={"max_fraction": _MAX_FRACTION},
    level="warn",
    modalities=("image",),
)
def check_grayscale(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    colorfulness = profile.numbers("colorfulness")
    flagged = _ranked(colorfulness, profile.flags("is_grayscale"), descending=False)
    modes = profile.strings("mode").take(flagged)
    reasons = [
        f"{mode} image with colourfulness {colorfulness[i]:.2f}"
        for mode, i in zip(modes, flagged, strict=True)
    ]
    return flagged_fraction_result(
        "data.grayscale",
        profile,
        flagged,
        params,
        what="are stored in colour but are effectively grayscale",
        values=colorfulness[flagged],
        reasons=reasons,
    )


@register_check(
    "data.odd_size",
    title="Odd image size",
    description=(
        "Shorter side below `min_side` pixels or aspect ratio (long/short) above `max_aspect`."
    ),
    defaults={
        "min_side": Param(32, doc="smallest acceptable shorter side, in pixels", ge=1),
        "max_aspect": Param(
            4.0, doc="largest acceptable ratio of the long side to the short side", ge=1
        ),
        "max_fraction": _MAX_FRACTION,
    },
    level="warn",
    modalities=("image",),
)
def check_odd_size(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    width, height = profile.numbers("width"), profile.numbers("height")
    short, long = np.fmin(width, height), np.fmax(width, height)
    with np.errstate(invalid="ignore", divide="ignore"):
        aspect = long / short
        mask = profile.decoded & ((short < params["min_side"]) | (aspect > params["max_aspect"]))
    # Worst first: the smallest side relative to the limit, or the most elongated.
    severity = np.fmax(params["min_side"] / np.fmax(short, 1), aspect / params["max_aspect"])
    flagged = _ranked(severity, mask, descending=True)
    reasons = [f"{int(width[i])}x{int(height[i])}" for i in flagged]
    return flagged_fraction_result(
        "data.odd_size",
        profile,
        flagged,
        params,
        what=(
            f"have an odd size (side < {params['min_side']} px "
            f"or aspect > {params['max_aspect']:g})"
        ),
        values=aspect[flagged],
        reasons=reasons,
    )


def _probe_bug_result(profile: DataProfile, rows: np.ndarray, details: list[str]) -> CheckResult:
    """dlqa's probe crashed on some samples: an ``error`` that names the bug, never a finding
    about the user's files (which were not judged)."""
    first = details[0]
    return CheckResult(
        "data.unreadable",
        Status.ERROR,
        f"dlqa's probe crashed on {len(rows)} of {profile.n} samples, a bug in dlqa, not in "
        f"these files: {first}",
        evidence=[
            Evidence(
                "samples",
                [
                    {"id": sid, "reason": detail}
                    for sid, detail in zip(profile.ids.take(rows), details, strict=True)
                ],
                len(rows),
                "samples the probe could not judge",
            )
        ],
        details={"probe_errors": len(rows), "first": first},
    )

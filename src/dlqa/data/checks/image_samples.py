"""Per-image checks: exposure, contrast, focus and blank frames (each sample reported under
its root cause), grayscale content, channel mode and size judged against the dataset.

Root causes, in precedence order (``ROOT_CAUSES``): **dark, bright, low_information (blank),
low_contrast, blurry**. A sample is reported by the first check in that order whose rule it
meets, and by no later one: a black frame is dark (not also blank, low-contrast or blurry), a
white one bright, a uniform gray one blank, a foggy photo low-contrast (not blurry). The
earlier checks' rules are applied with their default limits when a later check excludes a
sample, so a gate that changes one check's limits does not change what the others report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult
from dlqa.data.checks._common import flagged_fraction_result, max_fraction_param
from dlqa.data.context import DataProfile

_MAX_FRACTION = max_fraction_param(0.0)


def ranked(values: np.ndarray, mask: np.ndarray, *, descending: bool) -> np.ndarray:
    """Indices of the flagged samples, worst first (NaN values last)."""
    flagged = np.flatnonzero(mask)
    order = np.argsort(-values[flagged] if descending else values[flagged], kind="stable")
    return flagged[order]


def column_or_nan(profile: DataProfile, name: str) -> np.ndarray:
    """A numeric column, or NaN everywhere for a profile written before the column existed
    (rules then fall back on the columns they still have)."""
    if profile.has_column(name):
        return profile.numbers(name)
    return np.full(profile.n, np.nan)


def _below(values: np.ndarray, limit: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return values < limit


def _not_above(values: np.ndarray, limit: float) -> np.ndarray:
    """values <= limit, and True where unknown (an older profile): the other rule decides."""
    with np.errstate(invalid="ignore"):
        return ~(values > limit)


def _not_below(values: np.ndarray, limit: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return ~(values < limit)


@dataclass(frozen=True)
class _Cause:
    """One root cause: its rule on the probed columns, its parameters and its wording."""

    check_id: str
    title: str
    description: str
    params: dict[str, Param]
    rank_column: str  # the value shown and ranked on
    worst_low: bool  # True: the lowest value is the worst
    what: str  # "... samples {what}", formatted with the parameters
    rule: Callable[[DataProfile, dict[str, Any]], np.ndarray]
    reason: Callable[[dict[str, np.ndarray], int], str]

    @property
    def defaults(self) -> dict[str, Any]:
        return {name: param.default for name, param in self.params.items()}


def _dark(profile: DataProfile, params: dict[str, Any]) -> np.ndarray:
    # The mean alone would call a night sky with a bright moon dark; the highlights say
    # whether anything in the picture is lit. 64 mirrors the bright rule's 192 (a quarter of
    # the range from each end); a photo at a quarter of its exposure keeps its top 1 % below.
    return _below(profile.numbers("brightness"), params["max_brightness"]) & _not_above(
        column_or_nan(profile, "luma_p99"), params["max_highlight"]
    )


def _bright(profile: DataProfile, params: dict[str, Any]) -> np.ndarray:
    # An icon, a plot or a product shot on white has a high mean luma but darker content: only
    # when even the darkest 1 % is light gray is the picture washed out. Chosen on the tune half
    # of the natural set (benchmarks/false_alarms.py): faint icons on white (darkest 1 % at
    # 199-233) are flagged, icons with mid-gray outlines (50-176) and plots (113-167) are not.
    with np.errstate(invalid="ignore"):
        high = profile.numbers("brightness") > params["min_brightness"]
    return high & _not_below(column_or_nan(profile, "luma_p01"), params["min_shadow"])


def _blank(profile: DataProfile, params: dict[str, Any]) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        share = column_or_nan(profile, "dominant_share") >= params["blank_share"]
    return share | _below(profile.numbers("entropy"), params["min_entropy"])


def _low_contrast(profile: DataProfile, params: dict[str, Any]) -> np.ndarray:
    return _below(profile.numbers("contrast"), params["min_contrast"])


def _blurry(profile: DataProfile, params: dict[str, Any]) -> np.ndarray:
    relative = column_or_nan(profile, "relative_sharpness")
    return _below(relative, params["min_relative_sharpness"]) | _below(
        profile.numbers("sharpness"), params["min_sharpness"]
    )


def _columns(profile: DataProfile, *names: str) -> dict[str, np.ndarray]:
    return {name: column_or_nan(profile, name) for name in names}


ROOT_CAUSES: tuple[_Cause, ...] = (
    _Cause(
        "data.dark", "Too dark",
        "Mean luma (0-255) below `max_brightness` while even the brightest 1 % of pixels stay "
        "below `max_highlight` (a night sky with a lit moon passes). Reported before every "
        "other exposure or focus finding.",
        {
            "max_brightness": Param(30.0, doc="mean luma below this is dark", ge=0, le=255),
            "max_highlight": Param(
                64.0, doc="and the 99th percentile of luma below this (255 ignores it)",
                ge=0, le=255,
            ),
        },
        "brightness", True, "are too dark (mean luma below {max_brightness:g})", _dark,
        lambda c, i: f"mean luma {c['brightness'][i]:.1f}, brightest 1 % "
        f"from {c['luma_p99'][i]:.0f}",
    ),
    _Cause(
        "data.bright", "Too bright",
        "Mean luma (0-255) above `min_brightness` while even the darkest 1 % of pixels stay "
        "above `min_shadow`: washed out (an icon or a plot on white has darker content and "
        "passes).",
        {
            "min_brightness": Param(225.0, doc="mean luma above this is bright", ge=0, le=255),
            "min_shadow": Param(
                192.0, doc="and the 1st percentile of luma above this (0 ignores it)",
                ge=0, le=255,
            ),
        },
        "brightness", False, "are too bright (mean luma above {min_brightness:g})", _bright,
        lambda c, i: f"mean luma {c['brightness'][i]:.1f}, darkest 1 % "
        f"from {c['luma_p01'][i]:.0f}",
    ),
    _Cause(
        "data.low_information", "Blank (low information)",
        "At least `blank_share` of the pixels lie in one band of 17 luma levels: a blank or "
        "flat frame (a glyph on white, a sparse line drawing pass). Histogram entropy below "
        "`min_entropy` bits counts too (0 turns it off).",
        {
            "blank_share": Param(
                0.99, doc="share of pixels in one 17-level luma band that makes a frame blank",
                ge=0.0, le=1.0,
            ),
            "min_entropy": Param(
                0.0, doc="histogram entropy in bits below this is blank too (0: off)",
                ge=0.0, le=8.0,
            ),
        },
        "dominant_share", False, "are blank (nearly every pixel the same level)", _blank,
        lambda c, i: f"{100 * c['dominant_share'][i]:.1f} % of pixels in one band, "
        f"entropy {c['entropy'][i]:.2f} bits",
    ),
    _Cause(
        "data.low_contrast", "Low contrast",
        "Standard deviation of luma (0-255) below `min_contrast`, in an image that is not "
        "dark, bright or blank.",
        {
            "min_contrast": Param(
                10.0, doc="luma standard deviation below this is low contrast", ge=0, le=127.5
            ),
        },
        "contrast", True, "have low contrast (luma std below {min_contrast:g})", _low_contrast,
        lambda c, i: f"luma std {c['contrast'][i]:.1f}",
    ),
    _Cause(
        "data.blurry", "Blurry",
        "Relative sharpness (Laplacian variance at the working size over that at half size: "
        "focus, whatever the contrast) below `min_relative_sharpness`, in an image that is not "
        "dark, bright, blank or low-contrast. Images under 32 px, or with no structure to "
        "judge, are not judged.",
        {
            "min_relative_sharpness": Param(
                0.13,
                doc="relative sharpness below this is blurry (a step edge ~0.5, a blur of "
                "sigma 1.5 working pixels ~0.1)",
                ge=0.0, le=16.0,
            ),
            "min_sharpness": Param(
                0.0, doc="absolute Laplacian variance below this is blurry too (0: off)",
                ge=0.0, le=1020.0**2,
            ),
        },
        "relative_sharpness", True, "are blurry (relative sharpness below "
        "{min_relative_sharpness:g})", _blurry,
        lambda c, i: f"relative sharpness {c['relative_sharpness'][i]:.3f}, Laplacian "
        f"variance {c['sharpness'][i]:.1f}",
    ),
)  # fmt: skip

_REASON_COLUMNS = (
    "brightness", "luma_p01", "luma_p99", "dominant_share", "entropy", "contrast",
    "relative_sharpness", "sharpness",
)  # fmt: skip


def root_cause_mask(profile: DataProfile, check_id: str, params: dict[str, Any]) -> np.ndarray:
    """Decoded samples that meet ``check_id``'s rule and no earlier root cause's (defaults)."""
    mask = profile.decoded.copy()
    for cause in ROOT_CAUSES:
        if cause.check_id == check_id:
            return mask & cause.rule(profile, params)
        mask &= ~cause.rule(profile, cause.defaults)
    raise KeyError(check_id)


def claimed_at_root(profile: DataProfile) -> np.ndarray:
    """Decoded images that one of the root-cause checks reports by its default rule (dark,
    bright, blank, low contrast, blurry)."""
    claimed = np.zeros(profile.n, dtype=bool)
    for cause in ROOT_CAUSES:
        claimed |= cause.rule(profile, cause.defaults)
    return claimed & profile.decoded


def _cause_check(cause: _Cause) -> Callable[[DataProfile, dict[str, Any]], CheckResult]:
    def check(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
        mask = root_cause_mask(profile, cause.check_id, params)
        columns = _columns(profile, *_REASON_COLUMNS)
        values = columns[cause.rank_column]
        flagged = ranked(values, mask, descending=not cause.worst_low)
        limits = {name: params[name] for name in cause.params}
        return flagged_fraction_result(
            cause.check_id,
            profile,
            flagged,
            params,
            what=cause.what.format(**limits),
            values=values[flagged],
            reasons=[cause.reason(columns, i) for i in flagged],
            details=limits,
        )

    return check


for _cause in ROOT_CAUSES:
    register_check(
        _cause.check_id,
        title=_cause.title,
        description=_cause.description,
        defaults={**_cause.params, "max_fraction": _MAX_FRACTION},
        level="warn",
        modalities=("image",),
    )(_cause_check(_cause))

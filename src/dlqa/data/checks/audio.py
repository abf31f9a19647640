"""Audio checks: near-silent, truncated, clipped clips, DC offset, mixed sample rates or
channel counts, and clips whose duration is unusual for their class.

Clips that did not decode are ``data.unreadable``'s; these checks judge the others.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult
from dlqa.data.audio_rules import (
    CLIPPED_FRACTION,
    NEAR_SILENT_PEAK_DBFS,
    NEAR_SILENT_RMS_DBFS,
    clipped_mask,
    near_silent_mask,
)
from dlqa.data.checks._common import flagged_fraction_result, max_fraction_param
from dlqa.data.checks.outliers import _class_members, robust_z_scores
from dlqa.data.context import DataProfile
from dlqa.data.probes.audio import (
    CLIP_MIN_RUN,
    LEVEL_FLOOR_DBFS,
    TRUNCATION_EDGE_DB,
)

_MAX_FRACTION = max_fraction_param(0.0)
_AUDIO = ("audio",)
_DBFS_RANGE = {"ge": LEVEL_FLOOR_DBFS, "le": 0.0}


def _ranked(severity: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Flagged rows, the most severe first."""
    flagged = np.flatnonzero(mask)
    return flagged[np.argsort(-severity[flagged], kind="stable")]


@register_check(
    "data.near_silent",
    title="Near-silent clips",
    description=(
        "Clips whose loudest second has an RMS level below `max_rms_dbfs`, or whose peak is "
        "below `max_peak_dbfs`: nothing, or almost nothing, to hear (a clip shorter than a "
        "second is judged on its whole RMS)."
    ),
    defaults={
        "max_rms_dbfs": Param(
            NEAR_SILENT_RMS_DBFS,
            doc="RMS of the loudest second (dBFS) below which a clip is near-silent",
            **_DBFS_RANGE,
        ),
        "max_peak_dbfs": Param(
            NEAR_SILENT_PEAK_DBFS,
            doc="peak level (dBFS) below which a clip is near-silent",
            **_DBFS_RANGE,
        ),
        "max_fraction": _MAX_FRACTION,
    },
    level="warn",
    modalities=_AUDIO,
)
def check_near_silent(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    loudest, peak = profile.numbers("loudest_window_dbfs"), profile.numbers("peak_dbfs")
    rms_limit, peak_limit = float(params["max_rms_dbfs"]), float(params["max_peak_dbfs"])
    mask = near_silent_mask(profile, rms_limit, peak_limit)
    flagged = _ranked(-peak, mask)  # the quietest first
    reasons = [
        f"loudest second {loudest[i]:.1f} dBFS RMS, peak {peak[i]:.1f} dBFS" for i in flagged
    ]
    return flagged_fraction_result(
        "data.near_silent",
        profile,
        flagged,
        params,
        what=(
            f"are near-silent (loudest second below {rms_limit:g} dBFS RMS or peak below "
            f"{peak_limit:g} dBFS)"
        ),
        values=peak[flagged],
        reasons=reasons,
        details={"max_rms_dbfs": rms_limit, "max_peak_dbfs": peak_limit},
    )


@register_check(
    "data.truncated",
    title="Clips cut off mid-sound",
    description=(
        "Clips whose first or last 5 ms are still within "
        f"{-TRUNCATION_EDGE_DB:g} dB of their active level (sound cut mid-word or mid-cycle), "
        "where a natural ending fades out or falls silent (a fade of 30 ms or more passes)."
    ),
    defaults={"max_fraction": _MAX_FRACTION},
    level="warn",
    modalities=_AUDIO,
)
def check_truncated(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    cut = profile.column("truncated").is_valid().to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(cut & profile.decoded)
    where = profile.strings("truncated").take(rows)
    start, end = profile.numbers("start_edge_db"), profile.numbers("end_edge_db")
    edges = [
        {"start": [("start", start[i])], "end": [("end", end[i])]}.get(
            edge, [("start", start[i]), ("end", end[i])]
        )
        for i, edge in zip(rows, where, strict=True)
    ]
    # The loudest cut edge first: the most abrupt cut.
    worst = np.array([max(level for _, level in levels) for levels in edges])
    order = np.argsort(-worst, kind="stable")
    reasons = [
        f"cut at the {where[k]}: edge level "
        + ", ".join(f"{name} {level:+.1f} dB" for name, level in edges[k])
        + " against the clip's active level"
        for k in order
    ]
    return flagged_fraction_result(
        "data.truncated",
        profile,
        rows[order],
        params,
        what="are cut off mid-sound at the start or end",
        values=worst[order],
        reasons=reasons,
        details={"by_edge": dict(Counter(where)), "edge_db": TRUNCATION_EDGE_DB},
    )


@register_check(
    "data.clipped",
    title="Clipped clips",
    description=(
        f"Clips with more than `max_clipped_fraction` of their samples in runs of {CLIP_MIN_RUN} "
        "or more consecutive samples at full scale: a waveform flattened against the rails "
        "(a single peak that touches full scale is not clipping)."
    ),
    defaults={
        "max_clipped_fraction": Param(
            CLIPPED_FRACTION,
            doc="largest fraction of a clip's samples that may lie in clipped runs",
            ge=0.0,
            le=1.0,
        ),
        "max_fraction": _MAX_FRACTION,
    },
    level="warn",
    modalities=_AUDIO,
)
def check_clipped(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    fraction, runs = profile.numbers("clipped_fraction"), profile.numbers("clipped_runs")
    limit = float(params["max_clipped_fraction"])
    mask = clipped_mask(profile, limit)
    flagged = _ranked(fraction, mask)
    reasons = [
        f"{100 * fraction[i]:.2f}% of samples clipped, in {int(runs[i])} runs" for i in flagged
    ]
    return flagged_fraction_result(
        "data.clipped",
        profile,
        flagged,
        params,
        what=f"are clipped (more than {100 * limit:g}% of samples in clipped runs)",
        values=fraction[flagged],
        reasons=reasons,
        details={"max_clipped_fraction": limit},
    )


@register_check(
    "data.dc_offset",
    title="DC offset",
    description=(
        "Clips whose mean sample value (in the channel where it is largest) is further from "
        "0 than `max_dc_offset` of full scale: a recording chain that shifts the waveform, "
        "which wastes headroom and clicks at edits."
    ),
    defaults={
        "max_dc_offset": Param(
            0.01,
            doc="largest |mean sample value| as a fraction of full scale (0.01 = -40 dBFS)",
            ge=0.0,
            le=1.0,
        ),
        "max_fraction": _MAX_FRACTION,
    },
    level="warn",
    modalities=_AUDIO,
)
def check_dc_offset(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    offset = profile.numbers("dc_offset")
    limit = float(params["max_dc_offset"])
    with np.errstate(invalid="ignore"):
        mask = profile.decoded & (np.abs(offset) > limit)
    flagged = _ranked(np.abs(offset), mask)
    reasons = [f"mean sample value {offset[i]:+.4f} of full scale" for i in flagged]
    return flagged_fraction_result(
        "data.dc_offset",
        profile,
        flagged,
        params,
        what=f"have a DC offset (|mean| above {limit:g} of full scale)",
        values=offset[flagged],
        reasons=reasons,
        details={"max_dc_offset": limit},
    )


def _channel_name(count: int) -> str:
    return {1: "mono", 2: "stereo"}.get(count, f"{count} channels")


def _majority(values: np.ndarray) -> int:
    """The most common value (the smallest of equally common ones)."""
    distinct, counts = np.unique(values, return_counts=True)
    return int(distinct[np.argmax(counts)])


@register_check(
    "data.sample_rate_mismatch",
    title="Mixed sample rates or channel counts",
    description=(
        "Clips whose sample rate or channel count differs from the dataset's (the most common "
        "one, or `sample_rate` / `channels` when given): a model trained at one rate hears "
        "clips at another as pitched up or down unless every one is resampled."
    ),
    defaults={
        "sample_rate": Param(
            0, doc="the expected sample rate in Hz; 0: the most common one", ge=0, le=1_000_000
        ),
        "channels": Param(
            0, doc="the expected number of channels; 0: the most common one", ge=0, le=64
        ),
        "max_fraction": _MAX_FRACTION,
    },
    modalities=_AUDIO,
)
def check_sample_rate_mismatch(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    decoded = np.flatnonzero(profile.decoded)
    rates = profile.numbers("sample_rate")[decoded].astype(np.int64)
    channels = profile.numbers("channels")[decoded].astype(np.int64)
    if not len(decoded):
        rate, count = int(params["sample_rate"]), int(params["channels"])
    else:
        rate = int(params["sample_rate"]) or _majority(rates)
        count = int(params["channels"]) or _majority(channels)
    odd = (rates != rate) | (channels != count)
    flagged = decoded[odd]
    reasons = [
        f"{r} Hz, {_channel_name(c)}"
        for r, c in zip(rates[odd].tolist(), channels[odd].tolist(), strict=True)
    ]
    expected = f"{rate} Hz {_channel_name(count)}"
    return flagged_fraction_result(
        "data.sample_rate_mismatch",
        profile,
        flagged,
        params,
        what=f"differ from the dataset's {expected}",
        values=rates[odd],
        reasons=reasons,
        details={
            "expected": {"sample_rate": rate, "channels": count},
            "sample_rates": {str(k): v for k, v in sorted(Counter(rates.tolist()).items())},
            "channel_counts": {str(k): v for k, v in sorted(Counter(channels.tolist()).items())},
        },
    )


@register_check(
    "data.duration_outliers",
    title="Clips of unusual duration for their class",
    description=(
        "Clips whose duration is far from their class's (robust z-score of log duration "
        "above `max_z`, on median and MAD) and differs from the class median by more than "
        "`min_relative_difference`: a clip cut short, two recordings run together, a "
        "leftover of a longer file. Classes with fewer than `min_class_size` decoded clips "
        "are not judged; clips without a label are judged against the whole dataset."
    ),
    defaults={
        "max_z": Param(4.0, doc="robust z-score of log duration above which a clip is odd", gt=0),
        "min_relative_difference": Param(
            0.25,
            doc="smallest |duration / class median - 1| that counts (0.25: 25 % off)",
            ge=0.0,
            le=100.0,
        ),
        "min_class_size": Param(10, doc="classes with fewer decoded clips are not judged", ge=2),
        "max_fraction": max_fraction_param(
            0.01, "largest fraction of clips that may have an unusual duration"
        ),
    },
    level="warn",
    modalities=_AUDIO,
)
def check_duration_outliers(profile: DataProfile, params: dict[str, Any]) -> CheckResult:
    duration = profile.numbers("duration")
    log_duration = np.log(np.fmax(duration, 1e-6))
    _, codes = profile.codes("label")
    decoded, min_size = profile.decoded, int(params["min_class_size"])
    groups = _class_members(codes, decoded, min_size)
    everyone = np.flatnonzero(decoded)
    unlabelled = np.flatnonzero(decoded & (codes < 0))
    z, median = np.zeros(profile.n), np.full(profile.n, np.nan)
    for members in groups:
        z[members] = robust_z_scores(log_duration[members], 0.01)
        median[members] = np.median(duration[members])
    if len(unlabelled) and len(everyone) >= min_size:
        z[unlabelled] = robust_z_scores(log_duration[unlabelled], 0.01, log_duration[everyone])
        median[unlabelled] = np.median(duration[everyone])
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.abs(duration / median - 1.0)
        mask = (np.abs(z) > params["max_z"]) & (relative > params["min_relative_difference"])
    flagged = _ranked(np.abs(z), mask)
    labels = profile.labels.take(flagged)
    reasons = [
        f"{duration[i]:.2f} s against a median of {median[i]:.2f} s for "
        f"{'the dataset (no label)' if label is None else f'class {label!r}'}"
        for i, label in zip(flagged, labels, strict=True)
    ]
    return flagged_fraction_result(
        "data.duration_outliers",
        profile,
        flagged,
        params,
        what=f"have an unusual duration for their class (robust z above {params['max_z']:g})",
        values=duration[flagged],
        reasons=reasons,
        details={"classes_judged": len(groups)},
    )

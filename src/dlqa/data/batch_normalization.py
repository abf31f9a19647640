"""``data.batch_normalization``: is the declared ``(decoded / scale - mean) / std`` what the
batches carry?

With the decoded inputs (the same samples before normalisation), each sample is undone,
``x * std + mean``, and compared with ``decoded / scale``; a least-squares fit of decoded
against loaded values per channel says which mean and std the loader really applied.
Without them the judgement is statistical, from the values alone:

- still in the decoded range (0..1) across most of it: the normalisation is missing
  (normalised, pixels darker than the mean would be negative);
- raw 0..255 values while the statistics are in 0..1 units: neither scaled nor normalised;
- undone, values far outside the decoded range: normalised twice, or before scaling;
- otherwise a channel mean far from 0 or a std far from 1 is a warning (statistics that do
  not fit the data).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlqa.core.gates import verdict
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.batch_context import BatchesContext, DecodedComparison

CHECK_ID = "data.batch_normalization"
# Values that stay in the decoded range only count as "not normalised" when they span at
# least this much of it: real images do; a low-contrast set that happens to fit does not.
MIN_SPREAD = 0.5
IDENTITY_TOLERANCE = 0.02  # a declared mean ~0 and std ~1 changes nothing to detect
MAX_ROWS = 20


def _fmt(values: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.3g}" for v in np.asarray(values).ravel()) + ")"


def judge_normalization(context: BatchesContext, params: dict[str, Any]) -> CheckResult:
    declared = context.declared
    if context.decoded is not None:
        return _against_decoded(context, context.decoded, params)
    if declared.mean is None or declared.std is None or context.channels is None:
        return CheckResult(
            CHECK_ID,
            Status.SKIP,
            "no normalisation declared: pass mean= and std= (and decoded= to compare samples)",
        )
    channels = context.channels
    count = channels.channels
    if len(declared.mean) not in (1, count):
        return CheckResult(CHECK_ID, Status.INCONCLUSIVE, f"mean {declared.mean} for inputs "
                           f"with {count} channels")  # fmt: skip
    mean = declared.channel_values(declared.mean, count)
    std = declared.channel_values(declared.std, count)
    low, high = declared.pixel_range
    width = high - low
    observed = {"mean": channels.mean, "std": channels.std, "min": channels.minimum,
                "max": channels.maximum}  # fmt: skip
    rows = [{"channel": c, "mean": float(channels.mean[c]), "std": float(channels.std[c]),
             "min": float(channels.minimum[c]), "max": float(channels.maximum[c]),
             "declared_mean": float(mean[c]), "declared_std": float(std[c])}
            for c in range(count)]  # fmt: skip
    evidence = [Evidence("table", rows[:MAX_ROWS], len(rows))]
    details = {"observed": observed, "declared": declared.describe_normalization()}
    identity = np.all(np.abs(mean) <= IDENTITY_TOLERANCE * width) and np.all(
        np.abs(std - 1.0) <= IDENTITY_TOLERANCE
    )
    if identity:
        return CheckResult(CHECK_ID, Status.SKIP, "the declared normalisation (mean ~0, std ~1) "
                           "changes nothing to detect", details=details)  # fmt: skip
    spread = (channels.maximum - channels.minimum) / width
    slack = 1e-4 * width  # float rounding of a scaled and cast decoded value
    inside = np.all(channels.minimum >= low - slack) and np.all(channels.maximum <= high + slack)
    raw_255 = (
        high == 1.0
        and np.all(channels.minimum >= -1e-6)
        and np.all(channels.maximum <= 255.0 + 1e-6)
        and np.max(channels.maximum) > 2.0
    )
    sample = channels.sample()
    q = params["outside_quantile"]
    if sample.shape[1]:
        undone = sample * std[:, None] + mean[:, None]
        undone_low = np.quantile(undone, q, axis=1)
        undone_high = np.quantile(undone, 1.0 - q, axis=1)
    else:
        undone_low = channels.minimum * std + mean
        undone_high = channels.maximum * std + mean
    margin = params["range_tolerance"] * width
    outside = np.any(undone_low < low - margin) or np.any(undone_high > high + margin)
    details |= {"undone_low": undone_low, "undone_high": undone_high}
    span = f"[{low:g}, {high:g}]"
    if raw_255:
        summary = (
            f"values {_fmt(channels.minimum)}..{_fmt(channels.maximum)} are raw 0..255 pixels: "
            f"neither scaled to {span} nor normalised ({declared.describe_normalization()})"
        )
    elif inside and np.any(spread >= MIN_SPREAD):
        summary = (
            f"values stay in the decoded range {span} (channel means {_fmt(channels.mean)}, "
            f"stds {_fmt(channels.std)}): the declared normalisation "
            f"({declared.describe_normalization()}) is not applied; normalised, pixels below "
            "the mean would be negative"
        )
    elif outside:
        summary = (
            f"undone with {declared.describe_normalization()}, values span "
            f"{_fmt(undone_low)}..{_fmt(undone_high)}, outside the decoded range {span}: "
            f"{_outside_cause(sample, mean, std, (low, high), margin)}"
        )
    else:
        warnings = _fit_warnings(channels.mean, channels.std, params)
        status = Status.WARN if warnings else Status.PASS
        summary = (
            f"normalised channel means {_fmt(channels.mean)}, stds {_fmt(channels.std)}; "
            f"undone, the values lie in the decoded range {span}"
        )
        if warnings:
            summary += "; " + "; ".join(warnings)
        return CheckResult(CHECK_ID, status, summary, evidence=evidence, details=details)
    return CheckResult(CHECK_ID, verdict(True, params), summary, evidence=evidence, details=details)


def _outside_cause(
    sample: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    pixel_range: tuple[float, float],
    margin: float,
) -> str:
    """Which mistake the values fit: normalised twice, or normalised before scaling."""
    low, high = pixel_range
    if sample.shape[1]:
        undone = sample * std[:, None] + mean[:, None]
        if _within(undone * std[:, None] + mean[:, None], low - margin, high + margin):
            return "normalised twice?"
        if high == 1.0 and _within(undone / 255.0, low - margin, high + margin):
            return "normalised before scaling to 0..1 (values 0..255)?"
    return "normalised twice, before scaling, or with other statistics?"


def _within(values: np.ndarray, low: float, high: float) -> bool:
    """Whether 98 % of each channel's values lie in [low, high]."""
    quantiles = np.quantile(values, [0.01, 0.99], axis=1)
    return bool(np.all(quantiles[0] >= low) and np.all(quantiles[1] <= high))


def _fit_warnings(mean: np.ndarray, std: np.ndarray, params: dict[str, Any]) -> list[str]:
    warnings = []
    if np.any(np.abs(mean) > params["max_abs_mean"]):
        warnings.append(
            f"channel means {_fmt(mean)} are far from 0: the declared statistics do not fit "
            "this data"
        )
    if np.any(std < params["min_std"]) or np.any(std > params["max_std"]):
        warnings.append(f"channel stds {_fmt(std)} are far from 1")
    return warnings


def _against_decoded(
    context: BatchesContext, comparison: DecodedComparison, params: dict[str, Any]
) -> CheckResult:
    declared = context.declared
    if not comparison.errors:
        why = "; ".join(comparison.problems) or "the decoded iterable yielded no batch"
        return CheckResult(CHECK_ID, Status.INCONCLUSIVE, f"no sample compared with its "
                           f"decoded input: {why}")  # fmt: skip
    errors = np.array([e for _, _, e in comparison.errors])
    tolerance = params["tolerance"]
    bad = [(b, i, e) for b, i, e in comparison.errors if not e <= tolerance]
    fraction = len(bad) / len(errors)
    fitted = _fitted(comparison.fit)
    details: dict[str, Any] = {
        "compared": len(errors),
        "largest_error": float(np.max(errors)),
        "scale": comparison.scale,
        "problems": comparison.problems,
        "declared": declared.describe_normalization(),
    }
    if fitted is not None:
        details |= {"fitted_mean": fitted[0], "fitted_std": fitted[1]}
    failed = fraction > params["max_fraction"]
    what = f"undone with {declared.describe_normalization()} (scale {comparison.scale:g})"
    if failed:
        summary = (
            f"{len(bad)} of {len(errors)} samples differ from their decoded input by more than "
            f"{tolerance:g} of the pixel range once {what} (largest {np.max(errors):.3g})"
        )
        if fitted is not None:
            summary += "; " + _diagnosis(*fitted, declared.pixel_range)
    else:
        summary = (
            f"{len(errors)} samples {what} match their decoded input within {tolerance:g} "
            f"(largest difference {np.max(errors):.3g})"
        )
    rows = [{"batch": b, "index": i, "value": e} for b, i, e in sorted(bad, key=lambda r: -r[2])]
    return CheckResult(
        CHECK_ID,
        verdict(failed, params),
        summary,
        value=fraction,
        threshold=params["max_fraction"],
        n=len(errors),
        evidence=[Evidence("table", rows[:MAX_ROWS], len(rows))] if rows else [],
        details=details,
    )


def _fitted(fit: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Per channel, the (mean, std) with decoded / scale = std * x + mean (least squares)."""
    if fit is None:
        return None
    n, sx, sy, sxx, sxy = fit.T
    denominator = n * sxx - sx * sx
    if np.any(n < 2) or np.any(denominator <= 1e-12 * np.maximum(n * n, 1)):
        return None  # constant inputs: no slope to fit
    std = (n * sxy - sx * sy) / denominator
    return (sy - std * sx) / n, std


def _diagnosis(mean: np.ndarray, std: np.ndarray, pixel_range: tuple[float, float]) -> str:
    width = pixel_range[1] - pixel_range[0]
    if np.all(np.abs(mean) < 0.02 * width) and np.all(np.abs(std - 1.0) < 0.02):
        return "the batches equal the decoded input: the normalisation is not applied"
    return f"the batches fit mean {_fmt(mean)}, std {_fmt(std)}"

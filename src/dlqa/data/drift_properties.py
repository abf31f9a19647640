"""Per-property drift: Wasserstein distance in reference standard deviations and PSI.

Each property is compared on its finite values, sorted once per side (float32: a third
faster than float64 to sort, and 7 digits are far finer than any limit here); strongly
right-skewed positive properties on their logarithm. W is computed on all values (winsorised
at each side's 0.5 and 99.5 % quantiles); its noise (a permutation null) and its spread (a
bootstrap) are drawn on equal random subsamples of at most ``BOOTSTRAP_SUBSAMPLE`` values a
side and rescaled to the full sizes, which keeps 20 properties of 2,000,000 rows within a few
seconds. Shared pieces (the bias correction, the verdict) are in ``dlqa.data.drift``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlqa.data.drift import (
    BOOTSTRAP,
    Judgement,
    corrected_interval,
    judge,
    rng_of,
    wilson_interval,
)

# The bootstrap of W runs on equal subsamples of at most this many values a side and its
# spread is rescaled to the full sizes by sqrt((1/n + 1/m) / (2/k)): W's noise scales so
# (Brownian-bridge limit), and 200 sorts of 2,000 values cost ~20 ms.
BOOTSTRAP_SUBSAMPLE = 2000
PSI_QUANTILES = np.linspace(0.0, 1.0, 11)  # reference deciles, plus its min and max
HISTOGRAM_BINS = 30
# A robust spread this small relative to the median is floating-point noise: the property is
# constant in the reference (a sample rate of 16000 everywhere, one image size).
_RELATIVE_NOISE = 1e-9
_IQR_TO_SIGMA = 1.348980  # the IQR of a normal distribution in standard deviations
MIN_VALUES = 2  # finite values per side below which a property is not compared
WINSOR = 0.005  # share of each side's values at either end that W clips (see property_shift)


def robust_scale(sorted_values: np.ndarray) -> float:
    """A robust standard deviation of sorted finite values: IQR / 1.349; when more than half
    are identical (IQR 0), the standard deviation; 0 when that is floating-point noise too
    (the property is constant).

    Why the standard deviation there and not a robust fallback: for a property that is one
    value in 99.5 % of samples (16000 Hz) and another in the rest, the rare values are the
    distribution, and W / std is then the change of their share over sqrt(s (1 - s)), a
    proportion's effect size. The mean absolute deviation would make W the *relative* change
    of a 0.5 % share, which sampling noise alone moves by 0.2 "sigma" at 10,000 samples.
    """
    n = len(sorted_values)
    if n == 0:
        return 0.0
    median = float(sorted_values[n // 2])
    q1, q3 = sorted_values[int(0.25 * (n - 1))], sorted_values[int(0.75 * (n - 1))]
    scale = float(q3 - q1) / _IQR_TO_SIGMA
    if scale == 0.0:
        scale = float(np.std(sorted_values, dtype=np.float64))
    return 0.0 if scale <= _RELATIVE_NOISE * max(1.0, abs(median)) else scale


def wasserstein_sorted(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-1 distance of two samples given sorted: the integral over u in (0, 1) of
    |Qa(u) - Qb(u)|. Exact for equal sizes; otherwise both quantile functions are read on a
    grid of max(n, m) points (at most 2^21), an error far below any limit here."""
    n, m = len(a), len(b)
    if n == m:
        return float(np.mean(np.abs(a.astype(np.float64) - b)))
    grid = min(max(n, m), 1 << 21)
    u = (np.arange(grid) + 0.5) / grid
    qa = a[(u * n).astype(np.int64)].astype(np.float64)
    return float(np.mean(np.abs(qa - b[(u * m).astype(np.int64)])))


def _sorted_finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    values = values[np.isfinite(values)]
    # float32 sorts a third faster; its 7 digits are far finer than any limit on W or PSI
    return np.sort(values.astype(np.float32, copy=False))


def is_skewed(sorted_values: np.ndarray) -> bool:
    """Whether a positive property is compared on a log scale: its upper decile is more than
    three times further above the median than the lower decile below it (sharpness, file
    sizes, durations of mixed clips). On the raw scale such a property's W is its long tail's
    noise (on 1,000 random halves of a lognormal its 95 % interval spans 0.5 sigma); on the log
    scale it behaves like a symmetric one."""
    n = len(sorted_values)
    if n == 0 or sorted_values[0] <= 0:
        return False
    q10, q50, q90 = (float(sorted_values[int(q * (n - 1))]) for q in (0.1, 0.5, 0.9))
    return q90 - q50 > 3 * (q50 - q10)


def _bin_counts(sorted_values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Counts in the bins: below cuts[0], [cuts[i], cuts[i+1]), the last cut itself, above
    it; from sorted values in O(bins log n)."""
    left = np.searchsorted(sorted_values, cuts, side="left")
    above = len(sorted_values) - np.searchsorted(sorted_values, cuts[-1], side="right")
    edges = np.concatenate([[0], left, [len(sorted_values) - above, len(sorted_values)]])
    return np.diff(edges)


def _psi_bins(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts of sorted ``a`` and ``b`` in bins cut at the deciles, min and max of ``a``."""
    cuts = np.unique(a[(PSI_QUANTILES * (len(a) - 1)).astype(np.int64)])
    return _bin_counts(a, cuts), _bin_counts(b, cuts)


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> np.ndarray:
    """Population stability index sum (q - p) ln(q / p) of rows of bin counts, with half a
    count added to every bin (an empty reference bin would make it infinite)."""
    a = np.asarray(reference_counts, dtype=np.float64) + 0.5
    b = np.asarray(current_counts, dtype=np.float64) + 0.5
    p = a / a.sum(axis=-1, keepdims=True)
    q = b / b.sum(axis=-1, keepdims=True)
    return np.sum((q - p) * np.log(q / p), axis=-1)


@dataclass(frozen=True)
class PropertyShift:
    name: str
    n_reference: int  # finite values compared
    n_current: int
    reference_median: float
    current_median: float
    log_scale: bool  # compared on log values (see is_skewed)
    scale: float  # the reference's robust standard deviation; 0 when it is constant
    wasserstein: float  # plug-in W1 / scale (W1 in raw units when the reference is constant)
    effect: float  # bias-corrected W1 / scale; constant reference: share of changed values
    interval: tuple[float, float]
    p_value: float  # of "no drift": permutations of W (Fisher's test when constant)
    psi: float  # plug-in
    psi_effect: float  # bias-corrected
    psi_interval: tuple[float, float]
    psi_p_value: float
    histogram: dict[str, Any]  # edges, reference and current counts (raw values)

    @property
    def constant(self) -> bool:
        return self.scale == 0.0


def _histogram(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Counts of both sides over shared uniform bins from the lower 0.5 % to the upper 99.5 %
    of either side (extreme tails would squash the picture), values beyond the ends counted
    in the end bins so that nothing is left out."""
    low = min(a[int(0.005 * (len(a) - 1))], b[int(0.005 * (len(b) - 1))])
    high = max(a[int(0.995 * (len(a) - 1))], b[int(0.995 * (len(b) - 1))])
    low, high = float(low), float(high)
    if not high > low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    inner = edges[1:-1].astype(a.dtype)

    def counts(x: np.ndarray) -> list[int]:
        return np.diff(np.concatenate([[0], np.searchsorted(x, inner), [len(x)]])).tolist()

    rounded = [_short(e) for e in edges]
    if any(right <= left for left, right in zip(rounded, rounded[1:], strict=False)):
        rounded = [float(e) for e in edges]  # bins too narrow for 6 digits: keep them all
    return {"edges": rounded, "reference": counts(a), "current": counts(b)}


def _short(value: float) -> float:
    """A float to 6 significant digits: float32 values in reports are noise past that."""
    return float(f"{float(value):.6g}")


def property_shift(
    name: str,
    reference: np.ndarray,
    current: np.ndarray,
    *,
    seed: int | np.random.Generator = 0,
) -> PropertyShift | None:
    """One property compared (non-finite values left out); None when a side has fewer than
    ``MIN_VALUES`` finite values."""
    raw_a, raw_b = _sorted_finite(reference), _sorted_finite(current)
    n, m = len(raw_a), len(raw_b)
    if n < MIN_VALUES or m < MIN_VALUES:
        return None
    rng = rng_of(seed)
    log_scale = is_skewed(raw_a)
    if log_scale:
        # a current value at or below 0 lies below anything the reference has: half its min
        floor = raw_a[0] / 2
        a, b = np.log(raw_a), np.log(np.maximum(raw_b, floor))
    else:
        a, b = raw_a, raw_b
    unclipped_a, unclipped_b = a, b
    scale = robust_scale(a)
    ref_bins, cur_bins = _psi_bins(a, b)
    psi_value = float(psi(ref_bins, cur_bins))
    low_cut = min(a[int(WINSOR * (n - 1))], b[int(WINSOR * (m - 1))])
    high_cut = max(a[int((1 - WINSOR) * (n - 1))], b[int((1 - WINSOR) * (m - 1))])
    if scale > 0.0 and high_cut > low_cut:
        # W of values winsorised to the wider of the two sides' 0.5-99.5 % ranges: a handful
        # of extreme values (DC offsets a thousand sigma out) would otherwise be the whole
        # distance, and their noise is invisible to the null drawn on a subsample (random
        # halves of 20,000 clips came out "undecided" at 1.4 sigma). Either side's bulk stays
        # whole: clipping at the reference's own range made a switch of clips to 8 kHz, below
        # every reference value, a distance of 0. The PSI sees the values as they are.
        a, b = np.clip(a, low_cut, high_cut), np.clip(b, low_cut, high_cut)
    raw_w = wasserstein_sorted(a, b)
    k = min(n, m, BOOTSTRAP_SUBSAMPLE)
    picked_a = np.sort(rng.choice(n, k, replace=False)) if n > k else np.arange(n)
    picked_b = np.sort(rng.choice(m, k, replace=False)) if m > k else np.arange(m)
    null_w, null_psi = _permutation_null(unclipped_a[picked_a], unclipped_b[picked_b], rng)
    if a is not unclipped_a:
        null_w, _ = _permutation_null(a[picked_a], b[picked_b], rng, psi_too=False)
    # Both nulls are drawn at k values a side: W's noise scales with sqrt(1/n + 1/m), the
    # PSI's (a chi-square) with 1/n + 1/m.
    factor = (1 / n + 1 / m) / (2 / k)
    null_psi = null_psi * factor
    psi_resampled = psi(
        rng.multinomial(n, ref_bins / n, size=BOOTSTRAP),
        rng.multinomial(m, cur_bins / m, size=BOOTSTRAP),
    )
    psi_effect, psi_low, psi_high = corrected_interval(psi_value, null_psi, psi_resampled)
    psi_p = _p_value(null_psi, psi_value)
    sub_a, sub_b = a[picked_a], b[picked_b]
    if scale == 0.0:
        # A constant reference has no spread to measure a distance in, and any other value is
        # a real change: the effect is the share of current values that differ from it.
        value = a[0]
        changed = int(np.searchsorted(b, value, "left") + m - np.searchsorted(b, value, "right"))
        effect = changed / m
        low, high = wilson_interval(changed, m)
        wasserstein, p_value = raw_w, _all_in_current(changed, n, m)
    else:
        wasserstein = raw_w / scale
        null_w *= math.sqrt(factor) / scale
        resampled = _wasserstein_bootstrap(sub_a / scale, sub_b / scale, n, m, rng)
        effect, low, high = corrected_interval(wasserstein, null_w, wasserstein + resampled)
        p_value = _p_value(null_w, wasserstein)
    return PropertyShift(
        name, n, m, _short(raw_a[n // 2]), _short(raw_b[m // 2]), log_scale, scale, wasserstein,
        effect, (low, high), p_value, psi_value, psi_effect, (psi_low, psi_high), psi_p,
        _histogram(raw_a, raw_b),
    )  # fmt: skip


def _p_value(null: np.ndarray, observed: float) -> float:
    """P(null >= observed) from distributions fitted to the null draws: the checks need
    p-values far below 1 / draws (a level of 0.1 % over 20 properties is 0.005 % each). The
    larger of a gamma's and a log-normal's with the draws' moments: on 200,000 permutations of
    two halves of 100 values, the true tail at 5e-6 was 1.5e-6 by the gamma and 4e-5 by the
    log-normal (distances have a tail heavier than a chi-square's), and the log-normal
    overstates the tail of chi-square-like PSIs; the larger is never optimistic by much."""
    mean, var = float(np.mean(null)), float(np.var(null))
    if var <= 0.0 or mean <= 0.0:
        return 1.0 if observed <= mean else 0.0
    if observed <= 0.0:
        return 1.0
    from scipy.stats import gamma, norm

    logs = np.log(np.maximum(null, 1e-3 * mean))  # a null of exact zeros (discrete values)
    by_gamma = float(gamma.sf(observed, mean * mean / var, scale=var / mean))
    spread = float(np.std(logs))
    by_lognormal = (
        float(norm.sf((math.log(observed) - float(np.mean(logs))) / spread)) if spread > 0 else 0.0
    )
    return max(by_gamma, by_lognormal)


def _all_in_current(changed: int, n: int, m: int) -> float:
    """Fisher's exact p-value of seeing ``changed`` values that are not the reference's
    constant all in the current data, none among the n reference values, when the two were
    one population: C(m, k) / C(n + m, k)."""
    if changed == 0:
        return 1.0
    i = np.arange(changed)
    return float(np.exp(np.sum(np.log((m - i) / (n + m - i)))))


def _permutation_null(
    sub_a: np.ndarray, sub_b: np.ndarray, rng: np.random.Generator, *, psi_too: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """W (raw units) and PSI of ``BOOTSTRAP`` random relabellings of the two subsamples
    pooled: what the statistics are when nothing drifted. (Measuring each relabelling in its
    own half's spread gave W / spread a tail the gamma fit of :func:`_p_value` misses: 1.8 %
    of random halves of 200 normal values had p < 0.25 %.)"""
    k = len(sub_a)
    pooled = np.concatenate([sub_a, sub_b]).astype(np.float64)
    shuffled = rng.permuted(np.broadcast_to(pooled, (BOOTSTRAP, 2 * k)), axis=1)
    first, second = np.sort(shuffled[:, :k], axis=1), np.sort(shuffled[:, k:], axis=1)
    null_w = np.mean(np.abs(first - second), axis=1)
    if not psi_too:
        return null_w, None
    # Each relabelling cuts its own bins from its own "reference" half, as the data's bins
    # are cut from the reference: its min and max then bound no reference value by
    # construction, and a null with fixed bins missed that (2.5x too many p < 1 %).
    null_psi = np.array([psi(*_psi_bins(x, y)) for x, y in zip(first, second, strict=True)])
    return null_w, null_psi


def _wasserstein_bootstrap(
    sub_a: np.ndarray, sub_b: np.ndarray, n: int, m: int, rng: np.random.Generator
) -> np.ndarray:
    """How W of the full samples would move between resamples: the deviations of W over
    bootstrap resamples of the equal subsamples, rescaled to the full sizes."""
    k = len(sub_a)
    sub_a, sub_b = sub_a.astype(np.float64), sub_b.astype(np.float64)
    w_sub = float(np.mean(np.abs(sub_a - sub_b)))
    # resampled indices sorted per row: the resamples of a sorted array come out sorted
    rows_a = np.sort(rng.integers(0, k, size=(BOOTSTRAP, k)), axis=1)
    rows_b = np.sort(rng.integers(0, k, size=(BOOTSTRAP, k)), axis=1)
    resampled = np.mean(np.abs(sub_a[rows_a] - sub_b[rows_b]), axis=1)
    return math.sqrt((1 / n + 1 / m) / (2 / k)) * (resampled - w_sub)


def property_shifts(
    reference: Mapping[str, np.ndarray],
    current: Mapping[str, np.ndarray],
    *,
    seed: int = 0,
    workers: int | None = None,
) -> list[PropertyShift]:
    """:func:`property_shift` for every property in both mappings, in threads (numpy's sort
    releases the GIL, and the sorts are most of the time); in the order of ``reference``.
    Properties with too few finite values are left out."""
    names = [name for name in reference if name in current]
    workers = workers or min(4, os.cpu_count() or 1)

    def one(index: int) -> PropertyShift | None:
        name = names[index]
        return property_shift(name, reference[name], current[name], seed=seed + index)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        shifts = list(pool.map(one, range(len(names))))
    return [shift for shift in shifts if shift is not None]


def judge_property(
    shift: PropertyShift,
    max_wasserstein: float,
    max_psi: float,
    max_changed: float,
    alpha: float,
    suggestive: float,
) -> Judgement:
    """A property drifted when W (for a constant reference: the share of changed values) is
    beyond its limit with its whole interval and beyond the no-drift noise, or the PSI is.
    PSI only ever adds a drift: on small samples its noise is mostly binning, and W already
    says whether the estimate points at a shift."""
    limit = max_changed if shift.constant else max_wasserstein
    levels = (alpha, suggestive)
    verdict = judge(shift.effect, shift.interval[0], limit, shift.p_value, *levels)
    psi = judge(shift.psi_effect, shift.psi_interval[0], max_psi, shift.psi_p_value, *levels)
    return "drift" if psi == "drift" else verdict


def shift_details(shift: PropertyShift) -> dict[str, Any]:
    """One property's numbers for a result's details (JSON types)."""
    return {
        "measure": "changed_share" if shift.constant else "wasserstein_sigma",
        "effect": shift.effect,
        "interval": list(shift.interval),
        "wasserstein_plug_in": shift.wasserstein,
        "p_value": shift.p_value,
        "psi": shift.psi_effect,
        "psi_plug_in": shift.psi,
        "psi_interval": list(shift.psi_interval),
        "psi_p_value": shift.psi_p_value,
        "scale": shift.scale,
        "log_scale": shift.log_scale,
        "reference_median": shift.reference_median,
        "current_median": shift.current_median,
        "n_reference": shift.n_reference,
        "n_current": shift.n_current,
    }


def histogram_item(shift: PropertyShift) -> dict[str, Any]:
    """An item of "histograms" evidence: one property's overlaid histograms."""
    return {
        "property": shift.name,
        **shift.histogram,
        "wasserstein": None if shift.constant else round(shift.effect, 4),
        "psi": round(shift.psi_effect, 4),
        **({"changed_fraction": round(shift.effect, 4)} if shift.constant else {}),
    }

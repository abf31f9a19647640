"""Confidence intervals of proportions (error rates, recalls) measured on a sample.

The Wilson score interval is used rather than the textbook normal ("Wald") interval because
it behaves on small samples and at the edges: with 0 errors in 20 reviews the Wald interval
is [0, 0], which claims a certainty nobody has; Wilson says [0, 0.16]. It never leaves
[0, 1] and needs nothing beyond the standard library.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from dlqa.core.results import Interval


def z_of(level: float) -> float:
    """The two-sided standard normal quantile of a confidence ``level`` (1.959964 for 0.95)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"a confidence level lies in (0, 1), not {level!r}")
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> Interval:
    """The Wilson score interval of ``successes`` out of ``n`` at confidence ``level``.

    ``n = 0`` says nothing: the whole [0, 1]. 0 successes has a lower bound of exactly 0 and
    ``n`` successes an upper bound of exactly 1 (the formula gives them up to rounding).
    """
    if isinstance(successes, bool) or isinstance(n, bool):
        raise TypeError("successes and n are counts, not booleans")
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return Interval(0.0, 1.0, level)
    low, high = _wilson_bounds(successes / n, float(n), level)
    return Interval(0.0 if successes == 0 else low, 1.0 if successes == n else high, level)


def wilson_interval_of(proportion: float, n_effective: float, level: float = 0.95) -> Interval:
    """The Wilson interval of an estimated ``proportion`` worth ``n_effective`` independent
    observations: a weighted (stratified) estimate, whose effective sample size is smaller
    than the count of observations when the strata were not sampled in proportion."""
    if not 0.0 <= proportion <= 1.0 or math.isnan(proportion):
        raise ValueError(f"a proportion lies in [0, 1], not {proportion!r}")
    if n_effective < 0 or math.isnan(n_effective):
        raise ValueError(f"an effective sample size is not negative: {n_effective!r}")
    if n_effective == 0:
        return Interval(0.0, 1.0, level)
    low, high = _wilson_bounds(proportion, float(n_effective), level)
    return Interval(0.0 if proportion == 0.0 else low, 1.0 if proportion == 1.0 else high, level)


def _wilson_bounds(p: float, n: float, level: float) -> tuple[float, float]:
    z = z_of(level)
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


__all__ = ["wilson_interval", "wilson_interval_of", "z_of"]

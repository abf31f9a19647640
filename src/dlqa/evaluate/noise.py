"""Gates that know their noise: a metric decided by its interval, and, when the interval
straddles the threshold, the eval-set size that would decide it.

``dlqa.core.gates.decide`` gives pass (the whole interval clears the threshold), fail (the
whole interval is beyond it) or inconclusive. An inconclusive verdict is only useful with
the answer to "how many more samples?": assuming the measured value stays what it is, the
smallest eval set whose interval would no longer contain the threshold.
"""

from __future__ import annotations

import math
from typing import Any

from dlqa.core.gates import decide
from dlqa.core.intervals import wilson_interval_of
from dlqa.core.results import Interval, Status

# Beyond this the answer is "no realistic eval set": say so rather than print 10^12.
MAX_SIZE = 100_000_000


def size_to_decide_proportion(value: float, threshold: float, level: float = 0.95) -> int | None:
    """The smallest n whose Wilson interval around the proportion ``value`` excludes
    ``threshold``; None when no size decides (the value equals the threshold) or it would
    take more than :data:`MAX_SIZE`."""
    if not (math.isfinite(value) and math.isfinite(threshold)) or value == threshold:
        return None

    def decided(n: int) -> bool:
        interval = wilson_interval_of(value, float(n), level)
        return interval.low > threshold or interval.high < threshold

    high = 1
    while not decided(high):
        high *= 2
        if high > MAX_SIZE:
            return None
    low = high // 2
    while high - low > 1:  # decided(high) holds, decided(low) does not (or low is 0)
        middle = (low + high) // 2
        if decided(middle):
            high = middle
        else:
            low = middle
    return high


def size_to_decide_scaled(value: float, interval: Interval, threshold: float, n: int) -> int | None:
    """The eval-set size that would decide a bootstrap metric (macro F1), from the rule that
    its interval's half-width shrinks as 1/sqrt(n): the side of the interval that faces the
    threshold must shrink to the distance between value and threshold."""
    distance = abs(value - threshold)
    facing = value - interval.low if threshold < value else interval.high - value
    if not math.isfinite(distance) or distance == 0 or n <= 0:
        return None
    if facing <= 0:
        return n
    size = math.ceil(n * (facing / distance) ** 2)
    return None if size > MAX_SIZE else max(size, n)


def gate_details(status: Status, size: int | None, n: int, threshold: float) -> dict[str, Any]:
    """What an inconclusive verdict adds to ``details``: the size that would decide it."""
    if status is not Status.INCONCLUSIVE:
        return {}
    if size is None:
        return {
            "n_to_decide": None,
            "n_to_decide_note": f"the estimate sits on the threshold {threshold:g}; "
            "no eval-set size decides it while it stays there",
        }
    return {
        "n_to_decide": size,
        "n_to_decide_note": f"with the value as measured, about {size} samples "
        f"(now {n}) would decide it",
    }


def decide_metric(
    value: float,
    interval: Interval,
    threshold: float | None,
    params: dict[str, Any],
    *,
    n: int,
    proportion: bool,
    higher_is_better: bool = True,
) -> tuple[Status, dict[str, Any]]:
    """The status of a metric gate and the details it adds; no threshold: pass."""
    if threshold is None:
        return Status.PASS, {}
    status = decide(interval, float(threshold), params, higher_is_better=higher_is_better)
    if proportion:
        size = size_to_decide_proportion(value, float(threshold), interval.level)
    else:
        size = size_to_decide_scaled(value, interval, float(threshold), n)
    return status, gate_details(status, size, n, float(threshold))

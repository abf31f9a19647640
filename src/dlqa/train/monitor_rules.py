"""The monitor's statistical rules, torch-free: the same test online (one step at a time, in
the monitor) and offline (over a recorded series, in the checks, so that a gate can change
the parameters after the run).

Two rules over a per-step series:

- *Exceedance* (gradient-norm explosions): a value above ``factor`` times the median of the
  previous ``window`` finite values.
- *Spike* (the loss): an exceedance that also stands out twice over. Against the loss's own
  noise: the jump, on a log scale (a loss's noise is multiplicative), exceeds
  ``noise_factor`` robust standard deviations of the step-to-step changes in the window
  (:func:`log_noise`); a noisy small-batch loss often triples for one batch. And in
  absolute terms: the jump exceeds ``min_jump`` times the loss's own level at the start of
  training (the median of its first ``window`` finite values). A converged loss of 0.001
  that reads 0.003 is three times its median but a meaningless change; a loss that jumps
  from 0.3 to 3.0 is a spike on every count.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

DEFAULT_GRAD_NORM_FACTOR = 10.0
DEFAULT_SPIKE_FACTOR = 3.0
DEFAULT_SPIKE_NOISE_FACTOR = 5.0
DEFAULT_SPIKE_MIN_JUMP = 0.1
DEFAULT_WINDOW = 50
DEFAULT_MAX_DEAD_FRACTION = 0.5
DEFAULT_MIN_UPDATE_RATIO = 1e-6
DEFAULT_MAX_UPDATE_RATIO = 1e-1
# A running median of fewer values is too noisy to call anything a spike.
MIN_HISTORY = 5
# The median absolute deviation times this estimates a normal distribution's sigma.
MAD_TO_SIGMA = 1.4826
_MEDIAN_CHUNK = 65_536  # rows of the sliding window computed at once (bounded memory)


def exceeds(median: float, value: float, factor: float) -> bool:
    """Whether ``value`` is above ``factor`` times the running ``median`` (the online test of
    the monitor; :func:`running_median_exceedances` is the same test over a whole series). A
    median that is not positive (a loss that can be negative) never flags."""
    return median > 0 and value > factor * median


def log_noise(recent: Iterable[float]) -> float:
    """The step-to-step noise of a positive series on a log scale (a loss's noise is
    multiplicative): a robust standard deviation (1.4826 x the median absolute value) of the
    differences of successive logs, over sqrt 2. Differences, not the spread of the values:
    a loss falling fast has a wide spread that is trend, not noise."""
    logs = [math.log(v) for v in recent if v > 0]
    steps = [abs(later - earlier) for earlier, later in zip(logs, logs[1:], strict=False)]
    return MAD_TO_SIGMA * statistics.median(steps) / math.sqrt(2) if steps else 0.0


def is_spike(
    recent: Iterable[float],
    value: float,
    median: float,
    reference: float,
    noise_factor: float,
    min_jump: float,
) -> bool:
    """The absolute half of the spike rule, for a value that already exceeds ``factor`` x the
    positive ``median`` of ``recent``; ``reference`` is the loss's level at the start."""
    if value - median <= min_jump * abs(reference):
        return False
    return math.log(value / median) > noise_factor * log_noise(recent)


def _running_medians(finite: np.ndarray, window: int) -> np.ndarray:
    """The median of the previous ``window`` values at each index (NaN before MIN_HISTORY)."""
    medians = np.full(len(finite), np.nan)
    for index in range(MIN_HISTORY, min(window, len(finite))):
        medians[index] = np.median(finite[:index])
    if len(finite) > window:
        windows = np.lib.stride_tricks.sliding_window_view(finite[:-1], window)
        for start in range(0, len(windows), _MEDIAN_CHUNK):
            chunk = windows[start : start + _MEDIAN_CHUNK]
            medians[window + start : window + start + len(chunk)] = np.median(chunk, axis=1)
    return medians


def _finite(series: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(series, dtype=np.float64)
    steps = np.flatnonzero(np.isfinite(values))
    return steps, values[steps]


def running_median_exceedances(
    series: Sequence[float], window: int, factor: float
) -> list[dict[str, float]]:
    """Steps whose value exceeds ``factor`` x the median of the previous ``window`` finite values.

    Non-finite values are skipped (they are the nonfinite check's business) and do not enter
    the median, exactly as in the online test.
    """
    steps, finite = _finite(series)
    medians = _running_medians(finite, window)
    flagged = np.flatnonzero((medians > 0) & (finite > factor * medians))
    return [
        {
            "step": int(steps[i]),
            "value": float(finite[i]),
            "running_median": float(medians[i]),
            "ratio": float(finite[i] / medians[i]),
        }
        for i in flagged
    ]


def reference_level(finite: Sequence[float], window: int) -> float:
    """The series' level at the start: the median of its first ``window`` finite values."""
    return float(statistics.median(finite[:window])) if len(finite) else math.nan


def loss_spikes(
    series: Sequence[float], window: int, factor: float, noise_factor: float, min_jump: float
) -> list[dict[str, float]]:
    """Steps that are spikes by the rule of the module docstring (the online rule, offline)."""
    steps, finite = _finite(series)
    medians = _running_medians(finite, window)
    spikes = []
    for i in np.flatnonzero((medians > 0) & (finite > factor * medians)):
        recent = finite[max(0, i - window) : i]
        # The reference grows with the series until `window` finite values were seen.
        reference = reference_level(finite[: min(i, window)], window)
        if is_spike(recent, finite[i], medians[i], reference, noise_factor, min_jump):
            spikes.append(
                {
                    "step": int(steps[i]),
                    "value": float(finite[i]),
                    "running_median": float(medians[i]),
                    "ratio": float(finite[i] / medians[i]),
                    "jump": float(finite[i] - medians[i]),
                }
            )
    return spikes


def json_safe(record: dict[str, Any]) -> dict[str, Any]:
    """A finding with NaN / inf written as "nan" / "inf" / "-inf": results must be valid JSON."""
    return {
        key: str(value) if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in record.items()
    }

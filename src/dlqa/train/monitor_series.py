"""The online tests of the monitor's per-step series (the loss, the total gradient norm).

They apply the rules of :mod:`dlqa.train.monitor_rules` one step at a time, exactly as the
checks apply them to the recorded series afterwards. They run on every step, so the window
is kept sorted as it slides: the running median costs a bisection, not a sort.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque

from dlqa.train.monitor_rules import MIN_HISTORY, exceeds, is_spike, reference_level


class RunningWindow:
    """The last ``size`` values, in arrival order and sorted."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.order: deque[float] = deque()
        self.sorted: list[float] = []

    def __len__(self) -> int:
        return len(self.order)

    def append(self, value: float) -> None:
        if len(self.order) == self.size:
            del self.sorted[bisect_left(self.sorted, self.order.popleft())]
        self.order.append(value)
        insort(self.sorted, value)

    def median(self) -> float:
        """As ``statistics.median`` and ``numpy.median`` compute it."""
        values, middle = self.sorted, len(self.sorted) // 2
        if len(values) % 2:
            return values[middle]
        return (values[middle - 1] + values[middle]) / 2


class SeriesWatch:
    """Exceedances of ``factor`` x the running median of the previous finite values."""

    def __init__(self, window: int, factor: float) -> None:
        self.recent = RunningWindow(window)  # the last finite values
        self.factor = factor

    def test(self, value: float) -> float | None:
        """The running median when the finite ``value`` is flagged, else None."""
        median = None
        if len(self.recent) >= MIN_HISTORY:
            median = self.recent.median()
            if not self._flags(value, median):
                median = None
        self._seen(value)
        return median

    def _flags(self, value: float, median: float) -> bool:
        return exceeds(median, value, self.factor)

    def _seen(self, value: float) -> None:
        self.recent.append(value)


class SpikeWatch(SeriesWatch):
    """The loss's watch: an exceedance counts only when its jump is also large in absolute
    terms (see :mod:`dlqa.train.monitor_rules`)."""

    def __init__(self, window: int, factor: float, noise_factor: float, min_jump: float) -> None:
        super().__init__(window, factor)
        self.noise_factor = noise_factor
        self.min_jump = min_jump
        self._first: list[float] = []  # the first `window` finite values: the loss's level

    def _flags(self, value: float, median: float) -> bool:
        if not super()._flags(value, median):
            return False
        reference = reference_level(self._first, len(self._first))
        return is_spike(
            self.recent.order, value, median, reference, self.noise_factor, self.min_jump
        )

    def _seen(self, value: float) -> None:
        super()._seen(value)
        if len(self._first) < self.recent.size:
            self._first.append(value)

"""What the ``data.batch_*`` checks read: small statistics of one pass over the batches.

Built by :mod:`dlqa.data.batch_collect`; no sample is held except the few of the preview.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlqa.core.gates import verdict
from dlqa.core.results import Status
from dlqa.data.batches import BatchDeclarations


def status_of(failures: list[str], warnings: list[str], params: dict[str, Any]) -> Status:
    """A failure fails (or warns, at ``level = "warn"``); warnings alone warn."""
    if failures:
        return verdict(True, params)
    return Status.WARN if warnings else Status.PASS


def batches_text(indices: list[int]) -> str:
    shown = ", ".join(map(str, indices[:6]))
    return shown + (f" and {len(indices) - 6} more" if len(indices) > 6 else "")


@dataclass
class LabelStats:
    """The labels of one batch."""

    dtype: str
    shape: tuple[int, ...]
    numeric: bool
    per_sample: bool  # one label per sample: (n,), (n, 1), or soft/one-hot (n, C)
    soft_width: int | None = None  # (n, C) float targets: the class is the argmax
    integral: bool = True
    nonfinite: int = 0
    minimum: float | None = None
    maximum: float | None = None
    values: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # class values
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass
class BatchRecord:
    index: int
    input_type: str  # "Tensor", "ndarray", "list", ...
    dtype: str | None = None  # None: the inputs are not an array
    shape: tuple[int, ...] | None = None
    nan: int = 0
    inf: int = 0
    nonfinite_samples: int = 0
    named_nonfinite: tuple[int, ...] = ()  # positions of the first samples with NaN/inf
    minimum: np.ndarray | None = None  # per channel, over finite values
    maximum: np.ndarray | None = None
    labels: LabelStats | None = None

    @property
    def size(self) -> int | None:
        return self.shape[0] if self.shape else None


@dataclass
class ChannelStats:
    """Per-channel moments over every finite input value of the batches, and a subsample."""

    channels: int
    count: np.ndarray
    total: np.ndarray
    total_sq: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    sampled: list[np.ndarray] = field(default_factory=list)  # (channels, k) pieces

    @classmethod
    def empty(cls, channels: int) -> ChannelStats:
        zeros = np.zeros(channels)
        return cls(channels, zeros.copy(), zeros.copy(), zeros.copy(),
                   np.full(channels, np.inf), np.full(channels, -np.inf))  # fmt: skip

    @property
    def mean(self) -> np.ndarray:
        return self.total / np.maximum(self.count, 1)

    @property
    def std(self) -> np.ndarray:
        variance = self.total_sq / np.maximum(self.count, 1) - self.mean**2
        return np.sqrt(np.maximum(variance, 0.0))

    def sample(self) -> np.ndarray:
        """(channels, k) values drawn uniformly from the batches."""
        if not self.sampled:
            return np.zeros((self.channels, 0))
        return np.concatenate(self.sampled, axis=1)


@dataclass
class PreviewSample:
    batch: int
    position: int
    array: np.ndarray  # the sample as loaded (float32), channel axis where the batch had it
    label: int | None


@dataclass
class DecodedComparison:
    """How far the batches are from the decoded inputs once the normalisation is undone."""

    scale: float | None = None
    # (batch, position, largest |undone - decoded / scale| over the sample, as a fraction
    # of the pixel range)
    errors: list[tuple[int, int, float]] = field(default_factory=list)
    # Per channel: n, sum x, sum y, sum x^2, sum x*y of (batch value x, decoded / scale y):
    # the least-squares fit y = std * x + mean that the batches actually show.
    fit: np.ndarray | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class BatchesContext:
    """What the ``data.batch_*`` checks read."""

    declared: BatchDeclarations
    batches: list[BatchRecord] = field(default_factory=list)
    channel_axis: int | None = None
    channels: ChannelStats | None = None
    preview: list[PreviewSample] = field(default_factory=list)
    decoded: DecodedComparison | None = None
    error: str | None = None  # iterating the loader raised
    error_batch: int | None = None
    reached_limit: bool = False  # stopped at max_batches

    @property
    def arrays(self) -> list[BatchRecord]:
        return [b for b in self.batches if b.shape is not None]

    @property
    def n_samples(self) -> int:
        return sum(b.size or 0 for b in self.arrays)

    def meta(self) -> dict[str, Any]:
        first = self.arrays[0] if self.arrays else None
        return {
            "batches": len(self.batches),
            "samples": self.n_samples,
            "input_shape": None if first is None else list(first.shape or ()),
            "input_dtype": None if first is None else first.dtype,
            "stopped_at_max_batches": self.reached_limit,
        }

"""Accuracy per slice of the eval set: groups of samples sharing a value of some column
(a camera, a site, a brightness range), as pure functions of arrays.

A column becomes named groups with ``slice_values``: one group per distinct value for
strings, booleans and numeric columns with few distinct values (a 0/1 flag, a small integer
code); equal-mass (quantile) bins for other numbers, so that each bin holds about the same
number of samples and none is too small to say anything. Missing values (None, NaN, empty
strings) form a group of their own, ``"(missing)"``: a model is often worst exactly where
the metadata is missing, and dropping those samples would hide it.

``slice_metrics`` gives each group's accuracy with its Wilson interval, and ``worst_first``
orders the groups by how bad they *certainly* are, not by how bad they look.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from dlqa.core.intervals import wilson_interval
from dlqa.core.results import Interval
from dlqa.evaluate.calibration import equal_mass_splits

MISSING = "(missing)"
DEFAULT_SLICE_BINS = 4
# Significant digits of the numbers in a group's name; more where 4 would give two distinct
# numbers the same name.
_DIGITS = 4


@dataclass(frozen=True, eq=False)
class SliceColumn:
    """A column turned into groups: ``names`` in their natural order (bins ascending, values
    sorted, ``"(missing)"`` last) and ``codes``, each sample's index into ``names``."""

    names: list[str]
    codes: np.ndarray  # (n,) int64
    binned: bool  # True when the groups are quantile bins of a numeric column

    def counts(self) -> np.ndarray:
        """The number of samples in each group, ``(len(names),)``."""
        return np.bincount(self.codes, minlength=len(self.names)).astype(np.int64)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(value != value)  # NaN and NaT differ from themselves
    except (TypeError, ValueError):  # pandas.NA refuses to become a bool: it is missing
        return True


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _format(numbers: np.ndarray) -> list[str]:
    """Short names (4 significant digits) for distinct ascending numbers, with more digits
    where 4 would give two of them the same name."""
    for digits in range(_DIGITS, 18):
        names = [f"{x:.{digits}g}" for x in numbers.tolist()]
        names = ["0" if name == "-0" else name for name in names]
        if len(set(names)) == len(names):
            return names
    return [repr(x) for x in numbers.tolist()]


def _assemble(
    names: list[str], present_codes: np.ndarray, missing: np.ndarray, binned: bool
) -> SliceColumn:
    codes = np.empty(len(missing), dtype=np.int64)
    codes[~missing] = present_codes
    if missing.any():
        codes[missing] = len(names)
        names = [*names, MISSING]
    return SliceColumn(names=names, codes=codes, binned=binned)


def _categorical(keys: np.ndarray, missing: np.ndarray) -> SliceColumn:
    """One group per distinct string of ``keys`` (sorted), missing samples aside."""
    distinct, inverse = np.unique(keys[~missing], return_inverse=True)
    return _assemble([str(k) for k in distinct], inverse.ravel(), missing, binned=False)


def _numeric(numbers: np.ndarray, missing: np.ndarray, n_bins: int) -> SliceColumn:
    present = numbers[~missing]
    distinct, inverse = np.unique(present, return_inverse=True)
    if len(distinct) <= n_bins:
        # A flag or a small code: its values are the groups, named as numbers.
        return _assemble(_format(distinct), inverse.ravel(), missing, binned=False)
    ordered = np.sort(present)
    splits = equal_mass_splits(ordered, n_bins)  # equal values never straddle two bins
    lowers = ordered[splits[:-1]]
    top = ordered[-1]
    edges = np.unique(np.append(lowers, top))
    name_of = dict(zip(edges.tolist(), _format(edges), strict=True))
    uppers = [*lowers[1:].tolist(), top.item()]
    last = len(lowers) - 1
    names = [  # half-open [a, b) but the last, which holds the largest value: [a, b]
        f"[{name_of[a]}, {name_of[b]}{']' if k == last else ')'}"
        for k, (a, b) in enumerate(zip(lowers.tolist(), uppers, strict=True))
    ]
    codes = np.searchsorted(lowers, present, side="right") - 1
    return _assemble(names, codes.astype(np.int64), missing, binned=True)


def slice_values(values: ArrayLike, n_bins: int = DEFAULT_SLICE_BINS) -> SliceColumn:
    """Groups of a column of ``n`` values (a list, array or pandas Series).

    * strings, booleans, mixed objects: one group per distinct value (as ``str``), sorted;
    * numbers with at most ``n_bins`` distinct values (0/1, small codes): one group each,
      ascending, named ``"0"``, ``"1"``, ...;
    * other numbers: at most ``n_bins`` equal-mass bins named ``"[0.12, 0.35)"``, the last
      closed (``"[0.35, 0.9]"``), the edges being values of the column (4 significant
      digits). Equal values always share a bin, so heavy ties give fewer, uneven bins;
    * None, NaN, NaT and empty strings: the group ``"(missing)"``, last.

    Empty input gives no group."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be an integer of at least 1, got {n_bins!r}")
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"a slice column is 1-D (one value per sample), got {array.shape}")
    kind = array.dtype.kind
    if kind == "b":
        return _categorical(array.astype(str), np.zeros(len(array), dtype=bool))
    if kind in "iuf":
        numbers = array.astype(np.float64)
        return _numeric(numbers, np.isnan(numbers), int(n_bins))
    if kind in "US":
        keys = array.astype(str)
        return _categorical(keys, np.char.strip(keys) == "")
    items = array.tolist()
    missing = np.array([_is_missing(v) for v in items], dtype=bool)
    pairs = list(zip(items, missing.tolist(), strict=True))
    if not missing.all() and all(_is_number(v) for v, gone in pairs if not gone):
        numbers = np.array([np.nan if gone else float(v) for v, gone in pairs])
        return _numeric(numbers, missing, int(n_bins))
    keys = np.array(["" if gone else str(v) for v, gone in pairs], dtype=str)
    return _categorical(keys, missing)


@dataclass(frozen=True)
class SliceMetric:
    """One group of one column: its size, accuracy with the Wilson interval, and the mean
    recall over the classes present in it (an accuracy that a frequent class cannot hide
    a rare one behind)."""

    column: str
    value: str
    n: int
    correct: int
    accuracy: float
    interval: Interval
    macro_recall: float

    def to_item(self) -> dict[str, Any]:
        """The evidence item the report's slice table reads."""
        return {
            "slice": self.column,
            "value": self.value,
            "n": self.n,
            "accuracy": self.accuracy,
            "low": self.interval.low,
            "high": self.interval.high,
        }


def slice_metrics(
    labels: ArrayLike,
    predictions: ArrayLike,
    column_name: str,
    values: ArrayLike,
    *,
    n_bins: int = DEFAULT_SLICE_BINS,
    level: float = 0.95,
) -> list[SliceMetric]:
    """Accuracy, Wilson interval and macro recall of each group of ``values`` (grouped by
    ``slice_values``), in the groups' natural order; groups without samples are left out.
    ``labels`` and ``predictions`` are 1-D arrays of class ids (or any comparable values)
    of the same length as ``values``; a mismatch or empty input raises ``ValueError``."""
    y = np.asarray(labels)
    p = np.asarray(predictions)
    if y.ndim != 1 or p.ndim != 1:
        raise ValueError(f"labels and predictions are 1-D, got shapes {y.shape} and {p.shape}")
    if len(y) != len(p):
        raise ValueError(f"labels and predictions differ in length: {len(y)} != {len(p)}")
    column = np.asarray(values)
    if column.ndim == 1 and len(column) != len(y):
        raise ValueError(
            f"slice column {column_name!r} has {len(column)} values for {len(y)} samples"
        )
    if len(y) == 0:
        raise ValueError("no samples: labels and predictions are empty")
    groups = slice_values(column, n_bins)
    right = y == p
    _, classes = np.unique(y, return_inverse=True)
    classes = classes.ravel()
    g, k = len(groups.names), int(classes.max()) + 1
    cells = groups.codes * k + classes
    per_class = np.bincount(cells, minlength=g * k).reshape(g, k)
    hits = np.bincount(cells, weights=right, minlength=g * k).reshape(g, k)
    recall = np.divide(hits, per_class, out=np.zeros((g, k)), where=per_class > 0)
    sizes = per_class.sum(axis=1)
    correct = hits.sum(axis=1)
    out = []
    for index, name in enumerate(groups.names):
        n = int(sizes[index])
        if n == 0:
            continue
        hit = int(round(correct[index]))
        present = per_class[index] > 0
        out.append(
            SliceMetric(
                column=column_name,
                value=name,
                n=n,
                correct=hit,
                accuracy=hit / n,
                interval=wilson_interval(hit, n, level),
                macro_recall=float(recall[index][present].mean()),
            )
        )
    return out


def worst_first(metrics: list[SliceMetric]) -> list[SliceMetric]:
    """The slices ordered worst first: by the **upper bound** of the Wilson interval
    ascending, then by accuracy, then larger slices first.

    The upper bound is the best accuracy the slice plausibly has; ranking by it puts first
    the slices that are *certainly* bad. Ranking by the point accuracy would put a slice of
    2 samples, both wrong (accuracy 0, but Wilson [0, 0.66]), above a slice of 200 at 50 %
    (Wilson [0.43, 0.57]), and a report listing the top few would then be full of tiny
    slices whose accuracy is noise while the real problem sits below them."""
    return sorted(metrics, key=lambda m: (m.interval.high, m.accuracy, -m.n, m.column, m.value))


__all__ = [
    "DEFAULT_SLICE_BINS",
    "MISSING",
    "SliceColumn",
    "SliceMetric",
    "slice_metrics",
    "slice_values",
    "worst_first",
]

"""Classification metrics and their confidence intervals, as pure functions of numpy arrays.

Everything starts from a confusion matrix of counts (rows = true class, columns = predicted
class). The metrics take one matrix ``(C, C)`` or a stack ``(B, C, C)`` and return one value
per matrix, so that a bootstrap computes all its resamples in one vectorised call.

Conventions (the same as scikit-learn's, so that numbers agree with what users already have):

* **zero division**: a precision, recall or F1 whose denominator is 0 is 0, as scikit-learn's
  ``zero_division=0``. A class never predicted has precision 0; a class absent from the
  labels has recall 0.
* **macro F1** averages the per-class F1 over the classes *present in the labels* (row sum
  > 0), as ``f1_score(average="macro", labels=present)``. Averaging over all ``C`` classes
  would let a class the eval set never contains pull the mean down with a 0 it cannot earn.

Intervals: accuracy, per-class recall and precision are proportions of counts, so they get
the Wilson score interval (``dlqa.core.intervals``). F1 is not a proportion; it gets a
percentile bootstrap. The bootstrap resamples the *confusion matrix*, not the predictions:
resampling n predictions with replacement is exactly a multinomial draw of n over the C*C
cells with the observed cell frequencies, and drawing that directly costs O(B * C^2) instead
of O(B * n).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from dlqa.core.intervals import wilson_interval
from dlqa.core.results import Interval

# Rows of probabilities must sum to 1 within this (float32 softmax outputs drift by ~1e-6;
# anything beyond 1e-3 is logits or unnormalised scores passed by mistake).
PROB_SUM_TOLERANCE = 1e-3
# Resampled cells held in memory at once: 1000 resamples of 100 classes is 1e7 cells (80 MB
# of int64); more classes are drawn in chunks of resamples so memory stays bounded.
_MAX_CELLS_PER_CHUNK = 10_000_000


def class_ids(values: ArrayLike, name: str) -> np.ndarray:
    """``values`` as a 1-D int64 array of class ids (whole floats such as 3.0, read from CSV,
    accepted); ``ValueError`` naming ``name`` otherwise."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class ids, got shape {array.shape}")
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
        # Class ids read from CSV or a float tensor arrive as 3.0; accept whole numbers only.
        return array.astype(np.int64)
    raise ValueError(f"{name} must hold integer class ids, got dtype {array.dtype}")


def confusion_counts(labels: ArrayLike, predictions: ArrayLike, n_classes: int) -> np.ndarray:
    """The ``(C, C)`` int64 confusion matrix: ``counts[i, j]`` = samples of true class ``i``
    predicted as ``j``. Raises ``ValueError`` on empty or mismatched input and on class ids
    outside ``0..n_classes-1``."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer):
        raise ValueError(f"n_classes must be an integer, got {n_classes!r}")
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1, got {n_classes}")
    y = class_ids(labels, "labels")
    p = class_ids(predictions, "predictions")
    if len(y) != len(p):
        raise ValueError(f"labels and predictions differ in length: {len(y)} != {len(p)}")
    if len(y) == 0:
        raise ValueError("no samples: labels and predictions are empty")
    for name, ids in (("labels", y), ("predictions", p)):
        bad = np.flatnonzero((ids < 0) | (ids >= n_classes))
        if len(bad):
            raise ValueError(
                f"{name} hold {len(bad)} class id(s) outside 0..{n_classes - 1}; "
                f"the first is {int(ids[bad[0]])} at index {int(bad[0])}"
            )
    c = int(n_classes)
    return np.bincount(y * c + p, minlength=c * c).astype(np.int64).reshape(c, c)


def probability_array(probs: ArrayLike) -> np.ndarray:
    """``probs`` checked as ``(n, C)`` probabilities: finite, non-negative, each row summing
    to 1 within ``PROB_SUM_TOLERANCE``. float32 stays float32 (no 800 MB copy at 1M x 100;
    sums run in float64). Raises ``ValueError`` naming the first row that is not."""
    array = np.asarray(probs)
    if array.ndim != 2:
        raise ValueError(f"probs must be 2-D (samples x classes), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"probs are empty: shape {array.shape}")
    if array.dtype.kind not in "iuf":
        raise ValueError(f"probs must be numbers, got dtype {array.dtype}")
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    sums = array.sum(axis=1, dtype=np.float64)
    finite = np.isfinite(sums)  # a NaN or inf anywhere in a row makes its sum NaN or inf
    if not finite.all():
        bad = int((~finite).sum())
        row = int(np.argmin(finite))
        raise ValueError(f"probs row {row} is not finite (NaN or inf; {bad} row(s) in all)")
    if array.min() < 0:
        row = int(np.flatnonzero((array < 0).any(axis=1))[0])
        raise ValueError(
            f"probs row {row} holds a negative value {array[row].min():.6g}; "
            "pass probabilities (softmax outputs), not logits"
        )
    off = np.abs(sums - 1.0) > PROB_SUM_TOLERANCE
    if off.any():
        row = int(np.argmax(off))
        raise ValueError(
            f"probs row {row} sums to {sums[row]:.6g}, not 1 (within {PROB_SUM_TOLERANCE}; "
            f"{int(off.sum())} row(s) in all); pass probabilities (softmax outputs), not logits"
        )
    return array


def predictions_from_probs(probs: ArrayLike) -> np.ndarray:
    """The predicted class of each row of ``(n, C)`` probabilities: the argmax, the first
    (lowest) class on ties. Raises ``ValueError`` naming the first row that is not finite or
    does not sum to 1 within ``PROB_SUM_TOLERANCE``."""
    return np.argmax(probability_array(probs), axis=1).astype(np.int64)


def _check_counts(counts: ArrayLike) -> np.ndarray:
    array = np.asarray(counts)
    if array.ndim not in (2, 3) or array.shape[-1] != array.shape[-2] or array.shape[-1] == 0:
        raise ValueError(
            f"a confusion matrix is (C, C) or a stack (B, C, C) with C >= 1, got {array.shape}"
        )
    if array.dtype.kind not in "iuf" or np.any(array < 0) or not np.all(np.isfinite(array)):
        raise ValueError("a confusion matrix holds non-negative finite counts")
    if np.any(array.sum(axis=(-2, -1)) == 0):
        raise ValueError("a confusion matrix counts no samples")
    return array


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # zero_division=0: where the denominator is 0 the ratio is 0, not NaN.
    out = np.zeros(np.broadcast_shapes(numerator.shape, denominator.shape), dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def accuracy(counts: ArrayLike) -> float | np.ndarray:
    """The share of samples on the diagonal: a float for one matrix, ``(B,)`` for a stack."""
    m = _check_counts(counts)
    value = np.trace(m, axis1=-2, axis2=-1) / m.sum(axis=(-2, -1))
    return float(value) if m.ndim == 2 else value.astype(np.float64)


def precision_per_class(counts: ArrayLike) -> np.ndarray:
    """Per-class precision, ``(..., C)``; 0 for a class never predicted."""
    m = _check_counts(counts)
    return _ratio(np.diagonal(m, axis1=-2, axis2=-1), m.sum(axis=-2))


def recall_per_class(counts: ArrayLike) -> np.ndarray:
    """Per-class recall, ``(..., C)``; 0 for a class absent from the labels."""
    m = _check_counts(counts)
    return _ratio(np.diagonal(m, axis1=-2, axis2=-1), m.sum(axis=-1))


def f1_per_class(counts: ArrayLike) -> np.ndarray:
    """Per-class F1 = 2 TP / (2 TP + FP + FN), ``(..., C)``; 0 when that denominator is 0
    (the class is neither in the labels nor predicted). Equal to the harmonic mean of
    precision and recall whenever both are defined."""
    m = _check_counts(counts)
    tp = np.diagonal(m, axis1=-2, axis2=-1)
    return _ratio(2.0 * tp, m.sum(axis=-1) + m.sum(axis=-2))


def present_classes(counts: ArrayLike) -> np.ndarray:
    """Boolean ``(..., C)``: the classes with at least one sample in the labels."""
    return _check_counts(counts).sum(axis=-1) > 0


def macro_f1(counts: ArrayLike, present: ArrayLike | None = None) -> float | np.ndarray:
    """The mean per-class F1 over the classes present in the labels (or over the boolean
    mask ``present``, shape ``(C,)``, which a bootstrap fixes to the observed classes so that
    every resample averages the same classes)."""
    m = _check_counts(counts)
    mask = m.sum(axis=-1) > 0 if present is None else np.asarray(present, dtype=bool)
    if mask.shape[-1] != m.shape[-1]:
        raise ValueError(f"present has {mask.shape[-1]} classes, the matrix {m.shape[-1]}")
    if not np.all(mask.any(axis=-1)):
        raise ValueError("macro F1 over no class: the mask of present classes is empty")
    value = (f1_per_class(m) * mask).sum(axis=-1) / mask.sum(axis=-1)
    return float(value) if m.ndim == 2 else value.astype(np.float64)


def accuracy_interval(counts: ArrayLike, level: float = 0.95) -> Interval:
    """The Wilson interval of the accuracy of one ``(C, C)`` matrix."""
    m = _single(counts)
    return wilson_interval(int(np.trace(m)), int(m.sum()), level)


def recall_intervals(counts: ArrayLike, level: float = 0.95) -> list[Interval]:
    """The Wilson interval of each class's recall (TP of the row's samples); a class absent
    from the labels gets [0, 1]: nothing is known about it."""
    m = _single(counts)
    rows = m.sum(axis=1)
    return [wilson_interval(int(m[k, k]), int(rows[k]), level) for k in range(len(m))]


def precision_intervals(counts: ArrayLike, level: float = 0.95) -> list[Interval]:
    """The Wilson interval of each class's precision (TP of the column's predictions); a
    class never predicted gets [0, 1]."""
    m = _single(counts)
    cols = m.sum(axis=0)
    return [wilson_interval(int(m[k, k]), int(cols[k]), level) for k in range(len(m))]


def _single(counts: ArrayLike) -> np.ndarray:
    m = _check_counts(counts)
    if m.ndim != 2:
        raise ValueError(f"expected one (C, C) confusion matrix, got a stack {m.shape}")
    if m.dtype.kind == "f" and np.any(m != np.round(m)):
        raise ValueError("a Wilson interval needs whole counts")
    return m


def resample_counts(
    counts: ArrayLike, n_resamples: int = 1000, seed: int = 0
) -> Iterator[np.ndarray]:
    """Bootstrap resamples of a ``(C, C)`` matrix, yielded as stacks ``(b, C, C)`` (chunks
    whose sizes add up to ``n_resamples``). Each resample is one multinomial draw of the
    matrix's total over its cells with the observed frequencies: the matrix that resampling
    the predictions with replacement would give, without touching the predictions."""
    m = _single(counts).astype(np.int64)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    c = m.shape[0]
    flat = m.ravel()
    n = int(flat.sum())
    # Cells never observed stay 0 in every resample: draw only over the observed ones.
    cells = np.flatnonzero(flat)
    p = flat[cells] / n
    rng = np.random.default_rng(seed)
    chunk = max(1, _MAX_CELLS_PER_CHUNK // (c * c))
    done = 0
    while done < n_resamples:
        b = min(chunk, n_resamples - done)
        drawn = rng.multinomial(n, p, size=b)
        stack = np.zeros((b, c * c), dtype=np.int64)
        stack[:, cells] = drawn
        yield stack.reshape(b, c, c)
        done += b


def _percentile_interval(values: np.ndarray, level: float) -> Interval:
    if not 0.0 < level < 1.0:
        raise ValueError(f"a confidence level lies in (0, 1), not {level!r}")
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha], axis=0)
    return Interval(float(low), float(high), level)


@dataclass(frozen=True)
class BootstrapIntervals:
    """Percentile bootstrap intervals of several metrics, all from the same resamples."""

    accuracy: Interval
    macro_f1: Interval
    f1_per_class: list[Interval]


def bootstrap_intervals(
    counts: ArrayLike, n_resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> BootstrapIntervals:
    """Accuracy, macro F1 and per-class F1 intervals from one set of ``n_resamples``
    resamples of a ``(C, C)`` matrix. The multinomial draw is nearly all of the cost (about
    1.3 s for 1,000 resamples of 100 classes), so a caller wanting several metrics draws
    once here rather than once per ``bootstrap_*`` function. Macro F1 averages the classes
    present in the observed matrix, fixed across resamples (as a naive bootstrap passing
    ``labels=present`` to scikit-learn would). Reproducible from ``seed``."""
    present = present_classes(_single(counts))
    accs, macros, per_class = [], [], []
    for stack in resample_counts(counts, n_resamples, seed):
        accs.append(accuracy(stack))
        f1 = f1_per_class(stack)
        per_class.append(f1)
        macros.append((f1 * present).sum(axis=-1) / present.sum())
    f1s = np.concatenate(per_class)
    return BootstrapIntervals(
        accuracy=_percentile_interval(np.concatenate(accs), level),
        macro_f1=_percentile_interval(np.concatenate(macros), level),
        f1_per_class=[_percentile_interval(f1s[:, k], level) for k in range(f1s.shape[1])],
    )


def bootstrap_accuracy(
    counts: ArrayLike, n_resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> Interval:
    """The percentile bootstrap interval of the accuracy (``accuracy_interval``'s Wilson
    interval is the one to report; this one exists to compare with it)."""
    return bootstrap_intervals(counts, n_resamples, level, seed).accuracy


def bootstrap_macro_f1(
    counts: ArrayLike, n_resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> Interval:
    """The percentile bootstrap interval of the macro F1 of one ``(C, C)`` matrix, over the
    classes present in it (see ``bootstrap_intervals``). Reproducible from ``seed``."""
    return bootstrap_intervals(counts, n_resamples, level, seed).macro_f1


def bootstrap_f1_per_class(
    counts: ArrayLike, n_resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> list[Interval]:
    """The percentile bootstrap interval of each class's F1."""
    return bootstrap_intervals(counts, n_resamples, level, seed).f1_per_class


__all__ = [
    "PROB_SUM_TOLERANCE",
    "BootstrapIntervals",
    "accuracy",
    "accuracy_interval",
    "bootstrap_accuracy",
    "bootstrap_f1_per_class",
    "bootstrap_intervals",
    "bootstrap_macro_f1",
    "confusion_counts",
    "f1_per_class",
    "macro_f1",
    "precision_intervals",
    "precision_per_class",
    "predictions_from_probs",
    "present_classes",
    "recall_intervals",
    "recall_per_class",
    "resample_counts",
]

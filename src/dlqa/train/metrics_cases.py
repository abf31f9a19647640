"""Inputs that a metric is verified on: deterministic edge cases, then hypothesis strategies.

Every input is a pair ``(y_true, y_pred)`` of numpy arrays: ``y_true`` holds int64 class labels;
``y_pred`` holds labels (kind ``"labels"``), one score per sample (``"scores"``, binary) or
probabilities (``"probabilities"``: the probability of class 1 when there are two classes, one
row per sample otherwise). Probabilities stay within [0.001, 0.999] so that the clipping
convention of a log-loss (1e-15, 1e-7, machine epsilon) never decides the verdict.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MetricInput = tuple[np.ndarray, np.ndarray]
# The probability given to the predicted class when labels become probabilities (0.2 for the
# other class when there are two; written out so that 1 - 0.8 rounding never shows up).
CONFIDENT, UNSURE = 0.8, 0.2
MAX_SAMPLES = 40


def classes_for(kind: str, binary: bool, n_classes: int | None) -> int | None:
    """The number of classes inputs are drawn from; None lets hypothesis pick 2 to 5 per example
    (labels only: scores and probabilities without ``n_classes`` are binary)."""
    if n_classes is not None:
        return n_classes
    if binary or kind != "labels":
        return 2
    return None


def _label_cases(n: int) -> list[tuple[str, list[int], list[int]]]:
    cycle = [c % n for c in range(2 * n)]
    top = n - 1
    without_top = [0 if c == top else c for c in cycle]
    return [
        ("edge: all right", cycle, cycle),
        ("edge: all wrong", cycle, [(c + 1) % n for c in cycle]),
        ("edge: a class never predicted", cycle, without_top),
        ("edge: a class never in y_true", without_top, cycle),
        ("edge: one class present", [1, 1, 1, 1], [1, 1, 1, 1]),
        ("edge: one class in y_true, predictions mixed", [0, 0, 0, 0], [0, 1, 0, 1]),
        ("edge: single sample, right", [1], [1]),
        ("edge: single sample, wrong", [1], [0]),
        ("edge: imbalanced", [0] * 8 + [1] * 2, [0] * 9 + [1]),
        ("edge: empty input", [], []),
    ]


def _as_probabilities(predicted: list[int], n: int) -> np.ndarray:
    labels = np.asarray(predicted, dtype=np.int64)
    if n == 2:
        return np.where(labels == 1, CONFIDENT, UNSURE)
    rows = np.full((len(labels), n), (1.0 - CONFIDENT) / (n - 1))
    rows[np.arange(len(labels)), labels] = CONFIDENT
    return rows


def _uniform(count: int, n: int) -> np.ndarray:
    return np.full(count, 0.5) if n == 2 else np.full((count, n), 1.0 / n)


def edge_cases(kind: str, n_classes: int | None, binary: bool) -> list[tuple[str, MetricInput]]:
    """Named edge cases, in the order they are tried."""
    n = classes_for(kind, binary, n_classes) or 3
    cases: list[tuple[str, MetricInput]] = []
    for name, y_true, y_pred in _label_cases(n):
        if kind != "labels" and n == 2 and "never" in name:
            continue  # with two classes, a score cannot "never predict" a class
        truth = np.asarray(y_true, dtype=np.int64)
        if kind == "labels":
            cases.append((name, (truth, np.asarray(y_pred, dtype=np.int64))))
        else:
            cases.append((name, (truth, _as_probabilities(y_pred, n))))
    if kind != "labels":
        balanced = np.asarray([c % n for c in range(2 * n)], dtype=np.int64)
        cases.insert(2, ("edge: ties in scores (all equal)", (balanced, _uniform(2 * n, n))))
        if n == 2:
            # Ties between classes, not only within one: the tie-handling of a rank-based AUC.
            truth = np.asarray([0, 1, 0, 1, 0, 1], dtype=np.int64)
            scores = np.asarray([0.2, 0.2, 0.5, 0.5, 0.3, 0.9])
            cases.insert(3, ("edge: ties in scores (across classes)", (truth, scores)))
    return cases


def input_strategy(kind: str, n_classes: int | None, binary: bool) -> Any:
    """A hypothesis strategy of ``(y_true, y_pred)`` pairs that shrinks to short, low labels."""
    from hypothesis import strategies as st

    fixed = classes_for(kind, binary, n_classes)
    # Scores drawn partly from a small grid so that ties happen often.
    score = st.one_of(
        st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]),
        st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False),
    )
    probability = st.floats(0.001, 0.999, allow_nan=False, allow_infinity=False)

    @st.composite
    def pairs(draw: Any) -> MetricInput:
        n = fixed if fixed is not None else draw(st.integers(2, 5), label="n_classes")
        label = st.integers(0, n - 1)
        if kind == "labels":
            prediction: Any = label
        elif n == 2:
            prediction = score if kind == "scores" else probability
        else:
            prediction = st.lists(st.floats(0.01, 1.0), min_size=n, max_size=n)
        rows = draw(st.lists(st.tuples(label, prediction), min_size=1, max_size=MAX_SAMPLES))
        y_true = np.asarray([row[0] for row in rows], dtype=np.int64)
        if kind == "labels":
            return y_true, np.asarray([row[1] for row in rows], dtype=np.int64)
        y_pred = np.asarray([row[1] for row in rows], dtype=float)
        if y_pred.ndim == 2:
            y_pred = y_pred / y_pred.sum(axis=1, keepdims=True)
        return y_true, y_pred

    return pairs()

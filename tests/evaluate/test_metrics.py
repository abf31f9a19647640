"""The metrics against scikit-learn, their intervals against core's Wilson interval, and the
matrix bootstrap's behaviour (coverage, shrinking, seeds)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
)

from dlqa.core.intervals import wilson_interval
from dlqa.evaluate import (
    accuracy,
    accuracy_interval,
    bootstrap_accuracy,
    bootstrap_f1_per_class,
    bootstrap_intervals,
    bootstrap_macro_f1,
    confusion_counts,
    f1_per_class,
    macro_f1,
    precision_intervals,
    precision_per_class,
    predictions_from_probs,
    recall_intervals,
    recall_per_class,
    resample_counts,
)


def model(n: int, c: int, acc: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Labels over ``c`` classes and predictions right with probability ``acc``, else a
    uniformly drawn other class."""
    y = rng.integers(0, c, n)
    wrong = (y + rng.integers(1, c, n)) % c if c > 1 else y
    return y, np.where(rng.random(n) < acc, y, wrong)


def assert_like_sklearn(y: np.ndarray, p: np.ndarray, c: int) -> None:
    m = confusion_counts(y, p, c)
    everything = list(range(c))
    present = sorted(set(y.tolist()))
    np.testing.assert_array_equal(m, confusion_matrix(y, p, labels=everything))
    assert accuracy(m) == pytest.approx(accuracy_score(y, p), abs=1e-12)
    kw = {"labels": everything, "average": None, "zero_division": 0}
    np.testing.assert_allclose(precision_per_class(m), precision_score(y, p, **kw), atol=1e-12)
    np.testing.assert_allclose(recall_per_class(m), recall_score(y, p, **kw), atol=1e-12)
    np.testing.assert_allclose(f1_per_class(m), f1_score(y, p, **kw), atol=1e-12)
    expected = f1_score(y, p, labels=present, average="macro", zero_division=0)
    assert macro_f1(m) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_metrics_match_sklearn_on_random_inputs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = int(rng.integers(2, 12))
    y, p = model(int(rng.integers(5, 400)), c, float(rng.uniform(0.1, 0.95)), rng)
    assert_like_sklearn(y, p, c)


def test_one_class_present() -> None:
    y = np.zeros(10, dtype=int)
    p = np.array([0, 0, 0, 1, 2, 0, 0, 1, 0, 0])
    assert_like_sklearn(y, p, 3)
    # Only class 0 counts in the macro F1: classes 1 and 2 are absent from the labels.
    assert macro_f1(confusion_counts(y, p, 3)) == pytest.approx(2 * 7 / (2 * 7 + 3))


def test_a_class_never_predicted_and_one_never_seen() -> None:
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    p = np.array([0, 1, 1, 1, 0, 1, 0])  # class 2 never predicted, class 3 never anywhere
    assert_like_sklearn(y, p, 4)
    m = confusion_counts(y, p, 4)
    assert precision_per_class(m)[2] == 0.0 and f1_per_class(m)[3] == 0.0
    assert recall_per_class(m)[3] == 0.0


def test_perfect_predictions() -> None:
    y = np.arange(5).repeat(3)
    assert_like_sklearn(y, y, 5)
    assert macro_f1(confusion_counts(y, y, 5)) == 1.0


def test_stacks_equal_per_matrix_results() -> None:
    rng = np.random.default_rng(1)
    mats = [confusion_counts(*model(60, 4, 0.6, rng), 4) for _ in range(5)]
    mats.append(confusion_counts(np.zeros(4, int), np.array([0, 1, 1, 0]), 4))
    stack = np.stack(mats)
    np.testing.assert_allclose(accuracy(stack), [accuracy(m) for m in mats])
    np.testing.assert_allclose(macro_f1(stack), [macro_f1(m) for m in mats])
    for fn in (precision_per_class, recall_per_class, f1_per_class):
        np.testing.assert_allclose(fn(stack), np.stack([fn(m) for m in mats]))


def test_ties_in_probs_pick_the_first_class() -> None:
    probs = np.array([[0.5, 0.5, 0.0], [0.2, 0.4, 0.4], [1 / 3, 1 / 3, 1 / 3], [0.1, 0.2, 0.7]])
    np.testing.assert_array_equal(predictions_from_probs(probs), [0, 1, 0, 2])


def test_probs_tolerate_float32_rounding() -> None:
    probs = np.array([[0.2, 0.3, 0.5 + 5e-4]], dtype=np.float32)
    assert predictions_from_probs(probs).tolist() == [2]


@pytest.mark.parametrize(
    ("probs", "message"),
    [
        (np.ones(3) / 3, "2-D"),
        (np.zeros((0, 3)), "empty"),
        (np.array([[0.5, 0.5], [np.nan, 1.0]]), "row 1 is not finite"),
        (np.array([[0.5, 0.5], [0.5, 0.5], [0.3, 0.7], [3.0, 1.0]]), "row 3 sums to 4"),
    ],
)
def test_bad_probs_raise(probs: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        predictions_from_probs(probs)


@pytest.mark.parametrize(
    ("labels", "predictions", "n_classes", "message"),
    [
        ([], [], 3, "empty"),
        ([0, 1], [0], 3, "differ in length: 2 != 1"),
        ([0, 3, 1], [0, 1, 1], 3, "labels hold 1 class id.*outside 0..2.*3 at index 1"),
        ([0, 1], [-1, 1], 3, "predictions hold 1 class id.*-1 at index 0"),
        ([0.5, 1], [0, 1], 3, "integer class ids"),
        ([[0, 1]], [[0, 1]], 3, "1-D"),
        ([0, 1], [0, 1], 0, "at least 1"),
    ],
)
def test_bad_confusion_input_raises(labels, predictions, n_classes, message) -> None:
    with pytest.raises(ValueError, match=message):
        confusion_counts(labels, predictions, n_classes)


def test_whole_float_ids_are_accepted() -> None:
    m = confusion_counts(np.array([0.0, 1.0]), np.array([1.0, 1.0]), 2)
    np.testing.assert_array_equal(m, [[0, 1], [0, 1]])


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        (np.zeros((3, 3), int), "no samples"),
        (np.ones((2, 3), int), r"\(C, C\)"),
        (-np.eye(2, dtype=int), "non-negative"),
    ],
)
def test_bad_matrices_raise(counts: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        accuracy(counts)


def test_wilson_intervals_equal_cores() -> None:
    m = np.array([[30, 5, 0], [4, 20, 1], [0, 0, 0]])
    assert accuracy_interval(m) == wilson_interval(50, 60)
    assert accuracy_interval(m, level=0.9) == wilson_interval(50, 60, 0.9)
    assert recall_intervals(m) == [
        wilson_interval(30, 35),
        wilson_interval(20, 25),
        wilson_interval(0, 0),
    ]
    assert precision_intervals(m) == [
        wilson_interval(30, 34),
        wilson_interval(20, 25),
        wilson_interval(0, 1),
    ]


def test_accuracy_interval_covers_the_truth_about_95_percent() -> None:
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(300):
        m = confusion_counts(*model(400, 5, 0.8, rng), 5)
        interval = accuracy_interval(m)
        covered += interval.low <= 0.8 <= interval.high
    assert 0.92 <= covered / 300 <= 0.98


def test_resamples_keep_the_total_and_the_empty_cells() -> None:
    m = np.array([[50, 3, 0], [2, 40, 5], [0, 1, 9]])
    chunks = list(resample_counts(m, 37, seed=3))
    stack = np.concatenate(chunks)
    assert stack.shape == (37, 3, 3) and stack.dtype == np.int64
    assert np.all(stack.sum(axis=(1, 2)) == m.sum())
    assert np.all(stack[:, m == 0] == 0)
    # The mean resample is the observed matrix (a multinomial's mean is n p).
    np.testing.assert_allclose(stack.mean(axis=0), m, atol=4.0)


def test_bootstrap_covers_the_estimate_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(11)
    widths = []
    for n in (500, 5_000, 50_000):
        m = confusion_counts(*model(n, 6, 0.75, rng), 6)
        interval = bootstrap_macro_f1(m, n_resamples=400)
        assert interval.low <= macro_f1(m) <= interval.high
        assert interval.level == 0.95
        widths.append(interval.high - interval.low)
    assert widths[0] > widths[1] > widths[2]
    # Width goes as 1 / sqrt(n): 10x the samples, about a third of the width.
    assert 2.0 < widths[0] / widths[1] < 4.5


def test_bootstrap_is_reproducible_from_the_seed() -> None:
    m = confusion_counts(*model(300, 4, 0.7, np.random.default_rng(0)), 4)
    assert bootstrap_macro_f1(m, 200, seed=5) == bootstrap_macro_f1(m, 200, seed=5)
    assert bootstrap_macro_f1(m, 200, seed=5) != bootstrap_macro_f1(m, 200, seed=6)
    assert bootstrap_f1_per_class(m, 200, seed=1) == bootstrap_f1_per_class(m, 200, seed=1)


def test_bootstrap_accuracy_agrees_with_wilson() -> None:
    m = confusion_counts(*model(5_000, 10, 0.8, np.random.default_rng(2)), 10)
    boot, wilson = bootstrap_accuracy(m, 2000), accuracy_interval(m)
    half = (wilson.high - wilson.low) / 2
    assert abs(boot.low - wilson.low) < 0.15 * half
    assert abs(boot.high - wilson.high) < 0.15 * half


def test_bootstrap_agrees_with_a_naive_bootstrap_of_the_predictions() -> None:
    rng = np.random.default_rng(4)
    y, p = model(2_000, 5, 0.7, rng)
    present = sorted(set(y.tolist()))
    naive = []
    for _ in range(1_000):
        idx = rng.integers(0, len(y), len(y))
        naive.append(f1_score(y[idx], p[idx], labels=present, average="macro", zero_division=0))
    low, high = np.quantile(naive, [0.025, 0.975])
    fast = bootstrap_macro_f1(confusion_counts(y, p, 5), 1_000, seed=0)
    half = (high - low) / 2
    # Both are Monte Carlo estimates from 1,000 resamples: allow a quarter of the half-width.
    assert abs(fast.low - low) < 0.25 * half and abs(fast.high - high) < 0.25 * half


def test_bootstrap_per_class_f1_covers_each_estimate() -> None:
    m = confusion_counts(*model(3_000, 4, 0.7, np.random.default_rng(9)), 4)
    for interval, value in zip(bootstrap_f1_per_class(m, 300), f1_per_class(m), strict=True):
        assert interval.low <= value <= interval.high


def test_bootstrap_rejects_bad_arguments() -> None:
    m = np.array([[3, 1], [1, 3]])
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_macro_f1(m, n_resamples=0)
    with pytest.raises(ValueError, match="level"):
        bootstrap_macro_f1(m, level=1.5)
    with pytest.raises(ValueError, match="stack"):
        bootstrap_macro_f1(np.stack([m, m]))


def test_bootstrap_intervals_share_the_resamples_of_the_single_functions() -> None:
    m = confusion_counts(*model(800, 5, 0.7, np.random.default_rng(3)), 5)
    both = bootstrap_intervals(m, 300, level=0.9, seed=2)
    assert both.accuracy == bootstrap_accuracy(m, 300, 0.9, seed=2)
    assert both.macro_f1 == bootstrap_macro_f1(m, 300, 0.9, seed=2)
    assert both.f1_per_class == bootstrap_f1_per_class(m, 300, 0.9, seed=2)
    assert both.macro_f1.level == 0.9 and len(both.f1_per_class) == 5


def test_resamples_in_chunks_keep_their_totals(monkeypatch: pytest.MonkeyPatch) -> None:
    # Many classes are drawn in chunks of resamples to bound memory; chunks change nothing
    # but the memory: every resample keeps the total and the interval stays sane.
    from dlqa.evaluate import metrics

    m = confusion_counts(*model(2_000, 8, 0.7, np.random.default_rng(5)), 8)
    monkeypatch.setattr(metrics, "_MAX_CELLS_PER_CHUNK", 64 * 7)
    chunks = list(resample_counts(m, 50, seed=0))
    assert [len(chunk) for chunk in chunks] == [7] * 7 + [1]
    assert all(np.all(chunk.sum(axis=(1, 2)) == 2_000) for chunk in chunks)
    interval = bootstrap_macro_f1(m, 200)
    assert interval.low <= macro_f1(m) <= interval.high

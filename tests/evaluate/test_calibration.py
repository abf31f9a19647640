"""Calibration: ECE and Brier against hand-computed values and scikit-learn, the equal-mass
bins (ties, sizes), simulated calibrated and overconfident models, the intervals (fast path
against the exact bootstrap) and the validation of inputs."""

from __future__ import annotations

import numpy as np
import pytest

from dlqa.evaluate.calibration import (
    EXACT_BOOTSTRAP_MAX_N,
    brier_per_sample,
    brier_score,
    calibration_intervals,
    equal_mass_splits,
    expected_calibration_error,
    reliability_bins,
)

# Four samples, two classes. confidence = max prob, prediction = argmax:
#   row 0: [0.9, 0.1] label 0 -> conf 0.9, right
#   row 1: [0.8, 0.2] label 1 -> conf 0.8, wrong
#   row 2: [0.3, 0.7] label 1 -> conf 0.7, right
#   row 3: [0.4, 0.6] label 1 -> conf 0.6, right
TINY_PROBS = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
TINY_LABELS = np.array([0, 1, 1, 1])


def simulated(
    n: int, c: int, gap: float, rng: np.random.Generator, low: float = 0.4
) -> tuple[np.ndarray, np.ndarray]:
    """A model whose confidence is uniform on [low, 1] and which is right with probability
    ``confidence - gap`` (gap 0: calibrated; gap > 0: overconfident by ``gap``). The rest of
    the mass is spread evenly over the other classes."""
    conf = rng.uniform(low, 1.0, n)
    right = rng.random(n) < conf - gap
    labels = rng.integers(0, c, n)
    predicted = np.where(right, labels, (labels + rng.integers(1, c, n)) % c)
    probs = np.repeat(((1.0 - conf) / (c - 1))[:, None], c, axis=1)
    probs[np.arange(n), predicted] = conf
    return probs, labels


# ------------------------------------------------------------------ point estimates


def test_ece_by_hand() -> None:
    # 2 bins of 2 by confidence: {0.6, 0.7} both right: |1.0 - 0.65| = 0.35;
    # {0.8, 0.9} one right: |0.5 - 0.85| = 0.35. ECE = 2/4 * 0.35 + 2/4 * 0.35 = 0.35.
    assert expected_calibration_error(TINY_PROBS, TINY_LABELS, n_bins=2) == pytest.approx(0.35)
    # One bin: mean confidence (0.9 + 0.8 + 0.7 + 0.6) / 4 = 0.75, accuracy 3/4: ECE 0.
    assert expected_calibration_error(TINY_PROBS, TINY_LABELS, n_bins=1) == pytest.approx(0.0)
    # Four bins of one: |1-0.6| + |1-0.7| + |0-0.8| + |1-0.9| = 0.4+0.3+0.8+0.1 = 1.6; / 4.
    assert expected_calibration_error(TINY_PROBS, TINY_LABELS, n_bins=4) == pytest.approx(0.4)
    # More bins than samples: as many bins as samples.
    assert expected_calibration_error(TINY_PROBS, TINY_LABELS, n_bins=15) == pytest.approx(0.4)


def test_reliability_bins_by_hand() -> None:
    bins = reliability_bins(TINY_PROBS, TINY_LABELS, n_bins=2)
    assert bins.counts.tolist() == [2, 2]
    np.testing.assert_allclose(bins.confidence, [0.65, 0.85])
    np.testing.assert_allclose(bins.accuracy, [1.0, 0.5])
    np.testing.assert_allclose(bins.low, [0.6, 0.8])
    np.testing.assert_allclose(bins.high, [0.7, 0.9])
    assert bins.assignment.tolist() == [1, 1, 0, 0]
    items = bins.to_items()
    assert items[0] == pytest.approx(
        {"confidence": 0.65, "accuracy": 1.0, "count": 2, "low": 0.6, "high": 0.7}
    )
    assert all(type(item["count"]) is int for item in items)
    assert all(type(item[key]) is float for item in items for key in ("low", "high"))


def test_brier_by_hand() -> None:
    # sum_c (p_c - onehot_c)^2 per row:
    #   row 0: (0.9 - 1)^2 + 0.1^2 = 0.02      row 1: 0.8^2 + (0.2 - 1)^2 = 1.28
    #   row 2: 0.3^2 + (0.7 - 1)^2 = 0.18      row 3: 0.4^2 + (0.6 - 1)^2 = 0.32
    # mean = 1.80 / 4 = 0.45
    np.testing.assert_allclose(
        brier_per_sample(TINY_PROBS, TINY_LABELS), [0.02, 1.28, 0.18, 0.32], atol=1e-12
    )
    assert brier_score(TINY_PROBS, TINY_LABELS) == pytest.approx(0.45)
    # Three classes, label 2: (0.5)^2 + (0.3)^2 + (0.2 - 1)^2 = 0.25 + 0.09 + 0.64 = 0.98.
    assert brier_score([[0.5, 0.3, 0.2]], [2]) == pytest.approx(0.98)
    # The extremes: certain and right 0, certain and wrong 2, uniform over C: 1 - 1/C.
    assert brier_score([[1.0, 0.0, 0.0]], [0]) == pytest.approx(0.0)
    assert brier_score([[1.0, 0.0, 0.0]], [1]) == pytest.approx(2.0)
    assert brier_score([[0.25] * 4], [3]) == pytest.approx(0.75)


def test_brier_matches_scikit_learn_unscaled() -> None:
    from sklearn.metrics import brier_score_loss

    rng = np.random.default_rng(3)
    for c in (2, 3, 10):
        probs, labels = simulated(500, c, 0.05, rng, low=0.5)
        expected = brier_score_loss(labels, probs, labels=range(c), scale_by_half=False)
        assert brier_score(probs, labels) == pytest.approx(expected, rel=1e-12)


def test_float32_inputs_agree_with_float64() -> None:
    probs, labels = simulated(2000, 10, 0.1, np.random.default_rng(4))
    as32 = probs.astype(np.float32)
    assert brier_score(as32, labels) == pytest.approx(brier_score(probs, labels), abs=1e-6)
    assert expected_calibration_error(as32, labels) == pytest.approx(
        expected_calibration_error(probs, labels), abs=1e-6
    )


def test_calibrated_model_has_ece_near_zero() -> None:
    probs, labels = simulated(100_000, 10, 0.0, np.random.default_rng(0))
    # The upward bias alone is about 0.8 * sqrt(15 * 0.14 / 1e5) = 0.004.
    assert expected_calibration_error(probs, labels) < 0.01


def test_overconfident_model_has_ece_of_its_gap() -> None:
    probs, labels = simulated(100_000, 10, 0.15, np.random.default_rng(1))
    assert expected_calibration_error(probs, labels) == pytest.approx(0.15, abs=0.01)
    bins = reliability_bins(probs, labels)
    # Every bin is overconfident: accuracy below mean confidence by about the gap.
    np.testing.assert_allclose(bins.gaps, -0.15, atol=0.03)


# ------------------------------------------------------------------ equal-mass bins


def test_bins_have_equal_mass() -> None:
    probs, labels = simulated(1000, 5, 0.0, np.random.default_rng(5))
    bins = reliability_bins(probs, labels, n_bins=15)
    assert len(bins.counts) == 15
    assert set(bins.counts.tolist()) <= {66, 67}  # 1000 / 15 = 66.7
    assert bins.n == 1000
    assert np.all(bins.high[:-1] < bins.low[1:])  # ascending, disjoint ranges
    assert np.all(np.bincount(bins.assignment) == bins.counts)


def test_ties_are_never_split() -> None:
    rng = np.random.default_rng(6)
    probs, labels = simulated(1000, 5, 0.0, rng)
    conf = np.round(probs.max(axis=1), 1)  # 7 distinct confidences, heavy ties
    probs = np.repeat(((1.0 - conf) / 4)[:, None], 5, axis=1)
    probs[np.arange(1000), labels] = conf
    bins = reliability_bins(probs, labels, n_bins=15)
    for value in np.unique(conf):
        assert len(np.unique(bins.assignment[conf == value])) == 1
    assert len(bins.counts) <= 7
    assert np.all(bins.high[:-1] < bins.low[1:])


def test_one_confidence_is_one_bin() -> None:
    probs = np.tile([0.7, 0.2, 0.1], (50, 1))
    labels = np.r_[np.zeros(35, dtype=int), np.ones(15, dtype=int)]
    bins = reliability_bins(probs, labels)
    assert bins.counts.tolist() == [50]
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0)


def test_equal_mass_splits() -> None:
    assert equal_mass_splits(np.arange(10.0), 4).tolist() == [0, 2, 5, 8, 10]  # 10/4 rounds
    assert equal_mass_splits(np.arange(3.0), 15).tolist() == [0, 1, 2, 3]
    assert equal_mass_splits([], 4).tolist() == [0]
    # The cut at 4 would split the run of 1s (positions 2..6): it moves to the nearer end.
    values = [0, 0, 1, 1, 1, 1, 1, 2]
    assert equal_mass_splits(values, 2).tolist() == [0, 2, 8]
    assert equal_mass_splits([5, 5, 5, 5], 3).tolist() == [0, 4]


# ------------------------------------------------------------------ intervals


def test_intervals_contain_the_estimates_and_shrink_with_n() -> None:
    widths = []
    for n in (500, 5000, 50_000):
        probs, labels = simulated(n, 10, 0.1, np.random.default_rng(n))
        result = calibration_intervals(probs, labels, n_resamples=500)
        assert result.method == ("exact" if n <= EXACT_BOOTSTRAP_MAX_N else "normal")
        assert result.ece_value == pytest.approx(expected_calibration_error(probs, labels))
        assert result.brier_value == pytest.approx(brier_score(probs, labels))
        assert result.ece.low <= result.ece_value <= result.ece.high
        assert result.brier.low <= result.brier_value <= result.brier.high
        widths.append(result.ece.high - result.ece.low)
    assert widths[0] > widths[1] > widths[2]


def test_interval_contains_estimate_of_a_calibrated_model() -> None:
    # Nearly calibrated: the resampled ECEs sit above the estimate (|noise| is biased up),
    # and the interval is extended down to the estimate rather than exclude it.
    for seed in range(5):
        probs, labels = simulated(2000, 10, 0.0, np.random.default_rng(seed))
        for method in ("exact", "normal"):
            result = calibration_intervals(probs, labels, seed=seed, method=method)
            assert result.ece.low <= result.ece_value <= result.ece.high


def test_intervals_are_reproducible() -> None:
    probs, labels = simulated(3000, 10, 0.1, np.random.default_rng(7))
    a = calibration_intervals(probs, labels, seed=1)
    b = calibration_intervals(probs, labels, seed=1)
    c = calibration_intervals(probs, labels, seed=2)
    assert (a.ece, a.brier) == (b.ece, b.brier)
    assert a.ece != c.ece
    assert a.ece.level == 0.95


@pytest.mark.parametrize("gap", [0.1, 0.03])
def test_fast_path_agrees_with_exact_bootstrap(gap: float) -> None:
    probs, labels = simulated(20_000, 10, gap, np.random.default_rng(11))
    exact = calibration_intervals(probs, labels, n_resamples=2000, seed=1, method="exact")
    fast = calibration_intervals(probs, labels, n_resamples=2000, seed=2, method="normal")
    for a, b in ((exact.ece, fast.ece), (exact.brier, fast.brier)):
        half = (a.high - a.low) / 2
        assert abs(a.low - b.low) < 0.15 * half
        assert abs(a.high - b.high) < 0.15 * half


def test_interval_levels() -> None:
    probs, labels = simulated(2000, 10, 0.1, np.random.default_rng(8))
    wide = calibration_intervals(probs, labels, level=0.99)
    narrow = calibration_intervals(probs, labels, level=0.8)
    assert wide.ece.low < narrow.ece.low and narrow.ece.high < wide.ece.high
    assert wide.brier.level == 0.99
    with pytest.raises(ValueError, match="level"):
        calibration_intervals(probs, labels, level=1.5)
    with pytest.raises(ValueError, match="n_resamples"):
        calibration_intervals(probs, labels, n_resamples=0)
    with pytest.raises(ValueError, match="method"):
        calibration_intervals(probs, labels, method="fast")  # type: ignore[arg-type]


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("probs", "labels", "n_bins", "message"),
    [
        ([0.2, 0.8], [1], 15, "2-D"),
        (np.zeros((0, 3)), [], 15, "empty"),
        ([[0.5, 0.6]], [0], 15, "sums to 1.1"),
        ([[2.0, -1.0]], [0], 15, "negative"),
        ([[0.5, 0.5], [np.nan, 1.0]], [0, 1], 15, "row 1 is not finite"),
        ([[0.5, 0.5], [np.inf, 0.0]], [0, 1], 15, "row 1 is not finite"),
        ([[0.5, 0.5]], [0, 1], 15, "differ in length: 2 labels, 1 rows"),
        ([[0.5, 0.5]], [2], 15, "outside 0..1"),
        ([[0.5, 0.5]], [-1], 15, "outside 0..1"),
        ([[0.5, 0.5]], [0.5], 15, "integer class ids"),
        ([[0.5, 0.5]], [[0]], 15, "1-D"),
        ([["a", "b"]], [0], 15, "numbers"),
        ([[0.5, 0.5]], [0], 0, "n_bins"),
        ([[0.5, 0.5]], [0], 2.5, "n_bins"),
    ],
)
def test_bad_inputs_raise_naming_the_problem(
    probs: object, labels: object, n_bins: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        expected_calibration_error(probs, labels, n_bins=n_bins)  # type: ignore[arg-type]


def test_every_entry_point_validates() -> None:
    logits = [[2.0, -1.0, 0.5]]
    for call in (
        lambda: reliability_bins(logits, [0]),
        lambda: brier_score(logits, [0]),
        lambda: brier_per_sample(logits, [0]),
        lambda: calibration_intervals(logits, [0]),
    ):
        with pytest.raises(ValueError, match="not logits"):
            call()


def test_float_class_ids_and_float32_sums_are_accepted() -> None:
    probs = np.array([[0.7, 0.3], [0.2, 0.8]], dtype=np.float32) + np.float32(1e-7)
    assert brier_score(probs, np.array([0.0, 1.0])) == pytest.approx(0.13, abs=1e-5)

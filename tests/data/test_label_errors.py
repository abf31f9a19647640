"""Confident learning (dlqa.data.label_errors): thresholds and the confident joint on a small
example computed by hand, planted flips found, clean labels left alone, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from dlqa.data.label_errors import (
    calibrate_joint,
    class_thresholds,
    confident_classes,
    confident_joint,
    estimate_error_fraction,
    find_label_errors,
    nearest_neighbours,
    neighbour_consistency,
    neighbour_label_probs,
    normalized_margin,
    self_confidence,
    supported_error_fraction,
)
from dlqa.data.label_features import out_of_fold_probs

# Eight samples, three classes. Row 2 is labelled 0 but looks like 1; row 4 is labelled 1
# but reaches class 0's threshold exactly; row 7 is confident of nothing.
LABELS = np.array([0, 0, 0, 1, 1, 1, 2, 2])
PROBS = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.6, 0.3, 0.1],
        [0.1, 0.8, 0.1],
        [0.1, 0.7, 0.2],
        [0.5, 0.4, 0.1],
        [0.2, 0.6, 0.2],
        [0.1, 0.2, 0.7],
        [0.45, 0.05, 0.5],
    ]
)


def test_thresholds_are_the_mean_self_confidence_per_class() -> None:
    # class 0: (0.8 + 0.6 + 0.1) / 3; class 1: (0.7 + 0.4 + 0.6) / 3; class 2: (0.7 + 0.5) / 2
    assert class_thresholds(LABELS, PROBS) == pytest.approx([0.5, 1.7 / 3, 0.6])


def test_confident_joint_by_hand() -> None:
    joint, confident = confident_joint(LABELS, PROBS)
    # row 2 -> class 1 (0.8 >= 0.567); row 4 -> class 0 (0.5 >= 0.5, 0.4 < 0.567);
    # row 7: 0.45 < 0.5 and 0.5 < 0.6, confident of nothing.
    assert confident.tolist() == [0, 0, 1, 1, 0, 1, 2, -1]
    assert joint.tolist() == [[2, 1, 0], [1, 2, 0], [0, 0, 1]]
    # Calibrated: rows sum to the class counts (3, 3, 2); class 2's one confident sample
    # stands for both.
    calibrated = calibrate_joint(joint, np.bincount(LABELS))
    assert calibrated.tolist() == [[2, 1, 0], [1, 2, 0], [0, 0, 2]]


def test_of_several_confident_classes_the_most_probable_one_counts() -> None:
    thresholds = np.array([0.6, 0.25, 0.1])
    # Classes 1 and 2 reach their thresholds; class 0 is the argmax but does not.
    assert confident_classes(np.array([[0.5, 0.3, 0.2]]), thresholds).tolist() == [1]
    assert confident_classes(np.array([[0.45, 0.5, 0.05]]), [0.4, 0.45, 0.9]).tolist() == [1]
    assert confident_classes(np.array([[np.nan, 0.5, 0.5]]), thresholds).tolist() == [1]


def test_scores_by_hand() -> None:
    assert self_confidence(LABELS, PROBS)[[0, 2, 4]] == pytest.approx([0.8, 0.1, 0.4])
    # (own - best other + 1) / 2
    assert normalized_margin(LABELS, PROBS)[[0, 2, 4]] == pytest.approx([0.85, 0.15, 0.45])


def _simulated(n: int, n_classes: int, flip: float, seed: int, peak: float = 6.0):
    """Out-of-fold probabilities of a decent model (Dirichlet around the true class) and
    labels with ``flip`` of them moved to another class."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n)
    alpha = np.ones((n, n_classes))
    alpha[np.arange(n), truth] += peak
    probs = np.array([rng.dirichlet(a) for a in alpha])
    labels = truth.copy()
    flipped = rng.choice(n, int(flip * n), replace=False)
    labels[flipped] = (truth[flipped] + rng.integers(1, n_classes, len(flipped))) % n_classes
    return labels, probs, labels != truth, truth


def test_planted_flips_are_found_and_about_as_many_as_planted() -> None:
    labels, probs, wrong, truth = _simulated(1000, 5, 0.05, seed=3)
    found = find_label_errors(labels, probs)
    flagged = np.zeros(len(labels), dtype=bool)
    flagged[found.flagged] = True
    precision = (flagged & wrong).sum() / flagged.sum()
    recall = (flagged & wrong).sum() / wrong.sum()
    assert precision >= 0.7 and recall >= 0.7
    assert 0.6 * wrong.sum() <= found.estimated_errors <= 1.4 * wrong.sum()
    # Most suspect first, and the suggested label is mostly the true one.
    assert np.all(np.diff(found.score[found.flagged]) >= 0)
    hits = found.flagged[wrong[found.flagged]]
    assert (found.suggested[hits] == truth[hits]).mean() >= 0.9


def test_error_fraction_tracks_the_planted_rate() -> None:
    for rate in (0.05, 0.2):
        labels, probs, _, _ = _simulated(2000, 8, rate, seed=5)
        assert estimate_error_fraction(labels, probs) == pytest.approx(rate, abs=0.04)


def test_clean_labels_stay_quiet() -> None:
    labels, probs, wrong, _ = _simulated(1000, 5, 0.0, seed=4)
    assert not wrong.any()
    found = find_label_errors(labels, probs)
    assert len(found.flagged) <= 10  # at most 1 %


def test_neighbours_vote_with_the_model() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 5, (4, 6))
    truth = np.repeat(np.arange(4), 100)
    features = centres[truth] + rng.normal(0, 1, (400, 6))
    labels = truth.copy()
    flipped = np.arange(0, 400, 20)  # 20 flips
    labels[flipped] = (truth[flipped] + 1) % 4
    near = nearest_neighbours(features, 10)
    assert near.shape == (400, 10) and not (near == np.arange(400)[:, None]).any()
    # Against a drawn reference of 100 rows: still k others each, all from the reference.
    sampled = nearest_neighbours(features, 10, max_reference=100)
    assert sampled.shape == (400, 10) and not (sampled == np.arange(400)[:, None]).any()
    assert len(np.unique(sampled)) <= 100
    assert (truth[sampled] == truth[:, None]).mean() > 0.95
    consistency = neighbour_consistency(near, labels)
    assert consistency[flipped].mean() < 0.2 < 0.8 < np.delete(consistency, flipped).mean()
    local = neighbour_label_probs(near, labels, 4)
    assert local.sum(axis=1) == pytest.approx(1.0)
    # A weak model alone, then with the neighbours: the neighbours find the flips.
    weak = np.full((400, 4), 0.25)
    found = find_label_errors(labels, weak, features)
    assert set(found.flagged) == set(flipped)
    assert found.consistency is not None and found.consistency[flipped].max() < 0.5


def test_one_class_has_nothing_to_judge() -> None:
    found = find_label_errors(np.zeros(50, dtype=int), np.ones((50, 1)))
    assert len(found.flagged) == 0 and found.estimated_errors == 0


def test_a_class_without_samples_is_never_confident() -> None:
    labels, probs, wrong, _ = _simulated(600, 3, 0.05, seed=6)
    padded = np.column_stack([probs * 0.98, np.full(len(probs), 0.02)])  # class 3: no samples
    assert np.isnan(class_thresholds(labels, padded)[3])
    joint, _ = confident_joint(labels, padded)
    assert joint[:, 3].sum() == 0
    found = find_label_errors(labels, padded)
    assert (found.suggested[found.judged] < 3).all()
    assert wrong[found.flagged].mean() >= 0.7


def test_rows_without_a_prediction_or_label_are_not_judged() -> None:
    labels, probs, wrong, _ = _simulated(500, 4, 0.1, seed=7)
    probs[:50] = np.nan
    labels[50:60] = -1
    found = find_label_errors(labels, probs)
    assert not found.judged[:60].any() and found.judged[60:].all()
    assert np.isnan(found.score[:60]).all() and (found.suggested[:60] == -1).all()
    assert found.flagged.min() >= 60
    assert len(found.flagged) > 0


def test_too_little_to_judge_and_bad_ranking() -> None:
    assert len(find_label_errors(np.array([0, 1]), np.eye(2)).flagged) == 0
    with pytest.raises(ValueError, match="rank_by"):
        find_label_errors(LABELS, PROBS, rank_by="loss")
    found = find_label_errors(LABELS, PROBS, rank_by="normalized_margin")
    assert np.nanmax(found.score) <= 1.0


def test_one_outright_contradiction_is_flagged_even_when_the_estimate_is_zero() -> None:
    """A strong model: right labels get all but 1e-4 of the probability. The one wrong label
    keeps 0.002, more than most off-label probabilities, so the estimate counts no error; the
    model is still sure it is wrong."""
    rng = np.random.default_rng(8)
    truth = np.repeat(np.arange(3), 100)
    probs = rng.dirichlet([1, 1, 1], 300) * 1e-4
    probs[np.arange(300), truth] += 1 - 1e-4
    labels = truth.copy()
    labels[17] = 2  # the model is sure it is a 0
    probs[17] = [0.997, 0.001, 0.002]
    assert estimate_error_fraction(labels, probs) * 300 < 0.5
    found = find_label_errors(labels, probs)
    assert found.flagged.tolist() == [17] and found.suggested[17] == 0


def test_without_features_the_ranking_is_the_given_self_confidence() -> None:
    """cleanlab's ranking: the probability of the given label, exactly as given (rows here sum
    to 1 only within 1e-6). The calibration decides how many are flagged, never the order, so
    the top k is cleanlab's top k."""
    labels, probs, _, _ = _simulated(800, 5, 0.1, seed=9)
    probs = probs * np.random.default_rng(1).uniform(1 - 1e-6, 1 + 1e-6, (800, 1))
    found = find_label_errors(labels, probs)
    own = probs[np.arange(800), labels]
    assert np.array_equal(found.score, own)
    assert found.temperature != pytest.approx(1.0)  # calibrated, and the order is untouched
    # The flagged rows: a prefix of that order, among the labels the model does not rank first.
    candidates = np.flatnonzero(probs.argmax(axis=1) != labels)
    ranked = candidates[np.argsort(own[candidates], kind="stable")]
    assert len(found.flagged) > 0
    assert found.flagged.tolist() == ranked[: len(found.flagged)].tolist()


# A weak, overconfident model on imbalanced classes, like the benchmark's glyph icons: a
# 5-fold logistic regression on 40 noisy dimensions, class centres 0.25 apart per dimension,
# out-of-fold accuracy ~0.5; the small classes it barely recognises.
SIZES = (180, 150, 50, 50, 25, 20, 20, 15, 12, 10)


def weak_model(flip: float, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 0.25, (len(SIZES), 40))
    truth = np.repeat(np.arange(len(SIZES)), SIZES)
    features = centres[truth] + rng.normal(0, 1, (len(truth), 40))
    labels = truth.copy()
    flipped = np.random.default_rng(seed + 100).choice(len(truth), int(flip * len(truth)), False)
    labels[flipped] = (truth[flipped] + rng.integers(1, len(SIZES), len(flipped))) % len(SIZES)
    return labels, out_of_fold_probs(features, labels, len(SIZES), seed=seed), labels != truth


def test_a_weak_model_on_clean_labels_flags_little() -> None:
    """Its hard samples look like wrong labels: the plain estimate says ~9 % where nothing is
    wrong, but it rises with the off-label quantile as a weak model's does, and the extrapolated
    count is nil: inconclusive, and (almost) nothing is flagged. Not every weak model shows
    the trend; this one, like the glyphs, does."""
    labels, probs, _ = weak_model(0.0)
    assert 0.4 < (probs.argmax(axis=1) == labels).mean() < 0.6
    found = find_label_errors(labels, probs)
    assert found.plain_estimate > 0.05 * len(labels)
    assert found.weak_model
    assert len(found.flagged) <= 0.02 * len(labels)
    assert found.estimated_errors <= found.plain_estimate


def test_a_weak_model_still_flags_heavy_noise() -> None:
    labels, probs, wrong = weak_model(0.2)
    found = find_label_errors(labels, probs)
    assert not found.weak_model  # the errors show beyond the model's weakness
    assert len(found.flagged) >= 0.5 * wrong.sum()
    assert wrong[found.flagged].mean() >= 0.3  # random flagging would be 0.2


def test_a_decent_model_keeps_the_plain_estimate() -> None:
    for rate in (0.0, 0.05, 0.2):
        labels, probs, _, _ = _simulated(2000, 8, rate, seed=5)
        fraction, inconclusive = supported_error_fraction(labels, probs)
        assert not inconclusive
        assert fraction == estimate_error_fraction(labels, probs)

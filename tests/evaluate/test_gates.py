"""Gates that know their noise: pass, fail and inconclusive on constructed cases, the size
that would decide, and a coverage simulation of the accuracy gate."""

from __future__ import annotations

import numpy as np
import pytest

from dlqa.core.gates import gate_fails
from dlqa.core.intervals import wilson_interval
from dlqa.core.results import Interval, Status
from dlqa.evaluate import evaluate
from dlqa.evaluate.api import eval_context
from dlqa.evaluate.checks.metrics import check_accuracy
from dlqa.evaluate.noise import size_to_decide_proportion, size_to_decide_scaled


def predictions_with_accuracy(n: int, correct: int, n_classes: int = 4, seed: int = 0):
    """Labels and one-hot-ish probabilities with exactly ``correct`` right predictions."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    predicted = labels.copy()
    wrong = rng.choice(n, n - correct, replace=False)
    predicted[wrong] = (labels[wrong] + 1) % n_classes
    probs = np.full((n, n_classes), 0.1 / (n_classes - 1))
    probs[np.arange(n), predicted] = 0.9
    return labels, probs


def result(results, check_id):
    return next(r for r in results if r.check_id == check_id)


def test_accuracy_gate_passes_when_the_whole_interval_clears():
    labels, probs = predictions_with_accuracy(2000, 1900)
    r = result(evaluate(labels, probs, gates={"eval.accuracy": {"min": 0.9}}), "eval.accuracy")
    assert r.status is Status.PASS
    assert r.value == pytest.approx(0.95) and r.n == 2000 and r.threshold == 0.9
    assert r.interval.low > 0.9


def test_accuracy_gate_fails_when_the_whole_interval_is_below():
    labels, probs = predictions_with_accuracy(2000, 1600)
    r = result(evaluate(labels, probs, gates={"eval.accuracy": {"min": 0.9}}), "eval.accuracy")
    assert r.status is Status.FAIL and r.interval.high < 0.9


def test_accuracy_gate_is_inconclusive_on_a_small_set_and_says_what_size_decides():
    labels, probs = predictions_with_accuracy(60, 56)  # 0.933, interval straddles 0.9
    r = result(evaluate(labels, probs, gates={"eval.accuracy": {"min": 0.9}}), "eval.accuracy")
    assert r.status is Status.INCONCLUSIVE
    assert r.interval.low < 0.9 < r.interval.high
    size = r.details["n_to_decide"]
    assert size > 60
    # At that size, the same accuracy would decide; one sample fewer would not.
    assert wilson_interval(round(size * 56 / 60), size).low > 0.9 - 1e-3
    assert gate_fails(r)  # undecided fails its gate by default ...
    relaxed = evaluate(
        labels, probs, gates={"eval.accuracy": {"min": 0.9, "on_inconclusive": "warn"}}
    )
    assert not gate_fails(result(relaxed, "eval.accuracy"))  # ... unless relaxed


def test_without_a_floor_the_metric_is_shown_and_passes():
    labels, probs = predictions_with_accuracy(100, 10)
    r = result(evaluate(labels, probs), "eval.accuracy")
    assert r.status is Status.PASS and r.threshold is None and r.interval is not None


def test_macro_f1_gate_decides_by_its_bootstrap_interval():
    labels, probs = predictions_with_accuracy(3000, 2850)
    passing = result(
        evaluate(labels, probs, gates={"eval.macro_f1": {"min": 0.9}}), "eval.macro_f1"
    )
    assert passing.status is Status.PASS and passing.interval.low >= 0.9
    small_labels, small_probs = predictions_with_accuracy(80, 74)
    undecided = result(
        evaluate(small_labels, small_probs, gates={"eval.macro_f1": {"min": 0.9}}), "eval.macro_f1"
    )
    assert undecided.status is Status.INCONCLUSIVE
    assert undecided.details["n_to_decide"] > 80
    failing = result(
        evaluate(labels, probs, gates={"eval.macro_f1": {"min": 0.99}}), "eval.macro_f1"
    )
    assert failing.status is Status.FAIL


def test_per_class_recall_floor_fails_a_weak_class_and_leaves_a_small_one_undecided():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1, 2], [1000, 1000, 12])
    predicted = labels.copy()
    weak = np.flatnonzero(labels == 1)[:400]  # class 1: recall 0.6
    predicted[weak] = 0
    small = np.flatnonzero(labels == 2)[:1]  # class 2: 11 of 12, too few to tell against 0.8
    predicted[small] = 0
    order = rng.permutation(labels.size)  # classes interleaved, as an eval set's are
    labels, predicted = labels[order], predicted[order]
    probs = np.full((labels.size, 3), 0.05)
    probs[np.arange(labels.size), predicted] = 0.9
    results = evaluate(labels, probs, class_names=["a", "b", "c"],
                       gates={"eval.per_class": {"min_recall": 0.8}})  # fmt: skip
    r = result(results, "eval.per_class")
    assert r.status is Status.FAIL
    assert "b" in r.summary
    rows = {item["name"]: item for item in r.evidence[0].items}
    assert rows["recall[b]"]["status"] == "fail"
    assert rows["recall[c]"]["status"] == "inconclusive" and rows["recall[c]"]["n_to_decide"] > 12
    assert rows["recall[a]"]["status"] == "pass"
    assert r.evidence[0].items[0]["name"] == "recall[b]"  # worst first


def test_size_to_decide_a_proportion():
    assert size_to_decide_proportion(0.9, 0.9) is None
    n = size_to_decide_proportion(0.95, 0.9)
    assert wilson_interval_low(0.95, n) > 0.9 >= wilson_interval_low(0.95, n - 1)
    assert size_to_decide_proportion(0.9000001, 0.9) is None  # beyond any realistic set


def wilson_interval_low(p: float, n: int) -> float:
    from dlqa.core.intervals import wilson_interval_of

    return wilson_interval_of(p, n).low


def test_size_to_decide_a_bootstrap_metric_scales_with_its_half_width():
    size = size_to_decide_scaled(0.8, Interval(0.7, 0.9), 0.75, n=100)
    assert size == 400  # the half-width 0.1 must shrink to 0.05: four times the samples
    assert size_to_decide_scaled(0.8, Interval(0.7, 0.9), 0.8, n=100) is None


@pytest.mark.parametrize("n", [100, 400, 2000])
def test_the_accuracy_gate_rarely_passes_a_model_at_or_below_its_threshold(n):
    """Coverage: a model whose true accuracy equals the floor must pass at most as often as
    the interval's error rate (5 % two-sided, 2.5 % on this side) allows; one clearly above
    it must pass most of the time (the gate is not simply shut)."""
    threshold, simulations = 0.9, 2000
    rng = np.random.default_rng(n)
    params = {"min": threshold, "level": "fail", "on_inconclusive": "fail"}
    rates = {}
    for true_accuracy in (threshold, threshold - 0.02, min(threshold + 0.06, 0.99)):
        correct = rng.binomial(n, true_accuracy, simulations)
        passed = 0
        for k in correct:
            labels, probs = predictions_with_accuracy(n, int(k), n_classes=2, seed=int(k))
            context = eval_context(labels, probs)
            passed += check_accuracy(context, params).status is Status.PASS
        rates[true_accuracy] = passed / simulations
    assert rates[threshold] <= 0.05
    assert rates[threshold - 0.02] <= 0.05
    if n >= 400:
        assert rates[min(threshold + 0.06, 0.99)] >= 0.8

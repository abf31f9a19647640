"""Metric verification finds planted bugs with reproducible counterexamples; fingerprints."""

import functools
import importlib
import sys

import numpy as np
import pytest
from sklearn import metrics as skm

from dlqa.core.errors import UsageError
from dlqa.core.registry import get_spec
from dlqa.core.results import Status
from dlqa.train.metrics import (
    REFERENCES,
    check_metric_verification,
    metric_fingerprint,
    verify_metric,
)


def user_accuracy(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        raise ValueError("accuracy of nothing")
    return float(np.mean(y_true == y_pred))


def _per_class_f1(y_true, y_pred, classes):
    scores = []
    for c in classes:
        tp = np.sum((y_true == c) & (y_pred == c))
        fp = np.sum((y_true != c) & (y_pred == c))
        fn = np.sum((y_true == c) & (y_pred != c))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return scores


def user_f1_macro(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean(_per_class_f1(y_true, y_pred, np.union1d(y_true, y_pred))))


def user_f1_divides_by_n_minus_one(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes = np.union1d(y_true, y_pred)
    return float(sum(_per_class_f1(y_true, y_pred, classes)) / max(len(classes) - 1, 1))


def user_f1_fixed_classes(y_true, y_pred):
    """Macro F1 over 4 classes, with an off-by-one loop that skips the last class."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean(_per_class_f1(y_true, y_pred, range(3))))


def user_precision_nan_when_never_predicted(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    values = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for c in np.union1d(y_true, y_pred):
            predicted = np.sum(y_pred == c)
            values.append(np.sum((y_true == c) & (y_pred == c)) / np.float64(predicted))
    return float(np.mean(values))


def _reproduce(fn, reference, counterexample, n_classes=None):
    y_true = np.asarray(counterexample["y_true"])
    y_pred = np.asarray(counterexample["y_pred"])
    return fn(y_true, y_pred), REFERENCES[reference](y_true, y_pred, n_classes)


def test_correct_accuracy_and_f1_pass_on_edge_cases_and_random_inputs():
    for fn, reference in [(user_accuracy, "accuracy"), (user_f1_macro, "f1_macro")]:
        outcome = verify_metric(fn, reference, max_examples=100)
        assert outcome.passed, outcome.counterexample
        assert outcome.counterexample is None
        assert outcome.examples_checked > 100  # the edge cases and the random inputs
        assert outcome.to_result().status is Status.PASS


def test_f1_dividing_by_n_classes_minus_one_is_found_with_a_reproducible_counterexample():
    outcome = verify_metric(user_f1_divides_by_n_minus_one, "f1_macro")
    assert not outcome.passed
    example = outcome.counterexample
    actual, expected = _reproduce(user_f1_divides_by_n_minus_one, "f1_macro", example)
    assert actual == pytest.approx(example["actual"])
    assert expected == pytest.approx(example["expected"])
    assert abs(actual - expected) > 1e-6


def test_off_by_one_loop_over_classes_is_found_with_n_classes():
    outcome = verify_metric(user_f1_fixed_classes, "f1_macro", n_classes=4)
    assert not outcome.passed
    example = outcome.counterexample
    actual, expected = _reproduce(user_f1_fixed_classes, "f1_macro", example, n_classes=4)
    assert (actual, expected) == pytest.approx((example["actual"], example["expected"]))
    assert actual != pytest.approx(expected)

    def f1_over_four_classes(y_true, y_pred):
        if len(y_true) == 0:
            return float("nan")  # undefined, as for the reference (a 0.0 here would fail)
        return float(np.mean(_per_class_f1(y_true, y_pred, range(4))))

    fixed = verify_metric(f1_over_four_classes, "f1_macro", n_classes=4, max_examples=50)
    assert fixed.passed, fixed.counterexample


def test_class_never_predicted_division_by_zero_is_found_on_its_edge_case():
    outcome = verify_metric(user_precision_nan_when_never_predicted, "precision_macro")
    assert not outcome.passed
    assert outcome.counterexample["case"] == "edge: a class never predicted"
    assert outcome.counterexample["actual"] == "nan"
    y_true = np.asarray(outcome.counterexample["y_true"])
    y_pred = np.asarray(outcome.counterexample["y_pred"])
    expected = skm.precision_score(y_true, y_pred, average="macro", zero_division=0)
    assert outcome.counterexample["expected"] == pytest.approx(expected)


def test_a_bug_only_random_inputs_reach_is_shrunk_to_the_smallest_input():
    def accuracy_wrong_from_13_samples(y_true, y_pred):
        return user_accuracy(y_true, y_pred) + (0.01 if len(y_true) >= 13 else 0.0)

    first = verify_metric(accuracy_wrong_from_13_samples, "accuracy", seed=3)
    again = verify_metric(accuracy_wrong_from_13_samples, "accuracy", seed=3)
    assert first.counterexample["case"] == "random"
    assert len(first.counterexample["y_true"]) == 13
    assert first.counterexample["actual"] == pytest.approx(first.counterexample["expected"] + 0.01)
    assert first.counterexample == again.counterexample


def test_empty_input_rule_raise_or_nan_is_accepted_a_number_is_not():
    assert verify_metric(user_accuracy, "accuracy", max_examples=0).passed

    def nan_on_empty(y_true, y_pred):
        return float("nan") if len(y_true) == 0 else user_accuracy(y_true, y_pred)

    assert verify_metric(nan_on_empty, "accuracy", max_examples=0).passed

    def zero_on_empty(y_true, y_pred):
        return 0.0 if len(y_true) == 0 else user_accuracy(y_true, y_pred)

    outcome = verify_metric(zero_on_empty, "accuracy", max_examples=0)
    assert outcome.counterexample["case"] == "edge: empty input"
    assert outcome.counterexample["expected"].startswith("undefined")


def test_roc_auc_that_ignores_ties_fails_on_the_ties_case():
    def rank_auc(y_true, scores, tie_weight):
        positives = scores[y_true == 1]
        negatives = scores[y_true == 0]
        pairs = [(p > n) + tie_weight * (p == n) for p in positives for n in negatives]
        return float(np.mean(pairs)) if len(positives) and len(negatives) else float("nan")

    correct = verify_metric(functools.partial(rank_auc, tie_weight=0.5), "roc_auc")
    assert correct.passed, correct.counterexample
    wrong = verify_metric(functools.partial(rank_auc, tie_weight=0.0), "roc_auc")
    assert wrong.counterexample["case"].startswith("edge: ties in scores")


def test_log_loss_in_bits_is_caught_and_natural_log_passes():
    def log_loss(y_true, p_one, log=np.log):
        p = np.where(y_true == 1, p_one, 1 - p_one)
        return float(-np.mean(log(p)))

    assert verify_metric(log_loss, "log_loss", max_examples=50).passed
    bits = verify_metric(functools.partial(log_loss, log=np.log2), "log_loss", max_examples=50)
    assert not bits.passed
    assert bits.counterexample["actual"] == pytest.approx(
        bits.counterexample["expected"] / np.log(2)
    )


def test_confusion_matrix_all_zero_on_empty_is_accepted_transposed_is_not():
    def counts(y_true, y_pred, transpose=False):
        matrix = np.zeros((3, 3), dtype=int)
        for t, p in zip(y_true, y_pred, strict=True):
            matrix[t, p] += 1
        return matrix.T if transpose else matrix

    assert verify_metric(counts, "confusion_matrix", n_classes=3, max_examples=50).passed
    transposed = verify_metric(
        functools.partial(counts, transpose=True), "confusion_matrix", n_classes=3
    )
    assert transposed.counterexample["case"] == "edge: all wrong"
    assert np.array_equal(
        np.asarray(transposed.counterexample["actual"]).T, transposed.counterexample["expected"]
    )


def test_a_custom_reference_and_a_tensor_result_are_accepted():
    torch = pytest.importorskip("torch")

    def tensor_accuracy(y_true, y_pred):
        return (torch.as_tensor(y_true) == torch.as_tensor(y_pred)).double().mean()

    outcome = verify_metric(tensor_accuracy, skm.accuracy_score, max_examples=30)
    assert outcome.passed, outcome.counterexample
    assert "accuracy_score" in outcome.reference


def test_bad_arguments_are_usage_errors():
    with pytest.raises(UsageError, match="unknown reference metric 'f2'"):
        verify_metric(user_accuracy, "f2")
    with pytest.raises(UsageError, match="binary metric"):
        verify_metric(user_accuracy, "f1_binary", n_classes=3)
    with pytest.raises(UsageError, match="n_classes must be at least 2"):
        verify_metric(user_accuracy, "accuracy", n_classes=1)
    with pytest.raises(UsageError, match="unknown kind"):
        verify_metric(user_accuracy, "accuracy", kind="logits")


def test_failed_verification_becomes_a_failing_result_with_the_counterexample():
    result = verify_metric(user_f1_divides_by_n_minus_one, "f1_macro").to_result()
    assert result.check_id == "train.metric_verification"
    assert result.status is Status.FAIL
    assert "user_f1_divides_by_n_minus_one" in result.summary
    [evidence] = result.evidence
    assert evidence.items[0]["y_true"] == result.details["counterexample"]["y_true"]
    assert result.details["fingerprint"] == metric_fingerprint(user_f1_divides_by_n_minus_one)


def test_registered_check_aggregates_metrics_and_honours_the_level():
    spec = get_spec("train.metric_verification")
    assert spec.defaults == {"atol": 1e-6, "max_examples": 200}
    metrics = {"accuracy": user_accuracy, "f1_macro": (user_f1_divides_by_n_minus_one, {})}
    params = spec.resolve_params({"max_examples": 20})
    result = check_metric_verification(metrics, params)
    assert result.status is Status.FAIL
    assert [item["metric"] for item in result.evidence[0].items] == [
        "user_f1_divides_by_n_minus_one"
    ]
    assert [m["passed"] for m in result.details["metrics"]] == [True, False]
    warned = check_metric_verification(metrics, spec.resolve_params({"level": "warn"}))
    assert warned.status is Status.WARN


def _write_metric(folder, body):
    (folder / "user_metric_mod.py").write_text(f"def score(y_true, y_pred):\n    {body}\n")
    sys.modules.pop("user_metric_mod", None)
    return importlib.import_module("user_metric_mod").score


def test_fingerprint_changes_with_source_and_params_and_is_stable_otherwise(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    first = _write_metric(tmp_path, "return 1.0")
    fingerprint = metric_fingerprint(first, average="macro")
    assert fingerprint.startswith("sha256:")
    assert metric_fingerprint(first, average="macro") == fingerprint
    assert metric_fingerprint(first, average="micro") != fingerprint
    assert metric_fingerprint(first, average="macro", k=1) == metric_fingerprint(
        first, k=1, average="macro"
    )
    changed = _write_metric(tmp_path, "return 1.0 - 0.0  # changed")
    assert metric_fingerprint(changed, average="macro") != fingerprint
    sys.modules.pop("user_metric_mod", None)


def test_fingerprint_counts_partial_arguments_and_falls_back_to_bytecode():
    base = metric_fingerprint(user_f1_macro)
    assert metric_fingerprint(functools.partial(user_f1_macro)) == base
    assert metric_fingerprint(functools.partial(user_accuracy, y_pred=[1])) != metric_fingerprint(
        functools.partial(user_accuracy, y_pred=[2])
    )
    made = []
    for body in ("return a", "return a", "return b"):
        namespace: dict = {}
        exec(f"def made(a, b):\n    {body}\n", namespace)  # no source file to read
        made.append(metric_fingerprint(namespace["made"]))
    assert made[0] == made[1]
    assert made[0] != made[2]


def test_metric_verification_needs_only_the_torch_extra():
    """`pip install 'dlqa[torch]'` brings hypothesis, which verify_metric draws inputs with."""
    from importlib.metadata import requires

    torch_extra = [r for r in requires("dlqa") or [] if 'extra == "torch"' in r]
    assert any(r.startswith("hypothesis") for r in torch_extra), torch_extra

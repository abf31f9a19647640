"""``evaluate()`` on plain arrays: what it returns, which checks need which input, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from dlqa.core.errors import ConfigError, UsageError
from dlqa.core.results import Status
from dlqa.evaluate import evaluate
from dlqa.evaluate.api import eval_context
from dlqa.evaluate.checks.cases import check_regression_cases

HEADLINE = ["eval.accuracy", "eval.macro_f1", "eval.per_class", "eval.confusion",
            "eval.calibration"]  # fmt: skip


def noisy_classifier(n: int = 1500, n_classes: int = 4, strength: float = 2.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    logits = rng.normal(size=(n, n_classes))
    logits[np.arange(n), labels] += strength
    probs = np.exp(logits)
    return labels, probs / probs.sum(axis=1, keepdims=True)


def by_id(results):
    return {r.check_id: r for r in results}


def test_headline_checks_run_on_labels_and_probs_alone_and_agree_with_sklearn():
    labels, probs = noisy_classifier()
    results = by_id(evaluate(labels, probs, class_names=["a", "b", "c", "d"]))
    assert list(results) == HEADLINE  # checks without their input are left out
    predicted = probs.argmax(axis=1)
    assert results["eval.accuracy"].value == pytest.approx(accuracy_score(labels, predicted))
    assert results["eval.macro_f1"].value == pytest.approx(
        f1_score(labels, predicted, average="macro")
    )
    for r in results.values():
        assert r.n == len(labels)
    for check_id in ("eval.accuracy", "eval.macro_f1", "eval.calibration"):
        interval = results[check_id].interval
        assert interval.low <= results[check_id].value <= interval.high


def test_confusion_lists_most_confused_pairs_with_examples():
    labels = np.array([0] * 50 + [1] * 50)
    predicted = labels.copy()
    predicted[:12] = 1  # twelve zeros read as ones
    predicted[50:53] = 0
    probs = np.full((100, 2), 0.2)
    probs[np.arange(100), predicted] = 0.8
    r = by_id(evaluate(labels, probs, class_names=["zero", "one"]))["eval.confusion"]
    kinds = [e.kind for e in r.evidence]
    assert kinds == ["confusion", "table", "samples"]
    assert r.evidence[0].items[0]["matrix"] == [[38, 12], [3, 47]]
    top = r.evidence[1].items[0]
    assert (top["true"], top["predicted"], top["count"]) == ("zero", "one", 12)
    assert all(item["label"] != item["predicted"] for item in r.evidence[2].items)


def test_a_planted_low_accuracy_slice_is_listed_first():
    rng = np.random.default_rng(5)
    n = 3000
    labels = rng.integers(0, 3, n)
    camera = np.where(rng.random(n) < 0.1, "old", rng.choice(["a", "b", "c"], n))
    right = rng.random(n) < np.where(camera == "old", 0.5, 0.92)
    predicted = np.where(right, labels, (labels + 1) % 3)
    probs = np.full((n, 3), 0.1)
    probs[np.arange(n), predicted] = 0.8
    results = by_id(
        evaluate(labels, probs, slices={"meta.camera": camera, "brightness": rng.random(n)},
                 gates={"eval.slices": {"min_slice_accuracy": 0.8}})
    )  # fmt: skip
    r = results["eval.slices"]
    assert r.status is Status.FAIL
    first = r.evidence[0].items[0]
    assert first["name"] == "meta.camera=old" and first["status"] == "fail"
    assert first["n"] == int((camera == "old").sum())
    assert {item["name"].split("=")[0] for item in r.evidence[0].items} == {
        "meta.camera", "brightness"
    }  # fmt: skip


def test_small_slices_are_shown_but_not_gated():
    labels, probs = noisy_classifier(n=400, strength=4.0)
    group = np.array(["tiny"] * 5 + ["big"] * 395)
    r = by_id(
        evaluate(labels, probs, slices={"g": group},
                 gates={"eval.slices": {"min_slice_accuracy": 0.5, "min_slice_size": 30}})
    )["eval.slices"]  # fmt: skip
    tiny = next(i for i in r.evidence[0].items if i["name"] == "g=tiny")
    assert tiny["status"] == "skip" and tiny["gated"] is False


def test_case_sets_golden_and_regression():
    labels, probs = noisy_classifier(n=600, strength=3.0)
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    regression = np.concatenate([wrong[:2], np.flatnonzero(predicted == labels)[:8]])
    results = by_id(
        evaluate(labels, probs, sets={"golden": np.arange(500, 600), "regression": regression})
    )
    r = results["eval.regression_cases"]
    assert r.status is Status.FAIL and r.value == 2 and r.n == 10
    assert {item["id"] for item in r.evidence[0].items} == {str(i) for i in wrong[:2]}
    golden = results["eval.golden"]
    assert golden.n == 100 and "no previous run" in golden.summary
    # the headline metrics are those of the test rows: the samples outside the case sets
    assert results["eval.accuracy"].n == 600 - len(set(range(500, 600)) | set(regression))


def test_regression_cases_tolerate_a_declared_number_and_carry_their_notes():
    labels, probs = noisy_classifier(n=50, strength=3.0)
    wrong = np.flatnonzero(probs.argmax(axis=1) != labels)[:1]
    context = eval_context(
        labels, probs, sets={"regression": wrong}, notes={str(wrong[0]): "ticket #12"}
    )
    params = {"max_failures": 1, "level": "fail"}
    assert check_regression_cases(context, params).status is Status.PASS
    failing = check_regression_cases(context, {**params, "max_failures": 0})
    assert failing.status is Status.FAIL
    assert failing.evidence[0].items[0]["note"] == "ticket #12"


def test_golden_cases_compared_with_the_previous_run():
    labels, probs = noisy_classifier(n=200, strength=3.0)
    golden = np.arange(150, 200)
    ids = [str(i) for i in range(200)]
    right = probs.argmax(axis=1) == labels
    previous = {ids[i]: bool(right[i]) for i in golden}
    flipped = next(i for i in golden if right[i])
    previous[ids[flipped]] = False  # wrong last time, right now
    flipped_back = next(i for i in golden if not right[i])
    previous[ids[flipped_back]] = True  # right last time, wrong now
    context = eval_context(labels, probs, sets={"golden": golden}, previous={"golden": previous},
                           previous_run=7)  # fmt: skip
    from dlqa.evaluate.checks.cases import check_golden

    r = check_golden(context, {"max_newly_wrong": 0, "min_accuracy": None, "level": "warn"})
    assert r.status is Status.WARN
    assert r.details["newly_wrong"] == [ids[flipped_back]]
    assert r.details["newly_right"] == [ids[flipped]]
    assert "since run 7" in r.summary


def test_guardrails_forbidden_outputs_and_abstention():
    labels, probs = noisy_classifier(n=800, strength=2.0)
    audience = np.where(np.arange(800) % 4 == 0, "kids", "adults")
    rails = {
        "min_confidence": 0.5,
        "max_abstain_rate": 0.9,
        "forbidden": [{"classes": ["c"], "slice": "audience", "values": ["kids"], "note": "4.2"}],
    }
    r = by_id(evaluate(labels, probs, class_names=list("abcd"), slices={"audience": audience},
                       guardrails=rails))["eval.guardrails"]  # fmt: skip
    confident = probs.max(axis=1) >= 0.5
    expected = int(((probs.argmax(axis=1) == 2) & (audience == "kids") & confident).sum())
    assert expected > 0
    assert r.status is Status.FAIL and r.details["violations"] == expected
    assert all("4.2" in item["reason"] for item in r.evidence[0].items)
    assert r.details["abstain_rate"] == pytest.approx(1 - confident.mean())


@pytest.mark.parametrize(
    ("rails", "message"),
    [
        ({"forbidden": [{"classes": ["zebra"]}]}, "unknown class"),
        ({"forbidden": [{"classes": ["a"], "slice": "nope", "values": ["x"]}]}, "no slice column"),
        ({"forbidden": [{"classes": ["a"], "slice": "g"}]}, "slice and values together"),
        ({"min_confidence": 2}, "min_confidence"),
        ({"colour": "red"}, "colour"),
        ({"max_abstain_rate": 0.1}, "needs min_confidence"),
    ],
)
def test_bad_guardrails_are_usage_errors_naming_the_key(rails, message):
    labels, probs = noisy_classifier(n=20)
    with pytest.raises(UsageError, match=message):
        evaluate(labels, probs, class_names=list("abcd"), slices={"g": ["x"] * 20},
                 guardrails=rails)  # fmt: skip


def bad_probs_cases():
    labels, probs = noisy_classifier(n=10)
    logits = np.log(probs) + 3.0
    nan = probs.copy()
    nan[3, 1] = np.nan
    return [
        (labels, logits, "not logits"),
        (labels, nan, "row 3 is not finite"),
        (labels, probs[:, :1], "C >= 2"),
        (labels, probs[:0], "empty"),
        (labels + 10, probs, "outside the 4 classes"),
        (labels[:5], probs, "5 values but probs has 10"),
        (labels.astype(str), probs, "integer class indices"),
    ]


@pytest.mark.parametrize(("labels", "probs", "message"), bad_probs_cases())
def test_bad_arrays_are_usage_errors_that_name_the_problem(labels, probs, message):
    with pytest.raises(UsageError, match=message):
        evaluate(labels, probs)


def test_other_bad_arguments():
    labels, probs = noisy_classifier(n=10)
    with pytest.raises(UsageError, match="3 names but probs has 4"):
        evaluate(labels, probs, class_names=["a", "b", "c"])
    with pytest.raises(UsageError, match="one value per sample"):
        evaluate(labels, probs, slices={"g": ["x"] * 9})
    with pytest.raises(UsageError, match="outside 0..9"):
        evaluate(labels, probs, sets={"golden": [3, 12]})
    with pytest.raises(UsageError, match="no test samples"):
        evaluate(labels, probs, sets={"golden": np.arange(10)})
    with pytest.raises(UsageError, match="unique"):
        evaluate(labels, probs, sample_ids=["x"] * 10)
    with pytest.raises(UsageError, match="embeddings"):
        evaluate(labels, probs, embeddings=np.zeros((9, 3)))


def test_gates_are_validated_against_the_registry():
    labels, probs = noisy_classifier(n=30)
    with pytest.raises(ConfigError, match="unknown check id"):
        evaluate(labels, probs, gates={"eval.acuracy": {"min": 0.9}})
    with pytest.raises(ConfigError, match="min"):
        evaluate(labels, probs, gates={"eval.accuracy": {"min": 1.5}})
    # gates of other stages are accepted (the same [gates] mapping) and do nothing here
    assert evaluate(labels, probs, gates={"data.dark": {"level": "fail"}})
    with pytest.raises(ConfigError, match="not an evaluation check"):
        evaluate(labels, probs, checks=["data.dark"])


def test_a_check_named_without_its_input_skips_and_says_how_to_provide_it():
    labels, probs = noisy_classifier(n=30)
    results = by_id(evaluate(labels, probs, checks=["eval.accuracy", "eval.slices"]))
    assert list(results) == ["eval.accuracy", "eval.slices"]
    assert results["eval.slices"].status is Status.SKIP
    assert "slices=" in results["eval.slices"].summary

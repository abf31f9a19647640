"""Agreement statistics against values computed by hand and Krippendorff's published example."""

from __future__ import annotations

import numpy as np
import pytest

from dlqa.core.errors import UsageError
from dlqa.core.registry import get_spec
from dlqa.core.results import Status
from dlqa.labels.agreement import (
    Ratings,
    agreement_with_majority,
    bootstrap_alpha,
    cohen_kappa,
    coincidences,
    disagreements,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_cohen,
)
from dlqa.labels.stage import AgreementContext


def two_coders() -> Ratings:
    # A: a a b b; B: a b b b. By hand: coincidences o_aa 2, o_ab = o_ba 1, o_bb 4; n_a 3,
    # n_b 5, n 8: alpha = 1 - 7 * 2 / (2 * 3 * 5) = 0.5333. Fleiss: P = (1 + 0 + 1 + 1) / 4
    # = 0.75, P_e = (3/8)^2 + (5/8)^2 = 0.53125, kappa = 0.21875 / 0.46875 = 0.4667. Cohen:
    # p_o = 0.75, p_e = 0.5 * 0.25 + 0.5 * 0.75 = 0.5, kappa = 0.5.
    return Ratings.from_rows(["1", "2", "3", "4"] * 2, ["A"] * 4 + ["B"] * 4, list("aabbabbb"))


def test_two_coders_match_the_hand_computed_values():
    ratings = two_coders()
    counts = ratings.counts()
    assert krippendorff_alpha(counts) == pytest.approx(1 - 14 / 30)
    assert fleiss_kappa(counts) == pytest.approx(0.21875 / 0.46875)
    assert pairwise_cohen(ratings) == [{"annotators": ["A", "B"], "n": 4, "cohen_kappa": 0.5}]
    assert cohen_kappa(np.array([0, 1]), np.array([0, 1]), 2) == 1.0
    majority = agreement_with_majority(ratings)
    assert majority == [
        {"annotator": "A", "n": 4, "agreement": 0.75},
        {"annotator": "B", "n": 4, "agreement": 0.75},
    ]
    assert disagreements(ratings) == [
        {"item": "2", "disagreement": 0.5, "labels": {"A": "a", "B": "b"}}
    ]
    assert coincidences(counts).tolist() == [[2.0, 1.0], [1.0, 4.0]]


def test_krippendorffs_published_example_with_missing_ratings():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the nominal example:
    # four observers, twelve units, some units rated by fewer observers; alpha = 0.743.
    table = {
        "A": "1 2 3 3 2 1 4 1 2 . . .",
        "B": "1 2 3 3 2 2 4 1 2 5 . 3",
        "C": ". 3 3 3 2 3 4 2 2 5 1 .",
        "D": "1 2 3 3 2 4 4 1 2 5 1 .",
    }
    items, annotators, labels = [], [], []
    for annotator, row in table.items():
        for unit, value in enumerate(row.split()):
            if value != ".":
                items.append(unit), annotators.append(annotator), labels.append(value)
    ratings = Ratings.from_rows(items, annotators, labels)
    assert round(krippendorff_alpha(ratings.counts()), 3) == 0.743
    # Unit 12 has one rating: it takes part in no statistic.
    assert sum(row["n"] for row in pairwise_cohen(ratings) if "D" in row["annotators"]) > 0


def test_equal_raters_give_fleiss_kappa_exactly():
    # Fleiss (1971)-style table, 3 raters each: counts per category.
    counts = np.array([[3, 0], [0, 3], [2, 1], [1, 2], [3, 0]])
    # By hand: P_i = 1, 1, 1/3, 1/3, 1 -> P = 11/15; p = (9/15, 6/15), P_e = 0.52.
    assert fleiss_kappa(counts) == pytest.approx((11 / 15 - 0.52) / 0.48)


def test_bootstrap_interval_brackets_alpha_and_is_reproducible():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, 80)
    noisy = np.where(rng.random(80) < 0.2, rng.integers(0, 3, 80), truth)
    ratings = Ratings.from_rows(list(range(80)) * 2, ["a"] * 80 + ["b"] * 80,
                                np.concatenate([truth, noisy]))  # fmt: skip
    counts = ratings.counts()
    low, high = bootstrap_alpha(counts)
    assert low < krippendorff_alpha(counts) < high
    assert (low, high) == bootstrap_alpha(counts)


@pytest.mark.parametrize(
    ("items", "annotators", "labels", "message"),
    [
        (["1", "2"], ["A", "A"], ["x", "y"], "at least two annotators"),
        (["1", "2"], ["A", "B"], ["x", "y"], "no item was rated by two annotators"),
        (["1", "1", "1"], ["A", "A", "B"], ["x", "y", "x"], "more than once"),
    ],
)
def test_tables_that_cannot_measure_agreement_say_why(items, annotators, labels, message):
    with pytest.raises(UsageError, match=message):
        Ratings.from_rows(items, annotators, labels)


def run(check_id, ratings, **overrides):
    spec = get_spec(check_id)
    return spec.func(AgreementContext(ratings, "t"), spec.resolve_params(overrides))


def test_the_agreement_check_is_inconclusive_on_few_items_and_decides_on_many():
    few = run("labels.agreement", two_coders())
    assert few.status is Status.INCONCLUSIVE and few.n == 4
    assert few.details["fleiss_kappa"] == pytest.approx(0.4667, abs=1e-4)
    confusion = few.evidence[1].items
    assert confusion == [{"label": "a", "a": 2.0, "b": 1.0}, {"label": "b", "a": 1.0, "b": 4.0}]
    labels = np.arange(300) % 3
    perfect = Ratings.from_rows(list(range(300)) * 2, ["a"] * 300 + ["b"] * 300,
                                np.concatenate([labels, labels]))  # fmt: skip
    result = run("labels.agreement", perfect)
    assert result.status is Status.PASS and result.value == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    random = Ratings.from_rows(list(range(300)) * 2, ["a"] * 300 + ["b"] * 300,
                               rng.integers(0, 3, 600))  # fmt: skip
    assert run("labels.agreement", random).status is Status.FAIL


def test_disagreements_are_a_queue_that_warns():
    result = run("labels.disagreements", two_coders())
    assert result.status is Status.WARN and result.n == 4
    assert result.evidence[0].items[0]["item"] == "2"

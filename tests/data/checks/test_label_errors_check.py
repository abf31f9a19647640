"""data.label_errors: skipped without inputs, suspects ranked with their given and suggested
labels, the fraction gate."""

from __future__ import annotations

import numpy as np
import pytest

from dlqa.core.errors import ConfigError
from dlqa.core.registry import get_spec
from dlqa.core.results import Status
from dlqa.data.checks.label_errors import NO_INPUTS
from dlqa.data.label_inputs import LabelModel

CLASSES = ["ant", "bee", "cow", "dog"]


def run(profile, **overrides):
    spec = get_spec("data.label_errors")
    return spec.func(profile, spec.resolve_params(overrides))


def _planted(make_profile, n: int = 1000, flips: int = 30, seed: int = 1):
    """A profile of n samples whose given labels are the true ones but for ``flips`` of them,
    and out-of-fold probabilities of a decent model of the true classes."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(CLASSES), n)
    alpha = np.ones((n, len(CLASSES)))
    alpha[np.arange(n), truth] += 8
    probs = np.array([rng.dirichlet(a) for a in alpha])
    given = truth.copy()
    flipped = rng.choice(n, flips, replace=False)
    given[flipped] = (truth[flipped] + 1 + rng.integers(0, 3, flips)) % len(CLASSES)
    profile = make_profile(
        [{"sample_id": f"s{i:03d}", "label": CLASSES[given[i]]} for i in range(n)]
    )
    profile.label_model = LabelModel(probs, list(CLASSES), "probabilities from pred.csv")
    return profile, flipped, truth


def test_skipped_without_inputs(make_profile) -> None:
    result = run(make_profile([{"label": "ant"}, {"label": "bee"}]))
    assert result.status is Status.SKIP
    assert result.summary == NO_INPUTS
    assert "--pred-probs FILE" in result.summary and "--label-errors" in result.summary


def test_suspects_ranked_with_given_and_suggested_labels(make_profile) -> None:
    profile, flipped, truth = _planted(make_profile)
    result = run(profile)
    assert result.status is Status.PASS  # 3 % is under the default 10 %
    items = result.evidence[0].items
    assert [item["rank"] for item in items] == list(range(1, len(items) + 1))
    scores = [item["score"] for item in items]
    assert scores == sorted(scores)
    planted = {f"s{i:03d}" for i in flipped}
    found = {item["id"] for item in items}
    assert len(found & planted) >= 0.75 * len(planted)
    assert len(found & planted) >= 0.75 * len(found)
    for item in items:
        row = int(item["id"][1:])
        assert item["label"] in CLASSES and item["suggested"] in CLASSES
        assert item["suggested"] != item["label"]
        assert item["reason"] == f"labelled {item['label']}, looks like {item['suggested']}"
        assert item["p_given"] < item["p_suggested"]
        if item["id"] in planted:
            assert item["suggested"] == CLASSES[truth[row]]
    assert result.n == 1000
    assert result.value == pytest.approx(len(items) / 1000)
    details = result.details
    assert details["origin"] == "probabilities from pred.csv"
    # Flagged: the estimated number, or fewer where fewer labels lose to another class.
    assert details["count"] == len(items) <= details["estimated_errors"]
    assert 0.8 < details["out_of_fold_accuracy"] < 1.0
    assert f"{len(items)} of 1000 judged samples" in result.summary
    assert "estimated label errors" in result.summary


def test_gate_trips_on_many_suspects(make_profile) -> None:
    profile, _, _ = _planted(make_profile, flips=200)  # 20 %
    result = run(profile)
    assert result.status is Status.WARN  # a warning by default
    assert "at most 10.00% allowed" in result.summary
    assert run(profile, level="fail").status is Status.FAIL
    assert run(profile, max_fraction=0.5).status is Status.PASS


def test_clean_labels_pass_quietly(make_profile) -> None:
    profile, _, _ = _planted(make_profile, flips=0)
    result = run(profile)
    assert result.status is Status.PASS
    assert result.details["count"] <= 10  # at most 1 %


def test_samples_without_predictions_are_not_judged(make_profile) -> None:
    profile, flipped, _ = _planted(make_profile)
    profile.label_model.probs[:100] = np.nan
    result = run(profile)
    assert result.n == 900 and result.details["n_not_judged"] == 100
    assert all(int(item["id"][1:]) >= 100 for item in result.evidence[0].items)


def test_nothing_to_judge_is_skipped(make_profile) -> None:
    one_class = make_profile([{"sample_id": f"s{i}", "label": "ant"} for i in range(20)])
    one_class.label_model = LabelModel(np.ones((20, 1)), ["ant"], "probabilities from p.csv")
    result = run(one_class)
    assert result.status is Status.SKIP and "carry one label, 'ant'" in result.summary
    unlabelled = make_profile([{"label": None}, {"label": None}])
    unlabelled.label_model = LabelModel(np.full((2, 1), 1.0), ["ant"], "x")
    assert run(unlabelled).status is Status.SKIP


def test_weak_models_are_called_weak(make_profile) -> None:
    profile, _, _ = _planted(make_profile)
    rng = np.random.default_rng(1)
    profile.label_model.probs = rng.dirichlet(np.ones(len(CLASSES)), 1000)
    result = run(profile)
    assert result.details["out_of_fold_accuracy"] < 0.5
    assert "a weak model" in result.summary


def test_neighbours_join_the_vote(make_profile) -> None:
    profile, flipped, truth = _planted(make_profile)
    rng = np.random.default_rng(2)
    # Features that know the true classes: a flipped sample's neighbours disagree with it.
    profile.label_model.features = np.eye(len(CLASSES))[truth] + rng.normal(0, 0.1, (1000, 4))
    result = run(profile, neighbours=5)
    items = result.evidence[0].items
    assert result.details["rank_by"] == "self_confidence"
    planted = {f"s{i:03d}" for i in flipped}
    assert {item["id"] for item in items} == planted
    assert all(item["neighbours_agreeing"] <= 0.2 for item in items)
    assert all(0 <= item["score"] < 0.5 for item in items)
    with pytest.raises(ConfigError):
        run(profile, neighbours=0)


def test_a_weak_model_on_clean_labels_is_inconclusive(make_profile) -> None:
    """An overconfident weak model (out-of-fold accuracy ~0.56) on right labels: the plain
    estimate says ~9 %, the trend says it is the model's weakness, so (almost) nothing is
    flagged and the summary says the rest is inconclusive."""
    from dlqa.data.label_features import out_of_fold_probs

    sizes = (180, 150, 50, 50, 25, 20, 20, 15, 12, 10)
    rng = np.random.default_rng(3)
    centres = rng.normal(0, 0.25, (len(sizes), 40))
    truth = np.repeat(np.arange(len(sizes)), sizes)
    features = centres[truth] + rng.normal(0, 1, (len(truth), 40))
    names = [f"c{j}" for j in range(len(sizes))]
    profile = make_profile(
        [{"sample_id": f"s{i:03d}", "label": names[c]} for i, c in enumerate(truth)]
    )
    probs = out_of_fold_probs(features, truth, len(sizes), seed=3)
    profile.label_model = LabelModel(probs, names, "probabilities from pred.csv")
    result = run(profile)
    assert result.status is Status.PASS
    assert result.details["count"] <= 0.02 * len(truth)
    assert result.details["weak_model_correction"] is True
    assert result.details["plain_estimate"] > 0.05 * len(truth)
    assert "inconclusive" in result.summary and "weak model" in result.summary

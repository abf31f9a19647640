"""The drift statistics on plain arrays: distances, their noise, and the verdicts on them.

Random halves of one distribution must never be called drifted, at 200,000 values (where
any p-value would call noise significant) or at 200 (where plug-in distances are mostly
noise); planted shifts must be.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from dlqa.data import drift
from dlqa.data import drift_properties as props

LIMITS = {"max_wasserstein": 0.15, "max_psi": 0.25, "max_changed": 0.01}
ALPHA, SUGGESTIVE = 0.001 / 20, 0.01 / 20  # as the check divides them over 20 properties


def judged(shift: props.PropertyShift) -> drift.Judgement:
    return props.judge_property(shift, *LIMITS.values(), ALPHA, SUGGESTIVE)


def draw(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "normal":
        return rng.normal(120, 40, n)
    if kind == "lognormal":
        return rng.lognormal(5, 1.5, n)
    if kind == "sizes":
        return rng.choice([256.0, 512.0, 640.0, 1024.0], n, p=[0.6, 0.2, 0.1, 0.1])
    if kind == "mostly_one_rate":
        return np.where(rng.random(n) < 0.95, 16000.0, 44100.0)
    if kind == "zero_inflated":
        return np.where(rng.random(n) < 0.6, 0.0, rng.random(n))
    raise ValueError(kind)


KINDS = ["normal", "lognormal", "sizes", "mostly_one_rate", "zero_inflated"]


@pytest.mark.parametrize("kind", KINDS)
def test_random_halves_of_200000_do_not_drift(kind: str) -> None:
    values = draw(kind, 200_000, np.random.default_rng(0))
    shift = props.property_shift(kind, values[::2], values[1::2], seed=1)
    assert judged(shift) == "stable"
    limit = LIMITS["max_changed"] if shift.constant else LIMITS["max_wasserstein"]
    # Not only below the limit: the whole interval far below it.
    assert shift.interval[1] < limit / 3
    assert shift.psi_effect < 0.01


@pytest.mark.parametrize("kind", KINDS)
def test_random_halves_of_200_are_not_a_false_alarm(kind: str) -> None:
    rng = np.random.default_rng(7)
    verdicts = []
    for seed in range(25):
        values = draw(kind, 200, rng)
        verdicts.append(judged(props.property_shift(kind, values[:100], values[100:], seed=seed)))
    assert "drift" not in verdicts
    # Undecided is allowed on 100 values a side, but must stay the exception.
    assert verdicts.count("undecided") <= 2


def test_small_noisy_samples_are_bias_corrected() -> None:
    # The plug-in distance of two halves of 100 normal values is ~0.15 sigma of pure noise;
    # the corrected effect is not.
    rng = np.random.default_rng(3)
    plug_in, corrected = [], []
    for seed in range(20):
        values = rng.normal(size=200)
        shift = props.property_shift("x", values[:100], values[100:], seed=seed)
        plug_in.append(shift.wasserstein)
        corrected.append(shift.effect)
    assert np.mean(plug_in) > 0.1
    assert np.mean(corrected) < 0.05


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("brightness +10 %", lambda x: np.minimum(255, x * 1.1)),
        ("brightness +0.3 sigma", lambda x: x + 12),
        ("spread x1.5", lambda x: 120 + (x - 120) * 1.5),
    ],
)
def test_planted_shifts_drift(name: str, change) -> None:
    rng = np.random.default_rng(1)
    reference, current = draw("normal", 100_000, rng), draw("normal", 100_000, rng)
    shift = props.property_shift(name, reference, change(current))
    assert judged(shift) == "drift"
    assert shift.interval[0] > LIMITS["max_wasserstein"]


def test_a_shift_of_one_sigma_is_caught_on_a_few_hundred_samples() -> None:
    rng = np.random.default_rng(2)
    shift = props.property_shift("x", rng.normal(size=300), rng.normal(1.0, 1.0, 300))
    assert judged(shift) == "drift"
    assert 0.7 < shift.effect < 1.3


def test_a_constant_reference_drifts_when_its_value_changes() -> None:
    rate = np.full(50_000, 16000.0)
    same = props.property_shift("sample_rate", rate, rate[:20_000])
    assert same.constant and same.effect == 0.0 and judged(same) == "stable"
    switched = rate[:20_000].copy()
    switched[:6_000] = 8000.0  # a new microphone for 30 % of the clips
    shift = props.property_shift("sample_rate", rate, switched)
    assert shift.constant
    assert shift.effect == pytest.approx(0.3)
    assert judged(shift) == "drift"
    # One odd clip is an outlier's business, not drift.
    one = rate[:20_000].copy()
    one[0] = 44100.0
    assert judged(props.property_shift("sample_rate", rate, one)) == "stable"


def test_a_mixed_rate_switch_drifts() -> None:
    rng = np.random.default_rng(4)
    reference = draw("mostly_one_rate", 100_000, rng)
    current = draw("mostly_one_rate", 100_000, rng)
    current[current == 16000.0] = 8000.0
    shift = props.property_shift("sample_rate", reference, current)
    assert judged(shift) == "drift"


def test_heavy_tailed_properties_are_compared_on_a_log_scale() -> None:
    rng = np.random.default_rng(5)
    assert props.is_skewed(np.sort(rng.lognormal(5, 1.5, 10_000)))
    assert not props.is_skewed(np.sort(rng.normal(120, 40, 10_000)))
    assert not props.is_skewed(np.sort(rng.normal(0, 1, 10_000)))  # not positive


def test_wasserstein_matches_scipy() -> None:
    rng = np.random.default_rng(6)
    a, b = np.sort(rng.normal(size=3000)), np.sort(rng.normal(0.4, 1.3, 1700))
    assert props.wasserstein_sorted(a, b) == pytest.approx(
        stats.wasserstein_distance(a, b), rel=1e-3
    )
    c = np.sort(rng.normal(size=3000))
    assert props.wasserstein_sorted(a, c) == pytest.approx(stats.wasserstein_distance(a, c))


def test_robust_scale() -> None:
    assert props.robust_scale(np.full(100, 16000.0)) == 0.0
    normal = np.sort(np.random.default_rng(0).normal(0, 2, 100_000))
    assert props.robust_scale(normal) == pytest.approx(2.0, rel=0.02)
    # More than half identical: the standard deviation, not 0.
    mostly = np.sort(np.r_[np.full(990, 16000.0), np.full(10, 44100.0)])
    assert props.robust_scale(mostly) == pytest.approx(np.std(mostly))


def test_psi_and_histogram_items() -> None:
    assert props.psi(np.array([10, 20, 30]), np.array([10, 20, 30])) == pytest.approx(0.0)
    rng = np.random.default_rng(8)
    shift = props.property_shift("brightness", rng.normal(size=5000), rng.normal(1, 1, 5000))
    item = props.histogram_item(shift)
    assert item["property"] == "brightness"
    assert len(item["edges"]) == len(item["reference"]) + 1 == len(item["current"]) + 1
    assert sum(item["reference"]) == 5000 and sum(item["current"]) == 5000
    assert item["wasserstein"] == pytest.approx(shift.effect, abs=1e-4)


def test_properties_with_too_few_values_are_left_out() -> None:
    assert props.property_shift("x", np.array([np.nan, 1.0]), np.arange(10.0)) is None
    shifts = props.property_shifts(
        {"a": np.arange(100.0), "b": np.full(100, np.nan), "only_ref": np.arange(5.0)},
        {"a": np.arange(100.0), "b": np.arange(100.0)},
    )
    assert [s.name for s in shifts] == ["a"]


# ---------------------------------------------------------------------------- priors


def test_js_divergence_bounds() -> None:
    assert drift.js_divergence([0.5, 0.5], [0.5, 0.5]) == pytest.approx(0.0)
    assert drift.js_divergence([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0)


def _prior_verdict(shift: drift.PriorShift) -> str:
    judgement = drift.judge(shift.effect, shift.interval[0], 0.01, shift.p_value, 0.001, 0.01)
    return "drift" if len(shift.shifted_classes(1.5, 0.001)) else judgement


@pytest.mark.parametrize("n", [200, 200_000])
def test_class_priors_of_random_halves_do_not_shift(n: int) -> None:
    rng = np.random.default_rng(9)
    labels = rng.choice(10, n)
    order = rng.permutation(n)
    a, b = labels[order[: n // 2]], labels[order[n // 2 :]]
    shift = drift.prior_shift(
        list("abcdefghij"), np.bincount(a, minlength=10), np.bincount(b, minlength=10)
    )
    assert _prior_verdict(shift) != "drift"
    if n == 200_000:
        assert _prior_verdict(shift) == "stable"
        assert shift.interval[1] < 0.001


def test_a_doubled_class_prior_shifts() -> None:
    rng = np.random.default_rng(10)
    reference = np.bincount(rng.choice(10, 50_000), minlength=10)
    doubled = np.full(10, 0.8 / 9)
    doubled[3] = 0.2  # class 3: 10 % -> 20 %
    current = np.bincount(rng.choice(10, 50_000, p=doubled), minlength=10)
    shift = drift.prior_shift([f"c{k}" for k in range(10)], reference, current)
    assert _prior_verdict(shift) == "drift"
    assert shift.shifted_classes(1.5, 0.001).tolist() == [3]
    assert shift.effect > 0.01


def test_a_rare_class_doubling_counts_once_significant() -> None:
    # 20 classes, one of 1 %: doubled on 100,000 samples a side it is a shift (its JS is
    # tiny); on 2,000 a side (20 vs 40 samples) it is not significant enough to say.
    shares = np.r_[np.full(19, 0.99 / 19), 0.01]
    doubled = np.r_[np.full(19, 0.98 / 19), 0.02]
    rng = np.random.default_rng(11)
    for n, expect in ((100_000, [19]), (2_000, [])):
        reference = np.bincount(rng.choice(20, n, p=shares), minlength=20)
        current = np.bincount(rng.choice(20, n, p=doubled), minlength=20)
        shift = drift.prior_shift([str(k) for k in range(20)], reference, current)
        assert shift.shifted_classes(1.5, 0.001).tolist() == expect


# ---------------------------------------------------------------------------- domain classifier


def test_domain_classifier_on_one_distribution_is_near_half() -> None:
    rng = np.random.default_rng(12)
    data = rng.normal(size=(8000, 5))
    result = drift.domain_classifier(data[:4000], data[4000:], list("abcde"), max_per_side=3000)
    assert 0.45 < result.auc < 0.55
    assert result.interval[0] < 0.5 < result.interval[1] + 0.02
    assert result.n_reference == result.n_current == 3000
    assert len(result.current_scores) == len(result.current_rows) == 3000
    assert result.p_value > 0.001


def test_domain_classifier_sees_a_joint_shift_no_property_shows() -> None:
    # Same margins, different correlation: each property alone separates nothing.
    rng = np.random.default_rng(13)
    x = rng.normal(size=(6000, 2))
    reference = x[:3000]
    z = x[3000:]
    current = np.c_[z[:, 0], 0.95 * z[:, 0] + np.sqrt(1 - 0.95**2) * z[:, 1]]
    result = drift.domain_classifier(reference, current, ["a", "b"])
    assert result.auc > 0.75
    assert max(result.univariate_auc.values()) < 0.56


def test_domain_classifier_names_the_current_looking_rows() -> None:
    rng = np.random.default_rng(14)
    reference = rng.normal(size=(2000, 3))
    current = rng.normal(size=(2000, 3))
    current[:100, 1] += 6  # a hundred rows unlike anything in the reference
    result = drift.domain_classifier(reference, current, ["x", "y", "z"])
    top = result.current_rows[np.argsort(-result.current_scores)[:50]]
    assert np.mean(top < 100) > 0.9
    separating = sorted(result.univariate_auc.items(), key=lambda kv: -kv[1])
    assert separating[0][0] == "y"
    reasons = drift.current_looking_reasons(
        current[top[:3]], reference, ["x", "y", "z"], separating
    )
    assert all(reason.startswith("y ") for reason in reasons)


def test_hanley_mcneil_interval() -> None:
    low, high = drift.hanley_mcneil(0.5, 100, 100)
    assert low == pytest.approx(1 - high) and 0.4 < low < 0.45
    low, high = drift.hanley_mcneil(0.9, 10_000, 10_000)
    assert high - low < 0.01

"""dlqa.exp.stats: Welch's verdicts against scipy and hand computations, TOST, Holm, the
edge cases (single runs, constant groups, bad input), and the false-positive rate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from dlqa.exp.stats import (
    SINGLE_RUN,
    _welch_se_df,
    compare,
    compare_metrics,
    holm,
    seeds_for_power,
)

# Wikipedia, "Welch's t-test", example 1: t = -2.46, df = 25.0, p = 0.021.
A1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
A2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_p_value_is_scipys_welch(alternative: str) -> None:
    rng = np.random.default_rng(0)
    for nb, nc in [(3, 3), (4, 7), (10, 5), (20, 20)]:
        b, c = rng.normal(0.0, 1.0, nb), rng.normal(0.4, 2.0, nc)
        got = compare(b, c, alternative=alternative, n_resamples=0).p_value
        want = stats.ttest_ind(c, b, equal_var=False, alternative=alternative).pvalue
        assert got == pytest.approx(want, rel=1e-10, abs=1e-15)


def test_hand_computed_welch() -> None:
    # baseline 1,2,3 (variance 1), candidate 4..8 (variance 2.5): se^2 = 1/3 + 1/2
    se, df = _welch_se_df(1.0, 3, 2.5, 5)
    assert se == pytest.approx(math.sqrt(5 / 6))
    assert df == pytest.approx((5 / 6) ** 2 / ((1 / 3) ** 2 / 2 + 0.5**2 / 4))  # 5.882
    assert 4.0 / se == pytest.approx(4.3818, abs=1e-4)
    c = compare(A1, A2)
    assert c.p_value == pytest.approx(0.021, abs=5e-4)
    assert c.difference == pytest.approx(np.mean(A2) - np.mean(A1))
    assert c.verdict == "improved"  # A2 higher, higher is better
    assert c.seeds_needed is None and "p = 0.0214 < 0.05" in c.reason


def test_verdict_mapping_by_direction() -> None:
    low, high = [0.1, 0.12, 0.11, 0.13], [0.3, 0.31, 0.29, 0.32]
    assert compare(low, high).verdict == "improved"
    assert compare(high, low).verdict == "regressed"
    assert compare(low, high, higher_is_better=False).verdict == "regressed"
    assert compare(high, low, higher_is_better=False).verdict == "improved"
    assert "candidate worse by 0.19 " in compare(high, low).reason


def test_one_sided_alternatives_are_about_the_raw_difference() -> None:
    b, c = [1.0, 1.2, 0.9, 1.1], [1.3, 1.5, 1.2, 1.45]
    two = compare(b, c)
    greater = compare(b, c, alternative="greater")
    assert greater.p_value == pytest.approx(two.p_value / 2)
    assert greater.verdict == "improved"
    less = compare(b, c, alternative="less")  # asks "is the candidate lower?": it is not
    assert less.verdict == "inconclusive" and less.p_value > 0.99
    assert less.seeds_needed is None and "points away" in less.reason
    # a loss: "less" asks whether the candidate improved
    loss = compare(c, b, higher_is_better=False, alternative="less")
    assert loss.verdict == "improved" and loss.prob_improvement == 31 / 32  # 1.2 ties


def test_tost_no_difference_only_with_min_effect() -> None:
    rng = np.random.default_rng(3)
    b, c = rng.normal(0.0, 0.01, 20), rng.normal(0.001, 0.01, 20)
    plain = compare(b, c)
    assert plain.verdict == "inconclusive" and plain.p_equivalence is None
    eq = compare(b, c, min_effect=0.02)
    assert eq.verdict == "no_difference" and "within ±0.02" in eq.reason
    p_low = stats.ttest_ind(c + 0.02, b, equal_var=False, alternative="greater").pvalue
    p_high = stats.ttest_ind(c - 0.02, b, equal_var=False, alternative="less").pvalue
    assert eq.p_equivalence == pytest.approx(max(p_low, p_high), rel=1e-10)
    narrow = compare(b, c, min_effect=0.001)  # too tight a margin for 20 seeds
    assert narrow.verdict == "inconclusive" and "not shown" in narrow.reason
    assert narrow.seeds_needed is not None and narrow.seeds_needed > 20


def test_single_runs_are_inconclusive() -> None:
    for b, c in [([0.5], [0.9]), ([0.5], [0.6, 0.7, 0.8]), ([0.1, 0.2], [0.9])]:
        r = compare(b, c)
        assert r.verdict == "inconclusive" and SINGLE_RUN in r.reason
        assert r.p_value is None and r.ci is None and r.seeds_needed is None
    assert compare([0.5], [0.9]).reason.startswith("1 seed each")


def test_constant_groups() -> None:
    same = compare([0.1] * 3, [0.1] * 3)  # 0.1 * 3 / 3 rounds: the variance must stay 0
    assert same.verdict == "inconclusive" and same.p_value == 1.0
    assert same.effect_size is None and "min_effect" in same.reason
    assert compare([0.1] * 3, [0.1] * 3, min_effect=0.01).verdict == "no_difference"
    apart = compare([0.1] * 3, [0.2] * 3)
    assert apart.verdict == "improved" and apart.p_value == 0.0 and "exactly" in apart.reason
    assert compare([0.1] * 3, [0.2] * 3, alternative="less").verdict == "inconclusive"
    one = compare([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])  # one constant group: Welch is defined
    assert one.p_value == pytest.approx(0.03509871864598465, rel=1e-10)


def test_descriptive_numbers() -> None:
    r = compare([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], seed=7)
    assert r.effect_size == pytest.approx(3.0 * (1 - 3 / 15))  # Hedges' g
    assert r.ci is not None and r.ci[0] <= 3.0 <= r.ci[1]
    assert r.ci == compare([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], seed=7).ci
    assert compare([1.0, 2.0], [2.0, 3.0]).prob_improvement == 0.875  # one tie of four
    lower = compare([1.0, 2.0], [2.0, 3.0], higher_is_better=False)
    assert lower.prob_improvement == 0.125
    assert compare([1.0, 2.0], [2.0, 3.0], n_resamples=0).ci is None
    json.dumps(r.to_dict(), allow_nan=False)


def test_seeds_needed_matches_noncentral_t_power() -> None:
    for effect in (0.5, 1.0, 2.0):
        n = seeds_for_power(1.0, effect, 0.05)
        assert n is not None

        def power(k: int, effect: float = effect) -> float:
            df, ncp = 2 * k - 2, effect / math.sqrt(2 / k)
            crit = stats.t.ppf(0.975, df)
            return stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp)

        assert power(n) >= 0.79 and power(max(2, n - 2)) < 0.8
    assert seeds_for_power(1.0, 1e-6) is None and seeds_for_power(0.0, 1.0) is None
    r = compare([0.800, 0.810, 0.805], [0.8041, 0.8131, 0.8101])
    assert r.verdict == "inconclusive" and f"about {r.seeds_needed} seeds" in r.reason


def test_holm_hand_example() -> None:
    # sorted: 0.005 <= 0.05/4, 0.01 <= 0.05/3, 0.03 > 0.05/2: stop there
    assert holm([0.01, 0.04, 0.03, 0.005], 0.05) == [True, False, False, True]
    assert holm([0.01, 0.02, 0.03], 0.05) == [True, True, True]
    assert holm([], 0.05) == []
    with pytest.raises(ValueError, match="p-values"):
        holm([0.1, float("nan")])


def test_compare_metrics_applies_holm() -> None:
    base = {
        "acc": [0.80, 0.81, 0.79, 0.80],
        "f1": [0.126, -0.132, 0.64, 0.105, -0.536, 0.362],
        "loss": [1.0, 1.1, 0.9, 1.05],
    }
    cand = {
        "acc": [0.90, 0.91, 0.89, 0.90],
        "f1": [2.604, 2.247, 0.596, 0.035, 0.677, 1.341],
        "loss": [1.02, 0.95, 1.1, 0.97],
    }
    alone = compare(base["f1"], cand["f1"])
    assert alone.verdict == "improved" and 0.05 / 2 < alone.p_value < 0.05
    out = compare_metrics(base, cand, higher_is_better={"acc": True, "f1": True, "loss": False})
    assert out["acc"].verdict == "improved"
    assert out["f1"].verdict == "inconclusive" and out["f1"].p_value == alone.p_value
    assert "after Holm correction over 3 metrics" in out["f1"].reason
    assert out["f1"].seeds_needed is not None
    assert out["loss"].verdict == "inconclusive" and not out["loss"].higher_is_better


def test_bad_input() -> None:
    runs = [0.1, 0.2, 0.3]
    cases = [
        (([], runs), "empty"),
        (([0.1, float("nan")], runs), "NaN"),
        ((runs, [0.1, math.inf]), "NaN or infinite"),
        ((["0.1", "0.2"], runs), "not numbers"),
        (([True, False], runs), "not numbers"),
        ((0.5, runs), "sequence of numbers"),
        ((np.ones((2, 2)), runs), "1-D"),
        ((runs, runs), "same object"),
    ]
    for (b, c), message in cases:
        with pytest.raises(ValueError, match=message):
            compare(b, c)
    assert compare(runs, list(runs)).verdict == "inconclusive"  # equal values are fine
    for kwargs, message in [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 0.7}, "alpha"),
        ({"alternative": "bigger"}, "alternative"),
        ({"min_effect": -0.1}, "min_effect"),
        ({"higher_is_better": "yes"}, "higher_is_better"),
        ({"n_resamples": -1}, "n_resamples"),
    ]:
        with pytest.raises(ValueError, match=message):
            compare([0.1, 0.2], [0.3, 0.4], **kwargs)
    with pytest.raises(ValueError, match=r"one side only.*\['f1', 'loss'\]"):
        compare_metrics({"acc": runs, "f1": runs}, {"acc": [0.2, 0.3], "loss": runs})
    with pytest.raises(ValueError, match="baseline 'acc' is empty"):
        compare_metrics({"acc": []}, {"acc": runs})
    with pytest.raises(ValueError, match="no value given for metric 'acc'"):
        compare_metrics({"acc": runs}, {"acc": [0.2, 0.3]}, higher_is_better={"f1": True})


@pytest.mark.parametrize("noise", ["normal", "t3"])
def test_false_positive_rate_under_no_difference(noise: str) -> None:
    rng = np.random.default_rng(11)
    sims, n, alpha = 2000, 5, 0.05
    draw = rng.standard_normal if noise == "normal" else lambda size: rng.standard_t(3, size)
    groups = draw((sims, 2, n))
    claims = sum(
        compare(b, c, alpha=alpha, n_resamples=0).verdict in ("improved", "regressed")
        for b, c in groups
    )
    assert claims / sims <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / sims)

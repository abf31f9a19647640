"""dlqa.exp.sequential: the staged comparison's error rates by seeded simulation, early stops
(efficacy and equivalence), the look records against scipy, the boundary recursion against
Monte Carlo, and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from dlqa.exp.sequential import _crossing, compare_sequential, fixed_seeds
from dlqa.exp.stats import seeds_for_power


def _simulate(noise: str, effect: float, sims: int, seed: int) -> tuple[float, float, float]:
    """(rate of improved or regressed, rate of improved, mean runs used) over ``sims`` staged
    comparisons at min_effect 1 seed sd, max_seeds 20, power 0.8."""
    rng = np.random.default_rng(seed)
    if noise == "normal":
        x = rng.standard_normal((sims, 2, 20))
    else:
        x = rng.standard_t(3, (sims, 2, 20)) / math.sqrt(3.0)
    x[:, 1] += effect
    claims = improved = runs = 0
    for b, c in x:
        r = compare_sequential(b.__getitem__, c.__getitem__, min_effect=1.0, n_resamples=0)
        claims += r.verdict in ("improved", "regressed")
        improved += r.verdict == "improved"
        runs += r.seeds_used
    return claims / sims, improved / sims, runs / sims


@pytest.mark.parametrize(("noise", "sims"), [("normal", 1500), ("t3", 800)])
def test_false_positive_rate_at_most_alpha(noise: str, sims: int) -> None:
    rate, _, runs = _simulate(noise, 0.0, sims, seed=101)
    assert rate <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / sims)
    assert runs < 2 * seeds_for_power(1.0, 1.0)  # "no difference" stops early on average


def test_power_and_saving_at_min_effect() -> None:
    sims = 1200
    _, power, runs_alt = _simulate("normal", 1.0, sims, seed=202)
    assert power >= 0.8 - 2.5 * math.sqrt(0.8 * 0.2 / sims)
    _, _, runs_null = _simulate("normal", 0.0, 600, seed=203)
    fixed = 2 * seeds_for_power(1.0, 1.0)  # 34 runs
    assert (runs_alt + runs_null) / 2 < 0.85 * fixed


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_huge_difference_stops_within_two_looks(higher_is_better: bool) -> None:
    rng = np.random.default_rng(1)
    noise = rng.standard_normal((2, 20))
    r = compare_sequential(
        lambda s: noise[0, s],
        lambda s: noise[1, s] + 50.0,
        min_effect=1.0,
        higher_is_better=higher_is_better,
        n_resamples=0,
    )
    assert r.verdict == ("improved" if higher_is_better else "regressed")
    assert len(r.looks) <= 2 and r.seeds_used == 2 * r.looks[-1].seeds <= 8
    assert "candidate" in r.reason and r.comparison is not None


def test_no_difference_with_a_large_min_effect_stops_early() -> None:
    rng = np.random.default_rng(2)
    noise = rng.standard_normal((2, 20))
    r = compare_sequential(lambda s: noise[0, s], lambda s: noise[1, s], min_effect=5.0)
    assert r.verdict == "no_difference"
    assert len(r.looks) <= 2 and r.seeds_used <= 8
    assert "within ±5" in r.reason


def test_look_records_match_welch_and_the_seeds_called() -> None:
    rng = np.random.default_rng(3)
    noise = rng.normal(0.0, 1.0, (2, 40))
    calls: dict[str, list[int]] = {"b": [], "c": []}

    def run_b(seed: int) -> float:
        calls["b"].append(seed)
        return float(noise[0, seed - 10])

    def run_c(seed: int) -> float:
        calls["c"].append(seed)
        return float(noise[1, seed - 10] + 0.3)

    r = compare_sequential(
        run_b, run_c, min_effect=1.0, looks=[3, 6, 10, 15], max_seeds=15, seed_offset=10
    )
    assert r.planned_looks == (3, 6, 10, 15)
    assert calls["b"] == calls["c"] == list(range(10, 10 + r.looks[-1].seeds))
    assert [look.seeds for look in r.looks] == [3, 6, 10, 15][: len(r.looks)]
    assert all(look.decision == "continue" for look in r.looks[:-1])
    assert r.looks[-1].decision == r.verdict
    for look in r.looks:
        b, c = noise[0, : look.seeds], noise[1, : look.seeds] + 0.3
        welch = stats.ttest_ind(c, b, equal_var=False)
        assert look.difference == pytest.approx(c.mean() - b.mean())
        assert look.t == pytest.approx(welch.statistic)
        assert look.p_value == pytest.approx(welch.pvalue)
        assert look.se == pytest.approx(look.difference / look.t)
        assert 0.0 < look.efficacy_level < 0.05 and 0.0 < look.equivalence_level < 0.2
        # the nominal levels and the t boundaries say the same thing
        assert stats.t.sf(look.efficacy_t, look.df) * 2 == pytest.approx(look.efficacy_level)
    levels = [look.efficacy_level for look in r.looks]
    assert levels == sorted(levels)  # O'Brien-Fleming: almost nothing early
    assert r.baseline == pytest.approx(noise[0, : r.looks[-1].seeds].tolist())
    assert r.comparison is not None and r.comparison.n_baseline == r.looks[-1].seeds
    data = json.loads(json.dumps(r.to_dict()))
    assert data["verdict"] == r.verdict and len(data["looks"]) == len(r.looks)


def test_too_few_seeds_is_inconclusive_and_says_how_many() -> None:
    base = [0.1, -0.4, 0.9, -1.2, 0.3]
    cand = [0.6, 0.5, 0.2, 1.4, -0.3]
    r = compare_sequential(base.__getitem__, cand.__getitem__, min_effect=1.0, max_seeds=5)
    assert r.verdict == "inconclusive" and len(r.looks) == 3 and r.seeds_used == 10
    assert "give max_seeds about" in r.reason


def test_constant_runs() -> None:
    same = compare_sequential(lambda s: 0.5, lambda s: 0.5, min_effect=0.1, n_resamples=0)
    assert same.verdict == "no_difference" and same.seeds_used == 6
    apart = compare_sequential(lambda s: 0.5, lambda s: 0.6, min_effect=0.1, n_resamples=0)
    assert apart.verdict == "improved" and apart.seeds_used == 6
    assert apart.to_dict()["looks"][0]["t"] is None  # infinite t, JSON-ready


def test_fixed_seeds_is_seeds_for_power_at_80_percent() -> None:
    for sd, delta in [(1.0, 1.0), (2.0, 0.5), (0.3, 1.0)]:
        assert fixed_seeds(sd, delta) == seeds_for_power(sd, delta)
    assert fixed_seeds(1.0, 1.0, power=0.9) > fixed_seeds(1.0, 1.0)


@pytest.mark.parametrize("two_sided", [True, False])
def test_boundary_recursion_spends_what_it_should(two_sided: bool) -> None:
    t = np.array([0.2, 0.45, 0.7, 1.0])
    spent = np.array([0.002, 0.01, 0.025, 0.05])
    bounds = np.array(_crossing(t, spent, two_sided))
    rng = np.random.default_rng(4)
    paths = np.cumsum(rng.standard_normal((200_000, 4)) * np.sqrt(np.diff(t, prepend=0.0)), 1)
    z = paths / np.sqrt(t)
    crossed = (np.abs(z) if two_sided else z) >= bounds
    first = np.where(crossed.any(1), crossed.argmax(1), -1)
    for k in range(4):
        want = spent[k] - (spent[k - 1] if k else 0.0)
        assert (first == k).mean() == pytest.approx(want, abs=4 * math.sqrt(want / 200_000))


def _ok(seed: int) -> float:
    return float(seed)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_effect": 0.0}, "smallest difference that matters"),
        ({"min_effect": -1.0}, "smallest difference that matters"),
        ({"min_effect": math.nan}, "smallest difference that matters"),
        ({"min_effect": True}, "smallest difference that matters"),
        ({"min_effect": 1.0, "alpha": 0.6}, "alpha"),
        ({"min_effect": 1.0, "power": 0.3}, "power"),
        ({"min_effect": 1.0, "max_seeds": 2}, "below first_look"),
        ({"min_effect": 1.0, "first_look": 1}, "first_look"),
        ({"min_effect": 1.0, "max_seeds": 10.5}, "max_seeds"),
        ({"min_effect": 1.0, "looks": [3, 3, 5]}, "increase strictly"),
        ({"min_effect": 1.0, "looks": [1, 5]}, "increase strictly"),
        ({"min_effect": 1.0, "looks": [3, 25]}, "exceeds max_seeds"),
        ({"min_effect": 1.0, "looks": []}, "non-empty"),
        ({"min_effect": 1.0, "seed_offset": 1.5}, "seed_offset"),
        ({"min_effect": 1.0, "higher_is_better": "yes"}, "higher_is_better"),
    ],
)
def test_bad_options(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compare_sequential(_ok, _ok, **options)


@pytest.mark.parametrize("bad", [math.nan, math.inf, None, "0.9", True])
def test_a_run_without_a_finite_number_names_its_seed(bad: object) -> None:
    def run(seed: int) -> object:
        return bad if seed == 7 else 0.1 * seed

    with pytest.raises(ValueError, match=r"run_candidate\(seed=7\)"):
        compare_sequential(_ok, run, min_effect=1.0, seed_offset=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="run_baseline is a function"):
        compare_sequential([1.0, 2.0], _ok, min_effect=1.0)  # type: ignore[arg-type]

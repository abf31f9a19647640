"""Wilson score intervals against published and hand-computed values."""

from __future__ import annotations

import math

import pytest

from dlqa.core.intervals import wilson_interval, wilson_interval_of, z_of
from dlqa.core.results import Interval

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Statistics in
# Medicine 17:857-872, table I, method 3 (Wilson score, no continuity correction), 95 %.
NEWCOMBE = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("successes", "n", "low", "high"), NEWCOMBE)
def test_wilson_matches_newcombes_table(successes, n, low, high):
    interval = wilson_interval(successes, n)
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)
    assert interval.level == 0.95


def test_wilson_by_hand_for_half_of_ten():
    # p = 0.5, n = 10, z = 1.959964: centre 0.5, half-width
    # z * sqrt(0.025 + z^2 / 400) / (1 + z^2 / 10) = 0.26338...
    z = 1.959963984540054
    half = z * math.sqrt(0.25 / 10 + z * z / 400) / (1 + z * z / 10)
    interval = wilson_interval(5, 10)
    assert interval.low == pytest.approx(0.5 - half, abs=1e-12)
    assert interval.high == pytest.approx(0.5 + half, abs=1e-12)
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.2366, 0.7634)


def test_no_successes_and_all_successes_reach_the_edge_exactly():
    # 0 of n: upper bound z^2 / (n + z^2), the "rule of three" cousin.
    z2 = 1.959963984540054**2
    none, every = wilson_interval(0, 10), wilson_interval(10, 10)
    assert none.low == 0.0 and none.high == pytest.approx(z2 / (10 + z2), abs=1e-12)
    assert every.high == 1.0 and every.low == pytest.approx(1 - z2 / (10 + z2), abs=1e-12)
    # 73 clean reviews are the fewest that show a rate below 5 %.
    assert wilson_interval(0, 73).high < 0.05 < wilson_interval(0, 72).high


def test_no_observations_say_nothing():
    assert wilson_interval(0, 0) == Interval(0.0, 1.0, 0.95)
    assert wilson_interval(0, 0, 0.9) == Interval(0.0, 1.0, 0.9)
    assert wilson_interval_of(0.0, 0.0) == Interval(0.0, 1.0)


def test_other_levels():
    assert z_of(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_of(0.90) == pytest.approx(1.644854, abs=1e-6)
    narrow, wide = wilson_interval(5, 10, 0.80), wilson_interval(5, 10, 0.99)
    assert narrow.level == 0.80 and wide.level == 0.99
    assert wide.low < wilson_interval(5, 10).low < narrow.low
    # 99 %, 1 of 29: z = 2.575829
    z = 2.5758293035489
    p, n = 1 / 29, 29
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert wilson_interval(1, 29, 0.99).high == pytest.approx(centre + half, abs=1e-12)


@pytest.mark.parametrize(("successes", "n"), [(0, 5), (3, 17), (81, 263), (9, 9)])
def test_weighted_form_equals_the_count_form_at_whole_counts(successes, n):
    weighted, counted = wilson_interval_of(successes / n, n), wilson_interval(successes, n)
    assert weighted.low == pytest.approx(counted.low, abs=1e-12)
    assert weighted.high == pytest.approx(counted.high, abs=1e-12)


def test_smaller_effective_samples_widen_the_interval():
    full, half = wilson_interval_of(0.1, 200), wilson_interval_of(0.1, 100)
    assert half.low < full.low < 0.1 < full.high < half.high


@pytest.mark.parametrize(("successes", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_impossible_counts_are_refused(successes, n):
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


def test_bad_levels_and_proportions_are_refused():
    with pytest.raises(ValueError):
        wilson_interval(1, 2, level=1.0)
    with pytest.raises(ValueError):
        wilson_interval_of(1.5, 10)
    with pytest.raises(ValueError):
        wilson_interval_of(0.5, -1)

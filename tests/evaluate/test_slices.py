"""Slices: how columns become groups (quantile bins, categories, missing values), per-slice
accuracy against a direct computation, and the worst-first order."""

from __future__ import annotations

import numpy as np
import pytest

from dlqa.core.intervals import wilson_interval
from dlqa.core.results import Interval
from dlqa.evaluate.slices import MISSING, SliceMetric, slice_metrics, slice_values, worst_first

# ------------------------------------------------------------------ slice_values


def test_numbers_become_quantile_bins() -> None:
    column = slice_values(np.arange(1, 101) / 100)  # 0.01 .. 1.00
    assert column.binned
    assert column.names == ["[0.01, 0.26)", "[0.26, 0.51)", "[0.51, 0.76)", "[0.76, 1]"]
    assert column.counts().tolist() == [25, 25, 25, 25]
    assert column.codes[:3].tolist() == [0, 0, 0] and column.codes[-1] == 3


def test_bins_follow_the_values_not_their_order() -> None:
    values = [0.9, 0.12, 0.5, 0.35, 0.2, 0.7, 0.3, 0.1]
    column = slice_values(values)
    assert column.names == ["[0.1, 0.2)", "[0.2, 0.35)", "[0.35, 0.7)", "[0.7, 0.9]"]
    for value, code in zip(values, column.codes, strict=True):
        low, high = column.names[code][1:-1].split(", ")
        assert float(low) <= value <= float(high)


def test_bin_names_are_short_but_distinct() -> None:
    column = slice_values(np.linspace(0.123456, 0.987654, 40))
    assert column.names[0].startswith("[0.1235, ")
    assert column.names[-1].endswith(", 0.9877]")
    close = slice_values([1.00001, 1.00002, 1.00003, 1.00004, 1.00005, 2.0])
    assert close.names[0] == "[1.00001, 1.00003)"  # 4 digits would read "[1, 1)"
    assert close.names[-1] == "[1.00005, 2]"


def test_n_bins_sets_the_number_of_bins() -> None:
    values = np.random.default_rng(0).normal(size=1000)
    assert len(slice_values(values, n_bins=10).names) == 10
    assert slice_values(values, n_bins=10).counts().tolist() == [100] * 10
    assert len(slice_values(values, n_bins=2).names) == 2
    with pytest.raises(ValueError, match="n_bins"):
        slice_values(values, n_bins=0)


def test_heavy_ties_give_fewer_bins_and_stay_together() -> None:
    values = np.r_[np.zeros(90), np.arange(1, 11)]
    column = slice_values(values)
    assert column.names == ["[0, 1)", "[1, 10]"]
    assert column.counts().tolist() == [90, 10]


def test_strings_are_categories_sorted() -> None:
    column = slice_values(["cam_b", "cam_a", "cam_c", "cam_b"])
    assert not column.binned
    assert column.names == ["cam_a", "cam_b", "cam_c"]
    assert column.codes.tolist() == [1, 0, 2, 1]


def test_missing_values_have_their_own_group_last() -> None:
    column = slice_values(["day", None, "night", "", np.nan, "  ", "day"])
    assert column.names == ["day", "night", MISSING]
    assert column.codes.tolist() == [0, 2, 1, 2, 2, 2, 0]
    numbers = slice_values([0.1, np.nan, 0.5, 0.2, 0.9, 0.3, None])
    assert numbers.binned
    assert numbers.names[-1] == MISSING
    assert numbers.counts()[-1] == 2
    assert slice_values(np.array(["a", "", "b"])).names == ["a", "b", MISSING]


def test_a_column_of_nan_only_is_one_missing_group() -> None:
    for values in ([np.nan] * 4, np.full(4, np.nan), [None] * 4):
        column = slice_values(values)
        assert column.names == [MISSING]
        assert column.codes.tolist() == [0, 0, 0, 0]


def test_small_integers_and_flags_stay_categorical() -> None:
    flags = slice_values([0, 1, 1, 0, 1])
    assert (flags.names, flags.binned) == (["0", "1"], False)
    codes = slice_values(np.array([3, 1, 2, 1, 4]))  # 4 distinct <= 4 bins
    assert codes.names == ["1", "2", "3", "4"]
    assert codes.codes.tolist() == [2, 0, 1, 0, 3]
    assert slice_values([3, 1, 2, 1, 4, 5]).binned  # 5 distinct > 4 bins
    assert slice_values([0.5, 1.5, 0.5, np.nan]).names == ["0.5", "1.5", MISSING]


def test_booleans_and_mixed_objects_are_categories() -> None:
    assert slice_values(np.array([True, False, True])).names == ["False", "True"]
    assert slice_values([True, False, None]).names == ["False", "True", MISSING]
    mixed = slice_values([1, "a", 2.5, "a"])
    assert mixed.names == ["1", "2.5", "a"]


def test_pandas_columns() -> None:
    pd = pytest.importorskip("pandas")
    series = pd.Series(["x", None, "y", "x"], dtype="category")
    assert slice_values(series).names == ["x", "y", MISSING]
    nullable = pd.Series([1, None, 2, 1], dtype="Int64")
    assert slice_values(nullable).names == ["1", "2", MISSING]


def test_empty_column_has_no_groups() -> None:
    column = slice_values([])
    assert column.names == [] and len(column.codes) == 0
    with pytest.raises(ValueError, match="1-D"):
        slice_values([[1, 2], [3, 4]])


# ------------------------------------------------------------------ slice_metrics


def planted(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2000 samples at 90 % accuracy over 10 sites of 200, except site "s07" at 50 %."""
    sites = np.repeat([f"s{k:02d}" for k in range(10)], 200)
    labels = rng.integers(0, 5, 2000)
    accuracy = np.where(sites == "s07", 0.5, 0.9)
    right = rng.random(2000) < accuracy
    predictions = np.where(right, labels, (labels + 1) % 5)
    return labels, predictions, sites


def test_planted_bad_slice_comes_first() -> None:
    labels, predictions, sites = planted(np.random.default_rng(0))
    metrics = slice_metrics(labels, predictions, "site", sites)
    assert [m.value for m in metrics] == [f"s{k:02d}" for k in range(10)]
    ranked = worst_first(metrics)
    assert ranked[0].value == "s07"
    assert ranked[0].accuracy == pytest.approx(0.5, abs=0.08)
    assert ranked[0].interval.high < min(m.interval.low for m in ranked[1:])


def test_planted_bad_range_of_a_numeric_column_comes_first() -> None:
    rng = np.random.default_rng(1)
    brightness = rng.uniform(0, 1, 2000)
    labels = rng.integers(0, 3, 2000)
    right = rng.random(2000) < np.where(brightness < 0.25, 0.5, 0.9)
    predictions = np.where(right, labels, (labels + 1) % 3)
    ranked = worst_first(slice_metrics(labels, predictions, "brightness", brightness))
    assert len(ranked) == 4
    assert ranked[0].value == slice_values(brightness).names[0]  # the lowest quarter
    assert ranked[0].value.endswith(", 0.2517)")
    assert ranked[0].n == 500


def test_tiny_slice_does_not_outrank_a_certainly_bad_one() -> None:
    tiny = SliceMetric("site", "a", 2, 0, 0.0, wilson_interval(0, 2), 0.0)
    large = SliceMetric("site", "b", 200, 100, 0.5, wilson_interval(100, 200), 0.5)
    fine = SliceMetric("site", "c", 500, 450, 0.9, wilson_interval(450, 500), 0.9)
    assert tiny.interval.high > large.interval.high  # 0.66 > 0.57
    assert [m.value for m in worst_first([fine, tiny, large])] == ["b", "a", "c"]


def test_worst_first_breaks_ties_by_accuracy_then_size() -> None:
    same = Interval(0.4, 0.6)
    a = SliceMetric("c", "a", 10, 5, 0.5, same, 0.5)
    b = SliceMetric("c", "b", 20, 8, 0.4, same, 0.4)
    c = SliceMetric("c", "c", 40, 16, 0.4, same, 0.4)
    assert [m.value for m in worst_first([a, b, c])] == ["c", "b", "a"]


def test_slice_accuracy_agrees_with_numpy() -> None:
    from sklearn.metrics import recall_score

    rng = np.random.default_rng(2)
    labels = rng.integers(0, 4, 1000)
    predictions = np.where(rng.random(1000) < 0.7, labels, rng.integers(0, 4, 1000))
    values = rng.choice(["a", "b", "c", None], 1000)
    column = slice_values(values)
    metrics = slice_metrics(labels, predictions, "source", values, level=0.9)
    assert [m.value for m in metrics] == ["a", "b", "c", MISSING]
    for code, metric in enumerate(metrics):
        rows = column.codes == code
        y, p = labels[rows], predictions[rows]
        assert metric.column == "source"
        assert metric.n == rows.sum()
        assert metric.correct == np.sum(y == p)
        assert metric.accuracy == pytest.approx(np.mean(y == p))
        assert metric.interval == wilson_interval(int(np.sum(y == p)), int(rows.sum()), 0.9)
        expected = recall_score(y, p, labels=np.unique(y), average="macro")
        assert metric.macro_recall == pytest.approx(expected)


def test_macro_recall_averages_the_classes_present_in_the_slice() -> None:
    # Slice "x": class 0 recall 3/3, class 1 recall 0/1 -> macro 0.5, accuracy 3/4.
    # Slice "y": only class 2, 1 of 2 right -> macro 0.5 (classes 0, 1 absent, not zeros).
    labels = [0, 0, 0, 1, 2, 2]
    predictions = [0, 0, 0, 0, 2, 1]
    x, y = slice_metrics(labels, predictions, "split", ["x", "x", "x", "x", "y", "y"])
    assert (x.accuracy, x.macro_recall) == (0.75, 0.5)
    assert (y.accuracy, y.macro_recall) == (0.5, 0.5)


def test_to_item() -> None:
    (metric,) = slice_metrics([0, 1, 1, 0], [0, 1, 0, 0], "brightness", [0.2] * 4)
    item = metric.to_item()
    assert item == {
        "slice": "brightness",
        "value": "0.2",
        "n": 4,
        "accuracy": 0.75,
        "low": metric.interval.low,
        "high": metric.interval.high,
    }
    assert 0.0 < item["low"] < 0.75 < item["high"] <= 1.0


def test_length_mismatch_names_both_lengths() -> None:
    with pytest.raises(ValueError, match=r"'brightness' has 3 values for 5 samples"):
        slice_metrics([0] * 5, [0] * 5, "brightness", [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"differ in length: 5 != 4"):
        slice_metrics([0] * 5, [0] * 4, "brightness", [0.1] * 5)


def test_empty_input_raises() -> None:
    with pytest.raises(ValueError, match="no samples"):
        slice_metrics([], [], "brightness", [])


def test_string_class_names_work_as_labels() -> None:
    metrics = slice_metrics(["cat", "dog", "cat"], ["cat", "cat", "cat"], "site", ["a"] * 3)
    assert metrics[0].accuracy == pytest.approx(2 / 3)
    assert metrics[0].macro_recall == pytest.approx(0.5)

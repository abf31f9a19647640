"""Class balance: classes far below the median class, and per-class recall intervals."""

import pytest

from dlqa.core.registry import get_spec
from dlqa.core.results import Status
from dlqa.data.checks.balance import worst_case_recall_interval_width


def run(profile, **overrides):
    spec = get_spec("data.class_balance")
    return spec.func(profile, spec.resolve_params(overrides))


def rows_of(counts: dict[str, int], split: str | None = None) -> list[dict]:
    return [
        {"sample_id": f"{split}/{label}/{k}", "label": label, "split": split}
        for label, count in counts.items()
        for k in range(count)
    ]


def test_a_class_one_fifth_of_the_median_is_named_as_a_warning(make_profile):
    counts = {"a": 100, "b": 100, "c": 100, "d": 20}  # ratio 5: under max_ratio
    result = run(make_profile(rows_of(counts)))
    assert result.status is Status.WARN
    assert result.details["rare_classes"] == ["d"]
    assert "1 class d (20) below 0.25 of the median class (100)" in result.summary
    assert run(make_profile(rows_of(counts)), min_median_fraction=0.1).status is Status.PASS
    # the old limits still fail the gate on their own
    assert run(make_profile(rows_of(counts)), max_ratio=4).status is Status.FAIL


def test_wilson_width_needs_about_forty_samples_for_plus_minus_fifteen_points():
    assert worst_case_recall_interval_width(0) == 1.0
    assert worst_case_recall_interval_width(38) > 0.3 > worst_case_recall_interval_width(39)
    assert worst_case_recall_interval_width(93) < 0.2 < worst_case_recall_interval_width(92)


def test_each_class_of_the_test_split_gets_its_n_and_interval(make_profile):
    rows = rows_of({"cat": 300, "dog": 300}, "train") + rows_of({"cat": 100, "dog": 12}, "test")
    result = run(make_profile(rows))
    intervals = {(r["split"], r["label"]): r for r in result.details["recall_intervals"]}
    assert set(intervals) == {("test", "cat"), ("test", "dog")}  # train makes no decisions
    assert intervals[("test", "dog")]["n"] == 12
    assert intervals[("test", "dog")]["width"] == pytest.approx(0.492, abs=0.001)
    assert [(w["split"], w["label"]) for w in result.details["wide_recall_intervals"]] == [
        ("test", "dog")
    ]
    assert result.status is Status.WARN and "dog in test n=12" in result.summary
    assert run(make_profile(rows), max_recall_interval=0.5).status is Status.PASS

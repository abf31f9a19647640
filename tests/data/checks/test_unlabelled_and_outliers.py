"""Unlabelled samples are not a class; robust outlier statistics survive zero spread."""

import json

import numpy as np
import pytest

from dlqa.core.results import Status
from dlqa.data.checks.balance import class_counts, unlabelled_counts
from dlqa.data.checks.outliers import robust_location_and_scale, robust_z_scores
from tests.data.checks.test_dataset_checks import pair_ids, run

LABEL_CHECKS = (
    "data.class_balance",
    "data.conflicting_labels",
    "data.label_names",
)


def _no_unlabelled_class(result) -> None:
    """Neither "(none)" nor "None" appears as a class name anywhere in a result."""
    text = json.dumps(result.to_dict())
    assert "(none)" not in text
    assert '"None"' not in text and "'None'" not in text and "class None" not in text


def _flat_folder(n=30):
    # Images directly in the root of a folder: no labels, but duplicates still matter.
    rows = [{"sample_id": f"img{i}.jpg", "label": None} for i in range(n)]
    rows[0]["sha256"] = rows[1]["sha256"] = "copy"  # an exact copy
    # A dim frame among photos (a black one would be data.dark's, and no outlier).
    rows[2]["brightness"] = 60.0
    return rows


def test_all_unlabelled_skips_the_label_checks_with_the_reason(make_profile):
    profile = make_profile(_flat_folder())
    for check_id in LABEL_CHECKS:
        result = run(check_id, profile)
        assert result.status is Status.SKIP, check_id
        assert result.summary.startswith("no sample has a label: all 30 samples"), check_id
        assert result.details["unlabelled"] == {"count": 30, "fraction": 1.0}
        _no_unlabelled_class(result)
    assert class_counts(profile) == {"all": {}}
    assert unlabelled_counts(profile) == {"all": 30}


def test_all_unlabelled_still_finds_duplicates_and_outliers(make_profile):
    profile = make_profile(_flat_folder())
    exact = run("data.exact_duplicates", profile)
    assert exact.status is Status.FAIL
    assert exact.evidence[0].items[0]["ids"] == ["img0.jpg", "img1.jpg"]

    outliers = run("data.property_outliers", profile)
    assert [item["id"] for item in outliers.evidence[0].items] == ["img2.jpg"]
    assert "unusual for the dataset" in outliers.evidence[0].items[0]["reason"]
    assert "whole dataset" in outliers.summary
    assert outliers.details["grouping"] == "dataset"
    _no_unlabelled_class(outliers)


def test_split_leakage_works_without_labels(make_profile):
    rows = [
        {"sample_id": "train/a.jpg", "label": None, "split": "train", "sha256": "same"},
        {"sample_id": "test/a.jpg", "label": None, "split": "test", "sha256": "same"},
        {"sample_id": "test/b.jpg", "label": None, "split": "test"},
    ]
    result = run("data.split_leakage", make_profile(rows))
    assert result.status is Status.FAIL
    assert pair_ids(result) == [("train/a.jpg", "test/a.jpg")]


def _partly_labelled():
    rows = [{"sample_id": f"cat/{i}", "label": "cat", "split": "train"} for i in range(12)]
    rows += [{"sample_id": f"dog/{i}", "label": "dog", "split": "train"} for i in range(12)]
    rows += [{"sample_id": f"dog/t{i}", "label": "dog", "split": "test"} for i in range(2)]
    rows += [{"sample_id": f"cat/t{i}", "label": "cat", "split": "test"} for i in range(2)]
    # Loose images: three in the train folder, five in a test folder that has no classes.
    rows += [{"sample_id": f"train/loose{i}", "label": None, "split": "train"} for i in range(3)]
    rows += [{"sample_id": f"test/loose{i}", "label": None, "split": "test"} for i in range(5)]
    return rows


def test_partly_labelled_counts_only_the_labelled_and_reports_the_rest(make_profile):
    profile = make_profile(_partly_labelled())
    # Its test split holds 2 samples per class, too few for a per-class recall: that warning
    # is not what this test is about.
    result = run("data.class_balance", profile, max_recall_interval=1.0)

    assert result.status is Status.PASS
    assert result.details["counts"] == {
        "all": {"cat": 14, "dog": 14},
        "train": {"cat": 12, "dog": 12},
        "test": {"cat": 2, "dog": 2},
    }
    assert result.details["unlabelled"] == {
        "count": 8,
        "fraction": round(8 / 36, 6),
        "by_split": {"train": 3, "test": 5},
    }
    assert "8 of 36 samples (22.22%) have no label and are not counted" in result.summary
    assert result.summary.startswith("2 classes, 14 to 14 samples per class")
    assert [row["label"] for row in result.evidence[0].items] == ["cat", "dog"]
    _no_unlabelled_class(result)


def test_a_split_of_only_unlabelled_samples_is_not_missing_every_class(make_profile):
    rows = [{"sample_id": f"c{i}", "label": "cat", "split": "train"} for i in range(12)]
    rows += [{"sample_id": f"u{i}", "label": None, "split": "test"} for i in range(4)]
    result = run("data.class_balance", make_profile(rows))
    assert result.status is Status.PASS
    assert result.details["missing_from_split"] == []
    assert result.details["counts"] == {"all": {"cat": 12}, "train": {"cat": 12}}


def test_unlabelled_copy_of_a_labelled_image_is_not_a_label_conflict(make_profile):
    rows = [
        {"sample_id": "cat/1", "label": "cat", "sha256": "x"},
        {"sample_id": "loose/1", "label": None, "sha256": "x"},
        {"sample_id": "dog/1", "label": "dog", "sha256": "y"},
        {"sample_id": "cat/2", "label": "cat", "sha256": "y"},
    ]
    result = run("data.conflicting_labels", make_profile(rows))
    assert pair_ids(result) == [("dog/1", "cat/2")]
    assert result.details["unlabelled"] == {"count": 1, "fraction": 0.25}
    _no_unlabelled_class(result)


def test_label_names_ignore_unlabelled_samples(make_profile):
    rows = [{"sample_id": "1", "label": "Cat"}, {"sample_id": "2", "label": "cat"}]
    rows += [{"sample_id": "3", "label": None}]
    result = run("data.label_names", make_profile(rows))
    assert result.status is Status.FAIL
    assert result.evidence[0].items == [
        {"labels": ["Cat", "cat"], "reason": "differ only by case or spacing", "counts": [1, 1]}
    ]
    assert result.details == {"n_labels": 2, "unlabelled": {"count": 1, "fraction": 0.333333}}


def test_a_class_literally_named_none_is_a_class(make_profile):
    # Manifests keep "None" and "(none)" as written: they are names, never the missing label.
    rows = [{"sample_id": f"n{i}", "label": "None"} for i in range(10)]
    rows += [{"sample_id": f"p{i}", "label": "(none)"} for i in range(10)]
    rows += [{"sample_id": "u", "label": None}]
    counts = class_counts(make_profile(rows))
    assert counts == {"all": {"(none)": 10, "None": 10}}


def test_partly_labelled_outliers_judge_loose_samples_against_everyone(make_profile):
    rows = [{"sample_id": f"c{i}", "label": "cat", "brightness": 110.0 + i % 5} for i in range(25)]
    rows += [{"sample_id": f"d{i}", "label": "dog", "brightness": 120.0 + i % 5} for i in range(25)]
    rows += [
        {"sample_id": "loose_ok", "label": None, "brightness": 120.0},
        {"sample_id": "loose_dark", "label": None, "brightness": 60.0},
    ]
    result = run("data.property_outliers", make_profile(rows))
    items = result.evidence[0].items
    assert [item["id"] for item in items] == ["loose_dark"]
    assert items[0]["label"] is None
    assert items[0]["reason"] == "brightness 60 is unusual for the dataset (no label)"
    assert "samples without a label: of the whole dataset" in result.summary
    assert result.details["grouping"] == "class"
    _no_unlabelled_class(result)


def test_fully_labelled_results_are_unchanged(make_profile):
    rows = [{"sample_id": f"tr{i}", "label": "cat", "split": "train"} for i in range(30)]
    rows += [{"sample_id": f"te{i}", "label": "cat", "split": "test"} for i in range(5)]
    rows += [{"sample_id": f"d{i}", "label": "dog", "split": "train"} for i in range(3)]
    result = run("data.class_balance", make_profile(rows))
    assert result.summary.startswith(
        "2 classes, 3 to 35 samples per class (ratio 11.7): imbalance ratio 11.7 > 10; "
        "1 classes under 10 samples; 1 class/split combinations empty"
    )
    assert "unlabelled" not in result.details and "no label" not in result.summary
    assert result.details["counts"] == {
        "all": {"cat": 35, "dog": 3},
        "train": {"cat": 30, "dog": 3},
        "test": {"cat": 5},
    }
    names = run("data.label_names", make_profile(rows))
    assert names.status is Status.PASS
    assert names.details["unlabelled"] == {"count": 0, "fraction": 0.0}


# ---------------------------------------------------------------- robust statistics


def test_one_value_far_from_identical_ones_stands_out():
    values = np.full(50, 7.0)
    values[13] = 9.0
    z = robust_z_scores(values)
    assert abs(z[13]) > 30  # MAD is 0: the mean absolute deviation gives the scale
    assert np.count_nonzero(z) == 1


def test_identical_values_flag_nothing():
    assert not robust_z_scores(np.full(40, 3.25)).any()
    # Floating-point noise is not spread.
    noisy = np.full(40, 1000.0)
    noisy[5] = 1000.0 + 1e-10
    assert not robust_z_scores(noisy).any()
    assert robust_location_and_scale(np.full(40, 3.25)) == (3.25, 0.0)


def test_scale_floor_keeps_measurement_noise_quiet():
    values = np.full(40, 128.0)
    values[0] = 128.5  # within a draft decode's brightness noise
    assert abs(robust_z_scores(values, min_sigma=1.0)[0]) == pytest.approx(0.5)


def test_mad_is_used_when_there_is_spread():
    values = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    median, sigma = robust_location_and_scale(values)
    assert median == 3.0 and sigma == pytest.approx(1.0 / 0.6745)
    assert robust_z_scores(np.array([np.nan, np.inf])).tolist() == [0.0, 0.0]


def test_outliers_check_flags_the_odd_one_in_an_identical_class(make_profile):
    rows = [{"sample_id": f"c{i}", "label": "cat"} for i in range(30)]  # all identical
    rows.append({"sample_id": "big", "label": "cat", "width": 1024, "height": 1024})
    result = run("data.property_outliers", make_profile(rows))
    assert {item["id"] for item in result.evidence[0].items} == {"big"}
    assert "unusual for class 'cat'" in result.evidence[0].items[0]["reason"]

    same = run("data.property_outliers", make_profile(rows[:-1]))
    assert same.evidence == [] and same.status is Status.PASS

import pytest

from dlqa.core.registry import get_spec
from dlqa.core.results import Status
from dlqa.data.checks.labels import edit_distance, find_similar_labels, normalize_label


def run(check_id, profile, **overrides):
    spec = get_spec(check_id)
    return spec.func(profile, spec.resolve_params(overrides))


def pair_ids(result):
    return [tuple(item["ids"]) for ev in result.evidence for item in ev.items]


def test_exact_duplicates_group_identical_content(make_profile):
    profile = make_profile(
        [
            {"sample_id": "a", "sha256": "x"},
            {"sample_id": "b", "sha256": "x"},
            {"sample_id": "c", "sha256": "x"},
            {"sample_id": "d", "sha256": "y"},
        ]
    )
    result = run("data.exact_duplicates", profile)
    assert result.status is Status.FAIL
    assert result.evidence[0].items[0]["ids"] == ["a", "b", "c"]
    assert result.value == pytest.approx(2 / 4)


def test_near_duplicates_exclude_identical_files(make_profile):
    base = 0x0F0F_F0F0_1234_5678
    profile = make_profile(
        [
            {"sample_id": "orig", "phash": base, "sha256": "s1"},
            {"sample_id": "resized", "phash": base ^ 0b111, "sha256": "s2"},
            {"sample_id": "copy", "phash": base, "sha256": "s1"},
            {"sample_id": "other", "phash": ~base & ((1 << 64) - 1), "sha256": "s3"},
        ]
    )
    result = run("data.near_duplicates", profile, max_fraction=0.0)
    assert pair_ids(result) == [("orig", "resized"), ("resized", "copy")]
    assert result.evidence[0].items[0]["distance"] == 3
    assert run("data.near_duplicates", profile, max_distance=2).evidence == []


def test_conflicting_labels_and_leakage_use_exact_and_near_pairs(make_profile):
    base = 0x1234_5678_9ABC_DEF0
    profile = make_profile(
        [
            {"sample_id": "train/cat/1", "label": "cat", "split": "train", "phash": base},
            {"sample_id": "train/dog/1", "label": "dog", "split": "train", "phash": base ^ 1},
            {
                "sample_id": "test/cat/2",
                "label": "cat",
                "split": "test",
                "sha256": "sha0",
                "phash": base,
            },  # a byte-identical copy of the first sample
            {"sample_id": "test/cat/3", "label": "cat", "split": "test"},
        ]
    )
    conflicts = run("data.conflicting_labels", profile)
    assert conflicts.status is Status.FAIL
    assert set(pair_ids(conflicts)) == {
        ("train/cat/1", "train/dog/1"),
        ("train/dog/1", "test/cat/2"),
    }
    leakage = run("data.split_leakage", profile)
    assert set(pair_ids(leakage)) == {("train/cat/1", "test/cat/2"), ("train/dog/1", "test/cat/2")}
    assert leakage.status is Status.FAIL
    assert leakage.evidence[0].items[0]["distance"] == 0  # the exact copy ranks first


def test_split_leakage_skips_without_splits(make_profile):
    result = run("data.split_leakage", make_profile([{"sample_id": "a"}]))
    assert result.status is Status.SKIP


def test_class_balance_ratio_minimum_and_missing_split(make_profile):
    rows = [{"sample_id": f"tr{i}", "label": "cat", "split": "train"} for i in range(30)]
    rows += [{"sample_id": f"te{i}", "label": "cat", "split": "test"} for i in range(5)]
    rows += [{"sample_id": f"d{i}", "label": "dog", "split": "train"} for i in range(3)]
    result = run("data.class_balance", make_profile(rows))
    assert result.status is Status.FAIL
    assert result.value == pytest.approx(35 / 3) and result.threshold == 10.0
    assert result.details["small_classes"] == ["dog"]
    assert result.details["missing_from_split"] == [{"label": "dog", "split": "test"}]
    table = {row["label"]: row for row in result.evidence[0].items}
    assert table["cat"] == {"label": "cat", "train": 30, "test": 5, "total": 35}

    balanced = [{"sample_id": f"{lab}{i}", "label": lab} for lab in "ab" for i in range(12)]
    assert run("data.class_balance", make_profile(balanced)).status is Status.PASS


def test_label_name_hygiene():
    assert normalize_label("  Golden Retriever ") == normalize_label("golden_retriever")
    assert edit_distance("retriever", "retreiver") == 1  # a transposition is one edit
    found = find_similar_labels(
        ["cat", "Cat", "golden_retriever", "golden retreiver", "dogs", "dog", "class1", "class2",
         "zero", "one", "seven", "eight"]
    )  # fmt: skip
    groups = {tuple(f["labels"]): f["reason"] for f in found}
    assert groups[("Cat", "cat")] == "differ only by case or spacing"
    assert groups[("dog", "dogs")] == "singular and plural"
    assert "likely typo" in groups[("golden retreiver", "golden_retriever")]
    assert not any("class1" in labels for labels in groups)
    assert len(groups) == 3


def test_label_names_check(make_profile):
    profile = make_profile([{"sample_id": "1", "label": "Cat"}, {"sample_id": "2", "label": "cat"}])
    result = run("data.label_names", profile)
    assert result.status is Status.FAIL and result.value == 1.0
    assert result.evidence[0].items[0]["counts"] == [1, 1]


def test_property_outliers_flag_the_odd_one_in_its_class(make_profile):
    rows = [
        {
            "sample_id": f"c{i}",
            "label": "cat",
            "brightness": 120.0 + (i % 7),
            "contrast": 50.0 + i % 5,
        }
        for i in range(40)
    ]
    # Bright, not washed out (above 225 it would be data.bright's finding, not an outlier).
    rows.append({"sample_id": "odd", "label": "cat", "brightness": 200.0})
    result = run("data.property_outliers", make_profile(rows))
    flagged = [item["id"] for item in result.evidence[0].items]
    assert flagged == ["odd"]
    assert "brightness" in result.evidence[0].items[0]["reason"]
    few = run("data.property_outliers", make_profile(rows[-5:]))
    assert few.evidence == []  # a class below min_class_size is not judged


def test_near_duplicates_match_a_crop_through_the_centre_hash(make_profile):
    original_center = 0x5555_AAAA_0F0F_F0F0
    profile = make_profile(
        [
            {
                "sample_id": "original",
                "phash": 0x1234_5678_9ABC_DEF0,
                "phash_center": original_center,
            },
            {"sample_id": "cropped", "phash": original_center ^ 0b11},
        ]
    )
    result = run("data.near_duplicates", profile)
    assert pair_ids(result) == [("original", "cropped")]
    assert result.evidence[0].items[0]["distance"] == 2


def test_a_black_frame_is_dark_and_not_also_a_property_outlier(make_profile):
    rows = [
        {"sample_id": f"c{i}", "label": "cat", "brightness": 120.0 + (i % 7)} for i in range(40)
    ]
    rows.append({"sample_id": "black", "label": "cat", "brightness": 2.0, "luma_p99": 5.0})
    profile = make_profile(rows)
    assert [i["id"] for i in run("data.dark", profile).evidence[0].items] == ["black"]
    assert run("data.property_outliers", profile).evidence == []

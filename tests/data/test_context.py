"""DataProfile keeps whole columns in Arrow/numpy; its answers match plain-Python references."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dlqa.data.checks.balance import class_counts
from dlqa.data.context import DataProfile, StringColumn, string_codes
from dlqa.data.image_duplicates import signature_rows
from dlqa.data.modalities import IMAGE, profile_schema
from dlqa.data.snapshots import FINGERPRINT_PREFIX, dataset_fingerprint, diff_profiles
from tests.data.checks.conftest import build_profile

PROFILE_SCHEMA = profile_schema(IMAGE, [])

LABELS = ["cat", "dog", None, "Zebra", "élan", "(none)"]
SPLITS = ["train", "test", None, "val"]


def random_rows(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        grid = rng.integers(0, 256, 256, dtype=np.uint8).tobytes() if i % 5 else None
        rows.append(
            {
                "sample_id": f"s/{rng.integers(0, 10**6):07d}_{i}",
                "label": LABELS[int(rng.integers(0, len(LABELS)))],
                "split": SPLITS[int(rng.integers(0, len(SPLITS)))],
                "sha256": f"h{int(rng.integers(0, n // 3 + 1))}" if i % 7 else None,
                "grid": grid,
            }
        )
    return rows


def reference_fingerprint(profile: DataProfile) -> str:
    """The plain-Python definition the Arrow version must reproduce byte for byte."""
    rows = sorted(
        zip(
            list(profile.ids),
            list(profile.strings("sha256")),
            list(profile.labels),
            list(profile.splits),
            strict=True,
        ),
        key=lambda row: row[0],
    )
    digest = hashlib.sha256()
    for row in rows:
        digest.update("\t".join("" if v is None else str(v) for v in row).encode())
        digest.update(b"\n")
    return FINGERPRINT_PREFIX + digest.hexdigest()


def reference_class_counts(profile: DataProfile) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter] = {"all": Counter()}
    for label, split in zip(list(profile.labels), list(profile.splits), strict=True):
        if label is None:  # unlabelled samples are not a class
            continue
        counts["all"][label] += 1
        if split is not None:
            counts.setdefault(split, Counter())[label] += 1
    return {split: dict(sorted(c.items())) for split, c in counts.items()}


def write_parquet(profile: DataProfile, path, row_group_size: int) -> DataProfile:
    pq.write_table(profile.table, path, row_group_size=row_group_size)
    return DataProfile.from_parquet(path)


@pytest.fixture
def profiles(tmp_path):
    memory = build_profile(random_rows(300, seed=1))
    return memory, write_parquet(memory, tmp_path / "p.parquet", row_group_size=37)


def test_string_column_indexes_iterates_and_takes():
    column = StringColumn(pa.chunked_array([["a", None], ["c", "d", "e"]]))
    assert len(column) == 5
    assert column[0] == "a" and column[1] is None and column[3] == "d" and column[-1] == "e"
    assert list(column) == ["a", None, "c", "d", "e"]
    assert column.take(np.array([4, 0])) == ["e", "a"]
    assert column.take(np.array([True, False, True, False, False])) == ["a", "c"]
    assert column[np.array([2, 2])].tolist() == ["c", "c"]
    assert np.asarray(column).dtype == object


def test_string_codes_sorted_with_minus_one_for_null():
    names, codes = string_codes(pa.chunked_array([["b", None, "a"], ["b"]]))
    assert names == ["a", "b"]
    assert codes.tolist() == [1, -1, 0, 1]


def test_parquet_profile_answers_like_the_in_memory_one(profiles):
    memory, stored = profiles
    assert stored.n == memory.n == 300
    assert list(stored.ids) == list(memory.ids)
    assert stored.codes("label")[1].tolist() == memory.codes("label")[1].tolist()
    assert stored.decoded.tolist() == memory.decoded.tolist()
    np.testing.assert_array_equal(stored.numbers("brightness"), memory.numbers("brightness"))
    assert [g.tolist() for g in stored.exact_groups] == [g.tolist() for g in memory.exact_groups]
    assert stored.has_splits and memory.has_splits


def test_take_reads_rows_across_row_groups_in_the_asked_order(profiles):
    memory, stored = profiles
    rows = np.array([299, 0, 36, 37, 150, 36, 1])
    assert stored.take("sample_id", rows).to_pylist() == memory.take("sample_id", rows).to_pylist()
    grids_stored, known_stored = signature_rows(stored, "grid", rows)
    grids_memory, known_memory = signature_rows(memory, "grid", rows)
    np.testing.assert_array_equal(grids_stored, grids_memory)
    assert known_stored.tolist() == known_memory.tolist() == [True, False, True, True, False,
                                                              True, True]  # fmt: skip
    expected = memory.table.column("grid").to_pylist()[299]
    assert grids_stored[0].tobytes() == expected
    assert not grids_stored[1].any()  # a missing grid reads as zeros


def test_fingerprint_matches_the_plain_python_definition(profiles):
    memory, stored = profiles
    expected = reference_fingerprint(memory)
    assert dataset_fingerprint(memory) == expected
    assert dataset_fingerprint(stored) == expected


def test_fingerprint_ignores_row_order_and_sees_a_relabel():
    rows = random_rows(50, seed=2)
    base = dataset_fingerprint(build_profile(rows))
    assert dataset_fingerprint(build_profile(rows[::-1])) == base
    relabelled = [dict(rows[0], label="other"), *rows[1:]]
    assert dataset_fingerprint(build_profile(relabelled)) != base


def test_class_counts_match_the_counter_reference(profiles):
    memory, stored = profiles
    expected = reference_class_counts(memory)
    for profile in (memory, stored):
        counts = class_counts(profile)
        assert counts == expected
        assert list(counts) == list(expected)  # "all" first, splits in order of appearance


def test_rows_of_finds_ids_without_listing_the_column(profiles):
    _, stored = profiles
    ids = list(stored.ids)
    assert stored.rows_of([ids[5], "missing", ids[0]]).tolist() == [5, -1, 0]
    assert stored.rows_of([]).tolist() == []


def test_diff_profiles_samples():
    old = build_profile(
        [
            {"sample_id": "a", "sha256": "1", "label": "cat"},
            {"sample_id": "b", "sha256": "2", "label": "cat"},
            {"sample_id": "c", "sha256": "3", "label": "cat", "split": "train"},
            {"sample_id": "d", "sha256": "4", "label": None},
        ]
    )
    new = build_profile(
        [
            {"sample_id": "e", "sha256": "5", "label": "cat"},
            {"sample_id": "d", "sha256": "4", "label": None},
            {"sample_id": "c", "sha256": "9", "label": "dog", "split": "test"},
            {"sample_id": "a", "sha256": "1", "label": "cat"},
        ]
    )
    diff = diff_profiles(old, new)
    assert diff.added == ["e"]
    assert diff.removed == ["b"]
    assert diff.changed == [{"id": "c", "changed": ["content", "label", "split"]}]
    assert not diff.unchanged
    same = diff_profiles(old, old)
    assert same.unchanged and not same.added and not same.removed and not same.changed


def test_profiles_without_rows(tmp_path):
    empty = DataProfile(PROFILE_SCHEMA.empty_table())
    assert empty.n == 0 and empty.exact_groups == [] and not empty.has_splits
    assert class_counts(empty) == {"all": {}}
    stored = write_parquet(empty, tmp_path / "e.parquet", row_group_size=10)
    assert stored.n == 0 and list(stored.ids) == []
    assert dataset_fingerprint(stored) == reference_fingerprint(empty)

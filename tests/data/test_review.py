"""Spot checks: drawing a review sample, reading the review file back, the error rate."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dlqa.core.errors import EXIT_USAGE, UsageError
from dlqa.core.intervals import wilson_interval
from dlqa.data.context import DataProfile
from dlqa.data.review import (
    NO_VALUE_STRATUM,
    ReviewedSample,
    ReviewRow,
    ReviewVerdicts,
    allocate,
    allocation_of,
    class_sizes,
    draw_review_sample,
    estimate_error_rate,
    load_reviews,
)
from dlqa.data.review_file import (
    REVIEW_COLUMNS,
    parse_review_file,
    read_sidecar,
    write_review_csv,
    write_sidecar,
)
from dlqa.store import NewVerdict, open_store
from tests.data.checks.conftest import build_profile


def classes_profile(sizes: dict[str | None, int]) -> DataProfile:
    rows = [
        {"sample_id": f"{label or 'loose'}/{i:04d}.png", "label": label}
        for label, n in sizes.items()
        for i in range(n)
    ]
    return build_profile(rows)


# -- allocation ---------------------------------------------------------------------------


def test_allocation_is_proportional_with_a_floor_per_class():
    sizes = {"cat": 800, "dog": 150, "eel": 50}
    assert allocate(sizes, 100) == {"cat": 80, "dog": 15, "eel": 5}
    # A rare class gets the floor of 3 its share (0.5) would not give it.
    assert allocate({"cat": 990, "eel": 10}, 50) == {"cat": 47, "eel": 3}
    # A class smaller than the floor gives what it has.
    assert allocate({"cat": 990, "eel": 2}, 50) == {"cat": 48, "eel": 2}


def test_allocation_lowers_the_floor_when_the_size_cannot_hold_it():
    sizes = {"a": 100, "b": 100, "c": 100, "d": 100}
    assert allocate(sizes, 8) == {"a": 2, "b": 2, "c": 2, "d": 2}
    assert sum(allocate(sizes, 3).values()) == 3  # fewer draws than classes
    assert allocate(sizes, 0) == dict.fromkeys(sizes, 0)


def test_allocation_takes_everything_when_asked_for_more():
    assert allocate({"a": 4, "b": 2}, 10) == {"a": 4, "b": 2}


def test_allocation_is_deterministic_on_ties():
    assert allocate({"b": 10, "a": 10}, 7) == allocate({"a": 10, "b": 10}, 7) == {"a": 4, "b": 3}


# -- drawing ------------------------------------------------------------------------------


def test_the_same_seed_draws_the_same_sample():
    profile = classes_profile({"cat": 300, "dog": 120, "eel": 8})
    first = draw_review_sample(profile, {}, 40, seed=7)
    again = draw_review_sample(classes_profile({"cat": 300, "dog": 120, "eel": 8}), {}, 40, 7)
    other = draw_review_sample(profile, {}, 40, seed=8)
    assert [r.id for r in first] == [r.id for r in again]
    assert [r.id for r in first] != [r.id for r in other]
    assert len(first) == 40 and all(r.random and r.why == "random" for r in first)


def test_the_draw_does_not_depend_on_the_order_of_the_tables_rows():
    profile = classes_profile({"cat": 200, "dog": 60})
    table = profile.table
    shuffled = DataProfile(table.take(np.random.default_rng(0).permutation(table.num_rows)))
    assert [r.id for r in draw_review_sample(profile, {}, 25, 11)] == [
        r.id for r in draw_review_sample(shuffled, {}, 25, 11)
    ]


def test_the_draw_is_stratified_by_class():
    profile = classes_profile({"cat": 800, "dog": 150, "eel": 50})
    rows = draw_review_sample(profile, {}, 100, seed=1)
    per_class = {}
    for row in rows:
        per_class[row.label] = per_class.get(row.label, 0) + 1
        assert row.id.startswith(f"{row.label}/")
    assert per_class == {"cat": 80, "dog": 15, "eel": 5}
    assert allocation_of(profile, rows) == {
        "cat": {"size": 800, "drawn": 80},
        "dog": {"size": 150, "drawn": 15},
        "eel": {"size": 50, "drawn": 5},
    }


def test_every_flagged_sample_comes_on_top_marked_with_its_checks():
    profile = classes_profile({"cat": 50, "dog": 50})
    flagged = {"cat/0001.png": ["data.dark"], "dog/0002.png": ["data.blurry", "data.dark"]}
    random_only = {r.id for r in draw_review_sample(profile, {}, 10, seed=5)}
    rows = draw_review_sample(profile, {**flagged, "gone.png": ["data.dark"]}, 10, seed=5)
    by_id = {r.id: r for r in rows}
    assert {r.id for r in rows if r.random} == random_only  # the random part is unchanged
    assert set(flagged) <= set(by_id) and "gone.png" not in by_id
    for sample_id, checks in flagged.items():
        assert by_id[sample_id].flagged_by == tuple(checks)
        expected = "; ".join((["random"] if sample_id in random_only else []) + checks)
        assert by_id[sample_id].why == expected
    assert [r.id for r in rows] == sorted(by_id)


def test_a_flagged_sample_drawn_at_random_counts_as_random():
    profile = classes_profile({"cat": 5})
    rows = draw_review_sample(profile, ["cat/0000.png"], 5, seed=0)
    first = next(r for r in rows if r.id == "cat/0000.png")
    assert first.random and first.flagged_by == ()


def test_unlabelled_samples_are_a_stratum_and_none_means_one():
    profile = classes_profile({"cat": 30, None: 30})
    rows = draw_review_sample(profile, {}, 10, seed=2)
    assert {r.stratum for r in rows} == {"cat", NO_VALUE_STRATUM}
    assert class_sizes(profile) == {"cat": 30, NO_VALUE_STRATUM: 30}
    single = draw_review_sample(profile, {}, 10, seed=2, strata="none")
    assert len(single) == 10 and {r.stratum for r in single} == {"all"}


def test_rows_round_trip_through_their_stored_form():
    row = ReviewRow("a.png", "cat", "cat", True, ("data.dark",))
    assert ReviewRow.from_item(row.to_item()) == row


# -- the review file ----------------------------------------------------------------------

DRAWN = {"cat/1.png": "cat", "cat/2.png": "cat", "dog/1.png": "dog", "loose.png": None}
CLASSES = {"cat", "dog"}


def review_file(tmp_path: Path, body: str, header: str = ",".join(REVIEW_COLUMNS)) -> Path:
    path = tmp_path / "review.csv"
    path.write_text(header + "\n" + body, encoding="utf-8")
    return path


def test_the_written_file_reads_back_as_not_reviewed(tmp_path):
    rows = [ReviewRow(i, label, label or NO_VALUE_STRATUM, True) for i, label in DRAWN.items()]
    path = tmp_path / "review.csv"
    write_review_csv(path, rows)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid,label,verdict,correct_label,note\r\n")  # Excel's BOM
    parsed = parse_review_file(path, DRAWN, CLASSES)
    assert parsed.verdicts == [] and parsed.not_reviewed == 4 and parsed.rows == 4


def test_verdicts_are_read_forgiving_spelling_and_blank_rows(tmp_path):
    path = review_file(
        tmp_path,
        "cat/1.png,cat,OK,,\n"
        ",,,,\n"
        "cat/2.png,cat,Wrong Label,dog,looks like a dog\n"
        " dog/1.png ,dog,bad-sample,,blank frame\n"
        "loose.png,,,,\n",
    )
    parsed = parse_review_file(path, DRAWN, CLASSES)
    assert parsed.verdicts == [
        NewVerdict("cat/1.png", "ok", "cat", None, ""),
        NewVerdict("cat/2.png", "wrong_label", "cat", "dog", "looks like a dog"),
        NewVerdict("dog/1.png", "bad_sample", "dog", None, "blank frame"),
    ]
    assert parsed.not_reviewed == 1


def test_columns_may_come_in_any_order(tmp_path):
    path = review_file(
        tmp_path, "ok,,cat/1.png,cat,\n", header="verdict,note,id,label,correct_label"
    )
    assert parse_review_file(path, DRAWN, CLASSES).verdicts[0].sample_id == "cat/1.png"


# After a good first row (row 2 of the spreadsheet: the header is row 1).
BAD_ROWS = [
    ("nope.png,cat,ok,,\n", "ids not in this review sample: row 3 'nope.png'"),
    ("cat/1.png,cat,maybe,,\n", "unknown verdicts: row 3 'maybe'"),
    ("cat/1.png,cat,wrong_label,,\n", "wrong_label without correct_label: row 3 'cat/1.png'"),
    ("cat/1.png,cat,wrong_label,dgo,\n", "not a class of the dataset: row 3 'dgo'"),
    ("cat/1.png,cat,wrong_label,cat,\n", "wrong_label with the label it has as correct_label"),
    ("cat/1.png,cat,ok,dog,\n", "correct_label with verdict ok: row 3 'dog'"),
    ("cat/1.png,cat,,,a note\n", "a note or correct label without a verdict: row 3"),
    ("cat/1.png,dog,ok,,\n", "label column edited"),
    (
        "cat/1.png,cat,ok,,\ncat/1.png,cat,ok,,\n",
        "ids repeated: row 4 'cat/1.png' (first on row 3)",
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD_ROWS)
def test_each_bad_row_is_named_and_nothing_is_returned(tmp_path, body, message):
    path = review_file(tmp_path, "dog/1.png,dog,ok,,\n" + body)
    with pytest.raises(UsageError) as caught:
        parse_review_file(path, DRAWN, CLASSES)
    assert caught.value.exit_code == EXIT_USAGE
    assert "1 row cannot be imported (nothing stored)" in str(caught.value)
    assert message in str(caught.value)


def test_all_problems_come_in_one_message_with_the_classes_named(tmp_path):
    body = "".join(f"x{i}.png,cat,ok,,\n" for i in range(7)) + "cat/1.png,cat,wrong_label,bird,\n"
    with pytest.raises(UsageError) as caught:
        parse_review_file(review_file(tmp_path, body), DRAWN, CLASSES)
    message = str(caught.value)
    assert message.count("\n  ") >= 2
    assert "8 rows cannot be imported" in message and "and 2 more" in message
    assert "the classes are cat, dog" in caught.value.hint


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"id,label,verdict\ncat/1.png,cat,ok\n", "a review file has the columns"),
        (b"id,label,verdict,correct_label,note,score\n", "this one has id, label"),
        (b"id,label,verdict,correct_label,note\ncat/1.png,cat,ok,,a,b\n", "more cells than"),
        (b"id,label,verdict,correct_label,note\n\xff\xfe,cat,ok,,\n", "not a readable review"),
    ],
)
def test_a_file_that_is_not_a_review_file_says_so(tmp_path, content, message):
    path = tmp_path / "review.csv"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        parse_review_file(path, DRAWN, CLASSES)


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        parse_review_file(tmp_path / "nope.csv", DRAWN, CLASSES)


def test_the_sidecar_names_the_review_and_a_foreign_one_is_refused(tmp_path):
    csv_path = tmp_path / "review.csv"
    assert read_sidecar(csv_path) is None
    write_sidecar(csv_path, {"review_id": 4, "seed": 9})
    assert read_sidecar(csv_path)["review_id"] == 4
    (tmp_path / "review.json").write_text('{"name": "something else"}')
    with pytest.raises(UsageError, match="not a dlqa review sidecar"):
        read_sidecar(csv_path)


# -- the estimate -------------------------------------------------------------------------


def verdicts(spec: dict[str, tuple[int, int]], flagged: tuple[int, int] = (0, 0)) -> ReviewVerdicts:
    """{class: (reviewed random draws, errors)} and (flagged-only reviews, errors)."""
    samples = []
    for label, (n, errors) in spec.items():
        for i in range(n):
            kind = ("wrong_label" if i % 2 == 0 else "bad_sample") if i < errors else "ok"
            samples.append(ReviewedSample(f"{label}/{i}", label, kind, random=True))
    for i in range(flagged[0]):
        samples.append(ReviewedSample(f"f/{i}", "cat", "wrong_label" if i < flagged[1] else "ok"))
    return ReviewVerdicts("src", samples)


def test_one_class_is_a_plain_wilson_interval():
    estimate = estimate_error_rate(verdicts({"cat": (40, 3)}), {"cat": 1000})
    assert estimate.rate == pytest.approx(3 / 40)
    assert estimate.n == 40 and estimate.n_effective == pytest.approx(40)
    expected = wilson_interval(3, 40)
    assert estimate.interval.low == pytest.approx(expected.low)
    assert estimate.interval.high == pytest.approx(expected.high)
    assert estimate.counts == {"ok": 37, "wrong_label": 2, "bad_sample": 1}


def test_classes_are_weighted_by_their_size_not_by_their_draws():
    # 900 cats (30 reviewed, 0 errors), 100 eels (10 reviewed, 5 errors): eels were drawn at
    # 10 % against cats' 3.3 %, so their errors weigh by the eels' share of the data, 0.1.
    estimate = estimate_error_rate(
        verdicts({"cat": (30, 0), "eel": (10, 5)}), {"cat": 900, "eel": 100}
    )
    assert estimate.rate == pytest.approx(0.1 * 0.5)
    # Kish: 1 / (0.9^2 / 30 + 0.1^2 / 10) = 35.71..., not the 40 draws.
    assert estimate.n_effective == pytest.approx(1 / (0.81 / 30 + 0.01 / 10))
    z2 = 1.959963984540054**2
    n, p = estimate.n_effective, 0.05
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = math.sqrt(z2) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    assert estimate.interval.low == pytest.approx(centre - half)
    assert estimate.interval.high == pytest.approx(centre + half)
    eel = next(row for row in estimate.per_class if row["label"] == "eel")
    assert (eel["n"], eel["errors"], eel["rate"]) == (10, 5, 0.5)
    assert eel["wrong_label"] == 3 and eel["bad_sample"] == 2


def test_flagged_reviews_are_reported_apart_and_never_estimate_the_rate():
    alone = estimate_error_rate(verdicts({"cat": (20, 1)}), {"cat": 500})
    mixed = estimate_error_rate(verdicts({"cat": (20, 1)}, flagged=(10, 8)), {"cat": 500})
    assert mixed.rate == alone.rate and mixed.n == 20
    assert mixed.flagged["n"] == 10 and mixed.flagged["errors"] == 8
    assert mixed.flagged["rate"] == 0.8


def test_classes_without_reviews_are_left_out_and_the_coverage_says_so():
    estimate = estimate_error_rate(verdicts({"cat": (10, 1)}), {"cat": 300, "dog": 100})
    assert estimate.rate == pytest.approx(0.1)
    assert estimate.coverage == 0.75


def test_no_random_review_is_no_estimate():
    estimate = estimate_error_rate(verdicts({}, flagged=(3, 3)), {"cat": 10})
    assert estimate.rate is None and estimate.n == 0
    assert (estimate.interval.low, estimate.interval.high) == (0.0, 1.0)


# -- loading the verdicts in force --------------------------------------------------------


def stored_profile(
    store, tmp_path: Path, profile: DataProfile, source: str
) -> tuple[int, DataProfile]:
    table_path = tmp_path / f"{len(list(tmp_path.iterdir()))}.parquet"
    pq.write_table(profile.table, table_path)
    digest = store.artifacts.put_file(table_path)
    run_id = store.start_run("data.profile", "dlqa data profile", {})
    snapshot_id = store.add_snapshot(run_id, source, "fp", profile.n, digest, {})
    store.finish_run(run_id, "finished", 0)
    return snapshot_id, DataProfile.from_parquet(store.artifacts.path(digest), source)


def test_load_reviews_gives_the_verdicts_in_force_on_the_profiles_samples(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'dlqa.db'}", project_dir=tmp_path) as store:
        profile = classes_profile({"cat": 20, "dog": 20})
        snapshot_id, stored = stored_profile(store, tmp_path, profile, "/data")
        assert load_reviews(store, stored) is None
        rows = draw_review_sample(stored, {"dog/0003.png": ["data.dark"]}, 6, seed=1)
        review_id = store.add_review_sample(
            snapshot_id, seed=1, size=6, strata="label", allocation={},
            items=[r.to_item() for r in rows],
        )  # fmt: skip
        first, flagged = rows[0], next(r for r in rows if r.flagged_by)
        store.add_verdicts(review_id, [NewVerdict(first.id, "ok", first.label)], reviewer="ann")
        store.add_verdicts(
            review_id,
            [
                NewVerdict(first.id, "wrong_label", first.label, "dog"),
                NewVerdict(flagged.id, "bad_sample", flagged.label, note="blank"),
            ],
            reviewer="bob",
        )
        reviews = load_reviews(store, stored)
        by_id = {s.sample_id: s for s in reviews.samples}
        assert set(by_id) == {first.id, flagged.id}
        assert by_id[first.id].verdict == "wrong_label" and by_id[first.id].reviewer == "bob"
        assert by_id[first.id].random and not by_id[flagged.id].random
        assert by_id[flagged.id].flagged_by == ("data.dark",)
        assert reviews.random_unreviewed == sum(r.random for r in rows) - 1
        assert reviews.review_ids == [review_id]

        # A later profile without the reviewed samples has no verdicts to carry.
        _, smaller = stored_profile(store, tmp_path, classes_profile({"eel": 3}), "/data")
        assert load_reviews(store, smaller) is None
        # Another source shares none of them either.
        _, elsewhere = stored_profile(store, tmp_path, profile, "/other")
        assert load_reviews(store, elsewhere) is None


def test_parquet_profiles_without_a_label_column_value_still_draw(tmp_path):
    table = pa.table(
        {"sample_id": ["b", "a", "c"], "label": pa.array([None, None, None], pa.string())}
    )
    profile = DataProfile(table)
    rows = draw_review_sample(profile, {}, 2, seed=0)
    assert len(rows) == 2 and all(r.label is None for r in rows)

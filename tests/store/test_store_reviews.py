"""Review samples and verdicts in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlqa.core.errors import UsageError
from dlqa.store import RUN_FINISHED, NewVerdict, Store, open_store
from tests.store.test_store_concurrency import WRITERS, run_together

ITEMS = [
    {"id": "cat/1.png", "label": "cat", "random": True, "flagged_by": []},
    {"id": "cat/2.png", "label": "cat", "random": False, "flagged_by": ["data.dark"]},
    {"id": "dog/1.png", "label": "dog", "random": True, "flagged_by": []},
    {"id": "loose.png", "label": None, "random": True, "flagged_by": []},
]


def snapshot(store: Store, source: str = "/data/pets") -> int:
    run_id = store.start_run("data.profile", "dlqa data profile", {})
    digest = store.artifacts.put_bytes(b"table of " + source.encode())
    snapshot_id = store.add_snapshot(run_id, source, "fp", 4, digest, {})
    store.finish_run(run_id, RUN_FINISHED, 0)
    return snapshot_id


def review(store: Store, source: str = "/data/pets", items=ITEMS) -> int:
    return store.add_review_sample(
        snapshot(store, source),
        seed=2**40 + 3,  # beyond 32 bits: the column is 64-bit
        size=3,
        strata="label",
        allocation={"cat": {"size": 2, "drawn": 1}, "dog": {"size": 1, "drawn": 1}},
        items=items,
    )


def test_a_drawn_sample_is_kept_with_everything_needed_to_redraw_it(store: Store) -> None:
    review_id = review(store)
    record = store.get_review_sample(review_id)
    assert record.seed == 2**40 + 3 and record.size == 3 and record.strata == "label"
    assert record.source == "/data/pets" and record.items == ITEMS
    assert record.allocation["cat"] == {"size": 2, "drawn": 1}
    assert record.ids == ["cat/1.png", "cat/2.png", "dog/1.png", "loose.png"]
    assert record.item("cat/2.png")["flagged_by"] == ["data.dark"]
    assert record.created_at.tzinfo is not None
    assert [r.id for r in store.list_review_samples("/data/pets")] == [review_id]
    assert store.list_review_samples("/elsewhere") == []


def test_unknown_reviews_and_snapshots_are_usage_errors(store: Store) -> None:
    with pytest.raises(UsageError, match="no review sample 9"):
        store.get_review_sample(9)
    with pytest.raises(UsageError, match="no snapshot 5"):
        store.add_review_sample(5, seed=1, size=1, strata="label", allocation={}, items=[])


def test_a_later_verdict_supersedes_an_earlier_one_and_both_are_kept(store: Store) -> None:
    review_id = review(store)
    store.add_verdicts(
        review_id,
        [NewVerdict("cat/1.png", "ok", "cat"), NewVerdict("dog/1.png", "ok", "dog")],
        reviewer="ann",
    )
    store.add_verdicts(
        review_id,
        [NewVerdict("cat/1.png", "wrong_label", "cat", "dog", "pointy ears")],
        reviewer="bob",
    )
    current = {v.sample_id: v for v in store.current_verdicts("/data/pets")}
    assert set(current) == {"cat/1.png", "dog/1.png"}
    cat = current["cat/1.png"]
    assert (cat.verdict, cat.correct_label, cat.note, cat.reviewer) == (
        "wrong_label",
        "dog",
        "pointy ears",
        "bob",
    )
    assert cat.label == "cat" and cat.review_id == review_id
    history = store.verdict_history("/data/pets", "cat/1.png")
    assert [(v.verdict, v.reviewer) for v in history] == [("ok", "ann"), ("wrong_label", "bob")]
    assert len(store.verdict_history("/data/pets")) == 3


def test_verdicts_of_one_source_are_not_another_sources(store: Store) -> None:
    pets, other = review(store, "/data/pets"), review(store, "/data/other")
    store.add_verdicts(pets, [NewVerdict("cat/1.png", "ok", "cat")])
    store.add_verdicts(other, [NewVerdict("cat/1.png", "bad_sample", "cat")])
    assert [v.verdict for v in store.current_verdicts("/data/pets")] == ["ok"]
    assert [v.verdict for v in store.current_verdicts("/data/other")] == ["bad_sample"]
    assert store.current_verdicts("/nowhere") == []


def test_verdicts_that_slipped_past_validation_are_refused_whole(store: Store) -> None:
    review_id = review(store)
    with pytest.raises(ValueError, match="not in review sample"):
        store.add_verdicts(
            review_id, [NewVerdict("cat/1.png", "ok"), NewVerdict("stray.png", "ok")]
        )
    with pytest.raises(ValueError, match="verdict 'maybe'"):
        store.add_verdicts(review_id, [NewVerdict("cat/1.png", "maybe")])
    with pytest.raises(ValueError, match="without a correct label"):
        store.add_verdicts(review_id, [NewVerdict("cat/1.png", "wrong_label")])
    with pytest.raises(UsageError, match="no review sample"):
        store.add_verdicts(review_id + 1, [NewVerdict("cat/1.png", "ok")])
    assert store.current_verdicts("/data/pets") == []  # nothing of a refused batch


def test_unlabelled_samples_and_long_ids_are_stored_as_given(store: Store) -> None:
    long_id = "deep/" * 300 + "x.png"  # 1,505 characters: ids are not length-limited
    items = [*ITEMS, {"id": long_id, "label": "猫", "random": True, "flagged_by": []}]
    review_id = review(store, items=items)
    store.add_verdicts(
        review_id,
        [NewVerdict("loose.png", "bad_sample", None), NewVerdict(long_id, "ok", "猫")],
    )
    current = {v.sample_id: v for v in store.current_verdicts("/data/pets")}
    assert current["loose.png"].label is None and current["loose.png"].reviewer is None
    assert current[long_id].label == "猫"


def test_concurrent_importers_lose_no_verdict(store: Store, tmp_path: Path) -> None:
    review_id = review(store)
    per_writer = 5

    def write(writer: int) -> None:
        with open_store(store.url, project_dir=tmp_path) as own:
            for number in range(per_writer):
                own.add_verdicts(
                    review_id,
                    [NewVerdict(item["id"], "ok", item["label"], note=f"{writer}.{number}")
                     for item in ITEMS],
                    reviewer=f"r{writer}",
                )  # fmt: skip

    run_together(WRITERS, write)

    history = store.verdict_history("/data/pets")
    assert len(history) == WRITERS * per_writer * len(ITEMS)
    assert len({v.id for v in history}) == len(history)
    current = store.current_verdicts("/data/pets")
    assert len(current) == len(ITEMS)
    # The verdict in force on each sample is the last one stored.
    last = {}
    for verdict in history:
        last[verdict.sample_id] = verdict.id
    assert {v.sample_id: v.id for v in current} == last

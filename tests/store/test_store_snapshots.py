"""Snapshots are found by id, 'latest' and 'latest~N'."""

from __future__ import annotations

import pytest

from dlqa.core.errors import UsageError
from dlqa.store import Store


def add_snapshots(store: Store, sources: list[str]) -> list[int]:
    run_id = store.start_run("data.profile", "dlqa data profile", {})
    ids = []
    for number, source in enumerate(sources):
        digest = store.artifacts.put_bytes(f"table {number}".encode(), "application/parquet")
        ids.append(
            store.add_snapshot(
                run_id, source, f"fp-{number}", 100 + number, digest, {"number": number}
            )
        )
    store.finish_run(run_id, "finished", 0)
    return ids


def test_snapshot_round_trips(store: Store) -> None:
    run_id = store.start_run("data.profile", "dlqa data profile", {})
    digest = store.artifacts.put_bytes(b"parquet bytes", "application/vnd.apache.parquet")
    summary = {"classes": {"cat": 3, "dog": 4}, "mean_brightness": 0.25}
    snapshot_id = store.add_snapshot(run_id, "data/train", "abc123", 7, digest, summary)

    snapshot = store.get_snapshot(snapshot_id)
    assert (snapshot.id, snapshot.run_id, snapshot.source) == (snapshot_id, run_id, "data/train")
    assert (snapshot.fingerprint, snapshot.n_samples) == ("abc123", 7)
    assert snapshot.table_digest == digest
    assert snapshot.summary == summary
    assert snapshot.created_at.tzinfo is not None
    assert store.artifacts.path(snapshot.table_digest).read_bytes() == b"parquet bytes"


def test_refs_resolve_by_id_latest_and_offset(store: Store) -> None:
    first, second, third = add_snapshots(store, ["data/train"] * 3)

    assert store.get_snapshot(second).id == second
    assert store.get_snapshot(str(first)).id == first
    assert store.get_snapshot(f" {first} ").id == first
    assert store.get_snapshot("latest").id == third
    assert store.get_snapshot("latest~0").id == third
    assert store.get_snapshot("latest~1").id == second
    assert store.get_snapshot("latest~2").id == first


def test_latest_can_be_narrowed_to_one_source(store: Store) -> None:
    train_old, valid, train_new = add_snapshots(store, ["train", "valid", "train"])

    assert store.get_snapshot("latest").id == train_new
    assert store.get_snapshot("latest", source="valid").id == valid
    assert store.get_snapshot("latest~1", source="train").id == train_old
    with pytest.raises(UsageError, match="source 'valid'"):
        store.get_snapshot("latest~1", source="valid")


def test_snapshots_are_listed_newest_first(store: Store) -> None:
    train_old, valid, train_new = add_snapshots(store, ["train", "valid", "train"])

    assert [s.id for s in store.list_snapshots()] == [train_new, valid, train_old]
    assert [s.id for s in store.list_snapshots("train")] == [train_new, train_old]
    assert store.list_snapshots("test") == []


@pytest.mark.parametrize("ref", [99, "99", "latest~2"])
def test_unknown_ref_says_how_to_list_snapshots(store: Store, ref: int | str) -> None:
    add_snapshots(store, ["train", "train"])
    with pytest.raises(UsageError) as caught:
        store.get_snapshot(ref)
    message = str(caught.value)
    assert repr(ref) in message
    assert "2 snapshots stored" in message
    assert "dlqa data snapshots" in message


def test_latest_of_an_empty_store_is_a_usage_error(store: Store) -> None:
    with pytest.raises(UsageError, match="0 snapshots stored"):
        store.get_snapshot("latest")


@pytest.mark.parametrize("ref", ["newest", "latest~", "latest~-1", "latest-1", "", "1.5", True])
def test_malformed_ref_is_a_usage_error(store: Store, ref: object) -> None:
    add_snapshots(store, ["train"])
    with pytest.raises(UsageError, match="not a snapshot reference") as caught:
        store.get_snapshot(ref)  # type: ignore[arg-type]
    assert "latest~N" in str(caught.value)


def test_snapshot_needs_its_table_in_the_artifact_store(store: Store) -> None:
    run_id = store.start_run("data.profile", "dlqa data profile", {})
    with pytest.raises(ValueError, match="not a stored artifact"):
        store.add_snapshot(run_id, "train", "fp", 1, "0" * 64, {})
    assert store.list_snapshots() == []


@pytest.mark.parametrize("status", ["running", "interrupted", "failed"])
def test_snapshots_of_unfinished_runs_are_not_listed_or_latest(store: Store, status) -> None:
    (done,) = add_snapshots(store, ["data/train"])
    run_id = store.start_run("data.profile", "dlqa data profile", {})
    digest = store.artifacts.put_bytes(b"half", "application/parquet")
    partial = store.add_snapshot(run_id, "data/train", "fp-x", 5, digest, {})
    if status != "running":
        store.finish_run(run_id, status, 130 if status == "interrupted" else 3)

    assert [s.id for s in store.list_snapshots()] == [done]
    assert store.get_snapshot("latest").id == done
    with pytest.raises(UsageError, match="no snapshot 'latest~1'"):
        store.get_snapshot("latest~1")
    # Named by id, or asked for, it is there, marked incomplete.
    assert store.get_snapshot(partial).complete is False
    assert store.get_snapshot(done).complete is True
    assert [s.id for s in store.list_snapshots(include_incomplete=True)] == [partial, done]

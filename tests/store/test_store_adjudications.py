"""Adjudicated labels in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from dlqa.core.errors import UsageError
from dlqa.store import Store


def test_a_later_decision_supersedes_and_history_stays(store: Store) -> None:
    run_id = store.start_run("labels.agreement", "dlqa labels agreement v.csv", {})
    first = store.add_adjudication("v.csv", "a", "cat", adjudicator="ann", run_id=run_id)
    store.add_adjudication("v.csv", "b", "dog", note="blurry")
    second = store.add_adjudication("v.csv", "a", "eel", adjudicator="bob", run_id=run_id)
    store.add_adjudication("other.csv", "a", "owl")
    assert second > first
    current = store.current_adjudications("v.csv")
    assert [(r.item_id, r.label, r.adjudicator) for r in current] == [
        ("a", "eel", "bob"), ("b", "dog", None)
    ]  # fmt: skip
    assert current[0].run_id == run_id and current[1].note == "blurry"
    assert current[0].created_at.tzinfo is not None
    assert [r.label for r in store.adjudication_history("v.csv", "a")] == ["cat", "eel"]
    assert len(store.adjudication_history("v.csv")) == 3
    assert store.count_adjudications("v.csv") == 2
    assert store.adjudicated_sources() == ["other.csv", "v.csv"]


def test_pages_and_lookups_of_decisions(store: Store) -> None:
    for k in range(7):
        store.add_adjudication("v.csv", f"item{k}", "cat")
    store.add_adjudication("v.csv", "item3", "dog")
    page = store.current_adjudications("v.csv", offset=2, limit=3)
    assert [(r.item_id, r.label) for r in page] == [
        ("item2", "cat"),
        ("item3", "dog"),
        ("item4", "cat"),
    ]
    found = store.adjudications_of("v.csv", ["item3", "item9", *[f"x{k}" for k in range(1200)]])
    assert list(found) == ["item3"] and found["item3"].label == "dog"
    assert store.adjudications_of("other.csv", ["item3"]) == {}


def test_bad_decisions_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="needs a label"):
        store.add_adjudication("v.csv", "a", "  ")
    with pytest.raises(UsageError, match="no run 42"):
        store.add_adjudication("v.csv", "a", "cat", run_id=42)
    assert store.current_adjudications("v.csv") == [] and store.count_adjudications("v.csv") == 0


def test_paged_review_samples(store: Store) -> None:
    run_id = store.start_run("data.profile", "x", {})
    digest = store.artifacts.put_bytes(b"table")
    snapshot = store.add_snapshot(run_id, "/pets", "fp", 1, digest, {})
    ids = [
        store.add_review_sample(
            snapshot,
            seed=k,
            size=1,
            strata="label",
            allocation={},
            items=[{"id": f"s{k}", "label": "cat"}],
        )  # fmt: skip
        for k in range(5)
    ]
    assert store.count_review_samples() == 5
    assert [r.id for r in store.review_samples_page(1, 2)] == [ids[3], ids[2]]

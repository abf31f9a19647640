"""Runs and their check results survive the store exactly."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from dlqa.core.errors import UsageError
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.store import RUN_FAILED, RUN_FINISHED, RUN_RUNNING, Store, open_store


def sample_results() -> list[CheckResult]:
    return [
        CheckResult(
            check_id="data.near_duplicates",
            status=Status.FAIL,
            summary="3 near-duplicate pairs, 1.5% of samples",
            value=0.015,
            threshold=0.01,
            evidence=[
                Evidence(
                    kind="pairs",
                    items=[{"ids": ["a.png", "b.png"], "distance": 2}, {"ids": ["c", "d"]}],
                    total=3,
                    description="pairs within Hamming distance 8",
                ),
                Evidence(kind="samples", items=["a.png"], total=1),
            ],
            details={"hamming": 8, "by_class": {"cat": [1, 2], "dog": []}, "note": "ünïcode"},
        ),
        CheckResult(check_id="data.class_balance", status=Status.PASS, summary="balanced"),
        CheckResult(
            check_id="data.corrupt",
            status=Status.ERROR,
            summary="probe crashed",
            value=None,
            threshold=0.0,
            details={"traceback": "Traceback ...\nValueError: boom"},
        ),
        CheckResult(check_id="data.labels", status=Status.WARN, summary="w", value=-1e300),
        CheckResult(check_id="data.audio", status=Status.SKIP, summary="no audio"),
    ]


def test_results_round_trip_exactly_and_in_order(store: Store) -> None:
    run_id = store.start_run("check", "dlqa check", {"profile": "ci"})
    expected = sample_results()
    store.add_results(run_id, expected)

    assert store.results_for_run(run_id) == expected


def test_later_batches_append_after_earlier_ones(store: Store) -> None:
    run_id = store.start_run("check", "dlqa check", {})
    first, second = sample_results()[:2], sample_results()[2:]
    store.add_results(run_id, first)
    store.add_results(run_id, [])
    store.add_results(run_id, second)

    assert [r.check_id for r in store.results_for_run(run_id)] == [
        r.check_id for r in first + second
    ]


def test_results_of_different_runs_stay_apart(store: Store) -> None:
    run_a = store.start_run("check", "a", {})
    run_b = store.start_run("check", "b", {})
    store.add_results(run_a, sample_results()[:1])
    store.add_results(run_b, sample_results()[1:3])

    assert [r.check_id for r in store.results_for_run(run_a)] == ["data.near_duplicates"]
    assert len(store.results_for_run(run_b)) == 2


def test_results_are_visible_before_the_run_finishes(database_url: str, tmp_path: Path) -> None:
    # A second connection sees them at once: a crash after add_results loses nothing.
    writer = open_store(database_url, project_dir=tmp_path)
    run_id = writer.start_run("data.profile", "dlqa data profile", {})
    writer.add_results(run_id, sample_results()[:2])

    with open_store(database_url, project_dir=tmp_path) as reader:
        assert reader.get_run(run_id).status == RUN_RUNNING
        assert [r.check_id for r in reader.results_for_run(run_id)] == [
            "data.near_duplicates",
            "data.class_balance",
        ]
    writer.close()


def test_run_lifecycle(store: Store) -> None:
    config = {"data": {"source": "data/train"}, "gates": {"x": {"max": 1.5}}}
    run_id = store.start_run("data.profile", "dlqa data profile data/train", config)

    started = store.get_run(run_id)
    assert (started.kind, started.command, started.config) == (
        "data.profile",
        "dlqa data profile data/train",
        config,
    )
    assert started.status == RUN_RUNNING
    assert started.finished_at is None and started.exit_code is None
    assert started.created_at.tzinfo == UTC

    store.finish_run(run_id, RUN_FAILED, 1)
    finished = store.get_run(run_id)
    assert (finished.status, finished.exit_code) == ("failed", 1)
    assert finished.finished_at is not None
    assert finished.finished_at.tzinfo == UTC
    assert finished.finished_at >= finished.created_at
    assert finished.created_at == started.created_at


def test_runs_are_listed_newest_first(store: Store) -> None:
    first = store.start_run("check", "one", {})
    second = store.start_run("data.profile", "two", {})
    third = store.start_run("check", "three", {})
    store.finish_run(second, RUN_FINISHED, 0)

    assert [r.id for r in store.list_runs()] == [third, second, first]
    assert [r.id for r in store.list_runs(kind="check")] == [third, first]
    assert [r.id for r in store.list_runs(limit=1)] == [third]


def test_unknown_run_is_a_usage_error(store: Store) -> None:
    with pytest.raises(UsageError, match="no run 41"):
        store.get_run(41)
    with pytest.raises(UsageError, match="no run 41"):
        store.results_for_run(41)
    with pytest.raises(UsageError, match="no run 41"):
        store.add_results(41, sample_results())


def test_finish_run_rejects_a_status_that_is_not_an_end(store: Store) -> None:
    run_id = store.start_run("check", "dlqa check", {})
    with pytest.raises(ValueError, match="running"):
        store.finish_run(run_id, RUN_RUNNING, 0)
    assert store.get_run(run_id).status == RUN_RUNNING

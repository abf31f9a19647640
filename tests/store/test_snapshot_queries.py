"""The store's paged snapshot reads: a page of snapshots with their run's status, result counts
and predecessor; a run's problem results; an artifact's media type."""

from __future__ import annotations

from dlqa.core.results import CheckResult, Status
from dlqa.store import Store


def _run_with_snapshot(store: Store, source: str, statuses: list[Status], finish: bool = True):
    run_id = store.start_run("data.profile", "dlqa data profile", {})
    store.add_results(
        run_id,
        [
            CheckResult(check_id=f"data.c{i}", status=status, summary=f"result {i}")
            for i, status in enumerate(statuses)
        ],
    )
    if finish:
        store.finish_run(run_id, "finished", 0)
    digest = store.artifacts.put_bytes(f"table of {source} {run_id}".encode())
    snapshot_id = store.add_snapshot(run_id, source, f"sha256:{run_id:064d}", 10, digest, {})
    return run_id, snapshot_id


def test_snapshot_page_lists_newest_first_with_counts_status_and_predecessor(store: Store) -> None:
    run_a1, a1 = _run_with_snapshot(store, "/a", [Status.PASS, Status.FAIL, Status.FAIL])
    _, b1 = _run_with_snapshot(store, "/b", [Status.WARN], finish=False)
    _, a2 = _run_with_snapshot(store, "/a", [])
    assert store.count_snapshots() == 3
    page = store.snapshot_page(0, 2)
    assert [row.id for row in page] == [a2, b1]
    assert page[0].previous_id == a1  # the earlier snapshot of the same source, not b1
    assert page[1].previous_id is None
    assert page[1].run_status == "running"
    assert page[1].result_counts == {"warn": 1}
    rest = store.snapshot_page(2, 2)
    assert [row.id for row in rest] == [a1]
    assert rest[0].result_counts == {"pass": 1, "fail": 2}
    assert store.run_result_counts(run_a1) == {"pass": 1, "fail": 2}
    assert store.snapshot_page(3, 2) == []
    assert store.previous_snapshot_id(a2, "/a") == a1
    assert store.previous_snapshot_id(a1, "/a") is None


def test_problem_results_keep_failures_and_warnings_in_run_order(store: Store) -> None:
    run_id, _ = _run_with_snapshot(
        store, "/a", [Status.PASS, Status.WARN, Status.FAIL, Status.SKIP, Status.ERROR]
    )
    problems = store.problem_results(run_id)
    assert [(p.position, p.status) for p in problems] == [(1, "warn"), (2, "fail"), (4, "error")]
    assert problems[1].check_id == "data.c2" and problems[1].summary == "result 2"
    assert len(store.problem_results(run_id, limit=1)) == 1


def test_artifact_media_type_only_for_stored_digests(store: Store) -> None:
    digest = store.artifacts.put_bytes(b"\x89PNG...", "image/png")
    assert store.artifact_media_type(digest) == "image/png"
    assert store.artifact_media_type("0" * 64) is None
    assert store.artifact_media_type("../etc/passwd") is None
    assert store.count_snapshots() == 0
    assert store.snapshot_page(0, 50) == []
